//! Read-only view of a session's traffic, for `mpc watch <session>`.

use async_nats::{Client, Subscriber};
use futures::StreamExt;
use serde::Serialize;

use crate::subjects::{self, SessionId};
use crate::wire::RoundEnvelope;
use crate::SessionError;

/// What a bystander sees of one round message: routing facts, never content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WatchRecord {
    pub subject: String,
    /// `Mpc-*` headers, sorted by name.
    pub headers: Vec<(String, String)>,
    /// Total ciphertext bytes; `None` when the payload is not a round envelope.
    pub ciphertext_len: Option<usize>,
}

/// A subscription to both directions of one session. Dropping it unsubscribes.
#[derive(Debug)]
pub struct Watch {
    subscriber: Subscriber,
}

pub async fn watch(nats: &Client, session: &SessionId) -> Result<Watch, SessionError> {
    let subscriber = nats
        .subscribe(subjects::session_all(session))
        .await
        .map_err(SessionError::transport)?;
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
        Some(WatchRecord {
            subject: message.subject.to_string(),
            headers,
            ciphertext_len,
        })
    }
}
