//! The contract between `mpc` and `mpc-cosigner`: the request bodies each
//! session opens with (inside the first Noise handshake message, so only the
//! co-signer reads them), the stable rejection codes, and the confirmation
//! rounds that follow the protocol so that neither side keeps a share the
//! other side does not have.

use mpc_evm::SignPayload;
use mpc_protocol::{ChannelError, PeerChannel, Round};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// The threshold protocol both sides run; recorded in share metadata so a
/// future backend can tell its shares apart.
pub const PROTOCOL: &str = "dkls23";

/// How each side records a new wallet: the share header (authenticated by the
/// file's AEAD) pins the other party's Noise identity and names the protocol.
pub mod pairing {
    use std::collections::BTreeMap;

    use mpc_protocol::KeyShare;
    use mpc_store::{ShareInfo, ShareMeta, ShareParty};

    use super::PROTOCOL;

    /// Header metadata key of the pinned peer identity (hex X25519 key).
    pub const PEER_IDENTITY: &str = "peer_identity";
    const PROTOCOL_KEY: &str = "protocol";

    /// The header of a new wallet's share, pinning `peer_identity`.
    pub fn new_share_meta(
        wallet_id: &str,
        party: ShareParty,
        share: &KeyShare,
        peer_identity: &[u8; 32],
    ) -> ShareMeta {
        ShareMeta {
            wallet_id: wallet_id.to_owned(),
            party,
            share_version: 0,
            public_key: hex::encode(share.public_key().to_compressed()),
            metadata: BTreeMap::from([
                (PEER_IDENTITY.to_owned(), hex::encode(peer_identity)),
                (PROTOCOL_KEY.to_owned(), PROTOCOL.to_owned()),
            ]),
        }
    }

    /// The peer identity pinned in a loaded share's header.
    pub fn pinned_peer(info: &ShareInfo) -> Option<[u8; 32]> {
        let bytes = hex::decode(info.metadata.get(PEER_IDENTITY)?).ok()?;
        bytes.try_into().ok()
    }
}

/// Opens a keygen session for a new wallet id chosen by the client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeygenRequest {
    pub wallet_id: String,
    pub protocol: String,
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

/// Stable codes of the co-signer's rejections (`Rejection::code`).
pub mod codes {
    /// No wallet with this id on the co-signer.
    pub const UNKNOWN_WALLET: &str = "unknown_wallet";
    /// Keygen for a wallet id the co-signer already holds.
    pub const WALLET_EXISTS: &str = "wallet_exists";
    /// The wallet is locked after a peer misbehaved.
    pub const WALLET_LOCKED: &str = "wallet_locked";
    /// Another session on this wallet is running.
    pub const BUSY: &str = "busy";
    /// The co-signer holds a newer share version than the client sent: a
    /// refresh completed on its side; the client must promote its staged share.
    pub const CLIENT_SHARE_OUTDATED: &str = "client_share_outdated";
    /// The client sent a share version the co-signer never had.
    pub const SHARE_VERSION_MISMATCH: &str = "share_version_mismatch";
    /// The payload does not pass the co-signer's own validation.
    pub const INVALID_PAYLOAD: &str = "invalid_payload";
    /// The request body could not be decoded.
    pub const BAD_REQUEST: &str = "bad_request";
    /// The request was authenticated with a client key other than the one
    /// pinned for the wallet at keygen.
    pub const WRONG_CLIENT: &str = "wrong_client";
    /// The session id was already used: a replayed request.
    pub const SESSION_REPLAYED: &str = "session_replayed";
    /// An op the co-signer does not serve.
    pub const UNKNOWN_OP: &str = "unknown_op";
    /// The co-signer failed on its side (storage, keyring).
    pub const INTERNAL: &str = "internal";
}

/// A body that could not be decoded.
#[derive(Debug, thiserror::Error)]
#[error("malformed {what}: {detail}")]
pub struct DecodeError {
    pub what: &'static str,
    pub detail: String,
}

/// CBOR encoding of any body in this crate.
pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::into_writer(value, &mut out).expect("CBOR encoding into a Vec cannot fail");
    out
}

/// CBOR decoding, naming what was expected on failure.
pub fn decode<T: DeserializeOwned>(what: &'static str, bytes: &[u8]) -> Result<T, DecodeError> {
    ciborium::from_reader(bytes).map_err(|e| DecodeError {
        what,
        detail: e.to_string(),
    })
}

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
