//! Judging an answer against the request's expected call, and summing a path up.
//!
//! The argument rule, per expected argument (arguments the call adds are not judged):
//! - `seconds`: the same whole number; `at`: the same clock time ("7:00" is "07:00");
//! - `what`, `mode`, and a `cancel_timer` label of "" or "all": the same text;
//! - free text (`label`, `about`, `fact`): normalised word overlap of at least one half, where
//!   normalised means lower-case words, punctuation and "'s" dropped, and filler words ("the",
//!   "my", "that", "is", ...) left out, and overlap is shared words / the larger word count
//!   ("locker" for "my locker" is 1/1, "locker number" for "my locker" is 1/2, both pass; a
//!   long wrong sentence sharing one word does not).

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::set::Request;
use super::{CaseResult, PathKind, PathRow};
use crate::bench::median;
use crate::tools::ToolCall;
use crate::tools::spec::{ParamKind, ToolName, parse_clock, validate};

/// The least overlap for free-text arguments to match.
pub const MIN_OVERLAP: f64 = 0.5;

/// What one path gave for one request.
#[derive(Debug, Clone, Default)]
pub struct Answer {
    pub call: Option<ToolCall>,
    /// Request to the call, or to the first token of a spoken answer.
    pub added_ms: Option<f64>,
    /// A spoken answer's text.
    pub text: String,
    /// Why the engine failed on this request.
    pub error: Option<String>,
}

/// Judges `answer` to `request`.
pub fn judge(path: PathKind, model: Option<&str>, request: &Request, answer: Answer) -> CaseResult {
    let checked = answer.call.as_ref().map(|c| validate(&c.name, &c.arguments, &ToolName::ALL));
    let valid = matches!(checked, Some(Ok(_)));
    let refusal = match &checked {
        Some(Err(e)) => Some(e.to_string()),
        _ => None,
    };
    let right_tool = request.tool().is_some() && answer.call.as_ref().is_some_and(|c| c.name == request.expect);
    let args_ok = right_tool
        && match (&checked, request.tool()) {
            (Some(Ok(call)), Some(tool)) => args_match(tool, &request.args, &call.args),
            _ => false,
        };
    CaseResult {
        path,
        model: model.map(str::to_owned),
        say: request.say.clone(),
        expect: request.expect.clone(),
        call: answer.call,
        valid,
        refusal,
        right_tool,
        args_ok,
        added_ms: answer.added_ms,
        text: answer.text.chars().take(120).collect(),
        error: answer.error,
    }
}

/// Whether every expected argument of `tool` is matched by `got` (see the module's rule).
pub fn args_match(tool: ToolName, expected: &Map<String, Value>, got: &Map<String, Value>) -> bool {
    expected.iter().all(|(name, want)| {
        let Some(have) = got.get(name) else { return false };
        let kind = tool.spec().params.iter().find(|p| p.name == name).map(|p| p.kind);
        match (kind, want, have) {
            (Some(ParamKind::Integer { .. }), want, have) => {
                want.as_i64().is_some_and(|w| have.as_i64() == Some(w) || have.as_f64() == Some(w as f64))
            }
            (Some(ParamKind::Clock), Value::String(w), Value::String(h)) => {
                parse_clock(w).is_some() && parse_clock(w) == parse_clock(h)
            }
            (Some(ParamKind::Text { .. }), Value::String(w), Value::String(h)) => {
                if tool == ToolName::CancelTimer && (w.is_empty() || w == "all") {
                    h.trim().eq_ignore_ascii_case(w)
                } else {
                    overlap(w, h) >= MIN_OVERLAP
                }
            }
            _ => want == have,
        }
    })
}

/// Words that carry no meaning for the overlap.
const FILLER: &[&str] = &[
    "the", "a", "an", "my", "your", "our", "i", "me", "that", "this", "about", "of", "to", "is", "are", "was", "on",
    "in", "at", "for", "and", "s", "user", "user's",
];

fn content_words(text: &str) -> BTreeSet<String> {
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty() && !FILLER.contains(w))
        .map(str::to_owned)
        .collect()
}

/// Shared content words / the larger count, in [0, 1]; 1 when neither has any.
pub fn overlap(a: &str, b: &str) -> f64 {
    let (a, b) = (content_words(a), content_words(b));
    let larger = a.len().max(b.len());
    if larger == 0 {
        return 1.0;
    }
    a.intersection(&b).count() as f64 / larger as f64
}

/// One path's row from its judged requests.
pub fn row(path: PathKind, model: Option<&str>, cases: &[CaseResult]) -> PathRow {
    let tool_cases: Vec<&CaseResult> = cases.iter().filter(|c| c.expect != "none").collect();
    let none_cases: Vec<&CaseResult> = cases.iter().filter(|c| c.expect == "none").collect();
    let calls = cases.iter().filter(|c| c.call.is_some()).count();
    let rate = |n: usize, of: usize| (of > 0).then(|| n as f64 / of as f64);
    let ms: Vec<f64> = cases.iter().filter_map(|c| c.added_ms).collect();
    PathRow {
        path,
        model: model.map(str::to_owned),
        requests: cases.len(),
        tool_requests: tool_cases.len(),
        no_tool_requests: none_cases.len(),
        calls,
        valid_call_rate: rate(cases.iter().filter(|c| c.valid).count(), calls),
        right_tool_rate: rate(tool_cases.iter().filter(|c| c.right_tool).count(), tool_cases.len()),
        argument_accuracy: rate(tool_cases.iter().filter(|c| c.args_ok).count(), tool_cases.len()),
        false_call_rate: rate(none_cases.iter().filter(|c| c.call.is_some()).count(), none_cases.len()),
        median_added_ms: (!ms.is_empty()).then(|| median(&ms)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(expect: &str, args: Value) -> Request {
        let Value::Object(args) = args else { panic!() };
        Request { say: "x".into(), expect: expect.into(), args, fast: false }
    }

    fn answer(name: &str, arguments: &str) -> Answer {
        Answer {
            call: Some(ToolCall { id: "1".into(), name: name.into(), arguments: arguments.into() }),
            added_ms: Some(1.0),
            ..Answer::default()
        }
    }

    fn judged(expect: &str, args: Value, name: &str, arguments: &str) -> (bool, bool, bool) {
        let c = judge(PathKind::Free, Some("m"), &request(expect, args), answer(name, arguments));
        (c.valid, c.right_tool, c.args_ok)
    }

    #[test]
    fn arguments_match_by_the_documented_rule() {
        use serde_json::json;
        let yes = (true, true, true);
        let wrong_args = (true, true, false);
        assert_eq!(judged("set_timer", json!({"seconds": 600}), "set_timer", r#"{"seconds":600}"#), yes);
        assert_eq!(judged("set_timer", json!({"seconds": 600}), "set_timer", r#"{"seconds":600.0,"label":"x"}"#), yes);
        assert_eq!(judged("set_timer", json!({"seconds": 600}), "set_timer", r#"{"seconds":60}"#), wrong_args);
        assert_eq!(judged("set_timer", json!({"seconds": 600}), "set_timer", r#"{"at":"10:00"}"#), wrong_args);
        assert_eq!(judged("set_timer", json!({"at": "07:00"}), "set_timer", r#"{"at":"7:00"}"#), yes);
        assert_eq!(
            judged(
                "set_timer",
                json!({"seconds": 300, "label": "pasta"}),
                "set_timer",
                r#"{"seconds":300,"label":"the pasta"}"#
            ),
            yes
        );
        assert_eq!(
            judged("set_timer", json!({"seconds": 300, "label": "pasta"}), "set_timer", r#"{"seconds":300}"#),
            wrong_args
        );
        assert_eq!(judged("cancel_timer", json!({"label": ""}), "cancel_timer", r#"{"label":""}"#), yes);
        assert_eq!(judged("cancel_timer", json!({"label": "all"}), "cancel_timer", r#"{"label":"tea"}"#), wrong_args);
        assert_eq!(judged("recall", json!({"about": "my locker"}), "recall", r#"{"about":"locker number"}"#), yes);
        assert_eq!(judged("recall", json!({"about": "Sam's birthday"}), "recall", r#"{"about":"sam birthday"}"#), yes);
        assert_eq!(
            judged(
                "remember",
                json!({"fact": "My locker is 42."}),
                "remember",
                r#"{"fact":"The user's locker number is 42"}"#
            ),
            yes
        );
        assert_eq!(
            judged(
                "remember",
                json!({"fact": "My locker is 42."}),
                "remember",
                r#"{"fact":"Lockers are metal boxes found in schools and gyms"}"#
            ),
            wrong_args
        );
        assert_eq!(judged("get_time", json!({"what": "time"}), "get_time", r#"{"what":"date"}"#), wrong_args);
        // Wrong tool, invalid calls, and calls where none was wanted.
        assert_eq!(judged("get_time", json!({"what": "time"}), "list_timers", "{}"), (true, false, false));
        assert_eq!(
            judged("set_timer", json!({"seconds": 600}), "set_timer", r#"{"seconds":"ten"}"#),
            (false, true, false)
        );
        assert_eq!(judged("none", json!({}), "get_time", r#"{"what":"time"}"#), (true, false, false));
        assert_eq!(judged("list_timers", json!({}), "list_timers", ""), yes);
    }

    #[test]
    fn a_row_sums_up_its_requests() {
        use serde_json::json;
        let cases = vec![
            judge(
                PathKind::Fast,
                None,
                &request("set_timer", json!({"seconds": 60})),
                answer("set_timer", r#"{"seconds":60}"#),
            ),
            judge(
                PathKind::Fast,
                None,
                &request("set_timer", json!({"seconds": 60})),
                answer("set_timer", r#"{"seconds":6}"#),
            ),
            judge(PathKind::Fast, None, &request("get_time", json!({"what": "time"})), Answer::default()),
            judge(PathKind::Fast, None, &request("recall", json!({"about": "x"})), answer("run_shell", "{}")),
            judge(PathKind::Fast, None, &request("none", json!({})), answer("get_time", r#"{"what":"time"}"#)),
            judge(
                PathKind::Fast,
                None,
                &request("none", json!({})),
                Answer { added_ms: Some(3.0), ..Answer::default() },
            ),
        ];
        let r = row(PathKind::Fast, None, &cases);
        assert_eq!((r.requests, r.tool_requests, r.no_tool_requests, r.calls), (6, 4, 2, 4));
        assert_eq!(r.valid_call_rate, Some(0.75));
        assert_eq!(r.right_tool_rate, Some(0.5));
        assert_eq!(r.argument_accuracy, Some(0.25));
        assert_eq!(r.false_call_rate, Some(0.5));
        assert_eq!(r.median_added_ms, Some(1.0));
        let empty = row(PathKind::Free, Some("m"), &[]);
        assert_eq!((empty.valid_call_rate, empty.right_tool_rate, empty.median_added_ms), (None, None, None));
    }
}
