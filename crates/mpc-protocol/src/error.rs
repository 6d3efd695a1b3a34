//! What can go wrong in a protocol run, said in terms the caller can act on:
//! retry, lock the wallet, or fix the input.

use dkls23::protocols::{Abort, AbortKind};

use crate::channel::{ChannelError, Party, Round};

/// A failed protocol run. It names the party that failed and the step it was
/// at; nothing partial (no share, no signature) ever accompanies it.
#[derive(Debug, thiserror::Error)]
#[error("{party} failed at step {round}: {kind}")]
pub struct ProtocolError {
    pub party: Party,
    pub round: Round,
    pub kind: ErrorKind,
}

/// Why a protocol run failed.
#[derive(Debug, thiserror::Error)]
pub enum ErrorKind {
    /// The message could not be exchanged (timeout, closed, peer aborted).
    #[error("channel failure: {0}")]
    Channel(#[from] ChannelError),

    /// DKLs23 proved the peer cheated in a way that leaks reusable OT state.
    /// The wallet must be locked: signing again with this peer lets it
    /// extract the key.
    #[error(
        "the peer misbehaved ({evidence}); lock this wallet and do not sign with this peer again"
    )]
    PeerMisbehaved { evidence: String },

    /// DKLs23 aborted without blaming the peer for reusable state (wrong
    /// session, failed proof, refresh mismatch...). Safe to retry.
    #[error("protocol aborted: {reason}; retry the operation")]
    Aborted { reason: String },

    /// The peer's payload was not a valid CBOR message for this step.
    #[error("malformed message from the peer: {detail}; retry the operation")]
    MalformedMessage { detail: String },

    /// The assembled signature does not verify against the (derived) public
    /// key, so it was discarded.
    #[error("signature verification failed: {detail}")]
    SignatureInvalid { detail: String },

    /// The caller's input cannot be used (bad derivation path, mismatched
    /// session context, unreadable share...).
    #[error("invalid input: {detail}")]
    InvalidInput { detail: String },
}

impl ProtocolError {
    pub fn new(party: Party, round: Round, kind: ErrorKind) -> Self {
        ProtocolError { party, round, kind }
    }

    /// Maps a DKLs23 abort: a ban becomes [`ErrorKind::PeerMisbehaved`], any
    /// other abort an ordinary [`ErrorKind::Aborted`].
    pub(crate) fn from_abort(party: Party, round: Round, abort: Abort) -> Self {
        let kind = match abort.kind {
            AbortKind::BanCounterparty(counterparty) => ErrorKind::PeerMisbehaved {
                evidence: format!(
                    "party {} must be banned: {}",
                    counterparty,
                    abort.description()
                ),
            },
            AbortKind::Recoverable => ErrorKind::Aborted {
                reason: abort.description(),
            },
        };
        ProtocolError::new(party, round, kind)
    }

    /// True when the peer must never be signed with again: the caller locks
    /// the wallet and keeps [`ErrorKind::PeerMisbehaved`]'s evidence.
    pub fn is_misbehaviour(&self) -> bool {
        matches!(self.kind, ErrorKind::PeerMisbehaved { .. })
    }

    /// True when running the same operation again may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::Channel(_) | ErrorKind::Aborted { .. } | ErrorKind::MalformedMessage { .. }
        )
    }

    /// Whether the peer should be told to stop. Not when it already stopped.
    pub(crate) fn should_notify_peer(&self) -> bool {
        !matches!(
            self.kind,
            ErrorKind::Channel(ChannelError::PeerAborted(_) | ChannelError::Closed)
        )
    }
}

pub type Result<T, E = ProtocolError> = std::result::Result<T, E>;
