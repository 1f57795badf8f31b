//! Which base URLs the cloud engine may talk to: `https://` anywhere, plain `http://` only to
//! this machine. Over plain HTTP the API key and the conversation cross the network in clear;
//! on loopback they never leave the machine (llama-server, vLLM, Ollama, LM Studio).

use reqwest::Url;

use super::CloudError;
use crate::loopback::is_loopback_host;

/// A base URL that passed the policy, without a trailing slash.
#[derive(Debug, Clone)]
pub(crate) struct BaseUrl {
    pub text: String,
    pub loopback: bool,
}

impl BaseUrl {
    /// `{base}/{path}`.
    pub fn join(&self, path: &str) -> Result<Url, CloudError> {
        let joined = format!("{}/{path}", self.text);
        Url::parse(&joined).map_err(|e| CloudError::BadUrl { url: joined, reason: e.to_string() })
    }
}

pub(crate) fn check_base_url(raw: &str) -> Result<BaseUrl, CloudError> {
    let bad = |reason: &str| CloudError::BadUrl { url: raw.to_owned(), reason: reason.to_owned() };
    let text = raw.trim().trim_end_matches('/');
    if text.is_empty() {
        return Err(bad("it is empty; set cloud.base_url or choose a provider"));
    }
    let url = Url::parse(text).map_err(|e| bad(&e.to_string()))?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("a base URL has no query or fragment"));
    }
    let Some(host) = url.host_str().filter(|h| !h.is_empty()) else { return Err(bad("it has no host")) };
    let loopback = is_loopback_host(host);
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => {
            return Err(CloudError::InsecureUrl {
                url: text.to_owned(),
                reason: "plain http:// would send the API key and the conversation unencrypted; \
                         use https://, or http:// only to this machine (127.0.0.1, ::1, localhost)"
                    .into(),
            });
        }
        other => return Err(bad(&format!("scheme {other}:// is not http(s)"))),
    }
    Ok(BaseUrl { text: text.to_owned(), loopback })
}

/// The host people know an API by: the base URL's host and, when it names one, its port.
pub fn api_host(base_url: &str) -> String {
    match reqwest::Url::parse(base_url.trim()) {
        Ok(url) => match (url.host_str(), url.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_owned(),
            _ => base_url.trim().to_owned(),
        },
        Err(_) => base_url.trim().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_anywhere_http_only_to_loopback() {
        let table = [
            ("https://openrouter.ai/api/v1", Some(false)),
            ("https://api.groq.com/openai/v1/", Some(false)),
            ("https://192.168.1.5:8443/v1", Some(false)),
            ("http://127.0.0.1:8080/v1", Some(true)),
            ("http://127.3.4.5/v1", Some(true)),
            ("http://[::1]:11434/v1", Some(true)),
            ("http://[::ffff:127.0.0.1]/v1", Some(true)),
            ("http://localhost:1234/v1", Some(true)),
            ("http://LOCALHOST/v1", Some(true)),
            ("http://example.com/v1", None),
            ("http://192.168.1.5:8080/v1", None),
            ("http://10.0.0.1/v1", None),
            ("http://[fe80::1]/v1", None),
            ("http://localhost.example.com/v1", None),
            ("http://127.0.0.1.nip.io/v1", None),
        ];
        for (url, loopback) in table {
            match (check_base_url(url), loopback) {
                (Ok(base), Some(expected)) => assert_eq!(base.loopback, expected, "{url}"),
                (Err(CloudError::InsecureUrl { reason, .. }), None) => assert!(reason.contains("unencrypted"), "{url}"),
                (other, _) => panic!("{url}: {other:?}"),
            }
        }
    }

    #[test]
    fn loopback_is_recognised_through_the_public_helper() {
        assert!(crate::llm::cloud::is_loopback_url("http://[::1]:8080/v1"));
        assert!(crate::llm::cloud::is_loopback_url("https://localhost/v1"));
        assert!(!crate::llm::cloud::is_loopback_url("https://openrouter.ai/api/v1"));
        assert!(!crate::llm::cloud::is_loopback_url("http://192.168.1.5/v1"));
    }

    #[test]
    fn other_urls_are_refused_as_bad() {
        for url in ["", "openrouter.ai/api/v1", "ftp://127.0.0.1/v1", "https://x.ai/v1?key=1", "file:///v1"] {
            assert!(matches!(check_base_url(url), Err(CloudError::BadUrl { .. })), "{url}");
        }
    }

    #[test]
    fn the_trailing_slash_is_dropped_before_joining() {
        let base = check_base_url("http://127.0.0.1:8080/v1/").expect("loopback");
        assert_eq!(base.join("chat/completions").expect("url").as_str(), "http://127.0.0.1:8080/v1/chat/completions");
    }
}
