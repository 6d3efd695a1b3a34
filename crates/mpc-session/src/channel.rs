//! [`NatsPeerChannel`]: the protocol's [`PeerChannel`] over one NATS session.

use std::collections::{HashMap, HashSet};
use std::fmt;

use async_nats::{Client, HeaderMap, Message, Subscriber};
use futures::StreamExt;
use mpc_protocol::{ChannelError, Party, PeerChannel, Round};
use snow::StatelessTransportState;
use tokio::time::{timeout_at, Instant};
use zeroize::Zeroizing;

use crate::config::whole_seconds;
use crate::replay::ReplayWindow;
use crate::subjects::{self, headers, SessionId};
use crate::wire::{Kind, OpenedBody, RoundEnvelope, Route, SealedBody, WIRE_VERSION};
use crate::SessionConfig;

/// Longest abort reason sent to the peer.
const MAX_ABORT_REASON: usize = 256;
/// What a session may always buffer, whatever other sessions hold: more than
/// an honest peer is ever ahead (two keygen messages), so floods elsewhere
/// that exhaust the shared budget cannot starve it.
const GUARANTEED_BUFFER: usize = 256 << 10;

/// An end-to-end encrypted channel to the one peer of a session. Dropping it
/// unsubscribes from the session subject.
pub struct NatsPeerChannel {
    nats: Client,
    session: SessionId,
    me: Party,
    transport: StatelessTransportState,
    inbound: Subscriber,
    config: SessionConfig,
    next_seq: u64,
    replay: ReplayWindow,
    /// Authentic messages for rounds not asked for yet, and their total size
    /// (taken from the config's shared budget).
    buffered: HashMap<String, Zeroizing<Vec<u8>>>,
    buffered_bytes: usize,
    /// Rounds already handed to the caller: a second message for one is a duplicate.
    delivered: HashSet<String>,
    peer_aborted: Option<String>,
    closed: bool,
}

/// Why an inbound message was dropped; logged, never returned.
enum Reject {
    Malformed(&'static str),
    Misrouted(&'static str),
    HeaderMismatch,
    Replay(&'static str),
    NotAuthentic,
    RouteMismatch,
    RoundAlreadyDelivered,
    RoundAlreadyBuffered,
    BufferFull,
}

impl fmt::Display for Reject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reject::Malformed(what) => write!(f, "malformed envelope: {what}"),
            Reject::Misrouted(what) => write!(f, "envelope for another {what}"),
            Reject::HeaderMismatch => f.write_str("headers disagree with the envelope"),
            Reject::Replay(why) => write!(f, "replay: {why}"),
            Reject::NotAuthentic => f.write_str("failed authentication (not from the pinned peer)"),
            Reject::RouteMismatch => {
                f.write_str("authenticated routing facts disagree with the envelope")
            }
            Reject::RoundAlreadyDelivered => f.write_str("duplicate of an already delivered round"),
            Reject::RoundAlreadyBuffered => f.write_str("duplicate of an already buffered round"),
            Reject::BufferFull => f.write_str("too many messages buffered for future rounds"),
        }
    }
}

/// An inbound message that proved authentic and fresh.
enum Accepted {
    Message {
        round: String,
        body: Zeroizing<Vec<u8>>,
    },
    Abort(String),
}

impl NatsPeerChannel {
    pub(crate) fn new(
        nats: Client,
        session: SessionId,
        me: Party,
        transport: StatelessTransportState,
        inbound: Subscriber,
        config: SessionConfig,
    ) -> Self {
        NatsPeerChannel {
            nats,
            session,
            me,
            transport,
            inbound,
            config,
            next_seq: 0,
            replay: ReplayWindow::default(),
            buffered: HashMap::new(),
            buffered_bytes: 0,
            delivered: HashSet::new(),
            peer_aborted: None,
            closed: false,
        }
    }

    pub fn session_id(&self) -> &SessionId {
        &self.session
    }

    /// The party this end speaks for.
    pub fn party(&self) -> Party {
        self.me
    }

    fn route(&mut self, kind: Kind, round: &str) -> Route {
        let seq = self.next_seq;
        self.next_seq += 1;
        Route {
            session_id: self.session.clone(),
            kind,
            from: self.me,
            to: self.me.peer(),
            round: round.to_owned(),
            seq,
        }
    }

    async fn publish(&mut self, kind: Kind, round: &str, body: &[u8]) -> Result<(), ChannelError> {
        let route = self.route(kind, round);
        let plaintext = mpc_cbor::encode_secret(&SealedBody {
            route: &route,
            body,
        });
        let ciphertext = crate::noise::seal(&self.transport, route.seq, &plaintext)
            .map_err(|e| ChannelError::Transport(e.to_string()))?;
        let headers = route_headers(&route);
        let envelope = RoundEnvelope {
            version: WIRE_VERSION,
            route,
            ciphertext,
        };
        let subject = subjects::session(&self.session, self.me.peer());
        self.nats
            .publish_with_headers(subject, headers, mpc_cbor::encode(&envelope).into())
            .await
            .map_err(|e| {
                ChannelError::Transport(format!(
                    "publishing {round} of session {}: {e}",
                    self.session
                ))
            })?;
        let r = &envelope.route;
        tracing::debug!(session = %r.session_id, round = %r.round, kind = r.kind.as_str(),
            from = %r.from, to = %r.to, seq = r.seq, "sent");
        Ok(())
    }

    /// Checks one inbound message in order of cost: routing, headers, replay
    /// window, then decryption and the authenticated routing facts.
    fn accept(&mut self, message: &Message) -> Result<Accepted, (Option<Route>, Reject)> {
        let envelope: RoundEnvelope = mpc_cbor::decode("round envelope", &message.payload)
            .map_err(|_| (None, Reject::Malformed("not a CBOR round envelope")))?;
        let route = envelope.route;
        let fail = |reject| Err((Some(route.clone()), reject));
        if envelope.version != WIRE_VERSION {
            return fail(Reject::Malformed("unknown wire version"));
        }
        if route.session_id != self.session {
            return fail(Reject::Misrouted("session"));
        }
        if route.from != self.me.peer() || route.to != self.me {
            return fail(Reject::Misrouted("direction"));
        }
        if message.headers.as_ref() != Some(&route_headers(&route)) {
            return fail(Reject::HeaderMismatch);
        }
        if let Err(replay) = self.replay.check(route.seq) {
            return fail(Reject::Replay(replay.as_str()));
        }
        let Some(plaintext) = crate::noise::open(&self.transport, route.seq, &envelope.ciphertext)
        else {
            return fail(Reject::NotAuthentic);
        };
        // Noise transport messages take no associated data, so the routing
        // facts travel inside the plaintext too; equality with the clear copy
        // binds session, direction, kind, round and seq to the ciphertext.
        let Ok(opened) = mpc_cbor::decode::<OpenedBody>("sealed body", &plaintext) else {
            return fail(Reject::NotAuthentic);
        };
        let body = Zeroizing::new(opened.body.into_vec());
        if opened.route != route {
            return fail(Reject::RouteMismatch);
        }
        match route.kind {
            Kind::Abort => {
                self.replay.commit(route.seq);
                let reason = String::from_utf8_lossy(&body).into_owned();
                Ok(Accepted::Abort(reason))
            }
            Kind::Message if self.delivered.contains(&route.round) => {
                fail(Reject::RoundAlreadyDelivered)
            }
            Kind::Message if self.buffered.contains_key(&route.round) => {
                fail(Reject::RoundAlreadyBuffered)
            }
            Kind::Message => {
                self.replay.commit(route.seq);
                Ok(Accepted::Message {
                    round: route.round,
                    body,
                })
            }
        }
    }

    /// Takes `bytes` from this session's and the shared budget for a
    /// message to buffer.
    fn hold(&mut self, bytes: usize) -> Result<(), ChannelError> {
        let held = self.buffered_bytes + bytes;
        if held > self.config.max_buffered_bytes {
            return Err(ChannelError::OverBudget {
                scope: "session",
                bytes: held,
                limit: self.config.max_buffered_bytes,
            });
        }
        let budget = &self.config.buffer_budget;
        let shared = shared_part(held) - shared_part(self.buffered_bytes);
        if !budget.take(shared) {
            return Err(ChannelError::OverBudget {
                scope: "all sessions'",
                bytes: budget.used() + shared,
                limit: budget.limit(),
            });
        }
        self.buffered_bytes = held;
        Ok(())
    }

    fn release(&mut self, bytes: usize) {
        let held = self.buffered_bytes - bytes;
        let shared = shared_part(self.buffered_bytes) - shared_part(held);
        self.config.buffer_budget.give_back(shared);
        self.buffered_bytes = held;
    }

    fn deliver(&mut self, round: Round, body: Zeroizing<Vec<u8>>) -> Zeroizing<Vec<u8>> {
        self.delivered.insert(round.as_str().to_owned());
        tracing::debug!(session = %self.session, round = %round, from = %self.me.peer(),
            to = %self.me, "delivered");
        body
    }

    fn timeout(&self, round: Round) -> ChannelError {
        tracing::warn!(session = %self.session, round = %round, party = %self.me,
            "timed out waiting for the peer");
        ChannelError::Timeout {
            round: format!("{round} (session {})", self.session),
            seconds: whole_seconds(self.config.round_timeout),
        }
    }
}

fn route_headers(route: &Route) -> HeaderMap {
    let mut map = HeaderMap::new();
    map.insert(headers::SESSION, route.session_id.as_str());
    map.insert(headers::KIND, route.kind.as_str());
    map.insert(headers::ROUND, route.round.as_str());
    map.insert(headers::FROM, route.from.as_str());
    map.insert(headers::TO, route.to.as_str());
    map.insert(headers::SEQ, route.seq.to_string().as_str());
    map
}

impl PeerChannel for NatsPeerChannel {
    async fn send(
        &mut self,
        round: Round,
        payload: Zeroizing<Vec<u8>>,
    ) -> Result<(), ChannelError> {
        if self.closed {
            return Err(ChannelError::Closed);
        }
        self.publish(Kind::Message, round.as_str(), &payload).await
    }

    async fn recv(&mut self, round: Round) -> Result<Zeroizing<Vec<u8>>, ChannelError> {
        if let Some(reason) = &self.peer_aborted {
            return Err(ChannelError::PeerAborted(reason.clone()));
        }
        if self.closed {
            return Err(ChannelError::Closed);
        }
        if let Some(body) = self.buffered.remove(round.as_str()) {
            self.release(body.len());
            return Ok(self.deliver(round, body));
        }
        let deadline = Instant::now() + self.config.round_timeout;
        loop {
            let message = match timeout_at(deadline, self.inbound.next()).await {
                Err(_) => return Err(self.timeout(round)),
                Ok(None) => return Err(ChannelError::Closed),
                Ok(Some(message)) => message,
            };
            match self.accept(&message) {
                Ok(Accepted::Message { round: got, body }) if got == round.as_str() => {
                    return Ok(self.deliver(round, body));
                }
                Ok(Accepted::Message { round: got, body }) => {
                    if let Err(error) = self.hold(body.len()) {
                        tracing::warn!(session = %self.session, round = %got, expected = %round,
                            error = %error, "peer exceeded the buffer budget: ending the session");
                        self.abort("too much data sent ahead of the protocol").await;
                        return Err(error);
                    }
                    if self.buffered.len() >= self.config.max_buffered_rounds {
                        self.release(body.len());
                        tracing::warn!(session = %self.session, round = %got, expected = %round,
                            reason = %Reject::BufferFull, "rejected inbound message");
                    } else {
                        tracing::debug!(session = %self.session, round = %got, expected = %round,
                            "buffered message for a later round");
                        self.buffered.insert(got, body);
                    }
                }
                Ok(Accepted::Abort(reason)) => {
                    tracing::warn!(session = %self.session, round = %round, %reason,
                        "peer aborted the session");
                    self.peer_aborted = Some(reason.clone());
                    return Err(ChannelError::PeerAborted(reason));
                }
                Err((route, reject)) => match route {
                    Some(r) => tracing::warn!(session = %self.session, expected = %round,
                        subject = %message.subject, claimed_session = %r.session_id,
                        claimed_round = %r.round, claimed_from = %r.from, claimed_to = %r.to,
                        claimed_seq = r.seq, reason = %reject, "rejected inbound message"),
                    None => tracing::warn!(session = %self.session, expected = %round,
                        subject = %message.subject, reason = %reject,
                        "rejected inbound message"),
                },
            }
        }
    }

    async fn abort(&mut self, reason: &str) {
        if self.closed {
            return;
        }
        let reason: String = reason.chars().take(MAX_ABORT_REASON).collect();
        if let Err(e) = self.publish(Kind::Abort, "abort", reason.as_bytes()).await {
            tracing::warn!(session = %self.session, error = %e, "could not send abort");
        }
        // Best effort: push the abort out before the caller drops the channel,
        // but never keep a failing caller waiting on a broker that is gone.
        if self.nats.connection_state() == async_nats::connection::State::Connected {
            let _ = tokio::time::timeout(ABORT_FLUSH_TIMEOUT, self.nats.flush()).await;
        }
        self.closed = true;
    }
}

/// How long an abort may wait for the broker to take it.
const ABORT_FLUSH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);

/// The bytes of a session's buffer counted against the shared budget.
fn shared_part(held: usize) -> usize {
    held.saturating_sub(GUARANTEED_BUFFER)
}

impl Drop for NatsPeerChannel {
    fn drop(&mut self) {
        self.release(self.buffered_bytes);
    }
}

impl fmt::Debug for NatsPeerChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NatsPeerChannel")
            .field("session", &self.session)
            .field("party", &self.me)
            .finish_non_exhaustive()
    }
}
