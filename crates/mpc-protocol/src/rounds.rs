//! The names of every step, as transports and logs see them. Each
//! operation opens with its `.nonce` round (session id agreement).

use crate::channel::Round;

pub const DKG_NONCE: Round = Round("dkg.nonce");
/// Secret polynomial evaluation for the peer.
pub const DKG_1: Round = Round("dkg.1");
/// Commitments: proof of the key share, zero-share seed, chain code.
pub const DKG_2: Round = Round("dkg.2");
/// Openings and the OT-based multiplication setup.
pub const DKG_3: Round = Round("dkg.3");
/// Both sides finished with the same key and chain code.
pub const DKG_CONFIRM: Round = Round("dkg.confirm");

/// Local BIP-32 derivation of the signing key, before anything is sent.
pub const SIGN_DERIVE: Round = Round("sign.derive");
pub const SIGN_NONCE: Round = Round("sign.nonce");
pub const SIGN_1: Round = Round("sign.1");
pub const SIGN_2: Round = Round("sign.2");
/// Each side's signature share; both sides assemble the signature.
pub const SIGN_3: Round = Round("sign.3");

pub const REFRESH_NONCE: Round = Round("refresh.nonce");
pub const REFRESH_1: Round = Round("refresh.1");
pub const REFRESH_2: Round = Round("refresh.2");
pub const REFRESH_3: Round = Round("refresh.3");
pub const REFRESH_CONFIRM: Round = Round("refresh.confirm");

/// Local derivation of a child public key (no peer involved).
pub const DERIVE: Round = Round("derive");
