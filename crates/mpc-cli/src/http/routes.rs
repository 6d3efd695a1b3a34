//! One handler per endpoint: parse the body, call `wallet`, return JSON.
//! The shapes are documented in docs/openapi.yaml; keep the two in step.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use mpc_client::Account;
use mpc_evm::{AuthorizationRequest, SignPayload, TxDraft, TxPolicy};
use mpc_store::Overwrite;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{HttpError, JsonBody};
use super::Server;
use crate::commands::blocking;
use crate::output::{CliError, ExitCode};
use crate::views::{BroadcastView, HealthView, KeygenView, SignView};

pub const OPENAPI: &str = include_str!("../../../../docs/openapi.yaml");

type Reply = Result<Json<Value>, HttpError>;

fn reply<T: serde::Serialize>(value: &T) -> Reply {
    Ok(Json(
        serde_json::to_value(value).expect("results are plain JSON"),
    ))
}

pub async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/yaml")], OPENAPI)
}

/// 200 only while broker and co-signer answer; any failure, a timeout
/// included, is 503 so that probes read it as "not ready".
pub async fn healthz(State(server): State<Arc<Server>>) -> Reply {
    let health = server.connection.health().await.map_err(|error| {
        let mut error = HttpError::from(CliError::from(error));
        error.status = StatusCode::SERVICE_UNAVAILABLE;
        error
    })?;
    reply(&HealthView::from(health))
}

/// An optional field that may be left out but not be `null`, as the
/// OpenAPI document says (none of its fields is nullable).
fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeygenInit {
    /// Where to write the new client share; the server's --share by default.
    #[serde(default, deserialize_with = "present")]
    out: Option<PathBuf>,
    #[serde(default)]
    force: bool,
    /// The co-signer's single-use enrollment token (`mpc-cosigner enroll`).
    #[serde(default, deserialize_with = "present")]
    enroll: Option<String>,
}

pub async fn keygen_init(
    State(server): State<Arc<Server>>,
    JsonBody(body): JsonBody<KeygenInit>,
) -> Reply {
    let out = server.share_to_write(body.out)?;
    let overwrite = Overwrite::from_force(body.force);
    // Refused here rather than at complete, before the co-signer stores anything.
    if overwrite == Overwrite::Refuse && out.exists() {
        return Err(CliError::from(mpc_store::StoreError::AlreadyExists { path: out }).into());
    }
    let explicit = server.key_source;
    let key_source = blocking(move || super::new_share_key_source(explicit)).await?;
    let (task_server, target) = (server.clone(), out.clone());
    let session_id = server.keygens.start(&out, async move {
        let (_, outcome) = task_server
            .connection
            .keygen_enrolled(&target, key_source, overwrite, body.enroll)
            .await?;
        Ok(serde_json::to_value(KeygenView::from(outcome)).expect("results are plain JSON"))
    })?;
    // Only the id, so this response can be POSTed as is to /keygen/complete.
    reply(&json!({"session_id": session_id}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeygenComplete {
    session_id: String,
}

pub async fn keygen_complete(
    State(server): State<Arc<Server>>,
    JsonBody(body): JsonBody<KeygenComplete>,
) -> Reply {
    let mut output = server.keygens.complete(&body.session_id).await?;
    // The protocol's own session id stays available for `mpc watch` logs.
    output["protocol_session_id"] = output["session_id"].take();
    output["session_id"] = Value::String(body.session_id);
    Ok(Json(output))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddressBody {
    #[serde(default, deserialize_with = "present")]
    index: Option<u32>,
    #[serde(default, deserialize_with = "present")]
    share: Option<PathBuf>,
}

pub async fn address(
    State(server): State<Arc<Server>>,
    JsonBody(body): JsonBody<AddressBody>,
) -> Reply {
    let account = Account::from_index(body.index);
    let wallet = server.wallet(&server.share_to_read(body.share)?).await?;
    let address = wallet.address(account)?;
    let path = account.path()?;
    reply(
        &json!({"address": address.to_checksum(None), "index": body.index, "path": path.to_string()}),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrepareBody {
    /// A tx.json object; what it leaves out is filled from the node.
    tx: Value,
    #[serde(default, deserialize_with = "present")]
    index: Option<u32>,
    #[serde(default, deserialize_with = "present")]
    share: Option<PathBuf>,
}

pub async fn tx_prepare(
    State(server): State<Arc<Server>>,
    JsonBody(body): JsonBody<PrepareBody>,
) -> Reply {
    let draft = TxDraft::from_value(&body.tx).map_err(CliError::from)?;
    let wallet = server.wallet(&server.share_to_read(body.share)?).await?;
    let prepared = wallet
        .prepare_transaction(draft, Account::from_index(body.index))
        .await?;
    reply(&json!({
        "tx": prepared.to_json(),
        "tx_hash": format!("0x{}", hex::encode(prepared.signing_hash())),
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignBody {
    #[serde(default, deserialize_with = "present")]
    tx: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    message: Option<String>,
    #[serde(default, deserialize_with = "present")]
    typed_data: Option<Value>,
    /// An EIP-7702 authorization, as `mpc sign --authorization` reads it.
    #[serde(default, deserialize_with = "present")]
    authorization: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    index: Option<u32>,
    #[serde(default, deserialize_with = "present")]
    share: Option<PathBuf>,
}

impl SignBody {
    fn payload(self, chain_id: u64) -> Result<SignPayload, CliError> {
        let policy = TxPolicy::new(chain_id);
        match (self.tx, self.message, self.typed_data, self.authorization) {
            (Some(tx), None, None, None) => {
                let request = TxDraft::from_value(&tx)?.complete(&policy)?;
                Ok(SignPayload::Transaction(request))
            }
            (None, Some(message), None, None) => Ok(SignPayload::PersonalMessage(
                mpc_client::personal_message_bytes(&message).into(),
            )),
            (None, None, Some(typed), None) => Ok(mpc_client::typed_data_payload(typed)?),
            (None, None, None, Some(authorization)) => {
                let request = AuthorizationRequest::from_value(&authorization)?;
                request.validate(&policy)?;
                Ok(SignPayload::Authorization(request))
            }
            _ => Err(CliError::new(
                "nothing_to_sign",
                ExitCode::Usage,
                "give exactly one of tx, message, typed_data or authorization",
            )),
        }
    }
}

pub async fn tx_sign(
    State(server): State<Arc<Server>>,
    JsonBody(body): JsonBody<SignBody>,
) -> Reply {
    let account = Account::from_index(body.index);
    let share_path = server.share_to_read(body.share.clone())?;
    let payload = body.payload(server.settings.chain_id)?;
    let connection = &server.connection;
    connection.check_chain_for(&payload).await?;
    let wallet = server.wallet(&share_path).await?;
    let signed = wallet.sign(payload, account).await?;
    reply(&SignView::from(&signed))
}

fn wait_by_default() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BroadcastBody {
    raw_tx: String,
    /// Wait for the receipt (default) or return once queued.
    #[serde(default = "wait_by_default")]
    wait: bool,
    #[serde(default, deserialize_with = "present", alias = "wait_timeout")]
    wait_timeout_secs: Option<u64>,
}

const DEFAULT_WAIT_SECS: u64 = 120;
/// An hour: longer is a mistake, not a wait for a receipt.
const MAX_WAIT_SECS: u64 = 3600;

pub async fn tx_broadcast(
    State(server): State<Arc<Server>>,
    JsonBody(body): JsonBody<BroadcastBody>,
) -> Reply {
    let wait_secs = body.wait_timeout_secs.unwrap_or(DEFAULT_WAIT_SECS);
    if wait_secs > MAX_WAIT_SECS {
        return Err(HttpError::new(
            StatusCode::BAD_REQUEST,
            "invalid_wait_timeout",
            format!("wait_timeout_secs is at most {MAX_WAIT_SECS}"),
        ));
    }
    let raw = mpc_evm::parse_raw_tx_hex(&body.raw_tx).map_err(CliError::from)?;
    let wait = body.wait.then(|| Duration::from_secs(wait_secs));
    let broadcast = server.connection.broadcast(&raw, wait).await?;
    reply(&BroadcastView::from(broadcast))
}

/// What the broadcaster last recorded for a transaction, at once.
pub async fn tx_broadcast_status(
    State(server): State<Arc<Server>>,
    Path(tx_hash): Path<String>,
) -> Reply {
    let result = crate::wallet_ops::lookup_broadcast(&server.connection, &tx_hash).await?;
    reply(&BroadcastView::from(result))
}

pub async fn not_found() -> HttpError {
    HttpError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such endpoint: GET /openapi.yaml lists them",
    )
}

pub async fn method_not_allowed() -> HttpError {
    HttpError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint takes another method: GET /openapi.yaml lists them",
    )
}
