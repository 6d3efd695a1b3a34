//! JSON-RPC errors: the standard codes (JSON-RPC 2.0 and EIP-1193) so every
//! client library understands them, a message a person can act on, and the
//! wallet's stable code in `data.code`, as the CLI and the HTTP routes print it.

use serde_json::{json, Value};

use super::super::error::HttpError;
use crate::output::{CliError, ExitCode};

/// The standard code families this endpoint answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RpcCode {
    /// -32700: the body is not JSON.
    Parse,
    /// -32600: not a JSON-RPC 2.0 request object.
    InvalidRequest,
    /// -32602: the parameters are wrong.
    InvalidParams,
    /// -32603: the wallet failed.
    Internal,
    /// -32000: the node refused (as nodes report their own refusals).
    Node,
    /// 4001 (EIP-1193 "user rejected"): the co-signer or its policy refused.
    Refused,
    /// 4100 (EIP-1193 "unauthorized"): `from` is not an account served here.
    UnknownAccount,
    /// 4200 (EIP-1193 "unsupported method"): a method refused on purpose.
    Unsupported,
}

impl RpcCode {
    fn number(self) -> i64 {
        match self {
            RpcCode::Parse => -32700,
            RpcCode::InvalidRequest => -32600,
            RpcCode::InvalidParams => -32602,
            RpcCode::Internal => -32603,
            RpcCode::Node => -32000,
            RpcCode::Refused => 4001,
            RpcCode::UnknownAccount => 4100,
            RpcCode::Unsupported => 4200,
        }
    }
}

#[derive(Debug, Clone)]
pub struct RpcError {
    pub code: RpcCode,
    /// The wallet's stable code, in `data.code`.
    pub stable: &'static str,
    pub message: String,
}

impl RpcError {
    pub fn new(code: RpcCode, stable: &'static str, message: impl Into<String>) -> Self {
        RpcError {
            code,
            stable,
            message: message.into(),
        }
    }

    pub fn invalid_params(message: impl Into<String>) -> Self {
        RpcError::new(RpcCode::InvalidParams, "invalid_params", message)
    }

    /// The `error` member of a response.
    pub fn to_json(&self) -> Value {
        json!({
            "code": self.code.number(),
            "message": self.message,
            "data": {"code": self.stable},
        })
    }
}

impl From<CliError> for RpcError {
    fn from(error: CliError) -> Self {
        let code = match (error.code, error.exit) {
            // The server was started without a node: not the caller's params.
            ("rpc_url_missing", _) => RpcCode::Internal,
            // The node's check of the caller's transaction: still the caller's params.
            ("invalid_tx", _) | (_, ExitCode::Usage | ExitCode::InvalidInput) => {
                RpcCode::InvalidParams
            }
            (_, ExitCode::Locked) => RpcCode::Refused,
            (_, ExitCode::Chain) => RpcCode::Node,
            _ => RpcCode::Internal,
        };
        RpcError::new(code, error.code, error.message)
    }
}

impl From<mpc_client::Error> for RpcError {
    fn from(error: mpc_client::Error) -> Self {
        use mpc_client::Category;
        // A refusal of the request itself, not "busy" or "rotated since".
        let refused = matches!(error, mpc_client::Error::Refused { .. })
            && matches!(
                error.category(),
                Category::InvalidInput | Category::Locked | Category::Failure
            );
        let mut converted = RpcError::from(CliError::from(error));
        if refused {
            converted.code = RpcCode::Refused;
        }
        converted
    }
}

impl From<HttpError> for RpcError {
    fn from(error: HttpError) -> Self {
        let code = if error.status.is_client_error() {
            RpcCode::InvalidParams
        } else {
            RpcCode::Internal
        };
        RpcError::new(code, error.code, error.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mpc_client::RejectionCode;

    #[test]
    fn a_cosigner_refusal_is_4001_and_busy_is_not() {
        let refusal = |code| mpc_client::Error::Refused {
            code,
            message: "no".into(),
            authenticated: true,
        };
        let refused = RpcError::from(refusal(RejectionCode::InvalidPayload));
        assert_eq!(refused.code, RpcCode::Refused);
        let busy = RpcError::from(refusal(RejectionCode::Busy));
        assert_ne!(busy.code, RpcCode::Refused);
    }

    #[test]
    fn no_node_configured_is_the_servers_problem_whatever_needed_it() {
        let missing = RpcError::from(mpc_client::Error::RpcUrlMissing {
            operation: "preparing a transaction",
        });
        assert_eq!(
            (missing.code, missing.stable),
            (RpcCode::Internal, "rpc_url_missing")
        );
    }
}
