use std::str::FromStr;
use std::time::Duration;

use std::sync::Arc;

use async_nats::{Client, ConnectErrorKind, ConnectOptions, Event, ServerAddr, ServerError};
use percent_encoding::percent_decode_str;

use crate::SessionError;

/// Connects to the broker at `url` (`nats://[user:password@]host:port`).
///
/// The first connection attempt is not retried, so an unreachable broker is
/// reported at once; once connected, the client reconnects for ever, so a
/// broker restart between sessions goes unnoticed by the caller (a session in
/// flight during the restart times out).
pub async fn connect(url: &str) -> Result<Client, SessionError> {
    Ok(connect_watching(url).await?.0)
}

/// Permission violations the broker reported on one connection. A worker
/// started with another role's credentials is a deployment error: it should
/// stop with that said, not run on with a warning nobody reads.
#[derive(Debug, Clone)]
pub struct PermissionViolations(tokio::sync::watch::Receiver<Option<String>>);

/// How long the broker's `-ERR` for a refused subscription may trail the
/// flush that sent it (the error reaches us through the event task).
const VIOLATION_GRACE: Duration = Duration::from_millis(300);

impl PermissionViolations {
    /// Flushes what `nats` sent so far and fails if the broker refused any of it.
    pub async fn check(&mut self, nats: &Client) -> Result<(), SessionError> {
        nats.flush().await.map_err(SessionError::transport)?;
        let _ = tokio::time::timeout(VIOLATION_GRACE, self.0.wait_for(Option::is_some)).await;
        self.reported().map_or(Ok(()), Err)
    }

    /// The violation reported so far, if any, as an error.
    pub fn reported(&self) -> Option<SessionError> {
        self.0
            .borrow()
            .clone()
            .map(|detail| SessionError::PermissionDenied { detail })
    }
}

/// [`connect`], also returning the connection's [`PermissionViolations`].
///
/// `url` may name several servers of one cluster, comma-separated
/// (`nats://user:pw@a:4222,nats://user:pw@b:4222`): the client connects to
/// any that answers and fails over to the others, and learns the rest of the
/// cluster from the server it reaches.
pub async fn connect_watching(url: &str) -> Result<(Client, PermissionViolations), SessionError> {
    let invalid = |reason: String| SessionError::InvalidUrl {
        url: redact(url),
        reason,
    };
    let servers = parse_servers(url).map_err(invalid)?;
    let (violations, watch) = tokio::sync::watch::channel(None);
    let violations = Arc::new(violations);
    let mut options = ConnectOptions::new()
        .name("mpc-session")
        .connection_timeout(Duration::from_secs(5))
        .event_callback(move |event| {
            let violations = Arc::clone(&violations);
            async move {
                if let Event::ServerError(ServerError::Other(text)) = &event {
                    if text.to_ascii_lowercase().contains("permissions violation") {
                        violations.send_replace(Some(text.clone()));
                    }
                }
                log_event(event)
            }
        });
    if let Some((user, password)) = &servers.credentials {
        options = options.user_and_password(user.clone(), password.clone());
    }
    let shown = servers.shown();
    let user = servers.credentials.map(|(user, _)| user);
    let client = options.connect(servers.addrs).await.map_err(|e| {
        let reason = match e.kind() {
            ConnectErrorKind::AuthorizationViolation | ConnectErrorKind::Authentication => format!(
                "the broker refused user {:?}; check the role's password",
                user.as_deref().unwrap_or("(none)")
            ),
            _ => format!("{e}; is the broker running, and is MPC_NATS_URL right?"),
        };
        SessionError::Connect { url: shown, reason }
    })?;
    Ok((client, PermissionViolations(watch)))
}

/// The servers of a (comma-separated) URL, without their credentials, which
/// travel in CONNECT only and must be the same for every server.
struct Servers {
    addrs: Vec<ServerAddr>,
    credentials: Option<(String, String)>,
}

impl Servers {
    /// The servers as errors name them: no credentials.
    fn shown(&self) -> String {
        let shown: Vec<String> = self
            .addrs
            .iter()
            .map(|a| a.clone().into_inner().to_string())
            .collect();
        shown.join(",")
    }
}

fn parse_servers(url: &str) -> Result<Servers, String> {
    let mut addrs = Vec::new();
    let mut credentials: Option<Option<(String, String)>> = None;
    for part in url.split(',').map(str::trim) {
        let addr = ServerAddr::from_str(part).map_err(|e| e.to_string())?;
        let user = addr.username().map(decode).transpose()?;
        let password = addr.password().map(decode).transpose()?;
        let these = user.map(|user| (user, password.unwrap_or_default()));
        match &credentials {
            Some(seen) if *seen != these => {
                return Err("every server in the list must carry the same user and password".into())
            }
            Some(_) => {}
            None => credentials = Some(these),
        }
        let mut bare = addr.into_inner();
        let _ = bare.set_username("");
        let _ = bare.set_password(None);
        addrs.push(ServerAddr::from_url(bare).map_err(|e| e.to_string())?);
    }
    Ok(Servers {
        addrs,
        credentials: credentials.flatten(),
    })
}

fn decode(part: &str) -> Result<String, String> {
    percent_decode_str(part)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| "credentials are not UTF-8".to_owned())
}

/// `url` (each server of it) without any `user:password@`, for error messages.
fn redact(url: &str) -> String {
    let redact_one = |url: &str| match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}{}", &url[..scheme + 3], &url[at + 1..])
        }
        _ => url.to_owned(),
    };
    url.split(',').map(redact_one).collect::<Vec<_>>().join(",")
}

fn log_event(event: Event) {
    match event {
        Event::Connected => tracing::info!("connected to the NATS broker"),
        Event::Disconnected => tracing::warn!("disconnected from the NATS broker; reconnecting"),
        Event::ServerError(error) => tracing::warn!(%error, "NATS broker reported an error"),
        other => tracing::debug!(event = %other, "NATS client event"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_credentials() {
        assert_eq!(redact("nats://u:p@h:1"), "nats://h:1");
        assert_eq!(redact("nats://h:1"), "nats://h:1");
        assert_eq!(
            redact("nats://u:p@h:1,nats://u:p@g:2"),
            "nats://h:1,nats://g:2"
        );
    }

    #[test]
    fn a_server_list_shares_one_set_of_credentials() {
        let servers = parse_servers("nats://u:p%40ss@h:1, nats://u:p%40ss@g:2").unwrap();
        assert_eq!(servers.addrs.len(), 2);
        assert_eq!(servers.credentials, Some(("u".into(), "p@ss".into())));
        assert_eq!(servers.shown(), "nats://h:1,nats://g:2");
        let mixed = parse_servers("nats://u:p@h:1,nats://v:q@g:2")
            .err()
            .unwrap();
        assert!(mixed.contains("same user and password"), "{mixed}");
    }

    #[tokio::test]
    async fn a_server_list_connects_to_the_one_that_answers() {
        let nats = mpc_testkit::NatsServer::start();
        let dead = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let password = nats.password(mpc_testkit::Role::Client);
        let url = format!(
            "nats://client:{password}@127.0.0.1:{dead},nats://client:{password}@127.0.0.1:{}",
            nats.port()
        );
        let client = connect(&url).await.expect("the live server answers");
        client.flush().await.unwrap();
    }

    #[tokio::test]
    async fn unreachable_broker_fails_fast_without_leaking_the_password() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let started = std::time::Instant::now();
        let err = connect(&format!("nats://client:s3cret@127.0.0.1:{port}"))
            .await
            .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(3));
        let text = err.to_string();
        assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
        assert!(text.contains("is the broker running"), "{text}");
        assert!(!text.contains("s3cret"), "{text}");
    }

    #[tokio::test]
    async fn rejects_garbage_urls() {
        assert!(matches!(
            connect("not a url").await,
            Err(SessionError::InvalidUrl { .. })
        ));
    }
}
