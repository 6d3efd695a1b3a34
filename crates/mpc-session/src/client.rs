//! The client side: opening a session with the co-signer, and the `hello` and
//! `health` requests.

use std::time::Duration;

use async_nats::client::{Request, RequestErrorKind};
use async_nats::{Client, HeaderMap, Message};
use mpc_protocol::Party;
use serde_bytes::ByteBuf;

use crate::config::whole_seconds;
use crate::noise::{self, MAX_HANDSHAKE_BODY};
use crate::subjects::{self, headers, Op, SessionId};
use crate::wire::{
    self, HandshakeReply, HandshakeRequest, HelloReply, ReplyEnvelope, RequestEnvelope,
    WIRE_VERSION,
};
use crate::{Health, Identity, NatsPeerChannel, SessionConfig, SessionError};

/// Opens sessions with a co-signer whose static key the caller pinned.
#[derive(Debug)]
pub struct SessionClient {
    nats: Client,
    identity: Identity,
    config: SessionConfig,
}

impl SessionClient {
    pub fn new(nats: Client, identity: Identity, config: SessionConfig) -> SessionClient {
        SessionClient {
            nats,
            identity,
            config,
        }
    }

    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// Sends `request_body` for `op` to the co-signer pinned as `cosigner_pub`
    /// inside the first handshake message, and returns the channel for the
    /// rounds together with the co-signer's response body.
    pub async fn open(
        &self,
        cosigner_pub: &[u8; 32],
        op: &Op,
        session: &SessionId,
        request_body: &[u8],
    ) -> Result<(NatsPeerChannel, Vec<u8>), SessionError> {
        if request_body.len() > MAX_HANDSHAKE_BODY {
            return Err(SessionError::BodyTooLarge {
                what: "request body",
                len: request_body.len(),
                max: MAX_HANDSHAKE_BODY,
            });
        }
        // Subscribe before the co-signer can know the session, so its first
        // round message cannot be missed.
        let inbound = self
            .nats
            .subscribe(subjects::session(session, Party::Client))
            .await
            .map_err(SessionError::transport)?;
        let mut handshake = noise::initiator(&self.identity, cosigner_pub, session, op)?;
        let envelope = RequestEnvelope {
            version: WIRE_VERSION,
            session_id: session.clone(),
            client_static_pub: ByteBuf::from(self.identity.public_key().to_vec()),
            handshake: ByteBuf::from(noise::write_handshake(
                &mut handshake,
                &mpc_cbor::encode(&HandshakeRequest {
                    issued_at: wire::unix_now(),
                    body: ByteBuf::from(request_body.to_vec()),
                }),
            )?),
        };
        let mut request_headers = HeaderMap::new();
        request_headers.insert(headers::SESSION, session.as_str());
        request_headers.insert(headers::OP, op.as_str());
        tracing::info!(session = %session, op = %op, "opening session");
        let reply = request(
            &self.nats,
            op,
            Some(session),
            mpc_cbor::encode(&envelope),
            request_headers,
            self.config.request_timeout,
        )
        .await?;

        let reject = |rejection, authenticated| SessionError::Rejected {
            op: op.to_string(),
            session: session.to_string(),
            rejection,
            authenticated,
        };
        let message = match mpc_cbor::decode("co-signer reply", &reply.payload)? {
            ReplyEnvelope::Refused { rejection, .. } => return Err(reject(rejection, false)),
            ReplyEnvelope::Handshake { version, .. } if version != WIRE_VERSION => {
                return Err(SessionError::Malformed {
                    what: "co-signer reply",
                    reason: format!("wire version {version}, expected {WIRE_VERSION}"),
                });
            }
            ReplyEnvelope::Handshake { handshake, .. } => handshake,
        };
        let payload = noise::read_handshake(&mut handshake, &message).ok_or_else(|| {
            SessionError::CosignerNotAuthenticated {
                op: op.to_string(),
                session: session.to_string(),
            }
        })?;
        let response_body = match mpc_cbor::decode("co-signer response", &payload)? {
            HandshakeReply::Rejected(rejection) => return Err(reject(rejection, true)),
            HandshakeReply::Accepted(body) => body.into_vec(),
        };
        let transport = handshake
            .into_stateless_transport_mode()
            .map_err(SessionError::noise)?;
        tracing::info!(session = %session, op = %op, "session open");
        let channel = NatsPeerChannel::new(
            self.nats.clone(),
            session.clone(),
            Party::Client,
            transport,
            inbound,
            self.config.clone(),
        );
        Ok((channel, response_body))
    }
}

/// A request to `mpc.v1.cosigner.<op>` with clear errors for "nobody
/// listens" and "nobody answered in time".
async fn request(
    nats: &Client,
    op: &Op,
    session: Option<&SessionId>,
    payload: Vec<u8>,
    request_headers: HeaderMap,
    timeout: Duration,
) -> Result<Message, SessionError> {
    let subject = subjects::request(op);
    let request = Request::new()
        .payload(payload.into())
        .headers(request_headers)
        .timeout(Some(timeout));
    nats.send_request(subject.clone(), request)
        .await
        .map_err(|e| match e.kind() {
            RequestErrorKind::NoResponders => SessionError::CosignerUnreachable { subject },
            RequestErrorKind::TimedOut => SessionError::RequestTimeout {
                op: op.to_string(),
                session: session.map_or_else(|| "-".to_owned(), |s| s.to_string()),
                seconds: whole_seconds(timeout),
            },
            _ => SessionError::transport(e),
        })
}

/// Asks a co-signer for its static public key. The answer is not
/// authenticated: pin it on first use (at the first keygen) and pass the
/// pinned key to [`SessionClient::open`] from then on.
pub async fn hello(nats: &Client, timeout: Duration) -> Result<[u8; 32], SessionError> {
    let reply = request(
        nats,
        &Op::Hello,
        None,
        Vec::new(),
        HeaderMap::new(),
        timeout,
    )
    .await?;
    let hello: HelloReply = mpc_cbor::decode("hello reply", &reply.payload)?;
    wire::public_key("hello reply", &hello.static_pub)
}

/// Asks a co-signer whether it is up: `Ok` with `status == "ok"` when one answers.
pub async fn health(nats: &Client, timeout: Duration) -> Result<Health, SessionError> {
    let reply = request(
        nats,
        &Op::Health,
        None,
        Vec::new(),
        HeaderMap::new(),
        timeout,
    )
    .await?;
    Ok(mpc_cbor::decode("health reply", &reply.payload)?)
}
