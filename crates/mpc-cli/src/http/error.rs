//! Errors as the HTTP API returns them: `{"error": {"code", "message"}}`
//! with the CLI's stable codes and a status that says whose problem it is.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;

use crate::output::{CliError, ExitCode};

#[derive(Debug, Clone)]
pub struct HttpError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl HttpError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        HttpError {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn unauthorized(message: &str) -> Self {
        HttpError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }
}

impl From<CliError> for HttpError {
    fn from(error: CliError) -> Self {
        HttpError::new(status_of(&error), error.code, error.message)
    }
}

/// The status for a CLI error: its code when that says more than its exit class.
fn status_of(error: &CliError) -> StatusCode {
    match error.code {
        "share_not_found" | "unknown_wallet" | "unknown_broadcast" => return StatusCode::NOT_FOUND,
        "share_exists" | "client_share_outdated" | "share_version_mismatch" => {
            return StatusCode::CONFLICT
        }
        "cosigner_timeout" | "broadcast_timeout" => return StatusCode::GATEWAY_TIMEOUT,
        "not_enrolled" => return StatusCode::FORBIDDEN,
        // Something on the broker answered in the co-signer's place.
        "unauthenticated_refusal" => return StatusCode::BAD_GATEWAY,
        // The server was started without an RPC: not the caller's fault.
        "rpc_url_missing" => return StatusCode::SERVICE_UNAVAILABLE,
        _ => {}
    }
    match error.exit {
        ExitCode::Usage | ExitCode::InvalidInput => StatusCode::BAD_REQUEST,
        ExitCode::Share => StatusCode::UNPROCESSABLE_ENTITY,
        ExitCode::Unreachable => StatusCode::SERVICE_UNAVAILABLE,
        ExitCode::Locked => StatusCode::LOCKED,
        ExitCode::Chain => StatusCode::BAD_GATEWAY,
        ExitCode::Stale => StatusCode::CONFLICT,
        ExitCode::Policy => StatusCode::FORBIDDEN,
        ExitCode::Failure | ExitCode::Interrupted => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        // Codes and statuses only: messages can quote request content.
        if self.status.is_server_error() {
            tracing::warn!(
                status = self.status.as_u16(),
                code = self.code,
                "request failed"
            );
        } else {
            tracing::info!(
                status = self.status.as_u16(),
                code = self.code,
                "request refused"
            );
        }
        let body = serde_json::json!({"error": {"code": self.code, "message": self.message}});
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// A request body read whole, within axum's default limit (2 MB), with its
/// failures in the API's error shape.
pub struct RawBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = HttpError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        Bytes::from_request(request, state)
            .await
            .map(RawBody)
            .map_err(|e| {
                let code = match e.status() {
                    // Documented as 413 in the spec.
                    StatusCode::PAYLOAD_TOO_LARGE => "body_too_large",
                    _ => "bad_request",
                };
                HttpError::new(e.status(), code, e.body_text())
            })
    }
}

/// A JSON request body whose every failure (unreadable, not JSON, wrong
/// shape) is a 400 `bad_json` in the API's error shape. Any content type is
/// accepted, and an empty body reads as `{}`, so `curl -X POST` works.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = HttpError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let RawBody(bytes) = RawBody::from_request(request, state).await?;
        let text: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &bytes
        };
        serde_json::from_slice(text).map(JsonBody).map_err(|e| {
            HttpError::new(
                StatusCode::BAD_REQUEST,
                "bad_json",
                format!("the request body is not the expected JSON: {e}"),
            )
        })
    }
}

impl From<mpc_client::Error> for HttpError {
    fn from(error: mpc_client::Error) -> Self {
        CliError::from(error).into()
    }
}
