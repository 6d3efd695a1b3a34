//! Methods the wallet does not answer go to the node (`MPC_RPC_URL`) as they
//! came, and the node's answer comes back as it is, errors included, so a
//! tool pointed at `/rpc` reads balances, receipts, logs and calls unchanged.

use std::time::Duration;

use serde_json::Value;

use super::error::{RpcCode, RpcError};

/// A node taking longer than this is down, as far as a caller can tell.
const TIMEOUT: Duration = Duration::from_secs(30);

pub struct Upstream {
    url: Option<String>,
    http: reqwest::Client,
}

impl Upstream {
    pub fn new(url: Option<String>) -> Self {
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .build()
            .expect("an HTTP client with a timeout builds");
        Upstream { url, http }
    }

    /// The node's response object to `request` (one JSON-RPC request object).
    pub async fn forward(&self, request: &Value) -> Result<Value, RpcError> {
        let Some(url) = &self.url else {
            return Err(mpc_client::Error::RpcUrlMissing {
                operation: "this method",
            }
            .into());
        };
        let unreachable = |e: reqwest::Error| {
            RpcError::new(
                RpcCode::Internal,
                "rpc_unreachable",
                // Without the URL, which may carry an API key.
                format!(
                    "the node at MPC_RPC_URL did not answer: {}",
                    e.without_url()
                ),
            )
        };
        let response = self
            .http
            .post(url)
            .json(request)
            .send()
            .await
            .map_err(unreachable)?;
        let status = response.status();
        let body = response.bytes().await.map_err(unreachable)?;
        serde_json::from_slice(&body).map_err(|_| {
            RpcError::new(
                RpcCode::Internal,
                "rpc_bad_response",
                format!("the node answered HTTP {status} without a JSON-RPC response"),
            )
        })
    }
}
