//! Numbers, durations and clock times as Whisper writes them: digits or words ("10 minutes",
//! "ten minutes", "1.5 hours", "half an hour", "an hour and a half", "2 and a half minutes",
//! "5:30 pm", "noon"). Every parser takes the whole slice of (lower-case, punctuation-free)
//! words and returns `None` unless all of it is understood: the fast path would rather ask the
//! LLM than guess.

use crate::number_words::{ONES, TENS};

/// The value of `words` as one number: "42", "1.5", "1,000", "forty two", "a hundred and five".
pub fn number(words: &[&str]) -> Option<f64> {
    match words {
        [] => None,
        [w] if w.starts_with(|c: char| c.is_ascii_digit()) => digits(w),
        _ => word_number(words).map(|n| n as f64),
    }
}

fn digits(w: &str) -> Option<f64> {
    let plain: String = w.chars().filter(|&c| c != ',').collect();
    if !plain.chars().all(|c| c.is_ascii_digit() || c == '.') || plain.matches('.').count() > 1 || plain.ends_with('.')
    {
        return None;
    }
    plain.parse().ok().filter(|n: &f64| n.is_finite())
}

fn small(w: &str) -> Option<u64> {
    ONES.iter().position(|u| *u == w).map(|n| n as u64)
}

fn tens(w: &str) -> Option<u64> {
    TENS.iter().skip(2).position(|t| *t == w).map(|n| (n as u64 + 2) * 10)
}

/// Below a hundred, in words: "seven", "seventeen", "seventy", "seventy seven".
fn below_hundred(words: &[&str]) -> Option<u64> {
    match words {
        [w] => small(w).or_else(|| tens(w)),
        [t, u] => Some(tens(t)? + small(u).filter(|u| (1..10).contains(u))?),
        _ => None,
    }
}

/// Below a million, in words: "[a|N] hundred [and] M", "N thousand [and] M".
fn word_number(words: &[&str]) -> Option<u64> {
    if let Some(at) = words.iter().position(|w| *w == "thousand") {
        let high = multiplier(&words[..at], 1000)?;
        return Some(high * 1000 + rest(&words[at + 1..], 1000)?);
    }
    if let Some(at) = words.iter().position(|w| *w == "hundred") {
        let high = multiplier(&words[..at], 10)?;
        return Some(high * 100 + rest(&words[at + 1..], 100)?);
    }
    below_hundred(words)
}

/// What stands before "hundred" / "thousand": "a", or a number below `limit`.
fn multiplier(words: &[&str], limit: u64) -> Option<u64> {
    match words {
        ["a"] | ["one"] => Some(1),
        _ => word_number(words).filter(|n| (1..limit).contains(n)),
    }
}

/// What follows "hundred" / "thousand": nothing, or "[and] N" with N below `limit`.
fn rest(words: &[&str], limit: u64) -> Option<u64> {
    let words = words.strip_prefix(&["and"]).unwrap_or(words);
    if words.is_empty() {
        return Some(0);
    }
    word_number(words).filter(|n| *n < limit)
}

/// Seconds in one of `unit` ("minutes", "hr", "year").
pub fn unit_seconds(unit: &str) -> Option<f64> {
    Some(match unit {
        "s" | "sec" | "secs" | "second" | "seconds" => 1.0,
        "min" | "mins" | "minute" | "minutes" => 60.0,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3600.0,
        "day" | "days" => 86_400.0,
        "week" | "weeks" => 7.0 * 86_400.0,
        "month" | "months" => 30.0 * 86_400.0,
        "year" | "years" => 365.0 * 86_400.0,
        _ => return None,
    })
}

/// How many of a unit `words` (everything before the unit) say: "10", "ten", "a", "an",
/// "half an", "a half", "2 and a half", "a quarter of an", "three quarters of an".
fn amount(words: &[&str]) -> Option<f64> {
    match words {
        ["a" | "an" | "one"] => Some(1.0),
        ["half"] => Some(0.5),
        ["half", "a" | "an"] | ["a", "half"] => Some(0.5),
        ["a" | "one", "quarter", "of", "a" | "an"] | ["quarter", "of", "a" | "an"] | ["a", "quarter"] => Some(0.25),
        ["three", "quarters", "of", "a" | "an"] => Some(0.75),
        [head @ .., "and", "a", "half"] => Some(amount(head)? + 0.5),
        _ => number(words),
    }
}

/// A duration, in seconds (rounded): one or more "<amount> <unit> [and a half]" joined by
/// "and" or nothing ("1 hour and 30 minutes", "an hour and a half", "90 seconds"). Durations
/// beyond any timer's bounds are still durations ("10 years"): refusing them is the allowlist's
/// job, in words.
pub fn duration(words: &[&str]) -> Option<i64> {
    let mut total = 0.0;
    let mut rest = words;
    let mut parts = 0;
    while !rest.is_empty() {
        if parts > 0 {
            rest = rest.strip_prefix(&["and"]).unwrap_or(rest);
        }
        // The first unit word ends this part's amount.
        let at = rest.iter().position(|w| unit_seconds(w).is_some())?;
        let unit = unit_seconds(rest[at])?;
        let mut value = amount(&rest[..at])?;
        rest = &rest[at + 1..];
        // "an hour and a half", unless "and a half" belongs to the next part's amount.
        if let ["and", "a", "half", after @ ..] = rest {
            if after.first().is_none_or(|w| unit_seconds(w).is_none()) {
                value += 0.5;
                rest = after;
            }
        }
        total += value * unit;
        parts += 1;
    }
    if parts == 0 || !total.is_finite() || total < 0.0 || total > 1e12 {
        return None;
    }
    Some(total.round() as i64)
}

/// A clock time as (hour, minute), 24-hour: "5:30 pm", "5 pm", "five thirty pm", "noon",
/// "midnight", "17:30", "07:15", "half past five pm", "quarter to 6 in the evening". A time
/// that could be morning or evening ("5:30", "at five") is `None`: the fast path does not guess.
pub fn clock(words: &[&str]) -> Option<(u32, u32)> {
    match words {
        ["noon" | "midday"] | ["12" | "twelve", "noon"] => return Some((12, 0)),
        ["midnight"] | ["12" | "twelve", "midnight"] => return Some((0, 0)),
        _ => {}
    }
    let (time, half) = split_meridiem(words);
    match half {
        Some(pm) => {
            let (h, m) = twelve_hour(time)?;
            Some((h % 12 + if pm { 12 } else { 0 }, m))
        }
        None => match time {
            // Only a time no one reads as 12-hour: "17:30", "07:15", "0:30".
            [w] => {
                let (h, m) = crate::tools::spec::parse_clock(&w.replace('.', ":"))?;
                (h >= 13 || h == 0 || w.starts_with('0')).then_some((h, m))
            }
            _ => None,
        },
    }
}

/// The words before "am" / "pm" / "in the evening", and which half of the day they name.
fn split_meridiem<'a, 'b>(words: &'a [&'b str]) -> (&'a [&'b str], Option<bool>) {
    const PHRASES: [(&[&str], bool); 8] = [
        (&["am"], false),
        (&["pm"], true),
        (&["in", "the", "morning"], false),
        (&["in", "the", "afternoon"], true),
        (&["in", "the", "evening"], true),
        (&["at", "night"], true),
        (&["this", "afternoon"], true),
        (&["this", "evening"], true),
    ];
    for (phrase, pm) in PHRASES {
        if let Some(time) = words.strip_suffix(phrase) {
            return (time, Some(pm));
        }
    }
    (words, None)
}

/// A 12-hour time without its half of the day: "5", "five", "5:30", "5.30", "five thirty",
/// "5 30", "5 o'clock", "half past 5", "quarter past five", "quarter to six", "10 to 6".
fn twelve_hour(words: &[&str]) -> Option<(u32, u32)> {
    let hour = |w: &[&str]| number(w).filter(|h| h.fract() == 0.0 && (1.0..=12.0).contains(h)).map(|h| h as u32);
    let minute = |w: &[&str]| number(w).filter(|m| m.fract() == 0.0 && (0.0..60.0).contains(m)).map(|m| m as u32);
    match words {
        [w] if w.contains(':') || w.contains('.') => {
            let (h, m) = crate::tools::spec::parse_clock(&w.replace('.', ":"))?;
            (1..=12).contains(&h).then_some((h, m))
        }
        [h, "o'clock"] => Some((hour(&[h])?, 0)),
        ["half", "past", h @ ..] => Some((hour(h)?, 30)),
        ["quarter", "past", h @ ..] | ["a", "quarter", "past", h @ ..] => Some((hour(h)?, 15)),
        ["quarter", "to", h @ ..] | ["a", "quarter", "to", h @ ..] => Some(before(hour(h)?, 15)),
        _ => {
            if let Some(h) = hour(words) {
                return Some((h, 0));
            }
            // "five thirty", "5 30", "ten to six", "twenty past five".
            for split in 1..words.len() {
                let (head, tail) = words.split_at(split);
                if let (Some(h), Some(m)) = (hour(head), minute(tail)) {
                    // "five oh five": a spoken leading zero.
                    if m >= 10 || tail.len() == 1 && tail[0].len() == 2 {
                        return Some((h, m));
                    }
                }
                if let [m @ .., "past" | "to"] = head {
                    let (Some(m), Some(h)) = (minute(m), hour(tail)) else { continue };
                    if m == 0 {
                        continue;
                    }
                    return Some(if head.last() == Some(&"past") { (h, m) } else { before(h, m) });
                }
            }
            if let [h, "oh", m] = words {
                let m = minute(&[m]).filter(|m| *m < 10)?;
                return Some((hour(&[h])?, m));
            }
            None
        }
    }
}

/// `minutes` before `hour` o'clock (12-hour).
fn before(hour: u32, minutes: u32) -> (u32, u32) {
    let h = if hour == 1 { 12 } else { hour - 1 };
    (h, 60 - minutes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<&str> {
        s.split_whitespace().collect()
    }

    #[test]
    fn numbers_in_digits_and_words() {
        let cases: &[(&str, Option<f64>)] = &[
            ("42", Some(42.0)),
            ("1.5", Some(1.5)),
            ("1,000", Some(1000.0)),
            ("zero", Some(0.0)),
            ("seven", Some(7.0)),
            ("seventeen", Some(17.0)),
            ("seventy", Some(70.0)),
            ("seventy seven", Some(77.0)),
            ("a hundred", Some(100.0)),
            ("one hundred and twenty", Some(120.0)),
            ("two hundred five", Some(205.0)),
            ("three thousand", Some(3000.0)),
            ("two thousand and twenty six", Some(2026.0)),
            ("", None),
            ("1.2.3", None),
            ("5.", None),
            ("seventy seventeen", None),
            ("twenty zero", None),
            ("seven seven", None),
            ("hundred", None),
            ("lots", None),
            ("a", None),
            ("12abc", None),
        ];
        for (text, want) in cases {
            assert_eq!(number(&words(text)), *want, "{text:?}");
        }
    }

    #[test]
    fn durations_as_whisper_writes_them() {
        let cases: &[(&str, Option<i64>)] = &[
            ("10 minutes", Some(600)),
            ("ten minutes", Some(600)),
            ("a minute", Some(60)),
            ("one minute", Some(60)),
            ("1 minute", Some(60)),
            ("90 seconds", Some(90)),
            ("1.5 hours", Some(5400)),
            ("half an hour", Some(1800)),
            ("a half hour", Some(1800)),
            ("half a minute", Some(30)),
            ("an hour and a half", Some(5400)),
            ("2 and a half minutes", Some(150)),
            ("two and a half hours", Some(9000)),
            ("1 hour and 30 minutes", Some(5400)),
            ("1 hour 30 minutes", Some(5400)),
            ("an hour and 15 minutes", Some(4500)),
            ("2 minutes and 30 seconds", Some(150)),
            ("a quarter of an hour", Some(900)),
            ("three quarters of an hour", Some(2700)),
            ("twenty five minutes", Some(1500)),
            ("forty five seconds", Some(45)),
            ("5 mins", Some(300)),
            ("2 hrs", Some(7200)),
            ("a day", Some(86_400)),
            ("10 years", Some(315_360_000)),
            ("0.5 seconds", Some(1)),
            ("minutes", None),
            ("ten", None),
            ("10", None),
            ("a few minutes", None),
            ("some minutes", None),
            ("10 minutes and", None),
            ("10 minutes 5", None),
            ("the pasta", None),
            ("", None),
        ];
        for (text, want) in cases {
            assert_eq!(duration(&words(text)), *want, "{text:?}");
        }
    }

    #[test]
    fn clock_times_only_when_unambiguous() {
        let cases: &[(&str, Option<(u32, u32)>)] = &[
            ("5:30 pm", Some((17, 30))),
            ("5 pm", Some((17, 0))),
            ("5.30 pm", Some((17, 30))),
            ("5 am", Some((5, 0))),
            ("12 pm", Some((12, 0))),
            ("12 am", Some((0, 0))),
            ("12:15 am", Some((0, 15))),
            ("noon", Some((12, 0))),
            ("midnight", Some((0, 0))),
            ("five thirty pm", Some((17, 30))),
            ("five pm", Some((17, 0))),
            ("7 in the morning", Some((7, 0))),
            ("6 in the evening", Some((18, 0))),
            ("half past five pm", Some((17, 30))),
            ("quarter past 5 pm", Some((17, 15))),
            ("quarter to six pm", Some((17, 45))),
            ("ten to 6 pm", Some((17, 50))),
            ("twenty past five pm", Some((17, 20))),
            ("seven oh five am", Some((7, 5))),
            ("5 o'clock pm", Some((17, 0))),
            ("17:30", Some((17, 30))),
            ("07:15", Some((7, 15))),
            ("5:30", None),
            ("5", None),
            ("five", None),
            ("13 pm", None),
            ("5:75 pm", None),
            ("25:00", None),
            ("pm", None),
            ("the evening", None),
        ];
        for (text, want) in cases {
            assert_eq!(clock(&words(text)), *want, "{text:?}");
        }
    }
}
