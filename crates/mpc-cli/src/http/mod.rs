//! `mpc serve`: the client side over local HTTP, JSON in and out. Every
//! operation goes through the client library, exactly as the CLI's; this module
//! adds only transport: routes, bearer token, request ids, error statuses.
//! The contract is docs/openapi.yaml, served at `GET /openapi.yaml`.

mod confine;
mod error;
mod keygen;
mod paths;
mod routes;
mod rpc;
mod token;
mod wallets;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use mpc_client::{Connection, Share, Wallet};
use mpc_store::{KeySource, KeySourceDescriptor, Passphrase, ResolvedKeySource};
use serde_json::json;
use tracing::Instrument;

use crate::commands::blocking;
use crate::output::{print_result, CliError, ExitCode};
use crate::settings::{Needs, Settings};
use confine::AllowedHosts;
use error::HttpError;
use keygen::Keygens;
use mpc_store::FileStamp;
use paths::ShareFolder;
use rpc::JsonRpc;
use token::Token;
use wallets::OpenWallets;

/// Everything the handlers share for the server's lifetime.
pub struct Server {
    connection: Connection,
    settings: Settings,
    /// Requests name shares inside this folder only.
    folder: ShareFolder,
    /// The file name of `--share`, inside `folder`: for requests that name none.
    default_share: PathBuf,
    /// From MPC_PASSPHRASE[_FILE], read once at start: the server never prompts.
    passphrase: Option<Passphrase>,
    key_source: Option<&'static str>,
    token: Token,
    keygens: Keygens,
    wallets: OpenWallets,
    /// The `Host` values requests may carry.
    hosts: AllowedHosts,
    rpc: JsonRpc,
}

/// Serves until SIGINT or SIGTERM. Prints `{listen, token_file, share}` once
/// the socket is bound, so scripts know where to connect. JSON-RPC serves
/// the master address and the child accounts `accounts`.
pub async fn serve(
    settings: &Settings,
    key_source: Option<&'static str>,
    listen: SocketAddr,
    share: PathBuf,
    accounts: Vec<u32>,
    json: bool,
) -> Result<(), CliError> {
    let home = settings.home.clone();
    let token = blocking(move || Token::load_or_create(&home)).await?;
    let passphrase = blocking(|| Ok(mpc_store::passphrase_from_env()?)).await?;
    if share.exists() {
        // A share the server could never open is a startup error, not a surprise later.
        passphrase_for(&share, passphrase.as_ref()).await?;
    }
    let (folder, default_share) = share_folder(&share)?;
    let connection = settings.connect_for(Needs::Broadcaster).await?;
    check_chain(&connection, settings).await?;
    let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| {
        CliError::new(
            "listen_failed",
            ExitCode::Usage,
            format!("cannot listen on {listen}: {e}"),
        )
    })?;
    let local = listener.local_addr()?;
    if !local.ip().is_loopback() {
        tracing::warn!(listen = %local, "serving beyond loopback: anyone who can reach this port and holds the token can sign");
    }
    let token_file = token.path.clone();
    let server = Arc::new(Server {
        connection,
        settings: settings.clone(),
        folder,
        default_share,
        passphrase,
        key_source,
        token,
        keygens: Keygens::default(),
        wallets: OpenWallets::default(),
        hosts: AllowedHosts::new(local),
        rpc: JsonRpc::new(&accounts, settings.rpc_url.clone()),
    });
    tracing::info!(listen = %local, "serving the HTTP API");
    let started = json!({"listen": local.to_string(), "token_file": token_file, "share": share});
    print_result(json, &started, |_| {
        format!(
            "listening on http://{local}\nbearer token in {}",
            token_file.display()
        )
    });
    axum::serve(listener, router(server))
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    Ok(())
}

fn router(server: Arc<Server>) -> Router {
    let authenticated = Router::new()
        .route("/healthz", get(routes::healthz))
        .route("/keygen/init", post(routes::keygen_init))
        .route("/keygen/complete", post(routes::keygen_complete))
        .route("/address", post(routes::address))
        .route("/tx/prepare", post(routes::tx_prepare))
        .route("/tx/sign", post(routes::tx_sign))
        .route("/tx/broadcast", post(routes::tx_broadcast))
        .route("/tx/broadcast/{tx_hash}", get(routes::tx_broadcast_status))
        .route("/rpc", post(rpc::handle))
        .route_layer(middleware::from_fn_with_state(
            server.clone(),
            require_token,
        ));
    Router::new()
        .route("/openapi.yaml", get(routes::openapi))
        .merge(authenticated)
        .fallback(routes::not_found)
        .method_not_allowed_fallback(routes::method_not_allowed)
        .layer(middleware::from_fn_with_state(
            server.clone(),
            confine::local_callers_only,
        ))
        .layer(middleware::from_fn(request_id))
        .with_state(server)
}

/// Gives each request an id, in the logs (method, path, status, time; never
/// bodies or headers) and in the `x-request-id` response header.
async fn request_id(request: Request, next: Next) -> Response {
    let id = uuid::Uuid::new_v4().to_string();
    let span = tracing::info_span!(
        "http",
        request_id = %id,
        method = %request.method(),
        path = %request.uri().path(),
    );
    let started = Instant::now();
    let mut response = next.run(request).instrument(span.clone()).await;
    span.in_scope(|| {
        tracing::info!(
            status = response.status().as_u16(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "request done"
        );
    });
    response.headers_mut().insert(
        "x-request-id",
        HeaderValue::from_str(&id).expect("a uuid is a valid header value"),
    );
    response
}

async fn require_token(
    State(server): State<Arc<Server>>,
    request: Request,
    next: Next,
) -> Result<Response, HttpError> {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(bearer_token);
    match presented {
        Some(token) if server.token.matches(token) => Ok(next.run(request).await),
        Some(_) => Err(HttpError::unauthorized("wrong bearer token")),
        None => Err(HttpError::unauthorized(
            "send `Authorization: Bearer <token>`; the token is in $MPC_HOME/http.token",
        )),
    }
}

/// The token of an `Authorization: Bearer <token>` value; the scheme is
/// case-insensitive (RFC 9110 section 11.1).
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// A node serving another chain is a startup error (JSON-RPC would answer
/// `eth_chainId` with a chain the node is not); a node not answering yet is
/// only a warning, as for the other routes.
async fn check_chain(connection: &Connection, settings: &Settings) -> Result<(), CliError> {
    if settings.rpc_url.is_none() {
        return Ok(());
    }
    match connection.rpc("starting mpc serve").await {
        Ok(_) => Ok(()),
        Err(mpc_client::Error::Rpc(error)) if error.is_transient() => {
            tracing::warn!(%error, "the node does not answer yet");
            Ok(())
        }
        Err(error) => Err(error.into()),
    }
}

/// The folder of `--share` and the share's file name in it.
fn share_folder(share: &Path) -> Result<(ShareFolder, PathBuf), CliError> {
    let usage = |why: String| {
        CliError::new(
            "invalid_share_path",
            ExitCode::Usage,
            format!("--share {}: {why}", share.display()),
        )
    };
    let name = share
        .file_name()
        .ok_or_else(|| usage("names no file".into()))?;
    let folder = ShareFolder::of(share).map_err(|e| usage(format!("its folder: {e}")))?;
    Ok((folder, PathBuf::from(name)))
}

impl Server {
    /// The share file a request names (or the default), inside the share folder.
    fn share_to_read(&self, requested: Option<PathBuf>) -> Result<PathBuf, HttpError> {
        let name = requested.unwrap_or_else(|| self.default_share.clone());
        self.folder
            .existing(&name)
            .map_err(|why| paths::refused(&name, why))
    }

    /// Where a keygen requested now may write its share: checked before the
    /// co-signer is contacted, so a bad `out` leaves no orphan wallet there.
    fn share_to_write(&self, requested: Option<PathBuf>) -> Result<PathBuf, HttpError> {
        let name = requested.unwrap_or_else(|| self.default_share.clone());
        self.folder
            .target(&name)
            .map_err(|why| paths::refused(&name, why))
    }

    async fn passphrase_for(&self, path: &Path) -> Result<Option<Passphrase>, CliError> {
        passphrase_for(path, self.passphrase.as_ref()).await
    }

    /// The wallet of the share at `path`, opened once and kept while the
    /// file stays the same, so requests do not re-run Argon2id.
    async fn wallet(&self, path: &Path) -> Result<Arc<Wallet>, CliError> {
        if let Some(wallet) = self.wallets.get(path) {
            return Ok(wallet);
        }
        let _opening = self.wallets.opening.lock().await;
        if let Some(wallet) = self.wallets.get(path) {
            return Ok(wallet);
        }
        let stamp = FileStamp::of(path).ok();
        let passphrase = self.passphrase_for(path).await?;
        let share = Share::open(path, passphrase).await?;
        let wallet = Arc::new(Wallet::new(self.connection.clone(), share));
        if let Some(stamp) = stamp {
            self.wallets.insert(path, stamp, Arc::clone(&wallet));
        }
        Ok(wallet)
    }
}

/// The passphrase `path` needs, if its header says it has one. Unlike the
/// CLI, never a prompt: the server has no one to ask.
async fn passphrase_for(
    path: &Path,
    available: Option<&Passphrase>,
) -> Result<Option<Passphrase>, CliError> {
    let owned = path.to_owned();
    let info = blocking(move || Ok(mpc_store::read_info(&owned)?)).await?;
    if !matches!(info.key_source, KeySourceDescriptor::Passphrase { .. }) {
        return Ok(None);
    }
    match available {
        Some(passphrase) => Ok(Some(passphrase.clone())),
        None => Err(no_prompt(&format!(
            "{} is passphrase-encrypted",
            path.display()
        ))),
    }
}

/// The key source for a new share by the CLI's rule, minus the prompt.
fn new_share_key_source(explicit: Option<&str>) -> Result<KeySource, CliError> {
    match mpc_store::resolve_key_source(explicit)? {
        ResolvedKeySource::Ready(source) => Ok(source),
        ResolvedKeySource::PromptForPassphrase => Err(no_prompt(
            "a new share needs a passphrase and no OS keyring answers",
        )),
    }
}

fn no_prompt(what: &str) -> CliError {
    CliError::new(
        "passphrase_required",
        ExitCode::Usage,
        format!(
            "{what}, and mpc serve never prompts: start it with MPC_PASSPHRASE or \
             MPC_PASSPHRASE_FILE set"
        ),
    )
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .expect("install the SIGTERM handler");
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
    tracing::info!("shutting down the HTTP API");
}
