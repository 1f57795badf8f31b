//! The fast path: common phrasings ("set a timer for ten minutes", "what time is it",
//! "remember that ...", "cancel the timer") matched by a small deterministic grammar before any
//! LLM runs. What it cannot match with certainty goes to the LLM.
//!
//! The grammar is a table of whole-utterance patterns over the transcript's words (lower-cased,
//! punctuation stripped, "what's" read as "what is"), after politeness ("please", "hey", "can
//! you", "i want you to", ... "thanks") is set aside. A pattern either covers every word or does
//! not match: "think harder" switches the mode, "think harder about X" is a question. A false
//! call is worse than a trip to the LLM, so a pattern is added only where no other reading is
//! likely, and the slots (durations, clock times, labels) refuse what they do not understand.
//!
//! Pattern syntax: words separated by spaces; `a/an` is either word, a trailing `?` makes an
//! element optional (tried present first), and `{slot}` captures one or more words checked by
//! [`Slot::accepts`].

use std::ops::Range;

use super::ToolCall;
use super::spoken_numbers;

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

/// The id fast-path calls carry (a model's calls carry the engine's).
pub const FAST_CALL_ID: &str = "fast-1";

/// The intent of `text` (a transcript), if the grammar matches it whole. "yes" and "no" are
/// intents only while a confirmation is pending (`confirm_pending`).
pub fn match_intent(text: &str, confirm_pending: bool) -> Option<Intent> {
    let words = tokenize(text);
    let core = strip_politeness(&words);
    let said: Vec<&str> = words[core.clone()].iter().map(|w| w.text.as_str()).collect();
    if said.is_empty() {
        return None;
    }
    if confirm_pending {
        if CONFIRM.iter().any(|p| matches_plain(p, &said)) {
            return Some(Intent::Confirm);
        }
        if DECLINE.iter().any(|p| matches_plain(p, &said)) {
            return Some(Intent::Decline);
        }
    }
    let hit_words = &words[core];
    for (patterns, build) in RULES {
        for pattern in *patterns {
            let elements = parse_pattern(pattern);
            let mut caps = Vec::new();
            if match_from(&elements, &said, 0, &mut caps) {
                let hit = Hit { text, words: hit_words, said: &said, caps };
                if let Some(call) = build(&hit) {
                    return Some(Intent::Call(call));
                }
            }
        }
    }
    None
}

// ------------------------------------------------------------------------------------- words

/// One word of the transcript, normalised, and where it was in the original text (a
/// contraction's words share its span).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Word {
    text: String,
    span: Range<usize>,
}

/// The transcript's words: lower-case, apostrophes kept inside words, ':' '.' ',' kept between
/// digits ("5:30", "1.5", "1,000"), "p.m." as "pm", "5pm" as "5 pm", common contractions
/// expanded ("what's" -> "what is", "don't" -> "do not"); everything else separates words.
fn tokenize(text: &str) -> Vec<Word> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let at = |i: usize| chars.get(i).map(|c| c.1);
    let keeps = |i: usize| {
        let c = chars[i].1;
        let (prev, next) = (i.checked_sub(1).and_then(at), at(i + 1));
        match c {
            c if c.is_alphanumeric() => true,
            '\'' | '\u{2019}' => prev.is_some_and(char::is_alphanumeric) && next.is_some_and(char::is_alphanumeric),
            ':' | '.' | ',' => prev.is_some_and(|c| c.is_ascii_digit()) && next.is_some_and(|c| c.is_ascii_digit()),
            _ => false,
        }
    };
    let mut raw: Vec<Word> = Vec::new();
    let mut start = None;
    for i in 0..=chars.len() {
        let inside = i < chars.len() && keeps(i);
        match (inside, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                let (from, to) = (chars[s].0, chars.get(i).map_or(text.len(), |c| c.0));
                raw.push(Word { text: text[from..to].to_lowercase().replace('\u{2019}', "'"), span: from..to });
                start = None;
            }
            _ => {}
        }
    }
    let mut words: Vec<Word> = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let w = &raw[i];
        // "p.m." / "a.m.": two one-letter words with a dot between.
        if let (Some(next), "a" | "p") = (raw.get(i + 1), w.text.as_str()) {
            if next.text == "m" && text[w.span.end..next.span.start].trim() == "." {
                words.push(Word { text: format!("{}m", w.text), span: w.span.start..next.span.end });
                i += 2;
                continue;
            }
        }
        // "5pm", "5:30pm", "10am".
        if let Some(number) = w.text.strip_suffix("pm").or_else(|| w.text.strip_suffix("am")) {
            if !number.is_empty() && number.chars().all(|c| c.is_ascii_digit() || c == ':' || c == '.') {
                let cut = w.span.start + number.len();
                words.push(Word { text: number.to_owned(), span: w.span.start..cut });
                words.push(Word { text: w.text[number.len()..].to_owned(), span: cut..w.span.end });
                i += 1;
                continue;
            }
        }
        match expand(&w.text) {
            Some(parts) => words.extend(parts.iter().map(|p| Word { text: (*p).to_owned(), span: w.span.clone() })),
            None => words.push(w.clone()),
        }
        i += 1;
    }
    words
}

/// The contractions the patterns are written without. "'s" after a noun is a possessive
/// ("today's date"), so only these are expanded.
fn expand(word: &str) -> Option<&'static [&'static str]> {
    Some(match word {
        "what's" => &["what", "is"],
        "it's" => &["it", "is"],
        "that's" => &["that", "is"],
        "there's" => &["there", "is"],
        "how's" => &["how", "is"],
        "where's" => &["where", "is"],
        "who's" => &["who", "is"],
        "don't" | "dont" => &["do", "not"],
        "doesn't" => &["does", "not"],
        "didn't" => &["did", "not"],
        "can't" => &["can", "not"],
        "won't" => &["will", "not"],
        "i'm" | "im" => &["i", "am"],
        "you're" => &["you", "are"],
        "i've" => &["i", "have"],
        "i'd" => &["i", "would"],
        "i'll" => &["i", "will"],
        "we're" => &["we", "are"],
        "they're" => &["they", "are"],
        "what're" => &["what", "are"],
        _ => return None,
    })
}

/// Politeness around a request, set aside before matching.
const LEADING: &[&[&str]] = &[
    &["please"],
    &["hey"],
    &["hi"],
    &["voxdeck"],
    &["just"],
    &["can", "you"],
    &["could", "you"],
    &["would", "you"],
    &["will", "you"],
    &["i", "want", "you", "to"],
    &["i", "would", "like", "you", "to"],
    &["i", "need", "you", "to"],
];
const TRAILING: &[&[&str]] = &[&["please"], &["thanks"], &["thank", "you"], &["for", "me"], &["voxdeck"]];

/// The words between the leading and trailing politeness.
fn strip_politeness(words: &[Word]) -> Range<usize> {
    let text: Vec<&str> = words.iter().map(|w| w.text.as_str()).collect();
    let (mut from, mut to) = (0, text.len());
    while let Some(p) = LEADING.iter().find(|p| text[from..to].starts_with(p)) {
        from += p.len();
    }
    while let Some(p) = TRAILING.iter().find(|p| to - from > p.len() && text[from..to].ends_with(p)) {
        to -= p.len();
    }
    from..to
}

// ------------------------------------------------------------------------------------ patterns

/// What a `{slot}` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    /// A duration ([`spoken_numbers::duration`]).
    Duration,
    /// A clock time ([`spoken_numbers::clock`]).
    Clock,
    /// A timer's name: one to four plain words ("tea", "the pasta" without "the").
    Label,
    /// What to be reminded of: one to eight words.
    Task,
    /// A topic to recall or forget: one to eight words.
    Topic,
    /// A topic that is the user's own ("my locker"): "what do you know about black holes" is a
    /// question for the LLM, "what do you know about my locker" a recall.
    Mine,
    /// A fact: any words, as long as they say something ("my locker is 42").
    Fact,
    /// Anything, one word or more ("remember that ...").
    Rest,
}

impl Slot {
    fn parse(name: &str) -> Slot {
        match name {
            "dur" => Slot::Duration,
            "clock" => Slot::Clock,
            "label" => Slot::Label,
            "task" => Slot::Task,
            "topic" => Slot::Topic,
            "mine" => Slot::Mine,
            "fact" => Slot::Fact,
            _ => Slot::Rest,
        }
    }

    fn accepts(self, words: &[&str]) -> bool {
        match self {
            // Capped, so a long transcript costs no more than a short one.
            Slot::Duration => words.len() <= 16 && spoken_numbers::duration(words).is_some(),
            Slot::Clock => words.len() <= 6 && spoken_numbers::clock(words).is_some(),
            Slot::Label => {
                (1..=4).contains(&words.len())
                    && words.iter().all(|w| !LABEL_STOP.contains(w) && !w.starts_with(|c: char| c.is_ascii_digit()))
                    && spoken_numbers::unit_seconds(words[words.len() - 1]).is_none()
            }
            Slot::Task => {
                (1..=8).contains(&words.len()) && !words.iter().any(|w| spoken_numbers::unit_seconds(w).is_some())
            }
            Slot::Topic => (1..=8).contains(&words.len()) && !TOPIC_STOP.contains(&words[0]),
            Slot::Mine => (1..=8).contains(&words.len()) && ["my", "our", "me", "i", "mine"].contains(&words[0]),
            Slot::Fact => is_statement(words),
            Slot::Rest => !words.is_empty(),
        }
    }
}

/// Words a timer's label never is: articles, the word timer itself, filler.
const LABEL_STOP: &[&str] = &[
    "a",
    "an",
    "the",
    "my",
    "for",
    "to",
    "of",
    "in",
    "at",
    "on",
    "and",
    "it",
    "this",
    "that",
    "is",
    "me",
    "timer",
    "timers",
    "alarm",
    "alarms",
    "please",
    "new",
    "another",
    "quick",
    "short",
    "long",
    "little",
    "countdown",
    "all",
    "every",
    "some",
    "few",
    "again",
    "now",
];

/// Words a recall or forget topic does not start with ("forget about it").
const TOPIC_STOP: &[&str] = &["it", "that", "this", "them", "everything", "all"];

/// Whether bare "remember X" states a fact ("remember my locker is 42") rather than something
/// else ("remember the alamo", "remember to buy milk", "remember when ..."): three words or
/// more, not a question or an errand, with a verb that states something.
fn is_statement(words: &[&str]) -> bool {
    const OPENERS: &[&str] = &["to", "when", "what", "where", "who", "why", "how", "if", "whether", "which", "me"];
    const VERBS: &[&str] = &[
        "is", "are", "was", "were", "am", "has", "have", "had", "will", "can", "lives", "live", "likes", "like",
        "loves", "love", "hates", "needs", "wants", "works", "starts", "ends", "costs", "parked", "prefer", "prefers",
        "keep", "keeps", "put", "left", "owe", "owes", "takes", "goes", "leaves", "arrives", "called", "named",
    ];
    words.len() >= 3
        && !OPENERS.contains(&words[0])
        && words.iter().any(|w| VERBS.contains(w) || (w.len() > 2 && w.ends_with("'s")))
}

#[derive(Debug, Clone, PartialEq)]
enum Element<'p> {
    Word { choices: Vec<&'p str>, optional: bool },
    Slot { name: &'p str, slot: Slot },
}

fn parse_pattern(pattern: &str) -> Vec<Element<'_>> {
    pattern
        .split_whitespace()
        .map(|e| match e.strip_prefix('{').and_then(|e| e.strip_suffix('}')) {
            Some(name) => Element::Slot { name, slot: Slot::parse(name) },
            None => {
                let (e, optional) = e.strip_suffix('?').map_or((e, false), |e| (e, true));
                Element::Word { choices: e.split('/').collect(), optional }
            }
        })
        .collect()
}

/// Whether `elements` cover `words[at..]` exactly; the slots' word ranges go to `caps`.
fn match_from<'p>(
    elements: &[Element<'p>],
    words: &[&str],
    at: usize,
    caps: &mut Vec<(&'p str, Range<usize>)>,
) -> bool {
    let Some((first, rest)) = elements.split_first() else { return at == words.len() };
    match first {
        Element::Word { choices, optional } => {
            if words.get(at).is_some_and(|w| choices.contains(w)) && match_from(rest, words, at + 1, caps) {
                return true;
            }
            *optional && match_from(rest, words, at, caps)
        }
        Element::Slot { name, slot } => {
            for end in at + 1..=words.len() {
                if slot.accepts(&words[at..end]) {
                    caps.push((name, at..end));
                    if match_from(rest, words, end, caps) {
                        return true;
                    }
                    caps.pop();
                }
            }
            false
        }
    }
}

fn matches_plain(pattern: &str, words: &[&str]) -> bool {
    match_from(&parse_pattern(pattern), words, 0, &mut Vec::new())
}

/// A pattern that matched: its slots, as words and as the user's own text.
struct Hit<'a> {
    text: &'a str,
    words: &'a [Word],
    said: &'a [&'a str],
    caps: Vec<(&'a str, Range<usize>)>,
}

impl Hit<'_> {
    fn range(&self, name: &str) -> Option<Range<usize>> {
        self.caps.iter().find(|(n, _)| *n == name).map(|(_, r)| r.clone())
    }

    /// A slot's normalised words.
    fn words(&self, name: &str) -> Option<&[&str]> {
        self.range(name).map(|r| &self.said[r])
    }

    /// A slot's words joined by spaces (labels, tasks).
    fn joined(&self, name: &str) -> Option<String> {
        self.words(name).map(|w| w.join(" "))
    }

    /// A slot as the user wrote it (case and inner punctuation kept, outer punctuation not).
    fn original(&self, name: &str) -> Option<String> {
        let r = self.range(name)?;
        let (first, last) = (self.words.get(r.start)?, self.words.get(r.end - 1)?);
        let text = self.text.get(first.span.start..last.span.end)?;
        Some(text.trim_matches(|c: char| !c.is_alphanumeric()).to_owned())
    }
}

// ------------------------------------------------------------------------------------ the rules

type Build = fn(&Hit) -> Option<ToolCall>;

/// The grammar: patterns and the call each makes. First match wins, so the narrower phrasings
/// of a tool come before the broader ones ("forget everything about X" before "forget
/// everything").
static RULES: &[(&[&str], Build)] = &[
    // --------------------------------------------------------------------- set_timer
    (
        &[
            "set/start/make/create/add? a/an/another? new? timer/countdown for? {dur}",
            "set/start/make/create/add? a/an? {dur} timer/countdown",
            "i need/want a/an? timer for {dur}",
            "remind me in {dur}",
            "wake me up? in {dur}",
        ],
        |h| Some(set_timer_seconds(h.words("dur")?, None)),
    ),
    (
        &[
            "set/start/make/create/add? a/an/the? {label} timer for {dur}",
            "set/start/make/create/add? a/an? timer for {dur} for/called/named/labelled/labeled the/my? {label}",
            "set/start/make/create/add? a/an? timer called/named/labelled/labeled the/my? {label} for {dur}",
            "set/start/make/create/add? a/an? timer for the/my? {label} for {dur}",
            "set/start/make/create/add? a/an? {dur} {label} timer",
            "set/start/make/create/add? a/an? {dur} timer for/called/named/labelled/labeled the/my? {label}",
            "remind me in {dur} to {task}",
            "remind me to {task} in {dur}",
        ],
        |h| {
            let label = h.joined("label").or_else(|| h.joined("task"))?;
            Some(set_timer_seconds(h.words("dur")?, Some(&label)))
        },
    ),
    (
        &[
            "set/start/make/create/add? a/an? timer/alarm for/at {clock}",
            "wake me up? at {clock}",
            "remind me at {clock}",
        ],
        |h| Some(set_timer_at(h.words("clock")?, None)),
    ),
    (&["remind me at {clock} to {task}", "remind me to {task} at {clock}"], |h| {
        Some(set_timer_at(h.words("clock")?, Some(&h.joined("task")?)))
    }),
    // --------------------------------------------------------------------- list_timers
    (
        &[
            "list/show me? the/my/all? timers",
            "list/show me? all? my/the? timers",
            "check the/my? timers/timer",
            "timer/timers status",
            "what/which timers are running/set/going/on",
            "what/which timers do i have running/set/going/on?",
            "what timers have i set",
            "do i have any timers running/set/going/on?",
            "are there any timers running/set/going/on?",
            "are any timers running/set/going/on",
            "any timers running",
            "how much time is left on? the/my? timer?",
            "how much time is left on the/my {label} timer",
            "how much time do i have left",
            "how long is left on the/my timer",
            "how long is left on the/my {label} timer",
            "how long left on the/my timer",
            "how long until/till/before the/my timer goes off/rings/is done/finishes",
            "how long until/till/before the/my timer is done",
            "what is left on the/my timer",
        ],
        |_| Some(call("list_timers", "{}".into())),
    ),
    // --------------------------------------------------------------------- cancel_timer
    (
        &[
            "cancel/stop/delete/remove/clear/end/kill all the/my? timers/alarms",
            "cancel/stop/delete/remove/clear/end/kill all of the/my timers/alarms",
            "cancel/stop/delete/remove/clear/end/kill every timer/alarm",
            "cancel/stop/delete/remove/clear/end/kill the/my timers/alarms",
            "turn off all? the/my? timers/alarms",
        ],
        |_| Some(cancel_timer("all")),
    ),
    (
        &["cancel/stop/delete/remove/clear/end/kill the/my/that? timer/alarm", "turn off the/my/that? timer/alarm"],
        |_| Some(cancel_timer("")),
    ),
    (
        &[
            "cancel/stop/delete/remove/clear/end/kill the/my? {label} timer/alarm",
            "cancel/stop/delete/remove/clear/end/kill the/my? timer/alarm for/called/named the/my? {label}",
            "turn off the/my? {label} timer/alarm",
        ],
        |h| Some(cancel_timer(&h.joined("label")?)),
    ),
    // --------------------------------------------------------------------- forget / forget_all
    (
        &[
            "forget what i said/told/wrote about {topic}",
            "forget what i told you about {topic}",
            "forget what i have told you about {topic}",
            "forget what you know about {topic}",
            "forget everything about {topic}",
            "forget everything you know about {topic}",
            "forget everything i told you about {topic}",
            "forget everything i have told you about {topic}",
            "forget all about {topic}",
            "forget about {topic}",
            "delete/erase/remove what you know about {topic}",
            "delete/erase/remove the/my/all? facts/fact about {topic}",
            "delete/erase/remove everything about {topic}",
        ],
        |h| Some(topic_call("forget", &h.original("topic")?)),
    ),
    (
        &[
            "forget everything",
            "forget everything you know",
            "forget everything i told you",
            "forget everything i have told you",
            "forget everything you remember",
            "forget all the/my/of? the/my? facts/memories",
            "forget all facts",
            "delete/erase/clear/wipe/remove all the/my/of? the/my? facts/memories",
            "delete/erase/clear/wipe/remove everything you know/remember",
            "clear/wipe/erase/reset your memory",
        ],
        |_| Some(call("forget_all", "{}".into())),
    ),
    // --------------------------------------------------------------------- recall
    (
        &[
            "what do you know about {mine}",
            "what do you remember about {topic}",
            "what did i tell you about {topic}",
            "what have i told you about {topic}",
            "what did i say about {topic}",
            "tell me what you know about {topic}",
            "do you remember anything about {topic}",
            "do you know anything about {mine}",
            "do you remember {topic}",
        ],
        |h| Some(topic_call("recall", &h.original("topic").or_else(|| h.original("mine"))?)),
    ),
    // --------------------------------------------------------------------- remember
    (
        &[
            "remember that {rest}",
            "do not forget that {rest}",
            "make a note that {rest}",
            "note that {fact}",
            "remember {fact}",
            "do not forget {fact}",
        ],
        |h| remember(&h.original("rest").or_else(|| h.original("fact"))?),
    ),
    // --------------------------------------------------------------------- get_time
    (
        &[
            "what time is it now/today?",
            "what time is it right now",
            "what is the time now?",
            "what is the time right now",
            "what is the current time",
            "tell me the time",
            "tell me what time it is",
            "do you know what time it is",
            "do you have the time",
            "what time do you have",
            "current time",
        ],
        |_| Some(call("get_time", r#"{"what":"time"}"#.into())),
    ),
    (
        &[
            "what day is it today?",
            "what day is today",
            "what day of the week is it today?",
            "what is the date today?",
            "what is today's date",
            "what is the date",
            "what date is it today?",
            "what is today",
            "which day is it today?",
            "tell me the date",
            "tell me today's date",
            "tell me what day it is",
            "do you know what day it is",
            "today's date",
        ],
        |_| Some(call("get_time", r#"{"what":"date"}"#.into())),
    ),
    // --------------------------------------------------------------------- assistant_status
    (
        &[
            "how fast/quick are you running/going/working/today/now?",
            "how fast/quickly are you answering/generating",
            "how fast/quick is the assistant/voxdeck running?",
            "what is your speed",
            "what speed are you running at",
            "how many tokens per/a second are you doing/getting/generating/running?",
            "how many tokens per/a second do you do/get/generate/run",
            "what is your token rate",
            "what is your tokens per second",
        ],
        |_| Some(call("assistant_status", r#"{"what":"speed"}"#.into())),
    ),
    (
        &[
            "how much memory/ram are you using/taking/needing",
            "how much memory/ram are you taking up",
            "how much memory/ram do you use/take/need",
            "how much memory/ram is the assistant/voxdeck using",
            "what is your memory/ram usage/use",
            "how much memory/ram are you using right now",
        ],
        |_| Some(call("assistant_status", r#"{"what":"memory"}"#.into())),
    ),
    // --------------------------------------------------------------------- set_mode
    (
        &[
            "think harder",
            "think harder from now on",
            "use the cloud",
            "use the cloud model",
            "use cloud",
            "switch/go to the? cloud mode?",
            "switch/go to the? cloud model",
            "cloud mode",
            "use cloud mode",
        ],
        |_| Some(set_mode("cloud")),
    ),
    (
        &[
            "answer locally",
            "answer on the device",
            "stay on the device",
            "stay on device",
            "stay local",
            "stay offline",
            "work offline",
            "stop using the cloud",
            "do not use the cloud",
            "switch/go to local mode?",
            "switch/go to the local model",
            "use the local model",
            "local mode",
            "use local mode",
        ],
        |_| Some(set_mode("local")),
    ),
    (
        &[
            "back to auto mode?",
            "go/switch/get back to auto/automatic mode?",
            "switch/go to auto/automatic mode?",
            "auto/automatic mode",
            "use auto/automatic mode",
            "choose for yourself",
            "decide for yourself",
            "you choose",
            "you decide",
        ],
        |_| Some(set_mode("auto")),
    ),
];

/// "yes" while a confirmation is pending.
const CONFIRM: &[&str] = &[
    "yes/yeah/yep/yup/sure/ok/okay/confirm/confirmed/correct",
    "yes/yeah/yep/sure/ok/okay? i am sure",
    "yes/yeah/ok/okay? do/go it/ahead",
    "yes/yeah/ok/okay? please? go ahead",
    "yes/yeah/ok/okay/sure? forget/delete/erase/clear/wipe everything/them/all",
    "yes/yeah/ok/okay/sure? forget/delete/erase/clear/wipe all the/my? facts/memories",
];

/// "no" while a confirmation is pending.
const DECLINE: &[&str] = &[
    "no/nope/nah/cancel/stop/abort/nevermind",
    "no/nope? never mind",
    "no/nope? do not",
    "no/nope? do not do that/it",
    "no/nope? do not forget/delete anything/everything/them",
    "no/nope? keep them/everything/it",
    "no/nope? forget it",
    "no/nope? cancel/stop that/it",
];

// ------------------------------------------------------------------------------------ the calls

fn call(name: &str, arguments: String) -> ToolCall {
    ToolCall { id: FAST_CALL_ID.to_owned(), name: name.to_owned(), arguments }
}

/// A JSON string, escaped.
fn json(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

/// `set_timer` for a spoken duration, arguments in the allowlist's order.
fn set_timer_seconds(duration: &[&str], label: Option<&str>) -> ToolCall {
    // The slot accepted the words, so this parses; 0 would be refused in words, never panic.
    let seconds = spoken_numbers::duration(duration).unwrap_or(0);
    match label {
        Some(l) => call("set_timer", format!(r#"{{"seconds":{seconds},"label":{}}}"#, json(l))),
        None => call("set_timer", format!(r#"{{"seconds":{seconds}}}"#)),
    }
}

fn set_timer_at(clock: &[&str], label: Option<&str>) -> ToolCall {
    let (h, m) = spoken_numbers::clock(clock).unwrap_or((0, 0));
    let at = format!("{h:02}:{m:02}");
    match label {
        Some(l) => call("set_timer", format!(r#"{{"at":"{at}","label":{}}}"#, json(l))),
        None => call("set_timer", format!(r#"{{"at":"{at}"}}"#)),
    }
}

fn cancel_timer(label: &str) -> ToolCall {
    call("cancel_timer", format!(r#"{{"label":{}}}"#, json(label)))
}

fn topic_call(name: &str, about: &str) -> ToolCall {
    call(name, format!(r#"{{"about":{}}}"#, json(about)))
}

fn set_mode(mode: &str) -> ToolCall {
    call("set_mode", format!(r#"{{"mode":"{mode}"}}"#))
}

/// `remember` with the user's words as a sentence: first letter capitalised, one full stop.
fn remember(words: &str) -> Option<ToolCall> {
    let words = words.trim().trim_end_matches(['.', '!', '?', ',', ';', ':']);
    let mut chars = words.chars();
    let first = chars.next()?;
    let fact = format!("{}{}.", first.to_uppercase(), chars.as_str());
    Some(call("remember", format!(r#"{{"fact":{}}}"#, json(&fact))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::spec::{ToolName, validate};

    /// What the fast path makes of `text`, as "name arguments" (or "confirm" / "decline" /
    /// "none").
    fn got(text: &str, pending: bool) -> String {
        match match_intent(text, pending) {
            Some(Intent::Call(c)) => {
                assert_eq!(c.id, FAST_CALL_ID);
                format!("{} {}", c.name, c.arguments)
            }
            Some(Intent::Confirm) => "confirm".into(),
            Some(Intent::Decline) => "decline".into(),
            None => "none".into(),
        }
    }

    const CALLS: &[(&str, &str)] = &[
        // set_timer: durations in digits and words
        ("Set a timer for 10 minutes.", r#"set_timer {"seconds":600}"#),
        ("set a timer for ten minutes", r#"set_timer {"seconds":600}"#),
        ("Set a timer for 1.5 hours.", r#"set_timer {"seconds":5400}"#),
        ("Set a timer for half an hour.", r#"set_timer {"seconds":1800}"#),
        ("Set a timer for an hour and a half.", r#"set_timer {"seconds":5400}"#),
        ("Set a timer for 2 and a half minutes.", r#"set_timer {"seconds":150}"#),
        ("Set a timer for 90 seconds.", r#"set_timer {"seconds":90}"#),
        ("Timer for 5 minutes.", r#"set_timer {"seconds":300}"#),
        ("Start a 20-minute timer.", r#"set_timer {"seconds":1200}"#),
        ("Set a five minute timer, please.", r#"set_timer {"seconds":300}"#),
        ("Hey, could you set a timer for 1 hour and 30 minutes?", r#"set_timer {"seconds":5400}"#),
        ("Can you please set a timer for three minutes?", r#"set_timer {"seconds":180}"#),
        ("I want you to set a timer for 45 seconds.", r#"set_timer {"seconds":45}"#),
        ("Set a timer for a quarter of an hour.", r#"set_timer {"seconds":900}"#),
        ("Remind me in 10 minutes.", r#"set_timer {"seconds":600}"#),
        ("Set a new timer for 4 minutes.", r#"set_timer {"seconds":240}"#),
        ("Set a timer for 5 minutes for me.", r#"set_timer {"seconds":300}"#),
        // over range: still a call, refused in words by the allowlist
        ("Set a timer for 10 years.", r#"set_timer {"seconds":315360000}"#),
        // labels
        ("Set a tea timer for 5 minutes.", r#"set_timer {"seconds":300,"label":"tea"}"#),
        ("Set a timer for 5 minutes for the pasta.", r#"set_timer {"seconds":300,"label":"pasta"}"#),
        ("Set a timer for 5 minutes called pasta.", r#"set_timer {"seconds":300,"label":"pasta"}"#),
        ("Set a timer called laundry for 40 minutes.", r#"set_timer {"seconds":2400,"label":"laundry"}"#),
        ("Set a 12 minute egg timer.", r#"set_timer {"seconds":720,"label":"egg"}"#),
        ("Start a timer for the pizza for 15 minutes.", r#"set_timer {"seconds":900,"label":"pizza"}"#),
        ("Remind me in 20 minutes to check the oven.", r#"set_timer {"seconds":1200,"label":"check the oven"}"#),
        ("Remind me to call mum in an hour.", r#"set_timer {"seconds":3600,"label":"call mum"}"#),
        // clock times
        ("Set a timer for 5:30 p.m.", r#"set_timer {"at":"17:30"}"#),
        ("Set an alarm for 5 pm.", r#"set_timer {"at":"17:00"}"#),
        ("Set an alarm for 7am", r#"set_timer {"at":"07:00"}"#),
        ("Set a timer for noon.", r#"set_timer {"at":"12:00"}"#),
        ("Wake me up at 6:45 a.m.", r#"set_timer {"at":"06:45"}"#),
        ("Set an alarm for 17:30.", r#"set_timer {"at":"17:30"}"#),
        ("Remind me at 3 pm to call the bank.", r#"set_timer {"at":"15:00","label":"call the bank"}"#),
        // list_timers
        ("What timers are running?", "list_timers {}"),
        ("Show my timers.", "list_timers {}"),
        ("How much time is left?", "list_timers {}"),
        ("How much time is left on the timer?", "list_timers {}"),
        ("How long is left on the pasta timer?", "list_timers {}"),
        ("Do I have any timers running?", "list_timers {}"),
        ("List the timers.", "list_timers {}"),
        // cancel_timer
        ("Cancel the timer.", r#"cancel_timer {"label":""}"#),
        ("Stop the timer!", r#"cancel_timer {"label":""}"#),
        ("Turn off the alarm.", r#"cancel_timer {"label":""}"#),
        ("Cancel all timers.", r#"cancel_timer {"label":"all"}"#),
        ("Cancel all the timers.", r#"cancel_timer {"label":"all"}"#),
        ("Delete all of my timers", r#"cancel_timer {"label":"all"}"#),
        ("Cancel the tea timer.", r#"cancel_timer {"label":"tea"}"#),
        ("Cancel the timer for the pasta.", r#"cancel_timer {"label":"pasta"}"#),
        // remember
        ("Remember that my locker is 42.", r#"remember {"fact":"My locker is 42."}"#),
        ("remember that the wifi password is hunter2", r#"remember {"fact":"The wifi password is hunter2."}"#),
        ("Please remember that Sam's birthday is on May 3rd!", r#"remember {"fact":"Sam's birthday is on May 3rd."}"#),
        ("Don't forget that I parked on level 3.", r#"remember {"fact":"I parked on level 3."}"#),
        ("Remember my car is in bay 12.", r#"remember {"fact":"My car is in bay 12."}"#),
        ("Can you remember that I'm allergic to peanuts?", r#"remember {"fact":"I'm allergic to peanuts."}"#),
        // recall
        ("What do you know about my locker?", r#"recall {"about":"my locker"}"#),
        ("What did I tell you about Sam?", r#"recall {"about":"Sam"}"#),
        ("Do you know anything about my sister's flight?", r#"recall {"about":"my sister's flight"}"#),
        ("Do you remember where I parked?", r#"recall {"about":"where I parked"}"#),
        ("What do you remember about the wifi password?", r#"recall {"about":"the wifi password"}"#),
        // forget
        ("Forget about my locker.", r#"forget {"about":"my locker"}"#),
        ("Forget what I said about Sam.", r#"forget {"about":"Sam"}"#),
        ("Forget everything about the wifi.", r#"forget {"about":"the wifi"}"#),
        // forget_all
        ("Forget everything.", "forget_all {}"),
        ("Forget all facts.", "forget_all {}"),
        ("Forget all the facts.", "forget_all {}"),
        ("Delete all my memories.", "forget_all {}"),
        // get_time
        ("What time is it?", r#"get_time {"what":"time"}"#),
        ("What's the time?", r#"get_time {"what":"time"}"#),
        ("Hey, what time is it now?", r#"get_time {"what":"time"}"#),
        ("Can you tell me what time it is?", r#"get_time {"what":"time"}"#),
        ("What day is it?", r#"get_time {"what":"date"}"#),
        ("What's the date?", r#"get_time {"what":"date"}"#),
        ("What's today's date?", r#"get_time {"what":"date"}"#),
        ("What\u{2019}s the date today?", r#"get_time {"what":"date"}"#),
        // assistant_status
        ("How fast are you?", r#"assistant_status {"what":"speed"}"#),
        ("How fast are you running?", r#"assistant_status {"what":"speed"}"#),
        ("How much memory are you using?", r#"assistant_status {"what":"memory"}"#),
        ("How much RAM do you use?", r#"assistant_status {"what":"memory"}"#),
        // set_mode
        ("Think harder.", r#"set_mode {"mode":"cloud"}"#),
        ("Use the cloud.", r#"set_mode {"mode":"cloud"}"#),
        ("Please think harder.", r#"set_mode {"mode":"cloud"}"#),
        ("Answer locally.", r#"set_mode {"mode":"local"}"#),
        ("Stay on the device.", r#"set_mode {"mode":"local"}"#),
        ("Stop using the cloud.", r#"set_mode {"mode":"local"}"#),
        ("Back to auto.", r#"set_mode {"mode":"auto"}"#),
        ("Choose for yourself.", r#"set_mode {"mode":"auto"}"#),
        ("Switch to auto mode.", r#"set_mode {"mode":"auto"}"#),
    ];

    /// Utterances the fast path must leave to the LLM.
    const NONE: &[&str] = &[
        "What time does the shop open?",
        "What time is it in Tokyo?",
        "Remember the Alamo?",
        "Remember the alamo",
        "Remember to buy milk.",
        "Remember when we went to Paris?",
        "How fast is a cheetah?",
        "How fast can a cheetah run?",
        "Set the table.",
        "Timer.",
        "Set a timer.",
        "Set a timer for a few minutes.",
        "Set a timer for 5:30.",
        "Set an alarm for five.",
        "Think hard about the meaning of life.",
        "Think harder about this problem.",
        "Use the cloud to summarise this article.",
        "Yes.",
        "No.",
        "Cancel.",
        "Never mind.",
        "What is the capital of France?",
        "Tell me about time zones.",
        "Forget it.",
        "Forget about it.",
        "Could you ping me when ten minutes are up?",
        "I need to remember my locker is 42.",
        "Remember that.",
        "Do you remember?",
        "What do you know?",
        "What do you know about black holes?",
        "Do you know anything about Rust?",
        "How much memory does a phone have?",
        "How much time do I need to boil an egg?",
        "Cancel my subscription.",
        "Stop.",
        "What day is Christmas this year?",
        "Set a timer for the pasta.",
        "Why do we set timers?",
        "",
        "   ",
        "...",
        "Please.",
        "Thanks.",
    ];

    #[test]
    fn common_phrasings_make_the_calls_a_model_would() {
        let mut wrong = Vec::new();
        for (text, want) in CALLS {
            let g = got(text, false);
            if g != *want {
                wrong.push(format!("{text:?}: got {g}, want {want}"));
            }
        }
        assert!(wrong.is_empty(), "{} wrong:\n{}", wrong.len(), wrong.join("\n"));
    }

    #[test]
    fn everything_else_goes_to_the_llm() {
        let wrong: Vec<String> = NONE
            .iter()
            .map(|t| (t, got(t, false)))
            .filter(|(_, g)| g != "none")
            .map(|(t, g)| format!("{t:?}: {g}"))
            .collect();
        assert!(wrong.is_empty(), "false calls:\n{}", wrong.join("\n"));
    }

    #[test]
    fn calls_pass_the_allowlist_except_out_of_range_ones() {
        for (text, _) in CALLS {
            let Some(Intent::Call(c)) = match_intent(text, false) else { panic!("{text}") };
            let checked = validate(&c.name, &c.arguments, &ToolName::ALL);
            if text.contains("10 years") {
                assert_eq!(checked.unwrap_err().to_string(), "I can only set timers up to 24 hours.");
            } else {
                assert!(checked.is_ok(), "{text}: {} {} -> {checked:?}", c.name, c.arguments);
            }
        }
    }

    #[test]
    fn yes_and_no_only_while_a_confirmation_is_pending() {
        // (said, while a confirmation is pending, with nothing pending)
        let cases: &[(&str, &str, &str)] = &[
            ("Yes.", "confirm", "none"),
            ("Yes, forget everything.", "confirm", "none"),
            ("Yeah, go ahead.", "confirm", "none"),
            ("Confirm.", "confirm", "none"),
            ("Yes please.", "confirm", "none"),
            ("Do it.", "confirm", "none"),
            // Saying it again, when asked whether to forget everything, is a yes.
            ("Forget everything.", "confirm", "forget_all {}"),
            ("No.", "decline", "none"),
            ("No, keep them.", "decline", "none"),
            ("Cancel.", "decline", "none"),
            ("Never mind.", "decline", "none"),
            ("No, don't.", "decline", "none"),
            ("Forget it.", "decline", "none"),
            // Not an answer to the question: matched as usual.
            ("Cancel the timer.", r#"cancel_timer {"label":""}"#, r#"cancel_timer {"label":""}"#),
            ("What time is it?", r#"get_time {"what":"time"}"#, r#"get_time {"what":"time"}"#),
            ("Yes, and what's the capital of France?", "none", "none"),
        ];
        for (text, pending, idle) in cases {
            assert_eq!(got(text, true), *pending, "{text:?} (pending)");
            assert_eq!(got(text, false), *idle, "{text:?} (nothing pending)");
        }
    }

    #[test]
    fn words_keep_their_places_in_the_text() {
        let words = tokenize("What's the time, at 5:30 p.m. or 5pm? Don\u{2019}t!");
        let texts: Vec<&str> = words.iter().map(|w| w.text.as_str()).collect();
        assert_eq!(texts, ["what", "is", "the", "time", "at", "5:30", "pm", "or", "5", "pm", "do", "not"]);
        let text = "What's the time, at 5:30 p.m. or 5pm? Don\u{2019}t!";
        assert_eq!(&text[words[6].span.clone()], "p.m");
        assert_eq!(&text[words[9].span.clone()], "pm");
        assert_eq!(
            tokenize("1,000 and 1.5; a.m").iter().map(|w| w.text.as_str()).collect::<Vec<_>>(),
            ["1,000", "and", "1.5", "am"]
        );
    }

    #[test]
    fn hostile_or_huge_text_is_matched_or_refused_without_panicking() {
        let long = format!("remember that {}", "la ".repeat(2000));
        let Some(Intent::Call(c)) = match_intent(&long, false) else { panic!() };
        assert_eq!(
            validate(&c.name, &c.arguments, &ToolName::ALL).unwrap_err().to_string(),
            "That's too long: fact holds at most 500 characters."
        );
        let quoted = match_intent(r#"remember that my "password" is \ and {"x":1}"#, false);
        let Some(Intent::Call(c)) = quoted else { panic!() };
        assert!(validate(&c.name, &c.arguments, &ToolName::ALL).is_ok(), "{}", c.arguments);
        for odd in
            ["\u{0}", "🙂 timer", "set a timer for 99999999999999999999 minutes", "set a timer for 1e309 minutes"]
        {
            let _ = match_intent(odd, false);
        }
    }
}
