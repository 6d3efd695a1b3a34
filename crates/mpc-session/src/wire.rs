//! CBOR shapes on the wire (encoded and decoded with `mpc_cbor`). Everything
//! here is readable by the broker except the Noise messages and the round
//! ciphertext.

use std::fmt;

use mpc_protocol::Party;
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

use crate::subjects::SessionId;
use crate::SessionError;

/// Version of every CBOR shape below; checked on receipt. 2: the request's
/// handshake payload is a [`HandshakeRequest`] carrying its timestamp.
pub(crate) const WIRE_VERSION: u16 = 2;

/// Client → co-signer on `mpc.v1.cosigner.<op>`.
#[derive(Serialize, Deserialize)]
pub(crate) struct RequestEnvelope {
    pub version: u16,
    pub session_id: SessionId,
    pub client_static_pub: ByteBuf,
    /// Noise KK message 1; its payload is the op's request body.
    pub handshake: ByteBuf,
}

/// The payload of Noise message 1: the op's request body and when the client
/// sent it. Noise KK's first message has no freshness of its own, so the
/// timestamp, authenticated with the body, is what makes a recorded request
/// useless after the co-signer's freshness window.
#[derive(Serialize, Deserialize)]
pub(crate) struct HandshakeRequest {
    /// Seconds since the Unix epoch on the client's clock.
    pub issued_at: u64,
    pub body: ByteBuf,
}

/// Co-signer → client, on the request's reply inbox.
#[derive(Serialize, Deserialize)]
pub(crate) enum ReplyEnvelope {
    /// Noise KK message 2; its payload is a CBOR [`HandshakeReply`].
    Handshake { version: u16, handshake: ByteBuf },
    /// Sent in clear when the request could not be authenticated or parsed.
    Refused { version: u16, rejection: Rejection },
}

/// The payload of Noise message 2.
#[derive(Serialize, Deserialize)]
pub(crate) enum HandshakeReply {
    Accepted(ByteBuf),
    Rejected(Rejection),
}

/// Why the co-signer turned a request down, e.g. `wallet_locked`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejection {
    /// Stable machine-readable code, such as `unknown_wallet`.
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
    /// For a policy refusal, the rule and the value that broke it as data.
    /// Older peers neither send nor expect it (serde default). Boxed: every
    /// `SessionError` carries a `Rejection`, and most never this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub violation: Option<Box<Violation>>,
}

/// Which rule of the co-signer's policy refused, and the value that broke it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    /// The rule's stable name, such as `tx.daily_limit`.
    pub rule: String,
    /// The offending value, such as `1.2 ETH`.
    pub value: String,
}

impl Rejection {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Rejection {
        Rejection {
            code: code.into(),
            message: message.into(),
            violation: None,
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.code)
    }
}

/// Whether a round envelope carries a protocol message or an abort notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Kind {
    Message,
    Abort,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Message => "message",
            Kind::Abort => "abort",
        }
    }
}

/// The routing facts of a round message: in clear in the envelope and the
/// headers, and again inside the ciphertext so they are authenticated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Route {
    pub session_id: SessionId,
    pub kind: Kind,
    pub from: Party,
    pub to: Party,
    pub round: String,
    pub seq: u64,
}

/// On `mpc.v1.session.<session_id>.<to>`.
#[derive(Serialize, Deserialize)]
pub(crate) struct RoundEnvelope {
    pub version: u16,
    pub route: Route,
    /// Noise transport frames (each at most 64 KiB), nonce derived from `seq`.
    pub ciphertext: Vec<ByteBuf>,
}

/// The plaintext inside a round envelope's ciphertext.
#[derive(Serialize)]
pub(crate) struct SealedBody<'a> {
    pub route: &'a Route,
    #[serde(with = "serde_bytes")]
    pub body: &'a [u8],
}

#[derive(Deserialize)]
pub(crate) struct OpenedBody {
    pub route: Route,
    pub body: ByteBuf,
}

/// `{status, version}` of a co-signer health answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    pub status: String,
    pub version: String,
}

/// The co-signer's static key, for the client to pin on first use.
#[derive(Serialize, Deserialize)]
pub(crate) struct HelloReply {
    pub version: u16,
    pub static_pub: ByteBuf,
}

/// Seconds since the Unix epoch (0 for a clock set before it): the clock a
/// request's `issued_at` is read on, and checked against.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

pub(crate) fn public_key(what: &'static str, bytes: &[u8]) -> Result<[u8; 32], SessionError> {
    bytes.try_into().map_err(|_| SessionError::Malformed {
        what,
        reason: format!("expected a 32-byte X25519 key, got {} bytes", bytes.len()),
    })
}
