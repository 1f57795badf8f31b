//! Whether an address or a host name stays on this machine: the one rule behind plain-http
//! downloads, plain-http cloud servers and `voxdeck serve`'s token-less mode.

use std::net::IpAddr;

/// 127.0.0.0/8 and `::1`, also written as IPv4-mapped IPv6 (`::ffff:127.0.0.1`), which reaches
/// the same loopback interface.
pub fn is_loopback_ip(ip: IpAddr) -> bool {
    ip.to_canonical().is_loopback()
}

/// A URL's host: `localhost` in any case, or a loopback address (IPv6 with or without its
/// brackets). Other names, `localhost.example.com` or `127.0.0.1.nip.io` among them, may
/// resolve anywhere.
pub fn is_loopback_host(host: &str) -> bool {
    let is_loopback_address = |text: &str| text.parse::<IpAddr>().is_ok_and(is_loopback_ip);
    match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(address) => is_loopback_address(address),
        None => host.eq_ignore_ascii_case("localhost") || is_loopback_address(host),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        let table = [
            ("127.0.0.1", true),
            ("127.3.4.5", true),
            ("::1", true),
            ("[::1]", true),
            ("[::ffff:127.0.0.1]", true),
            ("::ffff:7f00:1", true),
            ("localhost", true),
            ("LOCALHOST", true),
            ("", false),
            ("0.0.0.0", false),
            ("[::]", false),
            ("10.0.0.1", false),
            ("192.168.1.5", false),
            ("[::ffff:192.168.1.5]", false),
            ("[fe80::1]", false),
            ("example.com", false),
            ("localhost.example.com", false),
            ("127.0.0.1.nip.io", false),
            ("[localhost]", false),
        ];
        for (host, loopback) in table {
            assert_eq!(is_loopback_host(host), loopback, "{host:?}");
            if let Ok(ip) = host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<IpAddr>()
            {
                assert_eq!(is_loopback_ip(ip), loopback, "{host:?}");
            }
        }
    }
}
