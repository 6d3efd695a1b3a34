//! Read-only view of session traffic, for `mpc watch <session>` and `mpc watch --all`.

use async_nats::{Client, Subscriber};
use futures::StreamExt;
use serde::Serialize;

use crate::subjects::{self, SessionId};
use crate::wire::RoundEnvelope;
use crate::SessionError;

/// What a bystander sees of one round message: routing facts, never content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WatchRecord {
    /// The session the message belongs to, from its subject.
    pub session: String,
    pub subject: String,
    /// `Mpc-*` headers, sorted by name.
    pub headers: Vec<(String, String)>,
    /// Total ciphertext bytes; `None` when the payload is not a round envelope.
    pub ciphertext_len: Option<usize>,
}

/// A subscription to session traffic. Dropping it unsubscribes.
#[derive(Debug)]
pub struct Watch {
    subscriber: Subscriber,
}

/// Follows both directions of one session.
pub async fn watch(nats: &Client, session: &SessionId) -> Result<Watch, SessionError> {
    subscribe(nats, subjects::session_all(session)).await
}

/// Follows every session, as they open.
pub async fn watch_all(nats: &Client) -> Result<Watch, SessionError> {
    subscribe(nats, format!("{}.session.>", subjects::PREFIX)).await
}

async fn subscribe(nats: &Client, subject: String) -> Result<Watch, SessionError> {
    let subscriber = nats
        .subscribe(subject)
        .await
        .map_err(SessionError::transport)?;
    // Subscribed at the broker before returning: nothing published after
    // this returns is missed.
    nats.flush().await.map_err(SessionError::transport)?;
    Ok(Watch { subscriber })
}

impl Watch {
    /// The next message seen; `None` once the subscription ends.
    pub async fn next(&mut self) -> Option<WatchRecord> {
        let message = self.subscriber.next().await?;
        let mut headers: Vec<(String, String)> = message
            .headers
            .iter()
            .flat_map(|map| map.iter())
            .flat_map(|(name, values)| {
                values
                    .iter()
                    .map(move |value| (name.to_string(), value.to_string()))
            })
            .collect();
        headers.sort();
        let ciphertext_len = mpc_cbor::decode::<RoundEnvelope>("round envelope", &message.payload)
            .ok()
            .map(|envelope| envelope.ciphertext.iter().map(|frame| frame.len()).sum());
        let subject = message.subject.to_string();
        // mpc.v1.session.<session>.<to_party>
        let session = subject.split('.').nth(3).unwrap_or_default().to_owned();
        Some(WatchRecord {
            session,
            subject,
            headers,
            ciphertext_len,
        })
    }
}
