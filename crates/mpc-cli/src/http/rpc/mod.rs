//! Ethereum JSON-RPC 2.0 at `POST /rpc`, so cast, viem, ethers and web3.py
//! use the wallet as an external signer, unchanged. The wallet answers the
//! account and signing methods ([`methods`]); every other method goes to
//! the node as it came ([`upstream`]). Requests pass the same Host, Origin
//! and token checks as every route, and must be JSON.

mod error;
mod methods;
mod nonces;
mod params;
mod upstream;

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use mpc_client::Account;
use serde_json::{json, Value};

use super::confine::require_json;
use super::error::{HttpError, RawBody};
use super::Server;
use error::{RpcCode, RpcError};
use methods::Method;
pub use nonces::Nonces;
pub use upstream::Upstream;

/// What the JSON-RPC endpoint keeps for the server's lifetime.
pub struct JsonRpc {
    /// The accounts served: the master key first, then `--accounts`.
    accounts: Vec<Account>,
    nonces: Nonces,
    upstream: Upstream,
}

impl JsonRpc {
    pub fn new(children: &[u32], rpc_url: Option<String>) -> Self {
        let mut accounts = vec![Account::Master];
        for &index in children {
            let account = Account::Child(index);
            if !accounts.contains(&account) {
                accounts.push(account);
            }
        }
        JsonRpc {
            accounts,
            nonces: Nonces::default(),
            upstream: Upstream::new(rpc_url),
        }
    }
}

/// `POST /rpc`: one request object or a batch; `204` when every request
/// was a notification (JSON-RPC answers those with nothing).
pub async fn handle(
    State(server): State<Arc<Server>>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<Response, HttpError> {
    require_json(&headers)?;
    let reply = match serde_json::from_slice::<Value>(&body) {
        Err(e) => Some(failure(
            Value::Null,
            RpcError::new(
                RpcCode::Parse,
                "parse_error",
                format!("the body is not JSON: {e}"),
            ),
        )),
        Ok(Value::Array(batch)) if batch.is_empty() => Some(failure(
            Value::Null,
            RpcError::new(
                RpcCode::InvalidRequest,
                "invalid_request",
                "an empty batch: send at least one request",
            ),
        )),
        Ok(Value::Array(batch)) => {
            let replies = futures::future::join_all(batch.iter().map(|r| server.call(r))).await;
            let replies: Vec<Value> = replies.into_iter().flatten().collect();
            (!replies.is_empty()).then_some(Value::Array(replies))
        }
        Ok(single) => server.call(&single).await,
    };
    Ok(match reply {
        Some(reply) => Json(reply).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    })
}

fn failure(id: Value, error: RpcError) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": error.to_json()})
}

/// A request object's parts, once it is known to be one.
struct Call<'a> {
    method: &'a str,
    params: Option<&'a Value>,
    /// `None` for a notification.
    id: Option<Value>,
}

fn parse_call(request: &Value) -> Result<Call<'_>, RpcError> {
    let invalid = |why: &str| {
        RpcError::new(
            RpcCode::InvalidRequest,
            "invalid_request",
            format!("not a JSON-RPC 2.0 request: {why}"),
        )
    };
    let Value::Object(object) = request else {
        return Err(invalid("a request is an object"));
    };
    if object.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err(invalid("`jsonrpc` must be \"2.0\""));
    }
    let Some(method) = object.get("method").and_then(Value::as_str) else {
        return Err(invalid("`method` must be a string"));
    };
    let id = match object.get("id") {
        None => None,
        Some(id @ (Value::String(_) | Value::Number(_) | Value::Null)) => Some(id.clone()),
        Some(_) => return Err(invalid("`id` must be a string, a number or null")),
    };
    if let Some(extra) = object.keys().find(|k| !is_member(k)) {
        return Err(invalid(&format!("unknown member `{extra}`")));
    }
    Ok(Call {
        method,
        params: object.get("params"),
        id,
    })
}

fn is_member(key: &str) -> bool {
    matches!(key, "jsonrpc" | "method" | "params" | "id")
}

impl Server {
    /// Answers one request object; `None` for a notification.
    async fn call(&self, request: &Value) -> Option<Value> {
        let call = match parse_call(request) {
            Ok(call) => call,
            Err(error) => {
                let id = request.get("id").cloned().unwrap_or(Value::Null);
                return Some(failure(id, error));
            }
        };
        let Some(method) = Method::parse(call.method) else {
            tracing::info!(method = call.method, "json-rpc passed to the node");
            let forwarded = self.rpc.upstream.forward(request).await;
            let id = call.id?;
            return Some(forwarded.unwrap_or_else(|error| failure(id, error)));
        };
        tracing::info!(method = call.method, "json-rpc answered by the wallet");
        let outcome = self.answer(method, call.params).await;
        if let Err(error) = &outcome {
            tracing::info!(
                method = call.method,
                code = error.stable,
                "json-rpc refused"
            );
        }
        let id = call.id?;
        Some(match outcome {
            Ok(result) => json!({"jsonrpc": "2.0", "id": id, "result": result}),
            Err(error) => failure(id, error),
        })
    }
}
