//! Entry points for the fuzz targets in `fuzz/` (feature `fuzzing`, not part
//! of the supported API): the decoders of everything the broker or a peer can
//! put in front of this crate, reachable without a NATS connection.

use serde_bytes::ByteBuf;
use snow::StatelessTransportState;

use crate::subjects::{Op, SessionId};
use crate::wire::{
    self, HandshakeReply, HelloReply, OpenedBody, ReplyEnvelope, RequestEnvelope, RoundEnvelope,
    WIRE_VERSION,
};
use crate::{noise, Health, Identity, SessionError};

/// Runs every clear-text CBOR decoder of the wire (request, reply, round,
/// handshake reply, hello, health) on `bytes`; returns how many accepted it.
pub fn decode_envelopes(bytes: &[u8]) -> usize {
    [
        mpc_cbor::decode::<RequestEnvelope>("request", bytes)
            .is_ok_and(|r| wire::public_key("client key", &r.client_static_pub).is_ok()),
        mpc_cbor::decode::<ReplyEnvelope>("reply", bytes).is_ok(),
        mpc_cbor::decode::<RoundEnvelope>("round envelope", bytes).is_ok(),
        mpc_cbor::decode::<HandshakeReply>("handshake reply", bytes).is_ok(),
        mpc_cbor::decode::<HelloReply>("hello reply", bytes)
            .is_ok_and(|h| wire::public_key("hello reply", &h.static_pub).is_ok()),
        mpc_cbor::decode::<Health>("health reply", bytes).is_ok(),
    ]
    .into_iter()
    .filter(|ok| *ok)
    .count()
}

/// Both directions of one completed Noise KK session between two fresh
/// identities, for driving the receive path of round envelopes.
pub struct SessionPair {
    session: SessionId,
    client: StatelessTransportState,
    cosigner: StatelessTransportState,
}

impl SessionPair {
    pub fn new() -> Result<SessionPair, SessionError> {
        let (client, cosigner) = (Identity::generate()?, Identity::generate()?);
        let session = SessionId::random();
        let mut init = noise::initiator(&client, &cosigner.public_key(), &session, &Op::Sign)?;
        let mut resp = noise::responder(&cosigner, &client.public_key(), &session, &Op::Sign)?;
        let m1 = noise::write_handshake(&mut init, b"request")?;
        noise::read_handshake(&mut resp, &m1).ok_or_else(|| SessionError::Noise("m1".into()))?;
        let m2 = noise::write_handshake(&mut resp, b"response")?;
        noise::read_handshake(&mut init, &m2).ok_or_else(|| SessionError::Noise("m2".into()))?;
        Ok(SessionPair {
            session,
            client: init
                .into_stateless_transport_mode()
                .map_err(SessionError::noise)?,
            cosigner: resp
                .into_stateless_transport_mode()
                .map_err(SessionError::noise)?,
        })
    }

    /// The co-signer's receive path for one round envelope, as
    /// `NatsPeerChannel` runs it: decode, version, decrypt under the
    /// envelope's seq, decode the sealed body, compare the routes.
    /// Returns the body when all of that holds.
    pub fn receive(&self, envelope: &[u8]) -> Result<Vec<u8>, SessionError> {
        let envelope: RoundEnvelope = mpc_cbor::decode("round envelope", envelope)?;
        let malformed = |reason: &str| SessionError::Malformed {
            what: "round envelope",
            reason: reason.into(),
        };
        if envelope.version != WIRE_VERSION {
            return Err(malformed("unknown wire version"));
        }
        let route = envelope.route;
        let plaintext = noise::open(&self.cosigner, route.seq, &envelope.ciphertext)
            .ok_or_else(|| malformed("not authentic"))?;
        let opened: OpenedBody = mpc_cbor::decode("sealed body", &plaintext)?;
        if opened.route != route {
            return Err(malformed("route mismatch"));
        }
        Ok(opened.body.into_vec())
    }

    /// The honest client route of message `seq`.
    fn client_route(&self, seq: u64) -> wire::Route {
        wire::Route {
            session_id: self.session.clone(),
            kind: wire::Kind::Message,
            from: mpc_protocol::Party::Client,
            to: mpc_protocol::Party::Cosigner,
            round: "fuzz".into(),
            seq,
        }
    }

    /// A round envelope with an honest clear route whose ciphertext is
    /// `plaintext` sealed by the client: what a pinned but hostile peer can
    /// send, reaching the sealed-body decoder.
    pub fn envelope_sealing(&self, seq: u64, plaintext: &[u8]) -> Vec<u8> {
        let route = self.client_route(seq);
        let ciphertext: Vec<ByteBuf> =
            noise::seal(&self.client, seq, plaintext).expect("seq below 2^48 always numbers");
        mpc_cbor::encode(&RoundEnvelope {
            version: WIRE_VERSION,
            route,
            ciphertext,
        })
    }

    /// A well-formed round envelope from the client carrying `body`.
    pub fn honest_envelope(&self, seq: u64, body: &[u8]) -> Vec<u8> {
        let route = self.client_route(seq);
        let plaintext = mpc_cbor::encode(&wire::SealedBody {
            route: &route,
            body,
        });
        self.envelope_sealing(seq, &plaintext)
    }
}
