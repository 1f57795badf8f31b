//! The eval set: spoken-style requests with the call each should make (`eval/tools.toml` at
//! the repository's root, built in).

use serde::Deserialize;
use serde_json::{Map, Value};

use super::EvalError;
use crate::tools::ToolName;
use crate::tools::spec::validate;

/// The set shipped with voxdeck.
pub const BUILTIN: &str = include_str!("../../../../eval/tools.toml");

/// One request.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// What the user said (as Whisper writes it).
    pub say: String,
    /// The tool's name, or "none".
    pub expect: String,
    /// The arguments that must match; others a call adds are not judged.
    #[serde(default)]
    pub args: Map<String, Value>,
    /// The fast path is meant to catch it.
    #[serde(default)]
    pub fast: bool,
}

impl Request {
    /// The expected tool; `None` for a request that needs none.
    pub fn tool(&self) -> Option<ToolName> {
        ToolName::parse(&self.expect)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    request: Vec<Request>,
}

/// Parses and checks a set: every expected tool is on the allowlist and its expected arguments
/// form a valid call (so a request can always be answered right).
pub fn parse(text: &str) -> Result<Vec<Request>, EvalError> {
    let file: File = toml::from_str(text).map_err(|e| EvalError::Set(e.to_string()))?;
    for r in &file.request {
        let bad = |why: String| EvalError::Set(format!("{:?}: {why}", r.say));
        if r.say.trim().is_empty() {
            return Err(bad("nothing is said".into()));
        }
        match r.tool() {
            None if r.expect == "none" => {
                if !r.args.is_empty() {
                    return Err(bad("a request that needs no tool has no arguments".into()));
                }
            }
            None => return Err(bad(format!("no tool is called {}", r.expect))),
            Some(tool) => {
                let args = Value::Object(r.args.clone()).to_string();
                validate(tool.as_str(), &args, &ToolName::ALL).map_err(|e| bad(e.to_string()))?;
            }
        }
    }
    Ok(file.request)
}

/// The built-in set.
pub fn builtin() -> Vec<Request> {
    // Checked by the tests below; an invalid set is a build defect, not a user error.
    parse(BUILTIN).unwrap_or_default()
}

/// At most `limit` requests, spread over the set: the no-tool requests get their share (at
/// least one when there are four or more), and each group is sampled evenly in file order, so a
/// short run still sees every kind of request.
pub fn select(requests: &[Request], limit: Option<usize>) -> Vec<Request> {
    let Some(limit) = limit.filter(|&l| l < requests.len()) else { return requests.to_vec() };
    let (none, tools): (Vec<&Request>, Vec<&Request>) = requests.iter().partition(|r| r.tool().is_none());
    let mut none_share = (limit * none.len()).div_ceil(requests.len().max(1));
    if limit >= 4 && !none.is_empty() {
        none_share = none_share.max(1);
    }
    let none_share = none_share.min(none.len());
    let tool_share = (limit - none_share).min(tools.len());
    let spread =
        |group: &[&Request], n: usize| -> Vec<Request> { (0..n).map(|i| group[i * group.len() / n].clone()).collect() };
    let mut chosen = spread(&tools, tool_share);
    chosen.extend(spread(&none, none_share));
    chosen
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::intent::{Intent, match_intent};

    #[test]
    fn the_builtin_set_is_valid_and_covers_every_tool() {
        let set = parse(BUILTIN).unwrap();
        assert!(set.len() >= 70, "{} requests", set.len());
        let none = set.iter().filter(|r| r.tool().is_none()).count();
        assert!(none >= 15, "{none} no-tool requests");
        for tool in ToolName::ALL {
            let n = set.iter().filter(|r| r.tool() == Some(tool)).count();
            assert!(n >= 3, "{}: {n} requests", tool.as_str());
            assert!(
                set.iter().any(|r| r.tool() == Some(tool) && !r.fast) || tool == ToolName::ForgetAll,
                "{}: nothing only a model would catch",
                tool.as_str()
            );
        }
        assert_eq!(builtin(), set);
    }

    #[test]
    fn the_fast_path_catches_what_it_is_meant_to_and_calls_nothing_else() {
        for r in builtin() {
            let got = match_intent(&r.say, false);
            match (r.fast, got) {
                (true, Some(Intent::Call(c))) => assert_eq!(c.name, r.expect, "{:?}", r.say),
                (true, other) => panic!("{:?}: {other:?}", r.say),
                (false, Some(Intent::Call(c))) if r.tool().is_none() => panic!("{:?}: false call {c:?}", r.say),
                (false, _) => {}
            }
        }
    }

    #[test]
    fn bad_sets_are_refused_in_words() {
        let refused = |text: &str| parse(text).unwrap_err().to_string();
        assert!(refused("[[request]]\nsay = 'x'\nexpect = 'run_shell'").contains("no tool is called run_shell"));
        assert!(
            refused("[[request]]\nsay = 'x'\nexpect = 'set_timer'\nargs = { seconds = 'ten' }")
                .contains("set_timer's seconds should be a whole number")
        );
        assert!(refused("[[request]]\nsay = 'x'\nexpect = 'none'\nargs = { about = 'y' }").contains("no arguments"));
        assert!(refused("[[request]]\nsay = 'x'\nexpekt = 'none'").contains("unknown field"));
    }

    #[test]
    fn a_limit_spreads_over_the_set() {
        let set = builtin();
        let twelve = select(&set, Some(12));
        assert_eq!(twelve.len(), 12);
        let none = twelve.iter().filter(|r| r.tool().is_none()).count();
        assert!((2..=4).contains(&none), "{none} no-tool requests");
        let tools: std::collections::HashSet<_> = twelve.iter().filter_map(Request::tool).collect();
        assert!(tools.len() >= 6, "{tools:?}");
        assert_eq!(select(&set, Some(1)).len(), 1);
        assert_eq!(select(&set, None).len(), set.len());
        assert_eq!(select(&set, Some(10_000)).len(), set.len());
        assert!(select(&set, Some(0)).is_empty());
    }
}
