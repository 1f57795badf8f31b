//! The fast path: common phrasings ("set a timer for ten minutes", "what time is it",
//! "remember that ...", "cancel the timer") matched by a small deterministic grammar before any
//! LLM runs. What it cannot match with certainty goes to the LLM.
//!
//! CONTRACT STUB (issue 17): the signature below is what the pipeline builds against; the body
//! is filled in by the intent work.

use super::ToolCall;

/// What an utterance asks, when the fast path is sure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intent {
    /// A tool call, in the same form a model makes (checked the same way).
    Call(ToolCall),
    /// "yes" / "yes, forget everything": confirms the pending action.
    Confirm,
    /// "no" / "never mind": drops it.
    Decline,
}

/// The intent of `text` (a transcript), if the grammar matches it whole. "yes" and "no" are
/// intents only while a confirmation is pending (`confirm_pending`).
pub fn match_intent(text: &str, confirm_pending: bool) -> Option<Intent> {
    let _ = (text, confirm_pending);
    todo!("intent")
}
