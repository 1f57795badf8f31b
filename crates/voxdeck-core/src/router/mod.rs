//! Which engine answers a question: the local model, or the cloud. `local` and `cloud` modes
//! are explicit; `auto` applies a transparent policy, in order, and says which rule decided:
//!
//! 1. the cloud is unusable (no key, or rate-limited until a Retry-After time) -> local;
//! 2. a phrase asking for depth ("think hard") -> cloud;
//! 3. a short question in a built-in tool's domain (timers, alarms, reminders, remembering and
//!    forgetting, the time and date, the assistant's speed and memory) -> local: a timer never
//!    needs the cloud, even when it is "scheduled". A cue of real work beside it ("plan",
//!    "python") still goes on to rule 4;
//! 4. a task cue the small model does badly (code, planning, research) -> cloud;
//! 5. a long or multi-part question -> cloud;
//! 6. the local model's predicted time to answer (its measured time to first token plus the
//!    expected answer length at its measured tokens/s) beyond the voice budget's "unusable"
//!    -> cloud;
//! 7. otherwise local: conversation stays on the device.
//!
//! [`answerer`] runs the choice: streams from the chosen engine and falls back to the local one
//! when the cloud fails.

pub mod answerer;

use serde::Serialize;

use crate::config::{Mode, RouterConfig, VoiceThresholds};

/// Where a question goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    Local,
    Cloud,
}

impl Target {
    pub fn as_str(self) -> &'static str {
        match self {
            Target::Local => "local",
            Target::Cloud => "cloud",
        }
    }
}

/// A routing decision and the rule that made it, recorded with the turn.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Route {
    pub target: Target,
    pub reason: String,
    /// The rule in a few words, for a badge beside the answer ("local", "auto → cloud: long
    /// question"); `reason` keeps the details.
    pub label: String,
}

/// What the router knows besides the question.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RouterState {
    /// Why the cloud cannot be used now (no key, rate-limited); `None` = usable.
    pub cloud_unavailable: Option<String>,
    /// The local model's measured time to first token, seconds.
    pub local_ttft_s: Option<f64>,
    /// The local model's measured generation rate, tokens per second.
    pub local_gen_tok_s: Option<f64>,
}

/// Phrases naming a built-in tool's domain (`tools::spec`), matched as whole words like the
/// cloud cues ("remind" matches "reminder", "timer" matches "timers").
const TOOL_CUES: &[&str] = &[
    "timer", "alarm", "remind", "remember", "forget", "what time", "time is it", "the time", "what day",
    "the date", "what date", "today s date", "how fast are you", "how fast you", "your speed", "tokens per second",
    "how much memory", "memory use", "memory usage", "your memory",
];

/// Cloud cues that a tool request uses in its own words ("schedule a timer"): beside a tool
/// cue they do not make the question a task for the cloud.
const TOOL_WORDING: &[&str] = &["schedule", "calculate"];

/// The routing policy.
#[derive(Debug, Clone)]
pub struct Router {
    config: RouterConfig,
    voice: VoiceThresholds,
}

impl Router {
    pub fn new(config: RouterConfig, voice: VoiceThresholds) -> Router {
        Router { config, voice }
    }

    /// Decides where `question` goes in `mode`.
    pub fn route(&self, question: &str, mode: Mode, state: &RouterState) -> Route {
        // `rule` is the label's words after "auto → local: ".
        let route = |target: Target, reason: String, rule: &str| {
            let label =
                if rule.is_empty() { target.as_str().to_owned() } else { format!("auto → {}: {rule}", target.as_str()) };
            Route { target, reason, label }
        };
        match mode {
            Mode::Local => return route(Target::Local, "mode local".into(), ""),
            Mode::Cloud => return route(Target::Cloud, "mode cloud".into(), ""),
            Mode::Auto => {}
        }
        if let Some(why) = &state.cloud_unavailable {
            return route(Target::Local, format!("auto: cloud unavailable ({why})"), "cloud unavailable");
        }
        let text = normalise(question);
        if let Some(p) = self.config.deep_phrases.iter().find(|p| contains_phrase(&text, &normalise(p))) {
            return route(Target::Cloud, format!("auto: asked to think hard (\"{p}\")"), "think hard");
        }
        let words = text.split_whitespace().count();
        let long = words > self.config.long_question_words as usize;
        let parts = question.matches('?').count();
        let tool = TOOL_CUES.iter().find(|c| contains_phrase(&text, c));
        let cue = self
            .config
            .cloud_cues
            .iter()
            .filter(|c| tool.is_none() || !TOOL_WORDING.contains(&normalise(c).trim()))
            .find(|c| contains_phrase(&text, &normalise(c)));
        if let (Some(t), None, false, 0..=1) = (tool, cue, long, parts) {
            return route(Target::Local, format!("auto: a built-in tool's job (\"{}\")", t.trim()), "assistant tool");
        }
        if let Some(c) = cue {
            return route(Target::Cloud, format!("auto: task for the larger model (\"{c}\")"), "harder task");
        }
        if long {
            return route(Target::Cloud, format!("auto: long question ({words} words)"), "long question");
        }
        if parts >= 2 {
            return route(Target::Cloud, format!("auto: multi-part question ({parts} questions)"), "multi-part question");
        }
        if let Some(rate) = state.local_gen_tok_s.filter(|r| *r > 0.0) {
            let tokens = f64::from(self.config.expected_answer_tokens);
            let predicted = state.local_ttft_s.unwrap_or(0.0) + tokens / rate;
            if predicted > self.voice.unusable_s {
                return route(
                    Target::Cloud,
                    format!(
                        "auto: local would take {predicted:.1} s for {tokens:.0} tokens (over {:.0} s)",
                        self.voice.unusable_s
                    ),
                    "local too slow",
                );
            }
            return route(
                Target::Local,
                format!("auto: conversation (local answers in ~{predicted:.1} s)"),
                "short question",
            );
        }
        route(Target::Local, "auto: conversation".into(), "short question")
    }
}

/// Lower case, letters and digits only, single spaces, padded with a space each side so that
/// phrases match whole words.
fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push(' ');
    let mut space = true;
    for c in text.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() || c == '+' || c == '#' {
            out.push(c);
            space = false;
        } else if !space {
            out.push(' ');
            space = true;
        }
    }
    if !space {
        out.push(' ');
    }
    out
}

/// Endings a cue may carry and still match ("plan" matches "planning", not "planet").
const SUFFIXES: &[&str] = &["", "s", "es", "ed", "d", "ing", "ning", "ming", "er", "ers", "ning", "ment", "ments"];

/// Whether the normalised `text` holds the normalised `phrase` as whole words, its last word
/// allowing a common ending.
fn contains_phrase(text: &str, phrase: &str) -> bool {
    let phrase = phrase.trim();
    if phrase.is_empty() {
        return false;
    }
    let needle = format!(" {phrase}");
    let mut from = 0;
    while let Some(i) = text[from..].find(&needle) {
        let end = from + i + needle.len();
        let rest = &text[end..];
        let word_rest = &rest[..rest.find(' ').unwrap_or(rest.len())];
        if SUFFIXES.contains(&word_rest) {
            return true;
        }
        from = from + i + 1;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router() -> Router {
        Router::new(RouterConfig::default(), VoiceThresholds::default())
    }

    /// The documented examples: question -> expected target and the rule that decides.
    #[test]
    fn auto_routes_the_example_table() {
        let fast = RouterState { cloud_unavailable: None, local_ttft_s: Some(0.15), local_gen_tok_s: Some(27.2) };
        let table: &[(&str, Target, &str)] = &[
            ("What's the weather like today?", Target::Local, "conversation"),
            ("Tell me a joke about cats.", Target::Local, "conversation"),
            ("How are you doing this morning?", Target::Local, "conversation"),
            ("Set a timer for ten minutes.", Target::Local, "tool's job (\"timer\")"),
            ("Schedule a timer for the pasta.", Target::Local, "tool's job"),
            ("Remind me to call mum at five.", Target::Local, "tool's job (\"remind\")"),
            ("Wake me with an alarm at seven.", Target::Local, "tool's job"),
            ("Remember that my bike is blue.", Target::Local, "tool's job (\"remember\")"),
            ("Forget what I told you about my bike.", Target::Local, "tool's job"),
            ("What time is it?", Target::Local, "tool's job"),
            ("What's the date today?", Target::Local, "tool's job (\"the date\")"),
            ("How fast are you running?", Target::Local, "tool's job"),
            ("How much memory are you using?", Target::Local, "tool's job"),
            ("Calculate when my timer ends.", Target::Local, "tool's job"),
            ("Help me plan a week of study, with reminders for each session.", Target::Cloud, "plan"),
            ("Write a Python timer function.", Target::Cloud, "function"),
            ("Think hard: what should I remember about compound interest?", Target::Cloud, "think hard"),
            ("Calculate the area of a circle of radius three.", Target::Cloud, "calculate"),
            ("Who wrote Pride and Prejudice?", Target::Local, "conversation"),
            ("What is the capital of Australia?", Target::Local, "conversation"),
            ("Think hard: is it better to rent or to buy?", Target::Cloud, "think hard"),
            ("Deep think about the meaning of this poem.", Target::Cloud, "deep think"),
            ("Write a Python function that reverses a list.", Target::Cloud, "function"),
            ("Can you debug this regex for me?", Target::Cloud, "regex"),
            ("Help me plan a three day trip to Rome.", Target::Cloud, "plan"),
            ("I'm planning a party, what do I need?", Target::Cloud, "plan"),
            ("Compare electric and petrol cars.", Target::Cloud, "compare"),
            ("Research the history of the printing press.", Target::Cloud, "research"),
            ("Explain step by step how vaccines work.", Target::Cloud, "step by step"),
            ("What is the best SQL index for this query?", Target::Cloud, "sql"),
            ("What planet is closest to the sun?", Target::Local, "conversation"),
            ("What time is it in Tokyo? And what is the weather there?", Target::Cloud, "multi-part"),
        ];
        for (question, target, why) in table {
            let route = router().route(question, Mode::Auto, &fast);
            assert_eq!(route.target, *target, "{question:?} -> {route:?}");
            assert!(route.reason.contains(why), "{question:?}: reason {:?} lacks {why:?}", route.reason);
        }
        let long = "I would like you to tell me, if you can, a little about the way that the old \
                    lighthouses along the coast of Maine were built and kept running by the families \
                    who lived in them through the long winters of the nineteenth century please";
        let route = router().route(long, Mode::Auto, &fast);
        assert_eq!(route.target, Target::Cloud);
        assert!(route.reason.contains("long question"), "{route:?}");
        assert_eq!(route.label, "auto → cloud: long question");
        let route = router().route("What's the weather like today?", Mode::Auto, &fast);
        assert_eq!(route.label, "auto → local: short question");
        let route = router().route("Schedule a timer for ten minutes.", Mode::Auto, &fast);
        assert_eq!((route.target, route.label.as_str()), (Target::Local, "auto → local: assistant tool"));
        // A slow local model does not send a timer to the cloud either.
        let slow = RouterState { cloud_unavailable: None, local_ttft_s: Some(0.1), local_gen_tok_s: Some(2.0) };
        assert_eq!(router().route("Set a timer for ten minutes.", Mode::Auto, &slow).target, Target::Local);
    }

    #[test]
    fn predicted_local_latency_sends_slow_models_to_the_cloud() {
        // The seed's Qwen 2.5 7B on the Jetson: 9.7 tok/s -> 5.2 s for 50 tokens.
        let slow = RouterState { cloud_unavailable: None, local_ttft_s: Some(0.1), local_gen_tok_s: Some(9.7) };
        let route = router().route("Tell me a joke.", Mode::Auto, &slow);
        assert_eq!(route.target, Target::Cloud);
        assert!(route.reason.contains("5.3 s for 50 tokens"), "{route:?}");
        // Llama 3.2 3B: 27.2 tok/s -> 1.8 s: stays local.
        let fast = RouterState { cloud_unavailable: None, local_ttft_s: Some(0.0), local_gen_tok_s: Some(27.2) };
        let route = router().route("Tell me a joke.", Mode::Auto, &fast);
        assert_eq!(route.target, Target::Local);
        assert!(route.reason.contains("~1.8 s"), "{route:?}");
    }

    #[test]
    fn modes_and_an_unusable_cloud_override_the_policy() {
        let state = RouterState::default();
        let local = router().route("Write Python code.", Mode::Local, &state);
        assert_eq!((local.reason.as_str(), local.label.as_str()), ("mode local", "local"));
        let cloud = router().route("Hi.", Mode::Cloud, &state);
        assert_eq!((cloud.target, cloud.label.as_str()), (Target::Cloud, "cloud"));
        let down = RouterState { cloud_unavailable: Some("no API key".into()), ..RouterState::default() };
        let route = router().route("Think hard about this.", Mode::Auto, &down);
        assert_eq!(route.target, Target::Local);
        assert_eq!(route.reason, "auto: cloud unavailable (no API key)");
        assert_eq!(route.label, "auto → local: cloud unavailable");
    }

    #[test]
    fn phrases_match_whole_words() {
        assert!(contains_phrase(&normalise("Help me plan it"), "plan"));
        assert!(contains_phrase(&normalise("planning a trip"), "plan"));
        assert!(!contains_phrase(&normalise("the planet Mars"), "plan"));
        assert!(contains_phrase(&normalise("Think  HARD, please"), &normalise("think hard")));
        assert!(!contains_phrase(&normalise("rethink hardware"), &normalise("think hard")));
        assert!(contains_phrase(&normalise("in C++ please"), "c++"));
        assert!(!contains_phrase(&normalise(""), "code"));
    }
}
