//! The local time and date in words ("It's 3:42 PM."), and a clock time's next occurrence for
//! `set_timer {at}`. Every function takes the time as an argument, so that each phrasing is
//! tested at fixed times in a fixed zone; the toolbox passes `chrono::Local::now()`, which
//! honours `TZ`.

use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveTime, TimeZone, Timelike};

/// "3:42 PM", "12:05 AM": a 12-hour clock, as it is said.
pub fn clock_words<Tz: TimeZone>(t: &DateTime<Tz>) -> String {
    let (pm, hour) = t.hour12();
    format!("{hour}:{:02} {}", t.minute(), if pm { "PM" } else { "AM" })
}

/// "It's 3:42 PM."
pub fn time_sentence<Tz: TimeZone>(now: &DateTime<Tz>) -> String {
    format!("It's {}.", clock_words(now))
}

/// "Monday, December 7, 2026".
pub fn date_words<Tz: TimeZone>(t: &DateTime<Tz>) -> String {
    format!("{}, {} {}, {}", weekday_name(t.weekday()), month_name(t.month()), t.day(), t.year())
}

/// "It's Monday, December 7, 2026."
pub fn date_sentence<Tz: TimeZone>(now: &DateTime<Tz>) -> String {
    format!("It's {}.", date_words(now))
}

/// When `then` is, seen from `now`: "10:32 AM" today, "10:32 AM tomorrow", "yesterday at
/// 10:32 AM", else "on December 5 at 10:32 AM".
pub fn when_words<Tz: TimeZone>(then: &DateTime<Tz>, now: &DateTime<Tz>) -> String {
    let days = (then.date_naive() - now.date_naive()).num_days();
    let clock = clock_words(then);
    match days {
        0 => clock,
        1 => format!("{clock} tomorrow"),
        -1 => format!("yesterday at {clock}"),
        _ => format!("on {} {} at {clock}", month_name(then.month()), then.day()),
    }
}

/// The next time the clock shows `hour:minute` after `now`: today if still ahead, else
/// tomorrow. A time skipped by a clock change (spring forward) is `None`; a repeated one
/// (fall back) is its first occurrence.
pub fn next_occurrence<Tz: TimeZone>(now: &DateTime<Tz>, hour: u32, minute: u32) -> Option<DateTime<Tz>> {
    let time = NaiveTime::from_hms_opt(hour, minute, 0)?;
    let tz = now.timezone();
    for day in [now.date_naive(), now.date_naive() + Duration::days(1)] {
        let at = match tz.from_local_datetime(&day.and_time(time)) {
            LocalResult::Single(t) => t,
            LocalResult::Ambiguous(first, _) => first,
            LocalResult::None => continue,
        };
        if at > *now {
            return Some(at);
        }
    }
    None
}

/// `unix_ms` in the local zone (`None` past chrono's range).
pub fn local_from_unix_ms(unix_ms: i64) -> Option<DateTime<chrono::Local>> {
    chrono::Local.timestamp_millis_opt(unix_ms).single()
}

fn weekday_name(day: chrono::Weekday) -> &'static str {
    use chrono::Weekday::*;
    match day {
        Mon => "Monday",
        Tue => "Tuesday",
        Wed => "Wednesday",
        Thu => "Thursday",
        Fri => "Friday",
        Sat => "Saturday",
        Sun => "Sunday",
    }
}

fn month_name(month: u32) -> &'static str {
    const NAMES: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    NAMES.get(month.wrapping_sub(1) as usize).copied().unwrap_or("")
}

#[cfg(test)]
mod tests {
    use chrono::{FixedOffset, Utc};

    use super::*;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<FixedOffset> {
        FixedOffset::east_opt(3600).unwrap().with_ymd_and_hms(y, mo, d, h, mi, 10).unwrap()
    }

    #[test]
    fn times_are_said_on_a_twelve_hour_clock() {
        assert_eq!(time_sentence(&at(2026, 12, 7, 15, 42)), "It's 3:42 PM.");
        assert_eq!(time_sentence(&at(2026, 12, 7, 0, 5)), "It's 12:05 AM.");
        assert_eq!(time_sentence(&at(2026, 12, 7, 12, 0)), "It's 12:00 PM.");
        assert_eq!(time_sentence(&at(2026, 12, 7, 9, 7)), "It's 9:07 AM.");
    }

    #[test]
    fn dates_name_the_weekday_and_month() {
        assert_eq!(date_sentence(&at(2026, 12, 7, 15, 42)), "It's Monday, December 7, 2026.");
        assert_eq!(date_sentence(&at(2027, 1, 1, 0, 0)), "It's Friday, January 1, 2027.");
    }

    #[test]
    fn a_clock_time_is_today_if_ahead_else_tomorrow() {
        let now = at(2026, 12, 7, 15, 42);
        assert_eq!(next_occurrence(&now, 17, 30), Some(at(2026, 12, 7, 17, 30) - Duration::seconds(10)));
        assert_eq!(next_occurrence(&now, 9, 0).map(|t| t.day()), Some(8));
        // The current minute has begun: it is tomorrow's.
        assert_eq!(next_occurrence(&now, 15, 42).map(|t| t.day()), Some(8));
        // Across a month's end.
        let late = at(2026, 12, 31, 23, 50);
        assert_eq!(next_occurrence(&late, 0, 10).map(|t| (t.year(), t.month(), t.day())), Some((2027, 1, 1)));
    }

    #[test]
    fn when_words_name_the_day_when_it_is_not_today() {
        let now = at(2026, 12, 7, 15, 42);
        assert_eq!(when_words(&at(2026, 12, 7, 10, 32), &now), "10:32 AM");
        assert_eq!(when_words(&at(2026, 12, 8, 10, 32), &now), "10:32 AM tomorrow");
        assert_eq!(when_words(&at(2026, 12, 6, 22, 0), &now), "yesterday at 10:00 PM");
        assert_eq!(when_words(&at(2026, 12, 3, 8, 0), &now), "on December 3 at 8:00 AM");
    }

    #[test]
    fn utc_works_too() {
        let t = Utc.with_ymd_and_hms(2026, 12, 7, 23, 59, 0).unwrap();
        assert_eq!(time_sentence(&t), "It's 11:59 PM.");
    }
}
