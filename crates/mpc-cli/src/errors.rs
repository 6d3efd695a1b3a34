//! Every library error mapped to a stable CLI code and exit status, so the
//! CLI and the HTTP API report the same failure the same way.

use mpc_evm::broadcast::BroadcastError;
use mpc_evm::{PayloadError, RawTxError, RpcError, TxError, VerifyError};
use mpc_protocol::{ErrorKind, ProtocolError};
use mpc_session::SessionError;
use mpc_store::StoreError;

use crate::output::{CliError, ExitCode};
use crate::wallet::rejection_code;

impl From<StoreError> for CliError {
    fn from(error: StoreError) -> Self {
        let code = match &error {
            StoreError::NotFound { .. } => "share_not_found",
            StoreError::AlreadyExists { .. } => "share_exists",
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
            StoreError::KeyringUnavailable { .. } => "keyring_unavailable",
            StoreError::KeyringEntryMissing { .. } | StoreError::WrongKeyringKey { .. } => {
                "keyring_key_missing"
            }
            StoreError::WalletLocked { .. } => {
                return CliError::new("wallet_locked", ExitCode::Locked, error.to_string())
            }
            StoreError::Io { .. } => {
                return CliError::new("io", ExitCode::Failure, error.to_string())
            }
            _ => "share_error",
        };
        CliError::new(code, ExitCode::Share, error.to_string())
    }
}

impl From<SessionError> for CliError {
    fn from(error: SessionError) -> Self {
        let (code, exit) = match &error {
            SessionError::Rejected { rejection, .. } => rejection_code(&rejection.code),
            SessionError::Connect { .. } | SessionError::InvalidUrl { .. } => {
                ("broker_unreachable", ExitCode::Unreachable)
            }
            SessionError::CosignerUnreachable { .. } => {
                ("cosigner_unreachable", ExitCode::Unreachable)
            }
            SessionError::RequestTimeout { .. } => ("cosigner_timeout", ExitCode::Unreachable),
            SessionError::CosignerNotAuthenticated { .. } => {
                ("cosigner_not_authenticated", ExitCode::Failure)
            }
            _ => ("session_error", ExitCode::Failure),
        };
        CliError::new(code, exit, error.to_string())
    }
}

impl From<ProtocolError> for CliError {
    fn from(error: ProtocolError) -> Self {
        let (code, exit) = match &error.kind {
            ErrorKind::PeerMisbehaved { .. } => ("peer_misbehaved", ExitCode::Locked),
            ErrorKind::Channel(_) => ("session_failed", ExitCode::Unreachable),
            ErrorKind::InvalidInput { .. } => ("invalid_input", ExitCode::InvalidInput),
            _ => ("protocol_aborted", ExitCode::Failure),
        };
        CliError::new(code, exit, error.to_string())
    }
}

impl From<TxError> for CliError {
    fn from(error: TxError) -> Self {
        CliError::new("invalid_tx", ExitCode::InvalidInput, error.to_string())
    }
}

impl From<PayloadError> for CliError {
    fn from(error: PayloadError) -> Self {
        CliError::new("invalid_payload", ExitCode::InvalidInput, error.to_string())
    }
}

impl From<RawTxError> for CliError {
    fn from(error: RawTxError) -> Self {
        CliError::new("invalid_raw_tx", ExitCode::InvalidInput, error.to_string())
    }
}

impl From<RpcError> for CliError {
    fn from(error: RpcError) -> Self {
        let code = match &error {
            RpcError::Unreachable { .. } => "rpc_unreachable",
            RpcError::WrongChain { .. } => "wrong_chain",
            RpcError::InvalidTx(_) => "invalid_tx",
            _ => "rpc_error",
        };
        CliError::new(code, ExitCode::Chain, error.to_string())
    }
}

impl From<BroadcastError> for CliError {
    fn from(error: BroadcastError) -> Self {
        let (code, exit) = match &error {
            BroadcastError::RawTx(_) => ("invalid_raw_tx", ExitCode::InvalidInput),
            BroadcastError::Timeout { .. } => ("broadcast_timeout", ExitCode::Unreachable),
            _ => ("broadcast_queue", ExitCode::Unreachable),
        };
        CliError::new(code, exit, error.to_string())
    }
}

impl From<VerifyError> for CliError {
    fn from(error: VerifyError) -> Self {
        CliError::new("signature_invalid", ExitCode::Failure, error.to_string())
    }
}

impl From<std::io::Error> for CliError {
    fn from(error: std::io::Error) -> Self {
        CliError::new("io", ExitCode::Failure, error.to_string())
    }
}
