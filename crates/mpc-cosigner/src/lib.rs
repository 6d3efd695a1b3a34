//! The co-signer of the 2-of-2 MPC wallet as a library: it serves keygen,
//! sign, refresh and status sessions over NATS ([`sessions::Cosigner`]),
//! keeps one encrypted share per wallet ([`wallets::Wallets`]), and signs only
//! what it can see and its policy allows ([`policy`]). The `mpc-cosigner`
//! binary parses flags and wires these together; an operator who needs their
//! own rules implements [`policy::Policy`] and builds on this crate.

pub mod backup;
pub mod enrollment;
pub mod fleet;
pub mod identity;
pub mod policy;
pub mod replay;
pub mod sessions;
pub mod wallets;

use mpc_store::Passphrase;

/// The co-signer's share passphrase, as warnings name it.
pub const SHARE_PASSPHRASE: &str = "share passphrase (MPC_PASSPHRASE or MPC_PASSPHRASE_FILE)";

/// A weak passphrase for new secrets is the operator's choice: logged as a
/// warning (one line on stderr), then used, so deployments keep starting.
pub fn warn_if_weak(what: &str, passphrase: &Passphrase) {
    if let Err(weak) = mpc_store::check_new_passphrase(passphrase) {
        tracing::warn!("the {what} is {weak} It is used anyway.");
    }
}
