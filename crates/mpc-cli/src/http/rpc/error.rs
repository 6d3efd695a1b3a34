//! JSON-RPC errors: the standard codes (JSON-RPC 2.0 and EIP-1193) so every
//! client library understands them, a message a person can act on, and the
//! wallet's stable code in `data.code`, as the CLI and the HTTP routes print it;
//! a policy refusal adds the rule and the offending value beside it.

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
    /// For a policy refusal: `data.rule` and `data.value`.
    pub violation: Option<mpc_client::PolicyViolation>,
}

impl RpcError {
    pub fn new(code: RpcCode, stable: &'static str, message: impl Into<String>) -> Self {
        RpcError {
            code,
            stable,
            message: message.into(),
            violation: None,
        }
    }

    pub fn invalid_params(message: impl Into<String>) -> Self {
        RpcError::new(RpcCode::InvalidParams, "invalid_params", message)
    }

    /// The `error` member of a response.
    pub fn to_json(&self) -> Value {
        let mut data = json!({"code": self.stable});
        if let Some(violation) = &self.violation {
            data["rule"] = violation.rule.as_str().into();
            data["value"] = violation.value.as_str().into();
        }
        json!({
            "code": self.code.number(),
            "message": self.message,
            "data": data,
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
                Category::InvalidInput | Category::Locked | Category::Policy | Category::Failure
            );
        let violation = match &error {
            mpc_client::Error::Refused { violation, .. } => violation.clone(),
            _ => None,
        };
        let mut converted = RpcError::from(CliError::from(error));
        if refused {
            converted.code = RpcCode::Refused;
        }
        converted.violation = violation;
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
            violation: None,
        };
        let refused = RpcError::from(refusal(RejectionCode::InvalidPayload));
        assert_eq!(refused.code, RpcCode::Refused);
        let busy = RpcError::from(refusal(RejectionCode::Busy));
        assert_ne!(busy.code, RpcCode::Refused);
    }

    #[test]
    fn a_policy_refusal_is_4001_with_the_rule_and_value_in_data() {
        let refused = RpcError::from(mpc_client::Error::Refused {
            code: RejectionCode::PolicyRefused,
            message: "rule tx.max_value: 2 ETH is above 1 ETH".into(),
            authenticated: true,
            violation: Some(mpc_client::PolicyViolation {
                rule: mpc_client::PolicyRule::MaxValue,
                value: "2 ETH".into(),
            }),
        })
        .to_json();
        assert_eq!(refused["code"], 4001);
        assert_eq!(
            refused["data"],
            json!({"code": "policy_refused", "rule": "tx.max_value", "value": "2 ETH"})
        );
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
