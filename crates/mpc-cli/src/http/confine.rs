//! What keeps web pages away from a signing endpoint on the user's machine.
//! A page can make the browser POST to 127.0.0.1 (a `text/plain` body needs
//! no preflight), and DNS rebinding points any hostname at loopback. Neither
//! gets through: requests must name a loopback host (or the address the
//! server was told to listen on), must not come from a page (no `Origin`),
//! and JSON-RPC bodies must be JSON. No CORS header is ever sent, so a
//! browser never hands a response to a page either.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

use super::error::HttpError;
use super::Server;

/// The hosts requests may name: loopback, plus the listen address itself
/// when the operator chose one beyond loopback (any address for 0.0.0.0):
/// only names can be rebound, IP literals cannot.
#[derive(Debug, Clone, Copy)]
pub struct AllowedHosts {
    listen: SocketAddr,
}

impl AllowedHosts {
    pub fn new(listen: SocketAddr) -> Self {
        AllowedHosts { listen }
    }

    fn allows(&self, host: &str) -> bool {
        let name = host_name(host);
        if name.eq_ignore_ascii_case("localhost") || ends_with_ignore_case(name, ".localhost") {
            return true;
        }
        match name
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
        {
            Ok(ip) => {
                ip.is_loopback() || ip == self.listen.ip() || self.listen.ip().is_unspecified()
            }
            Err(_) => false,
        }
    }
}

/// The name in a `Host` value, without its port (`[::1]:8645` → `[::1]`).
fn host_name(host: &str) -> &str {
    let host = host.trim();
    if host.starts_with('[') {
        return host.split_inclusive(']').next().unwrap_or(host);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

fn ends_with_ignore_case(text: &str, suffix: &str) -> bool {
    text.len() >= suffix.len()
        && text.as_bytes()[text.len() - suffix.len()..].eq_ignore_ascii_case(suffix.as_bytes())
}

/// Refuses a foreign `Host` and any `Origin`, before the token is even looked at.
pub async fn local_callers_only(
    State(server): State<Arc<Server>>,
    request: Request,
    next: Next,
) -> Result<Response, HttpError> {
    let headers = request.headers();
    if let Some(host) = headers.get(header::HOST) {
        let allowed = host.to_str().is_ok_and(|host| server.hosts.allows(host));
        if !allowed {
            return Err(HttpError::new(
                StatusCode::FORBIDDEN,
                "forbidden_host",
                "the Host header names neither localhost nor a loopback address: \
                 connect to http://127.0.0.1:<port> (DNS names are refused against DNS rebinding)",
            ));
        }
    }
    if headers.contains_key(header::ORIGIN) {
        return Err(HttpError::new(
            StatusCode::FORBIDDEN,
            "forbidden_origin",
            "requests from web pages (with an Origin header) are refused: \
             call the API from a local program, not a browser",
        ));
    }
    Ok(next.run(request).await)
}

/// JSON-RPC bodies must say they are JSON: a form or `text/plain` body is
/// what a web page can send without a preflight.
pub fn require_json(headers: &HeaderMap) -> Result<(), HttpError> {
    // Every Content-Type header, not just the first, must say JSON.
    let mut types = headers.get_all(header::CONTENT_TYPE).iter().peekable();
    let is_json = types.peek().is_some()
        && types.all(|value| {
            value
                .to_str()
                .ok()
                .and_then(|value| value.split(';').next())
                .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
        });
    if is_json {
        return Ok(());
    }
    Err(HttpError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        "send JSON-RPC with `Content-Type: application/json`",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_names_and_addresses_pass_and_others_do_not() {
        let hosts = AllowedHosts::new("127.0.0.1:8645".parse().unwrap());
        for host in [
            "127.0.0.1:8645",
            "127.0.0.1",
            "127.9.9.9:1",
            "localhost:8645",
            "LOCALHOST",
            "wallet.localhost:8645",
            "[::1]:8645",
            "[::1]",
        ] {
            assert!(hosts.allows(host), "{host} should pass");
        }
        for host in [
            "evil.example:8645",
            "localhost.evil.example",
            "127.0.0.1.nip.io",
            "10.0.0.5:8645",
            "[::2]:8645",
            "",
        ] {
            assert!(!hosts.allows(host), "{host} should be refused");
        }
    }

    #[test]
    fn a_listen_address_beyond_loopback_is_allowed_by_its_literal_only() {
        let hosts = AllowedHosts::new("10.0.0.5:8645".parse().unwrap());
        assert!(hosts.allows("10.0.0.5:8645"));
        assert!(!hosts.allows("10.0.0.6:8645"));
        assert!(!hosts.allows("wallet.internal:8645"));
        let everywhere = AllowedHosts::new("0.0.0.0:8645".parse().unwrap());
        assert!(everywhere.allows("10.0.0.6:8645"));
        assert!(!everywhere.allows("wallet.internal:8645"));
    }

    #[test]
    fn only_application_json_is_json() {
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, value.parse().unwrap());
            require_json(&headers).is_ok()
        };
        assert!(with("application/json"));
        assert!(with("Application/JSON; charset=utf-8"));
        assert!(!with("text/plain"));
        assert!(!with("application/x-www-form-urlencoded"));
        assert!(!with("multipart/form-data; boundary=x"));
        assert!(require_json(&HeaderMap::new()).is_err());
        let mut two = HeaderMap::new();
        two.append(header::CONTENT_TYPE, "application/json".parse().unwrap());
        two.append(header::CONTENT_TYPE, "text/plain".parse().unwrap());
        assert!(require_json(&two).is_err());
    }
}
