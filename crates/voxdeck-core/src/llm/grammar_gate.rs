//! Picking tokens under a GBNF grammar without ever letting llama.cpp throw.
//!
//! voxdeck builds llama-cpp-2 without its C++ exception shim, so a grammar sampler that is made
//! to accept a token its grammar rejects aborts the process. Here no token reaches the grammar's
//! `accept` unless the grammar's own `apply` allowed it first, and end-of-generation tokens
//! (legal only once the grammar is complete) are never accepted at all: the caller stops there.
//!
//! The model's own choice is checked first, alone; only when the grammar rejects it is the
//! whole vocabulary filtered (llama.cpp's `common_sampler` does the same), so a model that
//! writes what the grammar expects pays almost nothing for it.

use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;
use llama_cpp_2::token::data::LlamaTokenData;
use llama_cpp_2::token::data_array::LlamaTokenDataArray;

use super::LlmError;

/// Tokens checked against the grammar before the whole vocabulary is.
const SHORTLIST: usize = 128;

/// A grammar sampler and the tokens no call may contain.
pub(super) struct GrammarGate {
    grammar: LlamaSampler,
    /// Control tokens that do not end generation (`<|im_start|>`, Gemma's image markers): the
    /// grammar matches tokens by their text, and such a token's text inside a string would
    /// become a real control token when the call is rendered into the next prompt. Sorted.
    banned: Vec<LlamaToken>,
    /// Tokens whose check went to the whole vocabulary, for the log.
    pub(super) resampled: u32,
}

impl GrammarGate {
    /// The grammar `gbnf` (rule `root`) for `model`'s vocabulary.
    pub(super) fn new(model: &LlamaModel, gbnf: &str, banned: &[LlamaToken]) -> Result<GrammarGate, LlmError> {
        let grammar = LlamaSampler::grammar(model, gbnf, "root")
            .map_err(|e| LlmError::Decode(format!("llama.cpp refused the tool-call grammar: {e}")))?;
        let mut banned = banned.to_vec();
        banned.sort_unstable();
        Ok(GrammarGate { grammar, banned, resampled: 0 })
    }

    /// Whether the grammar allows `token` next.
    fn allows(&mut self, token: LlamaToken) -> bool {
        if self.banned.binary_search(&token).is_ok() {
            return false;
        }
        let mut one = LlamaTokenDataArray::new(vec![LlamaTokenData::new(token, 0.0, 0.0)], false);
        one.apply_sampler(&mut self.grammar);
        one.data.first().is_some_and(|d| d.logit().is_finite())
    }

    /// The next token: `proposed` (the model's free choice) if the grammar allows it, else the
    /// best allowed token by `logits` (greedy), or one drawn by `chain` (top-k ... dist) from
    /// the allowed ones. An error, never an abort, if the grammar allows nothing.
    pub(super) fn pick(
        &mut self,
        proposed: LlamaToken,
        logits: &[f32],
        chain: Option<&mut LlamaSampler>,
    ) -> Result<LlamaToken, LlmError> {
        if self.allows(proposed) {
            return Ok(proposed);
        }
        self.resampled += 1;
        // The grammar checks a token by decoding its text: over Gemma's 262k tokens that costs
        // more than a decode step. The likeliest tokens are checked first; when one of them is
        // allowed, the best allowed token is among them (exactly so for greedy decoding, and
        // but for the far tail for sampling, which keeps its top-k anyway).
        let mut order: Vec<u32> = (0..logits.len() as u32).collect();
        if order.len() > SHORTLIST {
            order.select_nth_unstable_by(SHORTLIST, |&a, &b| logits[b as usize].total_cmp(&logits[a as usize]));
            order.truncate(SHORTLIST);
        }
        let (chosen, chain) = self.pick_among(order.into_iter(), logits, chain);
        if let Some(token) = chosen {
            return Ok(token);
        }
        let (chosen, _) = self.pick_among(0..logits.len() as u32, logits, chain);
        chosen.ok_or_else(|| LlmError::Decode("the tool-call grammar allows no token here".into()))
    }

    /// The token picked among `ids` (by `logits`, greedy or through `chain`) that the grammar
    /// allows, if any; `chain` is handed back for another try.
    fn pick_among<'c>(
        &mut self,
        ids: impl Iterator<Item = u32>,
        logits: &[f32],
        chain: Option<&'c mut LlamaSampler>,
    ) -> (Option<LlamaToken>, Option<&'c mut LlamaSampler>) {
        let mut candidates = LlamaTokenDataArray::from_iter(
            ids.map(|id| LlamaToken(id as i32))
                .filter(|t| self.banned.binary_search(t).is_err())
                .map(|t| LlamaTokenData::new(t, logits[t.0 as usize], 0.0)),
            false,
        );
        candidates.apply_sampler(&mut self.grammar);
        if !candidates.data.iter().any(|d| d.logit().is_finite()) {
            return (None, chain);
        }
        let chosen = match chain {
            Some(chain) => {
                candidates.apply_sampler(chain);
                let chosen = candidates
                    .selected
                    .and_then(|i| candidates.data.get(i))
                    .filter(|d| d.logit().is_finite())
                    .map(|d| d.id());
                return (chosen, Some(chain));
            }
            None => candidates
                .data
                .iter()
                .filter(|d| d.logit().is_finite())
                .fold(None::<&LlamaTokenData>, |best, d| match best {
                    Some(b) if b.logit() > d.logit() || (b.logit() == d.logit() && b.id() < d.id()) => Some(b),
                    _ => Some(d),
                })
                .map(|d| d.id()),
        };
        (chosen, None)
    }

    /// Moves the grammar past `token`, which [`GrammarGate::pick`] returned and which is not
    /// an end-of-generation token.
    pub(super) fn accept(&mut self, token: LlamaToken) {
        self.grammar.accept(token);
    }
}

#[cfg(test)]
mod tests {
    use llama_cpp_2::model::params::LlamaModelParams;

    use super::*;
    use crate::llm::backend::backend;
    use crate::models::Catalog;
    use crate::tools::ToolName;
    use crate::tools::call_format::CallStyle;
    use crate::tools::spec::validate;

    const STYLES: [CallStyle; 3] = [CallStyle::Llama3, CallStyle::Qwen, CallStyle::Generic];

    /// SmolLM2's vocabulary (from the test set in `VOXDECK_MODELS`), without its weights.
    fn vocabulary() -> LlamaModel {
        let dir = crate::paths::models_dir(None);
        let model = Catalog::builtin().resolve_llm("smollm2-135m-instruct-q4_1", &dir).unwrap_or_else(|e| {
            panic!("{e}: these tests need the test set (`voxdeck models fetch --test-set`, VOXDECK_MODELS)")
        });
        let params = LlamaModelParams::default().with_vocab_only(true);
        LlamaModel::load_from_file(backend().unwrap(), &model.path, &params).unwrap()
    }

    #[test]
    fn llama_cpp_parses_the_grammar_of_every_tool_subset() {
        let model = vocabulary();
        for mask in 1u32..(1 << ToolName::ALL.len()) {
            let offered: Vec<ToolName> =
                ToolName::ALL.iter().enumerate().filter(|(i, _)| mask & (1 << i) != 0).map(|(_, t)| *t).collect();
            for style in STYLES {
                let gbnf = style.grammar(&offered);
                if let Err(e) = GrammarGate::new(&model, &gbnf, &[]) {
                    panic!("{style:?} {offered:?}: {e}\n{gbnf}");
                }
            }
        }
    }

    /// A "model" that wants nothing but to stop (uniform logits, end of generation proposed
    /// each time) is led through a whole call, which is valid and within the bound.
    #[test]
    fn a_model_that_only_wants_to_stop_still_writes_a_whole_valid_call() {
        let model = vocabulary();
        let vocab = model.vocab();
        let eos = vocab.eos();
        let logits = vec![0.0f32; model.n_vocab() as usize];
        let offers: Vec<Vec<ToolName>> =
            ToolName::ALL.iter().map(|t| vec![*t]).chain([ToolName::ALL.to_vec()]).collect();
        for style in STYLES {
            for offered in &offers {
                let mut gate = GrammarGate::new(&model, &style.grammar(offered), &[]).unwrap();
                let mut text = Vec::new();
                let mut tokens = 0;
                loop {
                    let token = gate.pick(eos, &logits, None).unwrap();
                    if vocab.is_eog(token) {
                        break;
                    }
                    gate.accept(token);
                    text.extend_from_slice(&vocab.token_to_piece(token, true, None));
                    tokens += 1;
                    assert!(tokens <= style.max_call_bytes(offered), "{style:?} {offered:?}: past the bound");
                }
                let text = String::from_utf8(text).unwrap();
                let (name, arguments) = style.parse_call(&text).unwrap_or_else(|| panic!("{style:?}: {text:?}"));
                assert_eq!(style.call_text(&name, &arguments), text);
                if let Err(refusal) = validate(&name, &arguments, offered) {
                    panic!("{style:?}: {text:?} is refused: {refusal}");
                }
            }
        }
    }

    /// What each style's tool section costs in prompt tokens (SmolLM2's tokenizer standing in
    /// for the others'), for all ten tools and for one.
    #[test]
    fn the_tool_sections_in_tokens() {
        let model = vocabulary();
        let count = |text: &str| model.vocab().tokenize(text.as_bytes(), false, true).len();
        for style in STYLES {
            let all = count(&style.system_section(&ToolName::ALL));
            let one = count(&style.system_section(&[ToolName::GetTime]));
            eprintln!("{style:?}: all ten tools {all} tokens, get_time alone {one}");
            assert!(one < all && all < 1200, "{style:?}: {all}");
        }
    }
}
