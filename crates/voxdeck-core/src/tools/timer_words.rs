//! Timers in words: durations ("1 hour 2 minutes"), a timer's name ("your tea timer", "your 10
//! minute timer", "your 5:30 PM timer") and the sentences set, list, cancel and ring say.
//!
//! A clock time is given as a function from ms since the epoch to words (`clock`), so that the
//! sentences are tested without the local time zone.

use super::store::TimerRow;

/// Ms since the epoch -> "5:30 PM" (in the local zone, in the toolbox).
pub type ClockWords<'a> = &'a dyn Fn(i64) -> String;

/// An exact duration: "10 minutes", "1 hour 30 minutes", "1 minute 30 seconds", "45 seconds".
pub fn duration_words(seconds: i64) -> String {
    parts(seconds).iter().map(|(n, unit)| plural(*n, unit)).collect::<Vec<_>>().join(" ")
}

/// The same duration as an adjective: "10 minute", "1 hour 30 minute".
fn duration_adjective(seconds: i64) -> String {
    parts(seconds).iter().map(|(n, unit)| format!("{n} {unit}")).collect::<Vec<_>>().join(" ")
}

fn parts(seconds: i64) -> Vec<(i64, &'static str)> {
    let s = seconds.max(0);
    let all = [(s / 3600, "hour"), (s % 3600 / 60, "minute"), (s % 60, "second")];
    let parts: Vec<_> = all.into_iter().filter(|(n, _)| *n > 0).collect();
    if parts.is_empty() { vec![(0, "second")] } else { parts }
}

/// Time left, rounded as it is useful to hear: seconds under a minute, else whole minutes
/// (nearest), with hours above an hour: "45 seconds", "4 minutes", "1 hour 2 minutes".
pub fn left_words(ms_left: i64) -> String {
    let seconds = (ms_left.max(0) + 999) / 1000;
    if seconds < 60 {
        return plural(seconds.max(1), "second");
    }
    let minutes = (seconds + 30) / 60;
    match (minutes / 60, minutes % 60) {
        (0, m) => plural(m, "minute"),
        (h, 0) => plural(h, "hour"),
        (h, m) => format!("{} {}", plural(h, "hour"), plural(m, "minute")),
    }
}

fn plural(n: i64, unit: &str) -> String {
    if n == 1 { format!("1 {unit}") } else { format!("{n} {unit}s") }
}

/// Words a label starts with when it is a task ("remind me in 5 minutes to check the oven"),
/// not a name ("tea").
const TASK_VERBS: &[&str] = &[
    "call", "check", "feed", "flip", "get", "go", "leave", "move", "pick", "put", "remove", "start", "stir", "stop",
    "switch", "take", "turn", "water",
];

/// The label is a task: "check the oven".
fn is_task(label: &str) -> bool {
    let first = label.split_whitespace().next().unwrap_or("").to_lowercase();
    label.split_whitespace().count() > 1 && TASK_VERBS.contains(&first.as_str())
}

/// "tea timer", "10 minute timer", "5:30 PM timer", "timer to check the oven".
pub fn timer_name(t: &TimerRow, clock: ClockWords<'_>) -> String {
    let label = t.view.label.trim();
    if is_task(label) {
        return format!("timer to {label}");
    }
    if !label.is_empty() {
        let lower = label.to_lowercase();
        return if lower == "timer" || lower.ends_with(" timer") { label.to_owned() } else { format!("{label} timer") };
    }
    match t.seconds {
        Some(s) => format!("{} timer", duration_adjective(s)),
        None => format!("{} timer", clock(t.view.due_unix_ms)),
    }
}

/// "Timer set for 10 minutes." / "Tea timer set for 10 minutes." / "Timer set for 5:30 PM."
/// (`when` says the clock time of a timer set for one, e.g. "5:30 PM tomorrow").
pub fn set_sentence(t: &TimerRow, when: &str) -> String {
    let label = t.view.label.trim();
    let what = if label.is_empty() { "Timer".to_owned() } else { capitalize(&timer_name(t, &|_| String::new())) };
    match t.seconds {
        Some(s) => format!("{what} set for {}.", duration_words(s)),
        None => format!("{what} set for {when}."),
    }
}

/// "Your tea timer is done." / "Time to check the oven."
pub fn due_sentence(t: &TimerRow, clock: ClockWords<'_>) -> String {
    let label = t.view.label.trim();
    if is_task(label) {
        return format!("Time to {label}.");
    }
    format!("Your {} is done.", timer_name(t, clock))
}

/// "While I was off, your tea timer was due at 10:32 AM." (`when` from `clock::when_words`).
pub fn missed_sentence(t: &TimerRow, clock: ClockWords<'_>, when: &str) -> String {
    let when =
        if when.starts_with("yesterday") || when.starts_with("on ") { when.to_owned() } else { format!("at {when}") };
    format!("While I was off, your {} was due {when}.", timer_name(t, clock))
}

/// "No timers are running." / "You have one timer: tea, 4 minutes left." / "You have 2 timers:
/// tea, 4 minutes left; and one with 1 hour 2 minutes left."
pub fn list_sentence(running: &[TimerRow], now_ms: i64) -> String {
    let items: Vec<String> = running
        .iter()
        .map(|t| {
            let left = left_words(t.view.due_unix_ms - now_ms);
            match t.view.label.trim() {
                "" => format!("one with {left} left"),
                label => format!("{label}, {left} left"),
            }
        })
        .collect();
    match items.as_slice() {
        [] => "No timers are running.".into(),
        [one] if one.starts_with("one with") => format!("You have one timer, {}.", &one["one ".len()..]),
        [one] => format!("You have one timer: {one}."),
        [init @ .., last] => format!("You have {} timers: {}; and {last}.", items.len(), init.join("; ")),
    }
}

/// "You have 3 timers: tea, pasta and eggs. Which one?"
pub fn which_sentence(running: &[TimerRow], clock: ClockWords<'_>) -> String {
    let names: Vec<String> = running
        .iter()
        .map(|t| match t.view.label.trim() {
            "" => format!("a {}", timer_name(t, clock)),
            label => label.to_owned(),
        })
        .collect();
    format!("You have {} timers: {}. Which one?", names.len(), and_list(&names))
}

/// "Okay, I've cancelled your tea timer." / "Okay, I've cancelled all 3 timers."
pub fn cancelled_sentence(cancelled: &[TimerRow], all: bool, clock: ClockWords<'_>) -> String {
    match cancelled {
        [one] => format!("Okay, I've cancelled your {}.", timer_name(one, clock)),
        _ if all => format!("Okay, I've cancelled all {} timers.", cancelled.len()),
        many => {
            let names: Vec<String> = many.iter().map(|t| timer_name(t, clock)).collect();
            format!("Okay, I've cancelled your {}.", and_list(&names))
        }
    }
}

/// "a", "a and b", "a, b and c".
fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::{TimerState, TimerView};

    fn timer(label: &str, seconds: Option<i64>, due_ms: i64) -> TimerRow {
        TimerRow {
            view: TimerView {
                id: 1,
                label: label.into(),
                set_unix_ms: 0,
                due_unix_ms: due_ms,
                state: TimerState::Running,
            },
            seconds,
        }
    }

    fn clock(_: i64) -> String {
        "5:30 PM".into()
    }

    #[test]
    fn durations() {
        assert_eq!(duration_words(600), "10 minutes");
        assert_eq!(duration_words(90), "1 minute 30 seconds");
        assert_eq!(duration_words(5400), "1 hour 30 minutes");
        assert_eq!(duration_words(3600), "1 hour");
        assert_eq!(duration_words(1), "1 second");
        assert_eq!(left_words(45_000), "45 seconds");
        assert_eq!(left_words(200), "1 second");
        assert_eq!(left_words(220_000), "4 minutes");
        assert_eq!(left_words(3_720_000), "1 hour 2 minutes");
        assert_eq!(left_words(7_190_000), "2 hours");
    }

    #[test]
    fn set_and_due_sentences() {
        assert_eq!(set_sentence(&timer("", Some(600), 0), ""), "Timer set for 10 minutes.");
        assert_eq!(set_sentence(&timer("tea", Some(600), 0), ""), "Tea timer set for 10 minutes.");
        assert_eq!(set_sentence(&timer("pasta timer", Some(60), 0), ""), "Pasta timer set for 1 minute.");
        assert_eq!(set_sentence(&timer("", None, 0), "5:30 PM"), "Timer set for 5:30 PM.");
        assert_eq!(due_sentence(&timer("tea", Some(600), 0), &clock), "Your tea timer is done.");
        assert_eq!(due_sentence(&timer("", Some(600), 0), &clock), "Your 10 minute timer is done.");
        assert_eq!(due_sentence(&timer("", None, 0), &clock), "Your 5:30 PM timer is done.");
        let task = timer("check the oven", Some(5), 0);
        assert_eq!(set_sentence(&task, ""), "Timer to check the oven set for 5 seconds.");
        assert_eq!(due_sentence(&task, &clock), "Time to check the oven.");
        assert_eq!(set_sentence(&timer("pasta sauce", Some(60), 0), ""), "Pasta sauce timer set for 1 minute.");
        assert_eq!(
            missed_sentence(&timer("tea", Some(60), 0), &clock, "10:32 AM"),
            "While I was off, your tea timer was due at 10:32 AM."
        );
        assert_eq!(
            missed_sentence(&timer("tea", Some(60), 0), &clock, "yesterday at 10:32 AM"),
            "While I was off, your tea timer was due yesterday at 10:32 AM."
        );
    }

    #[test]
    fn lists() {
        assert_eq!(list_sentence(&[], 0), "No timers are running.");
        assert_eq!(list_sentence(&[timer("tea", Some(600), 240_000)], 0), "You have one timer: tea, 4 minutes left.");
        assert_eq!(list_sentence(&[timer("", Some(600), 240_000)], 0), "You have one timer, with 4 minutes left.");
        assert_eq!(
            list_sentence(&[timer("tea", Some(600), 240_000), timer("", Some(4000), 3_720_000)], 0),
            "You have 2 timers: tea, 4 minutes left; and one with 1 hour 2 minutes left."
        );
        let three = [timer("tea", None, 0), timer("pasta", None, 0), timer("", Some(600), 0)];
        assert_eq!(which_sentence(&three, &clock), "You have 3 timers: tea, pasta and a 10 minute timer. Which one?");
        assert_eq!(cancelled_sentence(&three[..1], false, &clock), "Okay, I've cancelled your tea timer.");
        assert_eq!(cancelled_sentence(&three, true, &clock), "Okay, I've cancelled all 3 timers.");
        assert_eq!(
            cancelled_sentence(&three[..2], false, &clock),
            "Okay, I've cancelled your tea timer and pasta timer."
        );
    }
}
