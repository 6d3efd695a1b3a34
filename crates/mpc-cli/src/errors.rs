//! Every library error as a CLI error: the library's stable code, and the
//! exit status its category maps to, so the CLI and the HTTP API report the
//! same failure the same way.

use mpc_client::{Category, Error};

use crate::output::{CliError, ExitCode};

impl From<Error> for CliError {
    fn from(error: Error) -> Self {
        let exit = match error.category() {
            Category::Usage => ExitCode::Usage,
            Category::InvalidInput => ExitCode::InvalidInput,
            Category::Share => ExitCode::Share,
            Category::Unreachable => ExitCode::Unreachable,
            Category::Locked => ExitCode::Locked,
            Category::Chain => ExitCode::Chain,
            Category::Stale => ExitCode::Stale,
            Category::Policy => ExitCode::Policy,
            Category::Failure => ExitCode::Failure,
        };
        CliError::new(error.code(), exit, error.to_string())
    }
}

/// Errors of the crates the CLI also calls directly go through the library's
/// classification, so each has one code wherever it comes from.
macro_rules! via_library_error {
    ($($error:ty),* $(,)?) => {$(
        impl From<$error> for CliError {
            fn from(error: $error) -> Self {
                Error::from(error).into()
            }
        }
    )*};
}

via_library_error!(
    mpc_store::StoreError,
    mpc_session::SessionError,
    mpc_evm::TxError,
    mpc_evm::PayloadError,
    mpc_evm::RawTxError,
    mpc_evm::RpcError,
);

impl From<std::io::Error> for CliError {
    fn from(error: std::io::Error) -> Self {
        CliError::new("io", ExitCode::Failure, error.to_string())
    }
}
