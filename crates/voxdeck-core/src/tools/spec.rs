//! The allowlist: every tool the assistant has, its arguments and their bounds, in one table.
//! The local model's grammar, the cloud's `tools` schema, the prompt's tool list and the check
//! every call passes ([`validate`]) are all made from it, so they cannot disagree.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The longest timer, seconds: a day. A longer one is refused, not clamped.
pub const MAX_TIMER_S: i64 = 24 * 3600;
/// The longest timer label, characters.
pub const MAX_LABEL_CHARS: usize = 60;
/// The longest fact, characters ("remember that ..."): a sentence or two, not a document.
pub const MAX_FACT_CHARS: usize = 500;
/// The longest topic to recall or forget, characters.
pub const MAX_TOPIC_CHARS: usize = 100;

/// A tool's name; the allowlist. Anything else a model names is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
#[serde(rename_all = "snake_case")]
pub enum ToolName {
    SetTimer,
    ListTimers,
    CancelTimer,
    Remember,
    Recall,
    Forget,
    ForgetAll,
    GetTime,
    AssistantStatus,
    SetMode,
}

impl ToolName {
    pub const ALL: [ToolName; 10] = [
        ToolName::SetTimer,
        ToolName::ListTimers,
        ToolName::CancelTimer,
        ToolName::Remember,
        ToolName::Recall,
        ToolName::Forget,
        ToolName::ForgetAll,
        ToolName::GetTime,
        ToolName::AssistantStatus,
        ToolName::SetMode,
    ];

    pub fn as_str(self) -> &'static str {
        self.spec().name
    }

    /// The tool called `name`, if it is on the allowlist.
    pub fn parse(name: &str) -> Option<ToolName> {
        ToolName::ALL.into_iter().find(|t| t.as_str() == name)
    }

    pub fn spec(self) -> &'static ToolSpec {
        &SPECS[self as usize]
    }
}

/// What an argument may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    /// A JSON integer in `min..=max`.
    Integer { min: i64, max: i64 },
    /// A JSON string of at most `max_chars` characters.
    Text { max_chars: usize },
    /// A JSON string, one of these.
    OneOf(&'static [&'static str]),
    /// A JSON string "HH:MM", 24-hour, local time.
    Clock,
}

/// One argument of a tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param {
    pub name: &'static str,
    pub kind: ParamKind,
    pub required: bool,
    pub description: &'static str,
}

/// One tool: its name, what it does (for the model), its arguments in the order a call writes
/// them, and which optional arguments exclude each other (exactly one of them is given).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ToolSpec {
    pub tool: ToolName,
    pub name: &'static str,
    pub description: &'static str,
    pub params: &'static [Param],
    /// Exactly one of these optional arguments must be given (a timer's duration or its time).
    pub exactly_one_of: &'static [&'static str],
}

/// What `recall` and `forget` are about: the same words find the facts for both.
const TOPIC: Param = Param {
    name: "about",
    kind: ParamKind::Text { max_chars: MAX_TOPIC_CHARS },
    required: true,
    description: "The topic, in a few words.",
};

/// The table, in [`ToolName`] order.
static SPECS: [ToolSpec; 10] = [
    ToolSpec {
        tool: ToolName::SetTimer,
        name: "set_timer",
        description: "Start a timer for a duration in seconds, or until a clock time today (HH:MM, 24-hour). \
                      The assistant says so aloud when it is due.",
        params: &[
            Param {
                name: "seconds",
                kind: ParamKind::Integer { min: 1, max: MAX_TIMER_S },
                required: false,
                description: "How long the timer runs, in seconds.",
            },
            Param { name: "at", kind: ParamKind::Clock, required: false, description: "When it is due, HH:MM." },
            Param {
                name: "label",
                kind: ParamKind::Text { max_chars: MAX_LABEL_CHARS },
                required: false,
                description: "What the timer is for (\"tea\"), if the user said.",
            },
        ],
        exactly_one_of: &["seconds", "at"],
    },
    ToolSpec {
        tool: ToolName::ListTimers,
        name: "list_timers",
        description: "Say which timers are running and how long each has left.",
        params: &[],
        exactly_one_of: &[],
    },
    ToolSpec {
        tool: ToolName::CancelTimer,
        name: "cancel_timer",
        description: "Cancel a timer: the one with this label, the only one running (label \"\"), or all (\"all\").",
        params: &[Param {
            name: "label",
            kind: ParamKind::Text { max_chars: MAX_LABEL_CHARS },
            required: true,
            description: "The timer's label, \"\" for the only timer, or \"all\".",
        }],
        exactly_one_of: &[],
    },
    ToolSpec {
        tool: ToolName::Remember,
        name: "remember",
        description: "Store a fact the user asked you to remember, in their words.",
        params: &[Param {
            name: "fact",
            kind: ParamKind::Text { max_chars: MAX_FACT_CHARS },
            required: true,
            description: "The fact, as a short sentence.",
        }],
        exactly_one_of: &[],
    },
    ToolSpec {
        tool: ToolName::Recall,
        name: "recall",
        description: "Look up the stored facts about a topic.",
        params: &[TOPIC],
        exactly_one_of: &[],
    },
    ToolSpec {
        tool: ToolName::Forget,
        name: "forget",
        description: "Delete the stored facts about a topic.",
        params: &[TOPIC],
        exactly_one_of: &[],
    },
    ToolSpec {
        tool: ToolName::ForgetAll,
        name: "forget_all",
        description: "Delete every stored fact. The user is asked to confirm first.",
        params: &[],
        exactly_one_of: &[],
    },
    ToolSpec {
        tool: ToolName::GetTime,
        name: "get_time",
        description: "The current local time or date.",
        params: &[Param {
            name: "what",
            kind: ParamKind::OneOf(&["time", "date"]),
            required: true,
            description: "\"time\" or \"date\".",
        }],
        exactly_one_of: &[],
    },
    ToolSpec {
        tool: ToolName::AssistantStatus,
        name: "assistant_status",
        description: "How fast the assistant is running (tokens per second, latency) or how much memory it uses.",
        params: &[Param {
            name: "what",
            kind: ParamKind::OneOf(&["speed", "memory"]),
            required: true,
            description: "\"speed\" or \"memory\".",
        }],
        exactly_one_of: &[],
    },
    ToolSpec {
        tool: ToolName::SetMode,
        name: "set_mode",
        description: "Switch who answers the next questions: \"cloud\" (think harder), \"local\" (answer on this \
                      device) or \"auto\".",
        params: &[Param {
            name: "mode",
            kind: ParamKind::OneOf(&["local", "cloud", "auto"]),
            required: true,
            description: "\"local\", \"cloud\" or \"auto\".",
        }],
        exactly_one_of: &[],
    },
];

/// Why a call was refused, in a short sentence the assistant can say.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("I don't have a tool called {0}.")]
    UnknownTool(String),
    #[error("I can't use {0} here.")]
    NotOffered(String),
    #[error("That tool call was garbled.")]
    Malformed,
    #[error("{tool} doesn't take {param}.")]
    UnknownParam { tool: &'static str, param: String },
    #[error("{tool} needs {param}.")]
    Missing { tool: &'static str, param: &'static str },
    #[error("{tool}'s {param} should be {expected}.")]
    WrongType { tool: &'static str, param: &'static str, expected: &'static str },
    #[error("{0}")]
    OutOfRange(String),
    #[error("That's too long: {param} holds at most {max} characters.")]
    TooLong { param: &'static str, max: usize },
    #[error("{tool} needs either {a} or {b}, not both.")]
    Conflict { tool: &'static str, a: &'static str, b: &'static str },
}

/// A call that passed [`validate`]: an allowlisted tool and arguments of the right types and
/// bounds (unknown arguments dropped by refusal, not ignored).
#[derive(Debug, Clone, PartialEq)]
pub struct ValidCall {
    pub tool: ToolName,
    pub args: Map<String, Value>,
}

impl ValidCall {
    /// A string argument ("" when absent).
    pub fn text(&self, name: &str) -> &str {
        self.args.get(name).and_then(Value::as_str).unwrap_or("")
    }

    /// An integer argument.
    pub fn integer(&self, name: &str) -> Option<i64> {
        self.args.get(name).and_then(Value::as_i64)
    }
}

/// Checks `name` and `arguments` (a JSON object's text) against the allowlist and `offered`.
pub fn validate(name: &str, arguments: &str, offered: &[ToolName]) -> Result<ValidCall, Refusal> {
    let tool = ToolName::parse(name).ok_or_else(|| Refusal::UnknownTool(printable(name)))?;
    if !offered.contains(&tool) {
        return Err(Refusal::NotOffered(tool.as_str().to_owned()));
    }
    let spec = tool.spec();
    // Models write `{}` or nothing for a tool without arguments.
    let args: Map<String, Value> = match arguments.trim() {
        "" | "null" => Map::new(),
        text => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => map,
            _ => return Err(Refusal::Malformed),
        },
    };
    for key in args.keys() {
        if !spec.params.iter().any(|p| p.name == key) {
            return Err(Refusal::UnknownParam { tool: spec.name, param: printable(key) });
        }
    }
    for param in spec.params {
        match args.get(param.name) {
            None | Some(Value::Null) if param.required => {
                return Err(Refusal::Missing { tool: spec.name, param: param.name });
            }
            None | Some(Value::Null) => {}
            Some(value) => check_value(spec, param, value)?,
        }
    }
    if let [a, b] = spec.exactly_one_of {
        let given = |k: &str| args.get(k).is_some_and(|v| !v.is_null());
        match (given(a), given(b)) {
            (true, true) => return Err(Refusal::Conflict { tool: spec.name, a, b }),
            (false, false) => return Err(Refusal::Missing { tool: spec.name, param: a }),
            _ => {}
        }
    }
    // Nulls dropped, whole floats (600.0) as integers.
    let args = args
        .into_iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| match (v.as_f64(), v.is_i64()) {
            (Some(f), false) if f.fract() == 0.0 => (k, Value::from(f as i64)),
            _ => (k, v),
        })
        .collect();
    Ok(ValidCall { tool, args })
}

fn check_value(spec: &ToolSpec, param: &Param, value: &Value) -> Result<(), Refusal> {
    let wrong = |expected| Refusal::WrongType { tool: spec.name, param: param.name, expected };
    match param.kind {
        ParamKind::Integer { min, max } => {
            // 600.0 is an integer a model may well write; 600.5 is not.
            let n = match value {
                Value::Number(n) => n.as_i64().or_else(|| n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9e15).map(|f| f as i64)),
                _ => None,
            }
            .ok_or_else(|| wrong("a whole number"))?;
            if n < min || n > max {
                return Err(Refusal::OutOfRange(out_of_range(spec.tool, param.name, n, min, max)));
            }
        }
        ParamKind::Text { max_chars } => {
            let s = value.as_str().ok_or_else(|| wrong("text"))?;
            if s.chars().count() > max_chars {
                return Err(Refusal::TooLong { param: param.name, max: max_chars });
            }
        }
        ParamKind::OneOf(choices) => {
            let s = value.as_str().ok_or_else(|| wrong("text"))?;
            if !choices.contains(&s) {
                return Err(Refusal::OutOfRange(format!("{} should be one of {}.", param.name, choices.join(", "))));
            }
        }
        ParamKind::Clock => {
            let s = value.as_str().ok_or_else(|| wrong("a time like 17:30"))?;
            if parse_clock(s).is_none() {
                return Err(wrong("a time like 17:30"));
            }
        }
    }
    Ok(())
}

/// "HH:MM" (24-hour) as (hour, minute).
pub fn parse_clock(s: &str) -> Option<(u32, u32)> {
    let (h, m) = s.split_once(':')?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 || !h.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (h, m) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some((h, m))
}

fn out_of_range(tool: ToolName, param: &str, n: i64, min: i64, max: i64) -> String {
    match (tool, param) {
        (ToolName::SetTimer, "seconds") if n > max => "I can only set timers up to 24 hours.".into(),
        (ToolName::SetTimer, "seconds") => "A timer needs at least a second.".into(),
        _ => format!("{param} should be between {min} and {max}."),
    }
}

/// A name from a model, safe to say and log: printable, at most 40 characters.
fn printable(s: &str) -> String {
    let clean: String = s.chars().filter(|c| !c.is_control()).take(40).collect();
    if clean.is_empty() { "that".into() } else { clean }
}

/// The tools as OpenAI's `tools` array (JSON schema per function).
pub fn openai_tools(offered: &[ToolName]) -> Value {
    let tools: Vec<Value> = offered
        .iter()
        .map(|t| {
            let spec = t.spec();
            let mut properties = Map::new();
            for p in spec.params {
                let schema = match p.kind {
                    ParamKind::Integer { min, max } => {
                        serde_json::json!({"type": "integer", "minimum": min, "maximum": max, "description": p.description})
                    }
                    ParamKind::Text { max_chars } => {
                        serde_json::json!({"type": "string", "maxLength": max_chars, "description": p.description})
                    }
                    ParamKind::OneOf(choices) => {
                        serde_json::json!({"type": "string", "enum": choices, "description": p.description})
                    }
                    ParamKind::Clock => serde_json::json!({
                        "type": "string", "pattern": "^([01]?[0-9]|2[0-3]):[0-5][0-9]$", "description": p.description
                    }),
                };
                properties.insert(p.name.to_owned(), schema);
            }
            let required: Vec<&str> = spec.params.iter().filter(|p| p.required).map(|p| p.name).collect();
            serde_json::json!({
                "type": "function",
                "function": {
                    "name": spec.name,
                    "description": spec.description,
                    "parameters": {"type": "object", "properties": properties, "required": required},
                }
            })
        })
        .collect();
    Value::Array(tools)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(name: &str, args: &str) -> Result<ValidCall, Refusal> {
        validate(name, args, &ToolName::ALL)
    }

    #[test]
    fn the_table_is_in_enum_order_and_names_are_unique() {
        for (i, t) in ToolName::ALL.iter().enumerate() {
            assert_eq!(SPECS[i].tool, *t);
            assert_eq!(ToolName::parse(t.as_str()), Some(*t));
            let json = serde_json::to_string(t).unwrap();
            assert_eq!(json, format!("\"{}\"", t.as_str()), "serde name is the tool name");
        }
    }

    #[test]
    fn good_calls_pass_and_keep_their_arguments() {
        let call = check("set_timer", r#"{"seconds": 600, "label": "tea"}"#).unwrap();
        assert_eq!((call.tool, call.integer("seconds"), call.text("label")), (ToolName::SetTimer, Some(600), "tea"));
        assert_eq!(check("set_timer", r#"{"at": "17:30"}"#).unwrap().text("at"), "17:30");
        assert_eq!(check("set_timer", r#"{"seconds": 60.0}"#).unwrap().integer("seconds"), Some(60));
        assert_eq!(check("list_timers", "").unwrap().tool, ToolName::ListTimers);
        assert_eq!(check("list_timers", "{}").unwrap().tool, ToolName::ListTimers);
        assert_eq!(check("get_time", r#"{"what":"date"}"#).unwrap().text("what"), "date");
        assert!(check("set_timer", r#"{"seconds": 60, "label": null}"#).unwrap().args.get("label").is_none());
    }

    #[test]
    fn bad_calls_are_refused_in_words() {
        let refused = |name: &str, args: &str| check(name, args).unwrap_err().to_string();
        assert_eq!(refused("run_shell", r#"{"cmd":"rm -rf /"}"#), "I don't have a tool called run_shell.");
        assert_eq!(refused("set_timer", r#"{"seconds": 315360000}"#), "I can only set timers up to 24 hours.");
        assert_eq!(refused("set_timer", r#"{"seconds": "ten"}"#), "set_timer's seconds should be a whole number.");
        assert_eq!(refused("set_timer", r#"{"seconds": 0.5}"#), "set_timer's seconds should be a whole number.");
        assert_eq!(refused("set_timer", r#"{"label": "tea"}"#), "set_timer needs seconds.");
        assert_eq!(refused("set_timer", r#"{"seconds": 5, "at": "10:00"}"#), "set_timer needs either seconds or at, not both.");
        assert_eq!(refused("set_timer", r#"{"at": "25:00"}"#), "set_timer's at should be a time like 17:30.");
        assert_eq!(refused("set_timer", r#"{"seconds": 5, "shell": "x"}"#), "set_timer doesn't take shell.");
        assert_eq!(refused("set_timer", "[1,2]"), "That tool call was garbled.");
        assert_eq!(refused("set_timer", "{\"seconds\": 5"), "That tool call was garbled.");
        assert_eq!(refused("get_time", r#"{"what":"weather"}"#), "what should be one of time, date.");
        let huge = format!(r#"{{"fact": "{}"}}"#, "a".repeat(1 << 20));
        assert_eq!(refused("remember", &huge), "That's too long: fact holds at most 500 characters.");
        assert_eq!(
            validate("forget_all", "{}", &[ToolName::SetTimer]).unwrap_err().to_string(),
            "I can't use forget_all here."
        );
        assert_eq!(refused("\u{7}\u{1b}[2J", "{}"), "I don't have a tool called [2J.");
    }

    #[test]
    fn clock_times_parse_strictly() {
        assert_eq!(parse_clock("7:05"), Some((7, 5)));
        assert_eq!(parse_clock("23:59"), Some((23, 59)));
        for bad in ["24:00", "7:5", "07:60", "ab:cd", "", ":", "123:00", "-1:00"] {
            assert_eq!(parse_clock(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_openai_schema_lists_every_offered_tool() {
        let tools = openai_tools(&ToolName::ALL);
        let names: Vec<&str> = tools.as_array().unwrap().iter().map(|t| t["function"]["name"].as_str().unwrap()).collect();
        assert_eq!(names.len(), 10);
        assert_eq!(tools[0]["function"]["parameters"]["properties"]["seconds"]["maximum"], MAX_TIMER_S);
        assert_eq!(tools[2]["function"]["parameters"]["required"][0], "label");
    }
}
