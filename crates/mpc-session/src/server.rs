//! The co-signer side: a NATS service (the Services API, so `nats micro
//! ls|info|stats` lists every replica) with one endpoint per op in a queue
//! group, answering `hello` and `health` itself and handing session requests
//! to the caller. Only the request goes through the queue group: the rounds
//! run on the session's own subjects.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex};

use async_nats::service::{self, ServiceExt};
use async_nats::{Client, Message};
use futures::stream::{self, BoxStream};
use futures::StreamExt;
use mpc_protocol::Party;
use serde_bytes::ByteBuf;
use snow::HandshakeState;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::noise::{self, MAX_HANDSHAKE_BODY};
use crate::subjects::{self, Op, SessionId};
use crate::wire::{
    self, HandshakeReply, HandshakeRequest, HelloReply, ReplyEnvelope, RequestEnvelope,
    WIRE_VERSION,
};
use crate::{Health, Identity, NatsPeerChannel, Rejection, SessionConfig, SessionError};

/// The co-signer's name in the NATS Services API.
pub const SERVICE_NAME: &str = "mpc-cosigner";

/// Registers the co-signer as the NATS service [`SERVICE_NAME`], one
/// endpoint per op on `mpc.v1.cosigner.<op>` in `queue_group` (normally
/// [`subjects::COSIGNER_QUEUE_GROUP`]). A background task answers `hello`
/// and `health` at once, even while the caller is busy in a session, and
/// queues session requests for [`Incoming::next`]. Each endpoint's stats
/// (`$SRV.STATS`) carry, as `data`, the refusals it answered by code.
///
/// The subscriptions reach the broker shortly after this returns; callers
/// that must know they are live (tests, start-up scripts) poll [`health`](crate::health).
pub async fn serve(
    nats: Client,
    identity: Arc<Identity>,
    queue_group: &str,
    config: SessionConfig,
) -> Result<Incoming, SessionError> {
    let refusals = Refusals::default();
    let counted = refusals.clone();
    let service = nats
        .service_builder()
        .description("2-of-2 MPC wallet co-signer: keygen, sign, refresh and status sessions")
        .queue_group(queue_group)
        .stats_handler(move |endpoint, _| counted.as_data(&endpoint))
        .start(SERVICE_NAME, env!("CARGO_PKG_VERSION"))
        .await
        .map_err(SessionError::transport)?;
    let mut endpoints = Vec::new();
    for op in Op::ALL {
        let endpoint = service
            .endpoint_builder()
            .name(op.as_str())
            .add(subjects::request(&op))
            .await
            .map_err(SessionError::transport)?;
        endpoints.push(endpoint.map(move |request| (op, request)).boxed());
    }
    tracing::info!(
        subject = subjects::ALL_REQUESTS,
        queue_group,
        service = SERVICE_NAME,
        "serving co-signer requests"
    );
    let (sender, receiver) = mpsc::channel(PENDING_REQUESTS);
    let dispatcher = Dispatcher {
        nats,
        identity,
        config,
        refusals,
    };
    let task = tokio::spawn(dispatcher.run(service, stream::select_all(endpoints), sender));
    Ok(Incoming { receiver, task })
}

/// Refusals answered, by endpoint and code: a refusal is a protocol answer
/// (CBOR, maybe inside the handshake), not a service error, so the Services
/// API's own error count cannot carry it.
#[derive(Clone, Default)]
struct Refusals(Arc<Mutex<HashMap<Op, BTreeMap<String, u64>>>>);

impl Refusals {
    fn count(&self, op: Op, code: &str) {
        let mut counts = self.0.lock().expect("refusal counts");
        *counts
            .entry(op)
            .or_default()
            .entry(code.to_owned())
            .or_default() += 1;
    }

    fn as_data(&self, endpoint: &str) -> serde_json::Value {
        let counts = self.0.lock().expect("refusal counts");
        let of_endpoint = Op::parse(endpoint)
            .and_then(|op| counts.get(&op))
            .cloned()
            .unwrap_or_default();
        serde_json::json!({ "refused": of_endpoint })
    }
}

/// A request as its endpoint delivered it, with the reply it is owed.
type Requests = stream::SelectAll<BoxStream<'static, (Op, service::Request)>>;

/// Session requests waiting for the caller; more are refused as `busy`.
const PENDING_REQUESTS: usize = 64;

/// The stream of session requests. Dropping it stops the background task
/// and unsubscribes.
#[derive(Debug)]
pub struct Incoming {
    receiver: mpsc::Receiver<IncomingRequest>,
    task: JoinHandle<()>,
}

impl Incoming {
    /// The next session request; `None` once the subscription ends.
    /// Malformed requests are refused and logged, never returned.
    pub async fn next(&mut self) -> Option<IncomingRequest> {
        self.receiver.recv().await
    }
}

impl Drop for Incoming {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Dispatcher {
    nats: Client,
    identity: Arc<Identity>,
    config: SessionConfig,
    refusals: Refusals,
}

impl Dispatcher {
    async fn run(
        self,
        // Kept for as long as requests are served: the service answers
        // `$SRV.PING|INFO|STATS` while it lives.
        _service: service::Service,
        mut requests: Requests,
        sender: mpsc::Sender<IncomingRequest>,
    ) {
        while let Some((op, request)) = requests.next().await {
            if request.message.reply.is_none() {
                tracing::warn!(subject = %request.message.subject, "ignored request without reply subject");
                continue;
            }
            let responder = Responder {
                request: Arc::new(request),
                op,
                refusals: self.refusals.clone(),
            };
            let refusal = match self.parse(op, &responder).await {
                Ok(None) => continue,
                Ok(Some(request)) => match sender.try_send(request) {
                    Ok(()) => continue,
                    Err(mpsc::error::TrySendError::Closed(_)) => return,
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        Rejection::new("busy", "too many pending sessions; retry later")
                    }
                },
                Err(rejection) => rejection,
            };
            tracing::warn!(op = %op, code = %refusal.code,
                reason = %refusal.message, "refused request");
            refuse(&responder, refusal).await;
        }
    }

    /// Answers `hello`/`health` (returning `None`) or builds a session request.
    async fn parse(
        &self,
        op: Op,
        responder: &Responder,
    ) -> Result<Option<IncomingRequest>, Rejection> {
        let message: &Message = &responder.request.message;
        if op == Op::Hello || op == Op::Health {
            let answer = if op == Op::Hello {
                mpc_cbor::encode(&HelloReply {
                    version: WIRE_VERSION,
                    static_pub: ByteBuf::from(self.identity.public_key().to_vec()),
                })
            } else {
                mpc_cbor::encode(&Health {
                    status: "ok".into(),
                    version: env!("CARGO_PKG_VERSION").into(),
                })
            };
            if let Err(e) = responder.respond(answer).await {
                tracing::warn!(op = %op, error = %e, "could not answer");
            }
            return Ok(None);
        }
        let envelope: RequestEnvelope = mpc_cbor::decode("request", &message.payload)
            .map_err(|e| Rejection::new("bad_request", e.to_string()))?;
        if envelope.version != WIRE_VERSION {
            return Err(Rejection::new(
                "unsupported_version",
                format!("wire version {} is not {WIRE_VERSION}", envelope.version),
            ));
        }
        let client_pub = wire::public_key("client key", &envelope.client_static_pub)
            .map_err(|e| Rejection::new("bad_request", e.to_string()))?;
        tracing::info!(session = %envelope.session_id, op = %op, "session requested");
        Ok(Some(IncomingRequest {
            op,
            session_id: envelope.session_id,
            client_pub,
            handshake: envelope.handshake.into_vec(),
            responder: responder.clone(),
            nats: self.nats.clone(),
            identity: self.identity.clone(),
            config: self.config.clone(),
        }))
    }
}

/// The one reply a request is owed, sent through the service so its stats
/// count it (and its processing time).
#[derive(Clone)]
struct Responder {
    request: Arc<service::Request>,
    op: Op,
    refusals: Refusals,
}

impl Responder {
    async fn respond(&self, payload: Vec<u8>) -> Result<(), SessionError> {
        self.request
            .respond(Ok(payload.into()))
            .await
            .map_err(SessionError::transport)
    }
}

/// Refuses in clear.
async fn refuse(responder: &Responder, rejection: Rejection) {
    responder.refusals.count(responder.op, &rejection.code);
    let envelope = ReplyEnvelope::Refused {
        version: WIRE_VERSION,
        rejection,
    };
    if let Err(e) = responder.respond(mpc_cbor::encode(&envelope)).await {
        tracing::warn!(error = %e, "could not send refusal");
    }
}

/// A session request whose sender is not authenticated yet.
pub struct IncomingRequest {
    pub op: Op,
    pub session_id: SessionId,
    /// The static key the sender claims; proven only by [`authenticate`](Self::authenticate).
    pub client_pub: [u8; 32],
    handshake: Vec<u8>,
    responder: Responder,
    nats: Client,
    identity: Arc<Identity>,
    config: SessionConfig,
}

impl IncomingRequest {
    /// Reads the first handshake message expecting it from `expected_client_pub`:
    /// the key pinned for the wallet, or for a new wallet (keygen) the
    /// claimed [`client_pub`](Self::client_pub). On failure the client gets
    /// an immediate refusal.
    pub async fn authenticate(
        self,
        expected_client_pub: &[u8; 32],
    ) -> Result<AuthenticatedRequest, SessionError> {
        let mut handshake = noise::responder(
            &self.identity,
            expected_client_pub,
            &self.session_id,
            &self.op,
        )?;
        let Some(body) = noise::read_handshake(&mut handshake, &self.handshake) else {
            tracing::warn!(session = %self.session_id, op = %self.op,
                "request failed authentication against the expected client key");
            let error = SessionError::ClientNotAuthenticated {
                op: self.op.to_string(),
                session: self.session_id.to_string(),
            };
            refuse(
                &self.responder,
                Rejection::new(
                    "unauthenticated",
                    "the request is not from the expected client key",
                ),
            )
            .await;
            return Err(error);
        };
        let window = self.config.freshness_window.as_secs();
        let (op, session) = (self.op.to_string(), self.session_id.to_string());
        let decoded = mpc_cbor::decode::<HandshakeRequest>("handshake request", &body);
        let issued_at = decoded.as_ref().map_or(0, |request| request.issued_at);
        let authenticated = AuthenticatedRequest {
            body: decoded
                .as_ref()
                .map(|request| request.body.to_vec())
                .unwrap_or_default(),
            issued_at,
            handshake,
            request: self,
        };
        // From here the client is who it claims: refusals go inside the handshake.
        if let Err(error) = decoded {
            authenticated
                .reject(Rejection::new("bad_request", error.to_string()))
                .await?;
            return Err(error.into());
        }
        let skew = wire::unix_now().abs_diff(issued_at);
        if skew > window {
            tracing::warn!(session = %session, op = %op, skew_s = skew, window_s = window,
                "refused a request outside the freshness window");
            authenticated
                .reject(Rejection::new(
                    "request_expired",
                    format!(
                        "the request was issued {skew} s away from the co-signer's clock, \
                         outside its {window} s window: check this machine's clock"
                    ),
                ))
                .await?;
            return Err(SessionError::RequestExpired {
                op,
                session,
                skew_s: skew,
                window_s: window,
            });
        }
        Ok(authenticated)
    }

    /// Refuses in clear, before authentication (e.g. `unknown_wallet` when no
    /// wallet is pinned to [`client_pub`](Self::client_pub)).
    pub async fn reject(self, rejection: Rejection) {
        tracing::info!(session = %self.session_id, op = %self.op, code = %rejection.code,
            "refused request");
        refuse(&self.responder, rejection).await;
    }
}

/// A request proven to come from the expected client key.
pub struct AuthenticatedRequest {
    /// The op's request body, decrypted.
    pub body: Vec<u8>,
    issued_at: u64,
    handshake: HandshakeState,
    request: IncomingRequest,
}

impl AuthenticatedRequest {
    pub fn op(&self) -> &Op {
        &self.request.op
    }

    pub fn session_id(&self) -> &SessionId {
        &self.request.session_id
    }

    pub fn client_pub(&self) -> &[u8; 32] {
        &self.request.client_pub
    }

    /// When the client sent the request (Unix seconds, its clock), checked to
    /// be within the freshness window.
    pub fn issued_at(&self) -> u64 {
        self.issued_at
    }

    /// Completes the handshake with `response_body` and returns the channel
    /// for the rounds.
    pub async fn accept(self, response_body: &[u8]) -> Result<NatsPeerChannel, SessionError> {
        if response_body.len() > MAX_HANDSHAKE_BODY {
            return Err(SessionError::BodyTooLarge {
                what: "response body",
                len: response_body.len(),
                max: MAX_HANDSHAKE_BODY,
            });
        }
        let AuthenticatedRequest {
            mut handshake,
            request,
            ..
        } = self;
        // Subscribe before replying: the client's first round message may
        // follow the reply at once.
        let inbound = request
            .nats
            .subscribe(subjects::session(&request.session_id, Party::Cosigner))
            .await
            .map_err(SessionError::transport)?;
        let accepted = HandshakeReply::Accepted(ByteBuf::from(response_body.to_vec()));
        let message = noise::write_handshake(&mut handshake, &mpc_cbor::encode(&accepted))?;
        let transport = handshake
            .into_stateless_transport_mode()
            .map_err(SessionError::noise)?;
        reply_handshake(&request, message).await?;
        tracing::info!(session = %request.session_id, op = %request.op, "session accepted");
        Ok(NatsPeerChannel::new(
            request.nats,
            request.session_id,
            Party::Cosigner,
            transport,
            inbound,
            request.config,
        ))
    }

    /// Refuses inside the handshake, so the client knows the refusal is
    /// really from this co-signer (e.g. `wallet_locked`).
    pub async fn reject(self, rejection: Rejection) -> Result<(), SessionError> {
        let AuthenticatedRequest {
            mut handshake,
            request,
            ..
        } = self;
        tracing::info!(session = %request.session_id, op = %request.op, code = %rejection.code,
            "rejected authenticated request");
        request
            .responder
            .refusals
            .count(request.op, &rejection.code);
        let message = noise::write_handshake(
            &mut handshake,
            &mpc_cbor::encode(&HandshakeReply::Rejected(rejection)),
        )?;
        reply_handshake(&request, message).await
    }
}

impl fmt::Debug for IncomingRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IncomingRequest")
            .field("op", &self.op)
            .field("session_id", &self.session_id)
            .field("client_pub", &hex::encode(self.client_pub))
            .finish_non_exhaustive()
    }
}

/// Shows routing facts only: the body stays out of logs.
impl fmt::Debug for AuthenticatedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthenticatedRequest")
            .field("request", &self.request)
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}

async fn reply_handshake(request: &IncomingRequest, message: Vec<u8>) -> Result<(), SessionError> {
    let envelope = ReplyEnvelope::Handshake {
        version: WIRE_VERSION,
        handshake: ByteBuf::from(message),
    };
    request.responder.respond(mpc_cbor::encode(&envelope)).await
}
