//! Reading a refusal: the message in an HTTP error body and the `Retry-After` header.

use std::time::{Duration, SystemTime};

/// Error messages are cut to this many characters: enough to tell why, short enough for a turn
/// record.
const MAX_MESSAGE_CHARS: usize = 200;

/// The human part of an error body: OpenAI's `{"error": {"message": ...}}`, the variants other
/// servers use (`{"error": "..."}`, `{"message": ...}`, `{"detail": ...}`), else the text itself.
pub(crate) fn error_message(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let from_json = serde_json::from_str::<serde_json::Value>(&text).ok().and_then(|v| {
        let error = v.get("error");
        [
            error.and_then(|e| e.get("message")),
            error,
            v.get("message"),
            v.get("detail"),
        ]
        .into_iter()
        .flatten()
        .find_map(|m| m.as_str().map(str::to_owned))
    });
    let message = from_json.unwrap_or_else(|| text.into_owned());
    truncate(&message.split_whitespace().collect::<Vec<_>>().join(" "), MAX_MESSAGE_CHARS)
}

/// At most `max` characters, with an ellipsis when cut.
pub(crate) fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

/// `Retry-After`: delay-seconds or an HTTP date in any of RFC 9110's three forms (a date in
/// the past means now).
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    #[test]
    fn retry_after_takes_seconds_or_a_date() {
        let now = UNIX_EPOCH + Duration::from_secs(784_111_777); // Sun, 06 Nov 1994 08:49:37 GMT
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after(" 120 ", now), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:50:07 GMT", now), Some(Duration::from_secs(30)));
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:49:00 GMT", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("Thu, 01 Jan 1970 00:00:00 GMT", UNIX_EPOCH), Some(Duration::ZERO));
        for bad in ["", "-3", "soon", "1.5", "Sun, 06 Nov 1994 08:49:37 PST", "Sun, 32 Nov 1994 08:49:37 GMT"] {
            assert_eq!(parse_retry_after(bad, now), None, "{bad:?}");
        }
    }

    #[test]
    fn http_dates_match_the_calendar() {
        let at = |s| parse_retry_after(s, UNIX_EPOCH).map(|d| d.as_secs());
        assert_eq!(at("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(at("Tue, 29 Feb 2000 12:00:00 GMT"), Some(951_825_600));
        assert_eq!(at("Wed, 21 Oct 2015 07:28:00 GMT"), Some(1_445_412_480));
    }

    #[test]
    fn error_messages_come_from_the_usual_json_shapes() {
        let cases: [(&[u8], &str); 6] = [
            (br#"{"error":{"message":"Invalid API key","type":"auth"}}"#, "Invalid API key"),
            (br#"{"error":"model not found"}"#, "model not found"),
            (br#"{"message":"slow down"}"#, "slow down"),
            (br#"{"detail":"Not Found"}"#, "Not Found"),
            (b"Bad Gateway\n", "Bad Gateway"),
            (b"", ""),
        ];
        for (body, message) in cases {
            assert_eq!(error_message(body), message);
        }
        let long = format!(r#"{{"error":{{"message":"{}"}}}}"#, "é".repeat(300));
        assert_eq!(error_message(long.as_bytes()).chars().count(), MAX_MESSAGE_CHARS + 1);
    }
}
