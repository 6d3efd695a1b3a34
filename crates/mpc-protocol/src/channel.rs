//! How the protocol talks to its one peer. The protocol knows nothing of the
//! transport: tests use [`memory::pair`](crate::memory::pair), production uses
//! the NATS session (`mpc-session`), and both implement [`PeerChannel`].

use std::fmt;
use std::future::Future;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// One of the two parties of the 2-of-2 wallet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Party {
    /// The `mpc` CLI side (DKLs23 party index 1).
    Client,
    /// The co-signer worker (DKLs23 party index 2).
    Cosigner,
}

impl Party {
    pub fn peer(self) -> Party {
        match self {
            Party::Client => Party::Cosigner,
            Party::Cosigner => Party::Client,
        }
    }

    /// The 1-based DKLs23 party index.
    pub fn index(self) -> u8 {
        match self {
            Party::Client => 1,
            Party::Cosigner => 2,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Party::Client => "client",
            Party::Cosigner => "cosigner",
        }
    }

    pub fn parse(name: &str) -> Option<Party> {
        match name {
            "client" => Some(Party::Client),
            "cosigner" => Some(Party::Cosigner),
            _ => None,
        }
    }
}

impl fmt::Display for Party {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A named protocol step such as `"dkg.2"` or `"sign.3"`. Transports carry it
/// in readable headers and bind it into the message authentication, so a
/// message can never be accepted for a different step than it was sent for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Round(pub &'static str);

impl Round {
    pub fn as_str(self) -> &'static str {
        self.0
    }
}

impl fmt::Display for Round {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// Why a message could not be exchanged with the peer. Every variant is an
/// ordinary failure: the session aborts cleanly and may be retried.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChannelError {
    #[error("timed out after {seconds} s waiting for the peer's {round} message")]
    Timeout { round: String, seconds: u64 },
    #[error("the peer aborted the session: {0}")]
    PeerAborted(String),
    #[error("the session channel is closed")]
    Closed,
    #[error("transport failure: {0}")]
    Transport(String),
    /// The peer sent more for future rounds than may be held: a flood.
    #[error(
        "the peer sent {bytes} bytes for rounds not reached yet, past the {scope} limit of \
         {limit} bytes: session ended"
    )]
    OverBudget {
        /// Which limit: this session's, or the one all sessions share.
        scope: &'static str,
        bytes: usize,
        limit: usize,
    },
}

/// A bidirectional, authenticated, ordered-per-round channel to the one peer.
///
/// Payloads are the CBOR encoding of one round's protocol message. Some are
/// secret (DKG phase messages carry polynomial evaluations), so they travel in
/// [`Zeroizing`] buffers and implementations must encrypt them end to end.
pub trait PeerChannel: Send {
    /// Sends this party's message for `round` to the peer.
    fn send(
        &mut self,
        round: Round,
        payload: Zeroizing<Vec<u8>>,
    ) -> impl Future<Output = Result<(), ChannelError>> + Send;

    /// Waits for the peer's message for `round`. Messages for other rounds,
    /// duplicates and anything that fails authentication are not returned.
    fn recv(
        &mut self,
        round: Round,
    ) -> impl Future<Output = Result<Zeroizing<Vec<u8>>, ChannelError>> + Send;

    /// Tells the peer this party gave up, so it fails at once instead of
    /// waiting for a timeout. Best effort: errors are ignored.
    fn abort(&mut self, reason: &str) -> impl Future<Output = ()> + Send;
}
