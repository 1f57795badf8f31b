//! How the local model is told about the tools and how its calls are written, per model family:
//! the tool section of the system prompt, the GBNF grammar a call is generated under, the text
//! of a call and of a result in the conversation. All of it is made from [`super::spec`], so the
//! prompt, the grammar and [`super::spec::validate`] agree.
//!
//! The grammar fixes a call's layout to the byte (one space after each `:` and `,`, as Python's
//! `json.dumps` and the templates' `tojson` write it), so the call the model generated and the
//! call rendered back into the next prompt are the same text and the KV cache keeps it. Every
//! value is bounded (strings by characters, integers by their range), so a call always ends
//! within [`CallStyle::max_call_bytes`] bytes, hence as many tokens.

use std::fmt::Write as _;

use super::spec::{ParamKind, ToolName, ToolSpec};

/// A model family's way of calling tools.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CallStyle {
    /// Llama 3.x with its own template: `{"name": ..., "parameters": {...}}`, results as role
    /// `ipython`.
    Llama3,
    /// Qwen 2.5: `<tool_call>\n{"name": ..., "arguments": {...}}\n</tool_call>`, results as a user
    /// turn in `<tool_response>` tags.
    Qwen,
    /// Any other model: a short instruction and Llama's JSON; results as a user message.
    Generic,
}

/// What a string value may hold: no quote or backslash (so no escapes), no control character.
const CHAR_RULE: &str = r#"[^"\\\x00-\x1f\x7f-\x9f]"#;

/// Llama 3.2's template, its instruction for custom tools (it concatenates the sentences as is).
const LLAMA3_INSTRUCTION: &str = "You have access to the following functions. To call a function, please respond \
    with JSON for a function call.Respond in the format {\"name\": function name, \"parameters\": dictionary of \
    argument name and its value}.Do not use variables.\n\n";

/// Qwen 2.5's template, around the tool list.
const QWEN_HEADER: &str = "# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are \
    provided with function signatures within <tools></tools> XML tags:\n<tools>";
const QWEN_FOOTER: &str = "\n</tools>\n\nFor each function call, return a json object with function name and \
    arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": \
    <args-json-object>}\n</tool_call>";

impl CallStyle {
    /// The style for a model of `architecture` (GGUF `general.architecture`) whose chat template
    /// (the model's own, or the built-in one used instead) is `template`.
    pub fn detect(architecture: &str, template: &str) -> CallStyle {
        if architecture == "qwen2" && (template.contains("<|im_start|>") || template == "chatml") {
            CallStyle::Qwen
        } else if architecture == "llama" && template.contains("<|start_header_id|>") {
            CallStyle::Llama3
        } else {
            CallStyle::Generic
        }
    }

    /// The key a call's arguments go under.
    pub fn args_key(self) -> &'static str {
        match self {
            CallStyle::Qwen => "arguments",
            CallStyle::Llama3 | CallStyle::Generic => "parameters",
        }
    }

    /// What an answer that is a call starts with (after any whitespace).
    pub fn call_start(self) -> &'static str {
        match self {
            CallStyle::Qwen => "<tool_call>",
            CallStyle::Llama3 | CallStyle::Generic => "{",
        }
    }

    /// Whether a first token whose text (leading whitespace removed) is `piece` starts a call.
    pub fn starts_call(self, piece: &str) -> bool {
        !piece.is_empty() && piece.starts_with(self.call_start())
    }

    /// The tool section of the system prompt for `offered`, in the family's own words. The same
    /// text for the same tools, so the prompt's cached prefix survives from turn to turn.
    pub fn system_section(self, offered: &[ToolName]) -> String {
        match self {
            CallStyle::Llama3 => {
                let mut s = format!("Environment: ipython\n\n{LLAMA3_INSTRUCTION}");
                for tool in offered {
                    s.push_str(&tool_json(tool.spec()));
                    s.push_str("\n\n");
                }
                s
            }
            CallStyle::Qwen => {
                let mut s = QWEN_HEADER.to_owned();
                for tool in offered {
                    s.push('\n');
                    s.push_str(&tool_json(tool.spec()));
                }
                s.push_str(QWEN_FOOTER);
                s
            }
            CallStyle::Generic => {
                let mut s = String::from(
                    "You can use these tools. To use one, answer with only a JSON object: {\"name\": tool name, \
                     \"parameters\": {argument: value}}. Otherwise answer normally.\n",
                );
                for tool in offered {
                    let spec = tool.spec();
                    let _ = writeln!(s, "- {}({}): {}", spec.name, signature(spec), spec.description);
                }
                s.pop();
                s
            }
        }
    }

    /// `system` with the tool section for `offered`: before it for Llama (as its template puts
    /// it), after it otherwise.
    pub fn system_prompt(self, system: &str, offered: &[ToolName]) -> String {
        let section = self.system_section(offered);
        match (self, system.trim().is_empty()) {
            (_, true) => section,
            (CallStyle::Llama3, false) => format!("{section}{system}"),
            (_, false) => format!("{system}\n\n{section}"),
        }
    }

    /// A call as the model writes it (and as the grammar makes it write it).
    pub fn call_text(self, name: &str, arguments: &str) -> String {
        let arguments = if arguments.trim().is_empty() { "{}" } else { arguments };
        let json = format!("{{\"name\": {}, \"{}\": {arguments}}}", quote(name), self.args_key());
        match self {
            CallStyle::Qwen => format!("<tool_call>\n{json}\n</tool_call>"),
            CallStyle::Llama3 | CallStyle::Generic => json,
        }
    }

    /// The tool's name and arguments (a JSON object's text) of a call as generated, or `None`
    /// when it is not one. The arguments are the generated text itself, so that rendering the
    /// call back ([`CallStyle::call_text`]) gives the same bytes.
    pub fn parse_call(self, text: &str) -> Option<(String, String)> {
        let json = match self {
            CallStyle::Qwen => text.trim().strip_prefix("<tool_call>")?.strip_suffix("</tool_call>")?.trim(),
            CallStyle::Llama3 | CallStyle::Generic => text.trim(),
        };
        let value: serde_json::Value = serde_json::from_str(json).ok()?;
        let name = value.get("name")?.as_str()?.to_owned();
        let args = value.get(self.args_key())?;
        if !args.is_object() {
            return None;
        }
        let prefix = format!("{{\"name\": {}, \"{}\": ", quote(&name), self.args_key());
        let arguments = match json.strip_prefix(&prefix).and_then(|rest| rest.strip_suffix('}')) {
            Some(verbatim) => verbatim.to_owned(),
            None => serde_json::to_string(args).ok()?,
        };
        Some((name, arguments))
    }

    /// The role and content a tool's result is given to the model as.
    pub fn result_message(self, content: &str) -> (&'static str, String) {
        match self {
            CallStyle::Llama3 => ("ipython", content.to_owned()),
            CallStyle::Qwen => ("user", format!("<tool_response>\n{content}\n</tool_response>")),
            CallStyle::Generic => ("user", format!("Tool result: {content}")),
        }
    }

    /// The GBNF grammar of exactly one call to one of `offered` (rule `root`): the tool's
    /// arguments in the spec's order, required ones present, `exactly_one_of` as alternatives,
    /// every value bounded. `offered` must not be empty.
    pub fn grammar(self, offered: &[ToolName]) -> String {
        let mut g = String::new();
        let call = match self {
            CallStyle::Qwen => "\"<tool_call>\\n\" call \"\\n</tool_call>\"",
            CallStyle::Llama3 | CallStyle::Generic => "call",
        };
        let _ = writeln!(g, "root ::= {call}");
        let names: Vec<String> = offered.iter().map(|t| format!("tool-{}", rule_name(t.as_str()))).collect();
        let _ = writeln!(g, "call ::= {}", names.join(" | "));
        let mut values = std::collections::BTreeSet::new();
        for (tool, rule) in offered.iter().zip(&names) {
            let spec = tool.spec();
            let head = gbnf_literal(&format!("{{\"name\": {}, \"{}\": ", quote(spec.name), self.args_key()));
            let alternatives: Vec<String> = argument_sets(spec)
                .iter()
                .map(|set| {
                    let members: Vec<String> = set
                        .iter()
                        .map(|p| {
                            let (value_rule, definition) = value_rule(p.kind);
                            values.insert(definition);
                            format!("{} {value_rule}", gbnf_literal(&format!("{}: ", quote(p.name))))
                        })
                        .collect();
                    members.join(" \", \" ")
                })
                .collect();
            let args = match alternatives.as_slice() {
                [only] if only.is_empty() => "\"{}\"".to_owned(),
                _ => format!("\"{{\" ({}) \"}}\"", alternatives.join(" | ")),
            };
            let _ = writeln!(g, "{rule} ::= {head} {args} \"}}\"");
        }
        for definition in values {
            g.push_str(&definition);
        }
        if g.contains("char{") {
            let _ = writeln!(g, "char ::= {CHAR_RULE}");
        }
        g
    }

    /// The most bytes a call to one of `offered` can take; each generated token adds at least
    /// one, so a call ends within this many tokens (plus its end-of-turn token).
    pub fn max_call_bytes(self, offered: &[ToolName]) -> usize {
        offered
            .iter()
            .map(|t| {
                let spec = t.spec();
                let args = argument_sets(spec)
                    .iter()
                    .map(|set| {
                        let members: usize =
                            set.iter().map(|p| quote(p.name).len() + 2 + max_value_bytes(p.kind)).sum();
                        2 + members + 2 * set.len().saturating_sub(1)
                    })
                    .max()
                    .unwrap_or(2);
                self.call_text(spec.name, "").len() - 2 + args
            })
            .max()
            .unwrap_or(0)
    }
}

/// The argument lists a call to `spec` may have: every combination of its optional arguments
/// (required ones always there, exactly one of `exactly_one_of`), each in the spec's order.
fn argument_sets(spec: &ToolSpec) -> Vec<Vec<&'static super::spec::Param>> {
    let optional: Vec<usize> = (0..spec.params.len()).filter(|&i| !spec.params[i].required).collect();
    let mut sets = Vec::new();
    for mask in 0u32..(1 << optional.len()) {
        let present = |i: usize| {
            spec.params[i].required || optional.iter().position(|&o| o == i).is_some_and(|b| mask & (1 << b) != 0)
        };
        if let [a, b] = spec.exactly_one_of {
            let given = |name: &str| spec.params.iter().position(|p| p.name == name).is_some_and(present);
            if given(a) == given(b) {
                continue;
            }
        }
        sets.push((0..spec.params.len()).filter(|&i| present(i)).map(|i| &spec.params[i]).collect());
    }
    sets
}

/// The rule for a value of `kind`, and the rule's definition (shared by every argument of that
/// kind).
fn value_rule(kind: ParamKind) -> (String, String) {
    match kind {
        ParamKind::Integer { min, max } => {
            let name = format!("int-{}-{}", min.max(0), max.max(0));
            let alternatives: Vec<String> = int_range(min.max(0) as u64, max.max(0) as u64)
                .iter()
                .map(|digits| digits.iter().map(|&(a, b)| digit_class(a, b)).collect::<Vec<_>>().join(" "))
                .collect();
            let definition = format!("{name} ::= {}\n", alternatives.join(" | "));
            (name, definition)
        }
        ParamKind::Text { max_chars } => {
            let name = format!("text-{max_chars}");
            (name.clone(), format!("{name} ::= \"\\\"\" char{{0,{max_chars}}} \"\\\"\"\n"))
        }
        ParamKind::OneOf(choices) => {
            let name = format!("one-of-{}", choices.iter().map(|c| rule_name(c)).collect::<Vec<_>>().join("-"));
            let alternatives: Vec<String> = choices.iter().map(|c| gbnf_literal(&quote(c))).collect();
            (name.clone(), format!("{name} ::= {}\n", alternatives.join(" | ")))
        }
        ParamKind::Clock => {
            ("clock".into(), "clock ::= \"\\\"\" ([01]? [0-9] | \"2\" [0-3]) \":\" [0-5] [0-9] \"\\\"\"\n".into())
        }
    }
}

fn max_value_bytes(kind: ParamKind) -> usize {
    match kind {
        ParamKind::Integer { min, max } => min.max(0).to_string().len().max(max.max(0).to_string().len()),
        // A character is at most four bytes of UTF-8.
        ParamKind::Text { max_chars } => 2 + 4 * max_chars,
        ParamKind::OneOf(choices) => 2 + choices.iter().map(|c| quote(c).len() - 2).max().unwrap_or(0),
        ParamKind::Clock => 7,
    }
}

/// The decimal numbers `lo..=hi` without leading zeros, as alternatives of digit ranges (one
/// `(from, to)` per position).
fn int_range(lo: u64, hi: u64) -> Vec<Vec<(u8, u8)>> {
    let mut out = Vec::new();
    if lo > hi {
        return out;
    }
    let (lo_len, hi_len) = (lo.to_string().len(), hi.to_string().len());
    for len in lo_len..=hi_len {
        let first = if len == 1 { 0 } else { 10u64.pow(len as u32 - 1) };
        let last = 10u64.saturating_pow(len as u32).saturating_sub(1);
        let (a, b) = (lo.max(first), hi.min(last));
        if a <= b {
            same_length(a.to_string().as_bytes(), b.to_string().as_bytes(), &mut Vec::new(), &mut out);
        }
    }
    out
}

/// Numbers between `a` and `b` (decimal digits, same length), each alternative after `prefix`.
fn same_length(a: &[u8], b: &[u8], prefix: &mut Vec<(u8, u8)>, out: &mut Vec<Vec<(u8, u8)>>) {
    let Some((&a0, a_rest)) = a.split_first() else {
        out.push(prefix.clone());
        return;
    };
    let (b0, b_rest) = (b[0], &b[1..]);
    let (a0, b0) = (a0 - b'0', b0 - b'0');
    let any = |prefix: &Vec<(u8, u8)>, from: u8, to: u8| {
        let mut digits = prefix.clone();
        digits.push((from, to));
        digits.extend(std::iter::repeat_n((0, 9), a_rest.len()));
        digits
    };
    if a0 == b0 {
        prefix.push((a0, a0));
        same_length(a_rest, b_rest, prefix, out);
        prefix.pop();
        return;
    }
    let low_full = a_rest.iter().all(|&d| d == b'0');
    let high_full = b_rest.iter().all(|&d| d == b'9');
    let mut from = a0;
    if !low_full {
        prefix.push((a0, a0));
        same_length(a_rest, &vec![b'9'; a_rest.len()], prefix, out);
        prefix.pop();
        from = a0 + 1;
    }
    let to = if high_full { b0 } else { b0 - 1 };
    if from <= to {
        out.push(any(prefix, from, to));
    }
    if !high_full {
        prefix.push((b0, b0));
        same_length(&vec![b'0'; b_rest.len()], b_rest, prefix, out);
        prefix.pop();
    }
}

fn digit_class(a: u8, b: u8) -> String {
    if a == b { format!("\"{a}\"") } else { format!("[{a}-{b}]") }
}

/// `s` as a JSON string.
fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}

/// `s` as a GBNF string literal.
fn gbnf_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A GBNF rule name for `s` (letters, digits and dashes only).
fn rule_name(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect()
}

/// A tool as the templates list it: OpenAI's function object, written like `tojson`.
fn tool_json(spec: &ToolSpec) -> String {
    let mut properties = Vec::new();
    for p in spec.params {
        let kind = match p.kind {
            ParamKind::Integer { .. } => "\"type\": \"integer\"".to_owned(),
            ParamKind::Text { .. } | ParamKind::Clock => "\"type\": \"string\"".to_owned(),
            ParamKind::OneOf(choices) => format!(
                "\"type\": \"string\", \"enum\": [{}]",
                choices.iter().map(|c| quote(c)).collect::<Vec<_>>().join(", ")
            ),
        };
        properties.push(format!("{}: {{{kind}, \"description\": {}}}", quote(p.name), quote(p.description)));
    }
    let required: Vec<String> = spec.params.iter().filter(|p| p.required).map(|p| quote(p.name)).collect();
    format!(
        "{{\"type\": \"function\", \"function\": {{\"name\": {}, \"description\": {}, \"parameters\": {{\"type\": \
         \"object\", \"properties\": {{{}}}, \"required\": [{}]}}}}}}",
        quote(spec.name),
        quote(spec.description),
        properties.join(", "),
        required.join(", ")
    )
}

/// A tool's arguments in a line: `seconds: integer | at: "HH:MM", label?: string`.
fn signature(spec: &ToolSpec) -> String {
    let one = |p: &super::spec::Param| {
        let kind = match p.kind {
            ParamKind::Integer { .. } => "integer".to_owned(),
            ParamKind::Text { .. } => "string".to_owned(),
            ParamKind::OneOf(choices) => choices.iter().map(|c| quote(c)).collect::<Vec<_>>().join("|"),
            ParamKind::Clock => "\"HH:MM\"".to_owned(),
        };
        let optional = !p.required && !spec.exactly_one_of.contains(&p.name);
        format!("{}{}: {kind}", p.name, if optional { "?" } else { "" })
    };
    let mut parts: Vec<String> = Vec::new();
    let mut either: Vec<String> = Vec::new();
    for p in spec.params {
        if spec.exactly_one_of.contains(&p.name) {
            either.push(one(p));
        } else {
            parts.push(one(p));
        }
    }
    if !either.is_empty() {
        parts.insert(0, either.join(" | "));
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::spec::validate;

    fn matches(digits: &[Vec<(u8, u8)>], n: u64) -> bool {
        let s = n.to_string();
        digits.iter().any(|alt| {
            alt.len() == s.len() && alt.iter().zip(s.bytes()).all(|(&(a, b), d)| (a..=b).contains(&(d - b'0')))
        })
    }

    #[test]
    fn integer_ranges_match_exactly_their_numbers() {
        for (lo, hi) in [(1, 86_400), (0, 9), (5, 5), (10, 99), (7, 1234), (100, 100_000), (0, 0), (19, 21)] {
            let digits = int_range(lo, hi);
            for n in 0..=200_000u64 {
                assert_eq!(matches(&digits, n), (lo..=hi).contains(&n), "{n} in {lo}..={hi}: {digits:?}");
            }
        }
    }

    #[test]
    fn the_llama_section_is_llama_3_2s_wording() {
        let s = CallStyle::Llama3.system_section(&[ToolName::GetTime]);
        assert_eq!(
            s,
            "Environment: ipython\n\nYou have access to the following functions. To call a function, please \
             respond with JSON for a function call.Respond in the format {\"name\": function name, \"parameters\": \
             dictionary of argument name and its value}.Do not use variables.\n\n{\"type\": \"function\", \
             \"function\": {\"name\": \"get_time\", \"description\": \"The current local time or date.\", \
             \"parameters\": {\"type\": \"object\", \"properties\": {\"what\": {\"type\": \"string\", \"enum\": \
             [\"time\", \"date\"], \"description\": \"\\\"time\\\" or \\\"date\\\".\"}}, \"required\": \
             [\"what\"]}}}\n\n"
        );
        assert_eq!(CallStyle::Llama3.system_prompt("Be brief.", &[ToolName::GetTime]), format!("{s}Be brief."));
    }

    #[test]
    fn the_qwen_section_is_qwen_2_5s_wording() {
        let s = CallStyle::Qwen.system_prompt("Be brief.", &[ToolName::ListTimers]);
        assert_eq!(
            s,
            "Be brief.\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are \
             provided with function signatures within <tools></tools> XML tags:\n<tools>\n{\"type\": \"function\", \
             \"function\": {\"name\": \"list_timers\", \"description\": \"Say which timers are running and how long \
             each has left.\", \"parameters\": {\"type\": \"object\", \"properties\": {}, \"required\": []}}}\n\
             </tools>\n\nFor each function call, return a json object with function name and arguments within \
             <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": \
             <args-json-object>}\n</tool_call>"
        );
    }

    #[test]
    fn the_generic_section_is_one_line_per_tool() {
        let s = CallStyle::Generic.system_section(&[ToolName::SetTimer, ToolName::GetTime]);
        assert_eq!(
            s,
            "You can use these tools. To use one, answer with only a JSON object: {\"name\": tool name, \
             \"parameters\": {argument: value}}. Otherwise answer normally.\n\
             - set_timer(seconds: integer | at: \"HH:MM\", label?: string): Start a timer for a duration in \
             seconds, or until a clock time today (HH:MM, 24-hour). The assistant says so aloud when it is due.\n\
             - get_time(what: \"time\"|\"date\"): The current local time or date."
        );
    }

    #[test]
    fn styles_follow_the_architecture_and_template() {
        assert_eq!(CallStyle::detect("llama", "{{ '<|start_header_id|>' }}"), CallStyle::Llama3);
        assert_eq!(CallStyle::detect("llama", "{{ '<|im_start|>' }}"), CallStyle::Generic, "SmolLM2");
        assert_eq!(CallStyle::detect("qwen2", "{{ '<|im_start|>' }}"), CallStyle::Qwen);
        assert_eq!(CallStyle::detect("gemma3", "<start_of_turn>"), CallStyle::Generic);
    }

    #[test]
    fn calls_render_and_parse_back_to_the_same_text() {
        for style in [CallStyle::Llama3, CallStyle::Qwen, CallStyle::Generic] {
            let text = style.call_text("set_timer", r#"{"seconds": 600, "label": "tea"}"#);
            let (name, args) = style.parse_call(&text).unwrap();
            assert_eq!((name.as_str(), args.as_str()), ("set_timer", r#"{"seconds": 600, "label": "tea"}"#));
            assert_eq!(style.call_text(&name, &args), text);
            assert!(validate(&name, &args, &ToolName::ALL).is_ok());
            assert_eq!(style.parse_call("{\"name\": 5}"), None);
            assert_eq!(style.parse_call("not json"), None);
        }
        assert_eq!(
            CallStyle::Qwen.call_text("list_timers", ""),
            "<tool_call>\n{\"name\": \"list_timers\", \"arguments\": {}}\n</tool_call>"
        );
        // Compact JSON from elsewhere parses too, its arguments re-serialised.
        assert_eq!(
            CallStyle::Generic.parse_call(r#"{"name":"get_time","parameters":{"what":"date"}}"#),
            Some(("get_time".into(), r#"{"what":"date"}"#.into()))
        );
    }

    #[test]
    fn the_grammar_lists_each_tool_once_with_its_argument_sets() {
        let g = CallStyle::Llama3.grammar(&[ToolName::SetTimer, ToolName::ListTimers]);
        assert!(g.starts_with("root ::= call\ncall ::= tool-set-timer | tool-list-timers\n"), "{g}");
        assert!(
            g.contains(
                "tool-list-timers ::= \"{\\\"name\\\": \\\"list_timers\\\", \\\"parameters\\\": \" \"{}\" \"}\"\n"
            ),
            "{g}"
        );
        assert_eq!(argument_sets(ToolName::SetTimer.spec()).len(), 4, "seconds or at, with or without a label");
        assert!(g.contains("text-60 ::= \"\\\"\" char{0,60} \"\\\"\""), "{g}");
        assert!(g.contains("int-1-86400 ::= "), "{g}");
        let q = CallStyle::Qwen.grammar(&[ToolName::GetTime]);
        assert!(q.starts_with("root ::= \"<tool_call>\\n\" call \"\\n</tool_call>\""), "{q}");
        assert!(q.contains("\\\"arguments\\\": "), "{q}");
    }

    #[test]
    fn the_longest_call_bounds_every_call() {
        let n = CallStyle::Generic.max_call_bytes(&[ToolName::GetTime]);
        assert_eq!(n, CallStyle::Generic.call_text("get_time", r#"{"what": "date"}"#).len());
        let all = CallStyle::Qwen.max_call_bytes(&ToolName::ALL);
        let fact = "\u{1F600}".repeat(crate::tools::spec::MAX_FACT_CHARS);
        let longest = CallStyle::Qwen.call_text("remember", &format!("{{\"fact\": \"{fact}\"}}"));
        assert_eq!(all, longest.len());
    }
}
