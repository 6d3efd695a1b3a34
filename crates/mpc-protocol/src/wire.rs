//! The one-step exchange with the peer that every round of every operation
//! goes through; messages are CBOR (`mpc_cbor`).

use serde::de::DeserializeOwned;
use serde::Serialize;
use tracing::debug;

use crate::channel::{Party, PeerChannel, Round};
use crate::error::{ErrorKind, ProtocolError, Result};

/// One party's side of a protocol run: who it is and the channel to its peer.
pub(crate) struct Wire<'c, C> {
    pub(crate) party: Party,
    channel: &'c mut C,
}

impl<'c, C> Wire<'c, C> {
    pub(crate) fn new(party: Party, channel: &'c mut C) -> Self {
        Wire { party, channel }
    }

    /// An error at `round` for this party.
    pub(crate) fn error(&self, round: Round, kind: ErrorKind) -> ProtocolError {
        ProtocolError::new(self.party, round, kind)
    }
}

impl<C: PeerChannel> Wire<'_, C> {
    /// Sends our message for `round`, then waits for the peer's. Both sides
    /// send first: sends never wait for the peer, so this cannot deadlock.
    pub(crate) async fn exchange<T, U>(&mut self, round: Round, ours: &T) -> Result<U>
    where
        T: Serialize + Sync,
        U: DeserializeOwned,
    {
        // Our messages can hold secret shares: zeroized when sent or dropped.
        let payload = mpc_cbor::encode_secret(ours);
        debug!(party = %self.party, %round, "sending");
        self.channel
            .send(round, payload)
            .await
            .map_err(|e| self.error(round, e.into()))?;
        let received = self
            .channel
            .recv(round)
            .await
            .map_err(|e| self.error(round, e.into()))?;
        debug!(party = %self.party, %round, "received");
        mpc_cbor::decode("protocol message", &received)
            .map_err(|e| self.error(round, ErrorKind::MalformedMessage { detail: e.detail }))
    }

    /// Tells the peer to stop when `result` is a local failure, then hands
    /// the result back unchanged.
    pub(crate) async fn finish<T>(&mut self, result: Result<T>) -> Result<T> {
        if let Err(error) = &result {
            debug!(party = %self.party, round = %error.round, "aborting: {}", error.kind);
            if error.should_notify_peer() {
                self.channel.abort(&error.to_string()).await;
            }
        }
        result
    }
}
