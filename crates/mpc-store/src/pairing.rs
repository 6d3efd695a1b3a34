//! How each party records a new wallet in its share header (authenticated by
//! the file's AEAD): the other party's pinned Noise identity and the threshold
//! protocol's name. Both parties write and read it the same way.

use std::collections::BTreeMap;

use crate::{ShareInfo, ShareMeta, ShareParty};

/// Header metadata key of the pinned peer identity (hex X25519 key).
pub const PEER_IDENTITY: &str = "peer_identity";
/// Header metadata key of the threshold protocol's name.
pub const PROTOCOL: &str = "protocol";

/// The header of a new wallet's share (version 0), pinning `peer_identity`.
/// `public_key` is the wallet's compressed public key, `protocol` the name of
/// the threshold protocol that made the share.
pub fn new_share_meta(
    wallet_id: &str,
    party: ShareParty,
    public_key: &[u8; 33],
    protocol: &str,
    peer_identity: &[u8; 32],
) -> ShareMeta {
    ShareMeta {
        wallet_id: wallet_id.to_owned(),
        party,
        share_version: 0,
        public_key: hex::encode(public_key),
        metadata: BTreeMap::from([
            (PEER_IDENTITY.to_owned(), hex::encode(peer_identity)),
            (PROTOCOL.to_owned(), protocol.to_owned()),
        ]),
    }
}

/// The peer identity pinned in a loaded share's header.
pub fn pinned_peer(info: &ShareInfo) -> Option<[u8; 32]> {
    let bytes = hex::decode(info.metadata.get(PEER_IDENTITY)?).ok()?;
    bytes.try_into().ok()
}
