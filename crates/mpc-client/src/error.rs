//! One error type for everything the client does. Each variant says what went
//! wrong; [`Error::code`] gives the stable machine code the CLI and the HTTP
//! API print, and [`Error::category`] the class of failure a caller branches
//! on (the CLI turns it into an exit code).

use std::path::PathBuf;

use mpc_api::broadcast::BroadcastError;
use mpc_api::{ConfirmError, PolicyRule, PolicyViolation, RejectionCode};
use mpc_evm::{PayloadError, RawTxError, RpcError, TxError, VerifyError, B256};
use mpc_protocol::{ErrorKind, PathError, ProtocolError};
use mpc_session::{Fingerprint, SessionError};
use mpc_store::StoreError;

/// The class of a failure: what a caller can do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    /// The caller asked for something malformed (an index, a missing setting).
    Usage,
    /// A transaction, message, typed data or raw transaction is invalid.
    InvalidInput,
    /// A share or backup cannot be read, or is not the expected one.
    Share,
    /// The broker, the co-signer or a session is unreachable or timed out.
    Unreachable,
    /// The wallet is locked after a peer misbehaved.
    Locked,
    /// A backup or share is older than the co-signer's: the wallet was
    /// rotated since, so it can no longer sign.
    Stale,
    /// The chain or its RPC refused or failed.
    Chain,
    /// The co-signer's policy refused to sign; the message names the rule.
    Policy,
    /// Anything else.
    Failure,
}

/// Everything that can go wrong in the client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The co-signer refused the request. `authenticated` is whether the
    /// refusal came inside the Noise session, i.e. provably from the pinned
    /// co-signer; only such a refusal ever changes local state.
    #[error("the co-signer refused ({code}): {message}{}", if *authenticated { "" } else { " (unauthenticated reply)" })]
    Refused {
        /// What the co-signer refused for.
        code: RejectionCode,
        /// The co-signer's explanation.
        message: String,
        /// Whether the refusal came inside the authenticated session.
        authenticated: bool,
        /// For a policy refusal: the rule and the value that broke it.
        violation: Option<PolicyViolation>,
    },
    /// Keygen was given the co-signer's key, and another key answered (an
    /// impostor on the broker, or another co-signer): refused before any
    /// session opened, nothing written.
    #[error(
        "refusing the co-signer that answered: its key has fingerprint {found}, not the \
         expected {expected} (another co-signer, or an impostor on the broker); nothing was written"
    )]
    CosignerKeyMismatch {
        /// The fingerprint of the expected key.
        expected: Fingerprint,
        /// The fingerprint of the key that answered.
        found: Fingerprint,
    },
    /// The broker or the co-signer could not be reached, or a session failed.
    #[error(transparent)]
    Session(SessionError),
    /// A confirmation round after the protocol failed.
    #[error(transparent)]
    Confirm(#[from] ConfirmError),
    /// The threshold protocol failed or the peer misbehaved.
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    /// A share file or backup could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A share decrypted but its content is unusable.
    #[error("{} decrypted but its content is unusable ({detail}); restore it from a backup", path.display())]
    ShareCorrupt {
        /// The share file.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
    },
    /// A transaction failed validation.
    #[error(transparent)]
    Tx(#[from] TxError),
    /// A message or typed data failed validation.
    #[error(transparent)]
    Payload(#[from] PayloadError),
    /// A raw transaction could not be decoded.
    #[error(transparent)]
    RawTx(#[from] RawTxError),
    /// The EVM JSON-RPC refused, failed or serves another chain.
    #[error(transparent)]
    Rpc(#[from] RpcError),
    /// The broadcast queue failed or its result did not come in time.
    #[error(transparent)]
    Broadcast(#[from] BroadcastError),
    /// The broadcaster gave up on a transaction: it can never be mined as it is.
    #[error("transaction {tx_hash} was not sent: {reason}")]
    BroadcastFailed {
        /// The transaction.
        tx_hash: B256,
        /// The broadcaster's reason.
        reason: String,
    },
    /// A signature did not verify against the wallet's key: never released.
    #[error(transparent)]
    SignatureInvalid(#[from] VerifyError),
    /// An account index that is not a valid non-hardened BIP32 index.
    #[error("invalid account index: {0}")]
    InvalidIndex(#[from] PathError),
    /// An operation needs the EVM JSON-RPC and none is configured.
    #[error("{operation} reads from a node: set the RPC URL (MPC_RPC_URL or --rpc-url)")]
    RpcUrlMissing {
        /// What needed it.
        operation: &'static str,
    },
    /// A transaction for another chain than the signer's.
    #[error("the transaction is for chain {tx}, the signer for chain {signer}")]
    ChainIdMismatch {
        /// The signer's chain.
        signer: u64,
        /// The transaction's chain.
        tx: u64,
    },
    /// A backup taken before the wallet's last rotation: it can no longer sign.
    #[error(
        "stale: the wallet was rotated to share version {current_version}; this backup \
         (version {backup_version}) can no longer sign. Use a backup exported after the \
         last rotation"
    )]
    BackupStale {
        /// The share version the backup holds.
        backup_version: u32,
        /// The share version the co-signer holds.
        current_version: u32,
    },
    /// Keygen wrote the client share but the co-signer never confirmed
    /// keeping the new wallet; it removes unconfirmed wallets after a while.
    #[error(
        "the share was written to {} but the co-signer did not confirm the new wallet ({reason}); \
         do not fund its address yet: any successful `mpc sign` with this share confirms it, \
         otherwise the co-signer discards it (after 24 h by default)",
        path.display()
    )]
    KeygenUnconfirmed {
        /// The share file that was written.
        path: PathBuf,
        /// Why the confirmation failed.
        reason: String,
    },
    /// The embedded broker or co-signer could not be started.
    #[error("{0}")]
    Embedded(String),
    /// A local file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The failure.
        #[source]
        source: std::io::Error,
    },
    /// A background task died (a bug, or the runtime shutting down).
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<SessionError> for Error {
    fn from(error: SessionError) -> Self {
        match error {
            SessionError::Rejected {
                rejection,
                authenticated,
                ..
            } => Error::Refused {
                code: RejectionCode::from_wire(&rejection.code),
                message: rejection.message,
                authenticated,
                violation: rejection.violation.map(|violation| {
                    let mpc_session::Violation { rule, value } = *violation;
                    PolicyViolation {
                        rule: PolicyRule::from_wire(&rule),
                        value,
                    }
                }),
            },
            other => Error::Session(other),
        }
    }
}

impl Error {
    /// The stable machine-readable code (`wrong_passphrase`, `cosigner_busy`, ...).
    pub fn code(&self) -> &'static str {
        self.classify().0
    }

    /// The class of failure.
    pub fn category(&self) -> Category {
        self.classify().1
    }

    /// Whether the co-signer refused with `code` inside the authenticated session.
    pub fn is_authenticated_refusal(&self, code: RejectionCode) -> bool {
        matches!(self, Error::Refused { code: c, authenticated: true, .. } if *c == code)
    }

    /// Whether a fresh session may well succeed where this one failed: no
    /// co-signer answered or one timed out, a session broke off (a replica
    /// or a broker node went away), or the wallet was busy. Never a refusal
    /// that says something about the request, nor a misbehaving peer.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Refused { code, .. } => *code == RejectionCode::Busy,
            Error::Session(error) => matches!(
                error,
                SessionError::CosignerUnreachable { .. } | SessionError::RequestTimeout { .. }
            ),
            Error::Protocol(error) => matches!(error.kind, ErrorKind::Channel(_)),
            _ => false,
        }
    }

    fn classify(&self) -> (&'static str, Category) {
        use Category::*;
        match self {
            // The co-signer says anything else only inside the session: in
            // clear it is somebody else's, and means nothing (see `Refused`).
            Error::Refused {
                code,
                authenticated: false,
                ..
            } if !code.sent_before_authentication() => ("unauthenticated_refusal", Failure),
            Error::Refused { code, .. } => refusal(*code),
            // Not "unreachable" (5): a retry would meet the same key; like a
            // reply that fails Noise authentication, it is refused outright.
            Error::CosignerKeyMismatch { .. } => ("cosigner_key_mismatch", Failure),
            Error::Session(error) => match error {
                SessionError::Connect { .. } => ("broker_unreachable", Unreachable),
                SessionError::InvalidUrl { .. } => ("invalid_broker_url", Usage),
                SessionError::InvalidToken { .. } => ("invalid_argument", Usage),
                SessionError::InvalidPeerKey { .. } => ("invalid_cosigner_key", Usage),
                SessionError::PermissionDenied { .. } => ("broker_permission_denied", Failure),
                SessionError::CosignerUnreachable { .. } => ("cosigner_unreachable", Unreachable),
                SessionError::RequestTimeout { .. } => ("cosigner_timeout", Unreachable),
                SessionError::CosignerNotAuthenticated { .. } => {
                    ("cosigner_not_authenticated", Failure)
                }
                _ => ("session_error", Failure),
            },
            Error::Confirm(_) => ("session_failed", Unreachable),
            Error::Protocol(error) => match &error.kind {
                ErrorKind::PeerMisbehaved { .. } => ("peer_misbehaved", Locked),
                ErrorKind::Channel(_) => ("session_failed", Unreachable),
                ErrorKind::InvalidInput { .. } => ("invalid_input", InvalidInput),
                _ => ("protocol_aborted", Failure),
            },
            Error::Store(error) => store_code(error),
            Error::ShareCorrupt { .. } => ("share_corrupt", Share),
            Error::Tx(_) => ("invalid_tx", InvalidInput),
            Error::Payload(_) => ("invalid_payload", InvalidInput),
            Error::RawTx(_) => ("invalid_raw_tx", InvalidInput),
            Error::Rpc(error) => match error {
                RpcError::Unreachable { .. } => ("rpc_unreachable", Chain),
                RpcError::WrongChain { .. } => ("wrong_chain", Chain),
                RpcError::InvalidTx(_) => ("invalid_tx", Chain),
                _ => ("rpc_error", Chain),
            },
            Error::Broadcast(error) => match error {
                BroadcastError::RawTx(_) => ("invalid_raw_tx", InvalidInput),
                BroadcastError::Timeout { .. } => ("broadcast_timeout", Unreachable),
                _ => ("broadcast_queue", Unreachable),
            },
            Error::BroadcastFailed { .. } => ("broadcast_failed", Chain),
            Error::SignatureInvalid(_) => ("signature_invalid", Failure),
            Error::InvalidIndex(_) => ("invalid_index", Usage),
            Error::RpcUrlMissing { .. } => ("rpc_url_missing", Usage),
            Error::ChainIdMismatch { .. } => ("wrong_chain", InvalidInput),
            Error::BackupStale { .. } => ("backup_stale", Stale),
            Error::KeygenUnconfirmed { .. } => ("keygen_unconfirmed", Unreachable),
            Error::Embedded(_) => ("embedded_start_failed", Unreachable),
            Error::Io { .. } => ("io", Failure),
            Error::Internal(_) => ("internal", Failure),
        }
    }
}

fn refusal(code: RejectionCode) -> (&'static str, Category) {
    use Category::*;
    match code {
        RejectionCode::WalletLocked => ("wallet_locked", Locked),
        RejectionCode::InvalidPayload => ("rejected_by_cosigner", InvalidInput),
        RejectionCode::Busy => ("cosigner_busy", Unreachable),
        RejectionCode::ClientShareOutdated => ("client_share_outdated", Stale),
        RejectionCode::UnknownWallet => ("unknown_wallet", Share),
        RejectionCode::WrongClient => ("wrong_client", Share),
        RejectionCode::ShareVersionMismatch => ("share_version_mismatch", Share),
        RejectionCode::PolicyRefused => ("policy_refused", Policy),
        RejectionCode::NotEnrolled => ("not_enrolled", Failure),
        RejectionCode::RequestExpired => ("request_expired", Failure),
        RejectionCode::WalletExists
        | RejectionCode::BadRequest
        | RejectionCode::SessionReplayed
        | RejectionCode::UnknownOp
        | RejectionCode::Internal
        | RejectionCode::Unrecognized => ("rejected_by_cosigner", Failure),
    }
}

fn store_code(error: &StoreError) -> (&'static str, Category) {
    let code = match error {
        StoreError::NotFound { .. } => "share_not_found",
        // Refusing to overwrite is the caller's choice to make (`--force`).
        StoreError::AlreadyExists { .. } => return ("share_exists", Category::Usage),
        StoreError::WrongPassphrase { .. } => "wrong_passphrase",
        StoreError::PassphraseRequired { .. } | StoreError::EmptyPassphrase => {
            "passphrase_required"
        }
        StoreError::Tampered { .. } => "share_tampered",
        StoreError::Truncated { .. } => "share_truncated",
        StoreError::NotAShareFile { .. } => "not_a_share_file",
        StoreError::UnknownFormatVersion { .. } => "unknown_format_version",
        StoreError::WrongParty { .. } => "wrong_party",
        StoreError::WrongWallet { .. } => "wrong_wallet",
        StoreError::WrongKind { .. } => "wrong_file_kind",
        StoreError::KeyringUnavailable { .. }
        | StoreError::KeyringUnsupported { .. }
        | StoreError::KeyringBackendUnsupported { .. } => "keyring_unavailable",
        StoreError::KeyringEntryMissing { .. } | StoreError::WrongKeyringKey { .. } => {
            "keyring_key_missing"
        }
        StoreError::WalletLocked { .. } => return ("wallet_locked", Category::Locked),
        StoreError::Io { .. } => return ("io", Category::Failure),
        _ => "share_error",
    };
    (code, Category::Share)
}

/// The client's `Result`.
pub type Result<T, E = Error> = std::result::Result<T, E>;
