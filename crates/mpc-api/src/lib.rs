//! The contracts between the wallet's processes, as data:
//!
//! - client ↔ co-signer: the request bodies each session opens with (inside
//!   the first Noise handshake message, so only the co-signer reads them), the
//!   stable [`RejectionCode`]s, and the confirmation rounds that follow the
//!   protocol so that neither side keeps a share the other side does not have;
//! - client ↔ broadcaster: the JetStream work queue signed transactions go
//!   into and the result each one gets ([`broadcast`]).
//!
//! Types and subjects only: no file format, no protocol logic.

pub mod broadcast;
mod codes;
mod policy;

pub use codes::RejectionCode;
pub use policy::{PolicyRule, PolicyViolation};

use mpc_evm::SignPayload;
use mpc_protocol::{ChannelError, PeerChannel, Round};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// The threshold protocol both sides run; recorded in share metadata so a
/// future backend can tell its shares apart.
pub const PROTOCOL: &str = "dkls23";

/// Opens a keygen session for a new wallet id chosen by the client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeygenRequest {
    pub wallet_id: String,
    pub protocol: String,
    /// A single-use token from the co-signer's operator (`mpc-cosigner
    /// enroll`), for a client whose key is not on its allowlist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enrollment_token: Option<String>,
}

/// Opens a signing session. The co-signer recomputes the digest from
/// `payload` itself: it never signs a digest it cannot see the source of.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignRequest {
    pub wallet_id: String,
    /// The client's share version; both must hold the same one.
    pub share_version: u32,
    /// BIP32 path, e.g. `m` or `m/0/7`.
    pub path: String,
    pub payload: SignPayload,
}

/// Opens a key refresh (rotation) session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefreshRequest {
    pub wallet_id: String,
    pub share_version: u32,
}

/// Asks the co-signer which share version it holds for a wallet. Sent by
/// the wallet's pinned client identity, so the answer comes inside the
/// authenticated session; no rounds follow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusRequest {
    pub wallet_id: String,
}

/// The co-signer's answer to an accepted request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Accepted {
    /// The co-signer's share version after the request is accepted.
    pub share_version: u32,
}

/// Confirmation rounds. Each carries an empty [`Confirm`] body: receiving it
/// authenticated is the whole message.
pub mod rounds {
    use super::Round;

    /// Co-signer → client after keygen: its share is on disk, the client may
    /// now write its own (so a client never keeps a share without a peer).
    pub const KEYGEN_SAVED: Round = Round("keygen.saved");
    /// Client → co-signer after keygen: the client's share is on disk too.
    /// Until then the co-signer keeps its share only as unconfirmed (for a
    /// bounded time), so an interrupted keygen leaves no orphan wallet.
    pub const KEYGEN_WRITTEN: Round = Round("keygen.written");
    /// Co-signer → client: the new wallet is confirmed and stays.
    pub const KEYGEN_CONFIRMED: Round = Round("keygen.confirmed");
    /// Both ways after refresh: the new share is staged beside the old one.
    pub const REFRESH_STAGED: Round = Round("refresh.staged");
    /// Co-signer → client: the new share replaced the old one; the client
    /// promotes its own staged share next.
    pub const REFRESH_PROMOTED: Round = Round("refresh.promoted");
}

/// What both sides sign with their refreshed shares before either replaces
/// its old share: proof that the new pair works. Bound to the session, so it
/// is never a digest of anything else.
pub fn refresh_check_digest(session_id: &str) -> [u8; 32] {
    Sha256::new()
        .chain_update(b"mpc-wallet/refresh-check/v1\0")
        .chain_update(session_id.as_bytes())
        .finalize()
        .into()
}

/// The body of a confirmation round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirm {
    pub share_version: u32,
}

/// Why a confirmation round failed.
#[derive(Debug, thiserror::Error)]
pub enum ConfirmError {
    #[error("no {round} confirmation from the peer: {source}")]
    Channel {
        round: Round,
        #[source]
        source: ChannelError,
    },
    #[error(transparent)]
    Malformed(#[from] DecodeError),
    #[error("the peer confirmed share version {got} at {round}, expected {expected}")]
    WrongVersion {
        round: Round,
        got: u32,
        expected: u32,
    },
}

/// Sends a confirmation round.
pub async fn send_confirm<C: PeerChannel>(
    channel: &mut C,
    round: Round,
    share_version: u32,
) -> Result<(), ConfirmError> {
    let body = Zeroizing::new(encode(&Confirm { share_version }));
    channel
        .send(round, body)
        .await
        .map_err(|source| ConfirmError::Channel { round, source })
}

/// Waits for the peer's confirmation round and checks its share version.
pub async fn recv_confirm<C: PeerChannel>(
    channel: &mut C,
    round: Round,
    expected_version: u32,
) -> Result<(), ConfirmError> {
    let body = channel
        .recv(round)
        .await
        .map_err(|source| ConfirmError::Channel { round, source })?;
    let confirm: Confirm = decode("confirmation", &body)?;
    if confirm.share_version != expected_version {
        return Err(ConfirmError::WrongVersion {
            round,
            got: confirm.share_version,
            expected: expected_version,
        });
    }
    Ok(())
}

pub use mpc_cbor::{decode, encode, DecodeError};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_request_round_trips_through_cbor() {
        let request = SignRequest {
            wallet_id: "w-1".into(),
            share_version: 3,
            path: "m/0/7".into(),
            payload: SignPayload::PersonalMessage(b"hello".to_vec().into()),
        };
        let decoded: SignRequest = decode("sign request", &encode(&request)).unwrap();
        assert_eq!(decoded, request);
    }

    #[test]
    fn decoding_the_wrong_shape_names_what_was_expected() {
        let error = decode::<SignRequest>("sign request", &encode(&Confirm { share_version: 1 }))
            .unwrap_err();
        assert_eq!(error.what, "sign request");
    }
}
