//! What the LLM sees for a turn: the system prompt, the last turns that fit the context window,
//! and the question.

use super::timeline::{Outcome, TurnRecord};
use crate::llm::ChatMessage;

/// A cautious token count for budgeting: English runs about 4 characters per token in these
/// tokenizers, so 3 overestimates; each message adds its template's few tokens.
pub fn estimate_tokens(text: &str) -> usize {
    text.chars().count().div_ceil(3) + 6
}

/// The conversation to send: `system`, then as many of the most recent `past` turns (at most
/// `max_turns`) as fit in `budget_tokens` with the question, then the question. Turns with
/// nothing said or answered are skipped; an interrupted answer is the part that was heard.
pub fn build_messages(
    system: &str,
    past: &[TurnRecord],
    question: &str,
    max_turns: usize,
    budget_tokens: usize,
) -> Vec<ChatMessage> {
    let mut used = estimate_tokens(system) + estimate_tokens(question);
    let mut kept: Vec<&TurnRecord> = Vec::new();
    for turn in past.iter().rev() {
        if kept.len() >= max_turns {
            break;
        }
        let usable = matches!(turn.outcome, Outcome::Answered | Outcome::Interrupted)
            && !turn.transcript.trim().is_empty()
            && !turn.answer.trim().is_empty();
        if !usable {
            continue;
        }
        let cost = estimate_tokens(&turn.transcript) + estimate_tokens(&turn.answer);
        if used + cost > budget_tokens {
            break;
        }
        used += cost;
        kept.push(turn);
    }
    let mut messages = Vec::with_capacity(kept.len() * 2 + 2);
    if !system.trim().is_empty() {
        messages.push(ChatMessage::system(system));
    }
    for turn in kept.into_iter().rev() {
        messages.push(ChatMessage::user(turn.transcript.clone()));
        messages.push(ChatMessage::assistant(turn.answer.clone()));
    }
    messages.push(ChatMessage::user(question));
    messages
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::Role;

    fn turn(n: u64, q: &str, a: &str, outcome: Outcome) -> TurnRecord {
        let mut r = TurnRecord::new("c", n);
        r.transcript = q.into();
        r.answer = a.into();
        r.outcome = outcome;
        r
    }

    #[test]
    fn keeps_the_latest_turns_that_fit() {
        let past = vec![
            turn(1, "What is the capital of France?", "Paris.", Outcome::Answered),
            turn(2, "", "", Outcome::NoSpeech),
            turn(3, "And of Italy?", "Rome, which is also…", Outcome::Interrupted),
            turn(4, "Tell me a joke.", "", Outcome::Failed),
        ];
        let m = build_messages("Be brief.", &past, "How far apart are they?", 16, 10_000);
        let roles: Vec<Role> = m.iter().map(|m| m.role).collect();
        assert_eq!(roles, [Role::System, Role::User, Role::Assistant, Role::User, Role::Assistant, Role::User]);
        assert_eq!(m[3].content, "And of Italy?");
        assert_eq!(m[4].content, "Rome, which is also…");
        assert_eq!(m[5].content, "How far apart are they?");

        // Room for the system prompt, the question and one turn: the latest one.
        let budget = estimate_tokens("Be brief.")
            + estimate_tokens("How far apart are they?")
            + estimate_tokens("And of Italy?")
            + estimate_tokens("Rome, which is also…");
        let m = build_messages("Be brief.", &past, "How far apart are they?", 16, budget);
        assert_eq!(m.len(), 4);
        assert_eq!(m[1].content, "And of Italy?");

        let m = build_messages("Be brief.", &past, "Q", 1, 10_000);
        assert_eq!(m.len(), 4);
        let m = build_messages("", &past, "Q", 0, 10_000);
        assert_eq!(m.len(), 1);
    }
}
