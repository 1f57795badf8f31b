//! Who may use the panel. A token is required when the server listens beyond loopback (one is
//! generated when none is given) and optional on loopback. With a token in force, every request
//! carries it: `?token=`, `Authorization: Bearer`, or the `voxdeck_token` cookie set when the
//! right `?token=` arrives (so the page's own requests work). WebSocket upgrades from another
//! site's page (an `Origin` that is not this host) are refused, and without a token only
//! loopback host names are served (a DNS-rebinding page names its own host).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use voxdeck_core::loopback::{is_loopback_host, is_loopback_ip};

/// The cookie that carries the token after the first `?token=` request.
pub const COOKIE: &str = "voxdeck_token";
/// The query parameter.
pub const QUERY: &str = "token";
/// Length of a generated token.
pub const GENERATED_LEN: usize = 32;

/// The token rules in force.
#[derive(Clone)]
pub struct Auth {
    token: Option<String>,
}

/// What to do with a request.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Serve it; `set_cookie` when it carried the right `?token=`.
    Allow { set_cookie: bool },
    /// 401: no token, or a wrong one.
    Unauthorized,
    /// 403, with the reason.
    Forbidden(&'static str),
}

/// The token for a bind address: the given one (checked), or on a non-loopback address a
/// generated one. The flag says whether it was generated.
pub fn token_for(bind: &SocketAddr, given: Option<String>) -> anyhow::Result<(Option<String>, bool)> {
    match given {
        Some(token) => {
            validate_token(&token)?;
            Ok((Some(token), false))
        }
        None if is_loopback_ip(bind.ip()) => Ok((None, false)),
        None => Ok((Some(generate_token()?), true)),
    }
}

/// A given token must be usable as is in a URL, a header and a cookie.
pub fn validate_token(token: &str) -> anyhow::Result<()> {
    anyhow::ensure!(
        !token.is_empty(),
        "--token: empty; give a secret, or leave it out on loopback"
    );
    anyhow::ensure!(token.len() <= 512, "--token: longer than 512 characters");
    anyhow::ensure!(
        token.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.~".contains(&b)),
        "--token: use letters, digits and - _ . ~ only (it goes into URLs and a cookie)"
    );
    Ok(())
}

/// 32 letters and digits from the OS's random source (about 190 bits). No `-` or `_`: a token
/// that starts with `-` would read as a flag when pasted after `--token`.
pub fn generate_token() -> anyhow::Result<String> {
    const ALPHABET: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut token = String::with_capacity(GENERATED_LEN);
    let mut bytes = [0u8; 64];
    while token.len() < GENERATED_LEN {
        getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("generating a token: {e}"))?;
        // Rejection sampling: 248 = 4 * 62, so every character is equally likely.
        for b in bytes.iter().filter(|b| **b < 248) {
            if token.len() < GENERATED_LEN {
                token.push(ALPHABET[(b % 62) as usize] as char);
            }
        }
    }
    Ok(token)
}

/// Equal, in time that depends on neither the contents nor the lengths (both are hashed first).
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    let a = Sha256::digest(a.as_bytes());
    let b = Sha256::digest(b.as_bytes());
    a.ct_eq(&b).into()
}

impl Auth {
    pub fn new(token: Option<String>) -> Auth {
        Auth { token }
    }

    /// The verdict on a request's headers and URI.
    pub fn check(&self, headers: &HeaderMap, uri: &Uri) -> Verdict {
        let mut set_cookie = false;
        match &self.token {
            Some(token) => {
                let query_ok = query_token(uri).is_some_and(|t| constant_time_eq(&t, token));
                let header_ok = bearer_tokens(headers).any(|t| constant_time_eq(t, token));
                let cookie_ok = cookie_values(headers, COOKIE).any(|t| constant_time_eq(t, token));
                if !(query_ok || header_ok || cookie_ok) {
                    return Verdict::Unauthorized;
                }
                set_cookie = query_ok;
            }
            None => {
                if !host_is_loopback(headers) {
                    return Verdict::Forbidden("this server answers only to localhost (no --token)");
                }
            }
        }
        if is_websocket_upgrade(headers) && !origin_matches_host(headers) {
            return Verdict::Forbidden("WebSocket from another origin");
        }
        Verdict::Allow { set_cookie }
    }

    /// The `Set-Cookie` value that stores the token.
    pub fn cookie(&self) -> Option<HeaderValue> {
        let token = self.token.as_deref()?;
        HeaderValue::from_str(&format!("{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/")).ok()
    }
}

/// The middleware: 401 or 403 in words, or the request served (with the cookie set after a
/// right `?token=`).
pub async fn guard(State(auth): State<Arc<Auth>>, request: Request, next: Next) -> Response {
    match auth.check(request.headers(), request.uri()) {
        Verdict::Allow { set_cookie } => {
            let mut response = next.run(request).await;
            if set_cookie && let Some(cookie) = auth.cookie() {
                response.headers_mut().append(header::SET_COOKIE, cookie);
            }
            response
        }
        Verdict::Unauthorized => {
            let mut response = (
                StatusCode::UNAUTHORIZED,
                "voxdeck: missing or wrong token; open the URL that `voxdeck serve` printed (with ?token=)\n",
            )
                .into_response();
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"voxdeck\""),
            );
            response
        }
        Verdict::Forbidden(why) => (StatusCode::FORBIDDEN, format!("voxdeck: forbidden: {why}\n")).into_response(),
    }
}

fn query_token(uri: &Uri) -> Option<String> {
    let Query(params) = Query::<HashMap<String, String>>::try_from_uri(uri).ok()?;
    params.get(QUERY).cloned()
}

fn bearer_tokens(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers.get_all(header::AUTHORIZATION).iter().filter_map(|v| {
        let v = v.to_str().ok()?.trim();
        let (scheme, token) = v.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
    })
}

/// Every value of the cookie `name` (several servers on one host share cookies: any may match).
fn cookie_values<'a>(headers: &'a HeaderMap, name: &'a str) -> impl Iterator<Item = &'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(move |pair| {
            let (k, v) = pair.trim().split_once('=')?;
            (k.trim() == name).then(|| v.trim().trim_matches('"'))
        })
}

fn is_websocket_upgrade(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::UPGRADE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').any(|p| p.trim().eq_ignore_ascii_case("websocket")))
}

/// No `Origin` (not a browser), or an `Origin` whose host and port are the `Host` header's.
pub fn origin_matches_host(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let (Ok(origin), Some(Ok(host))) = (origin.to_str(), headers.get(header::HOST).map(|h| h.to_str())) else {
        return false;
    };
    let Some((scheme, authority)) = origin.split_once("://") else {
        return false; // "null" and the like
    };
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" | "ws" => ":80",
        "https" | "wss" => ":443",
        _ => return false,
    };
    let normal = |a: &str| {
        let a = a.trim().trim_end_matches('/').to_ascii_lowercase();
        match a.strip_suffix(default_port) {
            Some(stripped) => stripped.to_string(),
            None => a,
        }
    };
    !authority.is_empty() && normal(authority) == normal(host)
}

/// Whether the `Host` header names this machine by a loopback name or address (or is absent).
fn host_is_loopback(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST) else {
        return true;
    };
    let Ok(host) = host.to_str() else {
        return false;
    };
    let host = host.trim().to_ascii_lowercase();
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':').map_or(host.as_str(), |(name, _port)| name)
    };
    // Browsers resolve every `*.localhost` name to loopback themselves (RFC 6761), so no page
    // elsewhere can be served under one; an HTTP client may not, hence not in the shared rule.
    is_loopback_host(name) || name.ends_with(".localhost")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        map
    }

    fn uri(s: &str) -> Uri {
        s.parse().unwrap()
    }

    const HOST: (&str, &str) = ("host", "10.0.0.5:8765");

    #[test]
    fn token_required_beyond_loopback() {
        let any: SocketAddr = "0.0.0.0:8765".parse().unwrap();
        let (token, generated) = token_for(&any, None).unwrap();
        let token = token.unwrap();
        assert!(generated);
        assert_eq!(token.len(), GENERATED_LEN);
        assert!(token.bytes().all(|b| b.is_ascii_alphanumeric()), "{token}");
        assert_ne!(token, generate_token().unwrap());

        for addr in ["10.1.2.3:1", "[::]:8765", "192.168.1.2:0"] {
            let (token, generated) = token_for(&addr.parse().unwrap(), None).unwrap();
            assert!(token.is_some() && generated, "{addr}");
        }
        for addr in ["127.0.0.1:8765", "127.0.0.2:0", "[::1]:8765", "[::ffff:127.0.0.1]:1"] {
            assert_eq!(
                token_for(&addr.parse().unwrap(), None).unwrap(),
                (None, false),
                "{addr}"
            );
        }
        let local: SocketAddr = "127.0.0.1:8765".parse().unwrap();
        assert_eq!(
            token_for(&local, Some("abc".into())).unwrap(),
            (Some("abc".into()), false)
        );
        assert_eq!(
            token_for(&any, Some("abc".into())).unwrap(),
            (Some("abc".into()), false)
        );
        assert!(token_for(&any, Some(String::new())).is_err());
        assert!(token_for(&any, Some("a b".into())).is_err());
        assert!(token_for(&any, Some("a;b".into())).is_err());
    }

    #[test]
    fn query_header_and_cookie_accepted() {
        let auth = Auth::new(Some("s3cret".into()));
        let h = headers(&[HOST]);
        assert_eq!(auth.check(&h, &uri("/")), Verdict::Unauthorized);
        assert_eq!(auth.check(&h, &uri("/?token=wrong")), Verdict::Unauthorized);
        assert_eq!(auth.check(&h, &uri("/?token=s3cre")), Verdict::Unauthorized);
        assert_eq!(auth.check(&h, &uri("/?token=")), Verdict::Unauthorized);
        assert_eq!(
            auth.check(&h, &uri("/?token=s3cret")),
            Verdict::Allow { set_cookie: true }
        );
        assert_eq!(
            auth.check(&h, &uri("/ws?x=1&token=s3cret")),
            Verdict::Allow { set_cookie: true }
        );

        let bearer = headers(&[HOST, ("authorization", "Bearer s3cret")]);
        assert_eq!(
            auth.check(&bearer, &uri("/app.js")),
            Verdict::Allow { set_cookie: false }
        );
        let bearer = headers(&[HOST, ("authorization", "bearer  s3cret ")]);
        assert_eq!(
            auth.check(&bearer, &uri("/app.js")),
            Verdict::Allow { set_cookie: false }
        );
        let wrong = headers(&[HOST, ("authorization", "Bearer nope")]);
        assert_eq!(auth.check(&wrong, &uri("/app.js")), Verdict::Unauthorized);
        let basic = headers(&[HOST, ("authorization", "Basic s3cret")]);
        assert_eq!(auth.check(&basic, &uri("/app.js")), Verdict::Unauthorized);

        let cookie = headers(&[HOST, ("cookie", "a=1; voxdeck_token=s3cret; b=2")]);
        assert_eq!(
            auth.check(&cookie, &uri("/styles.css")),
            Verdict::Allow { set_cookie: false }
        );
        let two = headers(&[
            HOST,
            ("cookie", "voxdeck_token=other"),
            ("cookie", "voxdeck_token=s3cret"),
        ]);
        assert_eq!(
            auth.check(&two, &uri("/styles.css")),
            Verdict::Allow { set_cookie: false }
        );
        let wrong = headers(&[HOST, ("cookie", "voxdeck_token=nope; xvoxdeck_token=s3cret")]);
        assert_eq!(auth.check(&wrong, &uri("/styles.css")), Verdict::Unauthorized);

        let set = auth.cookie().unwrap();
        assert_eq!(
            set.to_str().unwrap(),
            "voxdeck_token=s3cret; HttpOnly; SameSite=Strict; Path=/"
        );
    }

    #[test]
    fn percent_encoded_query_token() {
        let auth = Auth::new(Some("a.b~c".into()));
        let h = headers(&[HOST]);
        assert_eq!(
            auth.check(&h, &uri("/?token=a%2Eb%7Ec")),
            Verdict::Allow { set_cookie: true }
        );
    }

    #[test]
    fn compare_is_exact() {
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "ab"));
        assert!(!constant_time_eq("", "a"));
        assert!(constant_time_eq("", ""));
    }

    #[test]
    fn no_token_on_loopback_names_only() {
        let auth = Auth::new(None);
        for host in [
            "127.0.0.1:8765",
            "localhost:8765",
            "LOCALHOST",
            "[::1]:8765",
            "127.0.0.1",
            "app.localhost:1",
        ] {
            let h = headers(&[("host", host)]);
            assert_eq!(
                auth.check(&h, &uri("/")),
                Verdict::Allow { set_cookie: false },
                "{host}"
            );
        }
        assert_eq!(
            auth.check(&HeaderMap::new(), &uri("/")),
            Verdict::Allow { set_cookie: false }
        );
        for host in ["evil.example:8765", "10.0.0.5:8765", "localhost.evil.example"] {
            let h = headers(&[("host", host)]);
            assert!(matches!(auth.check(&h, &uri("/")), Verdict::Forbidden(_)), "{host}");
        }
    }

    #[test]
    fn websocket_origin_must_match_host() {
        let auth = Auth::new(None);
        let ws = |origin: Option<&str>, host: &str| {
            let mut pairs = vec![("host", host), ("upgrade", "websocket"), ("connection", "Upgrade")];
            if let Some(o) = origin {
                pairs.push(("origin", o));
            }
            auth.check(&headers(&pairs), &uri("/ws"))
        };
        let allowed = Verdict::Allow { set_cookie: false };
        assert_eq!(ws(None, "127.0.0.1:8765"), allowed);
        assert_eq!(ws(Some("http://127.0.0.1:8765"), "127.0.0.1:8765"), allowed);
        assert_eq!(ws(Some("http://LOCALHOST:8765"), "localhost:8765"), allowed);
        assert_eq!(ws(Some("http://localhost"), "localhost:80"), allowed);
        assert_eq!(ws(Some("https://localhost:443"), "localhost"), allowed);
        assert!(matches!(
            ws(Some("http://evil.example"), "127.0.0.1:8765"),
            Verdict::Forbidden(_)
        ));
        assert!(matches!(
            ws(Some("http://127.0.0.1:9999"), "127.0.0.1:8765"),
            Verdict::Forbidden(_)
        ));
        assert!(matches!(
            ws(Some("http://localhost:8765"), "127.0.0.1:8765"),
            Verdict::Forbidden(_)
        ));
        assert!(matches!(ws(Some("null"), "127.0.0.1:8765"), Verdict::Forbidden(_)));
        assert!(matches!(ws(Some("file://"), "127.0.0.1:8765"), Verdict::Forbidden(_)));
        // Plain HTTP requests are not origin-checked (a page may link to the panel).
        let h = headers(&[("host", "127.0.0.1:8765"), ("origin", "http://evil.example")]);
        assert_eq!(auth.check(&h, &uri("/")), allowed);

        // With a token too: the right token does not excuse a foreign origin.
        let auth = Auth::new(Some("t".into()));
        let h = headers(&[HOST, ("upgrade", "websocket"), ("origin", "http://evil.example")]);
        assert!(matches!(auth.check(&h, &uri("/ws?token=t")), Verdict::Forbidden(_)));
        let h = headers(&[HOST, ("upgrade", "websocket"), ("origin", "http://10.0.0.5:8765")]);
        assert_eq!(auth.check(&h, &uri("/ws?token=t")), Verdict::Allow { set_cookie: true });
        // A missing token is a 401 before the origin is looked at.
        assert_eq!(auth.check(&h, &uri("/ws")), Verdict::Unauthorized);
    }
}
