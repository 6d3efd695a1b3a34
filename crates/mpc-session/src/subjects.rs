//! The versioned NATS subject map (mirrored in `nats/users.conf`).

use std::fmt;

use mpc_protocol::Party;
use serde::{Deserialize, Serialize};

use crate::SessionError;

/// Subject prefix; bumped with incompatible wire changes.
pub const PREFIX: &str = "mpc.v1";
/// Queue group the co-signers share, so several can serve one broker.
pub const COSIGNER_QUEUE_GROUP: &str = "cosigners";
/// Every co-signer request subject.
pub const ALL_REQUESTS: &str = "mpc.v1.cosigner.>";

/// Checks that `value` is one plain subject token: no dots, wildcards or
/// spaces can sneak into a subject built from it.
fn check_token(what: &'static str, value: &str) -> Result<(), SessionError> {
    let plain = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    if value.is_empty() || value.len() > 64 || !value.chars().all(plain) {
        return Err(SessionError::InvalidToken {
            what,
            value: value.chars().take(80).collect(),
        });
    }
    Ok(())
}

/// A co-signer operation: the last token of its request subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// A new wallet's distributed key generation.
    Keygen,
    /// A signature.
    Sign,
    /// A key refresh (rotation).
    Refresh,
    /// The co-signer's share version of a wallet, answered inside an
    /// authenticated session (so a client can tell a stale backup).
    Status,
    /// Answered by [`serve`](crate::serve) itself with `{status, version}`.
    Health,
    /// Answered by [`serve`](crate::serve) itself with the co-signer's static key.
    Hello,
}

impl Op {
    pub const ALL: [Op; 6] = [
        Op::Keygen,
        Op::Sign,
        Op::Refresh,
        Op::Status,
        Op::Health,
        Op::Hello,
    ];

    /// The op a subject token names, if any.
    pub fn parse(token: &str) -> Option<Op> {
        Self::ALL.into_iter().find(|op| op.as_str() == token)
    }

    /// The subject token.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Keygen => "keygen",
            Op::Sign => "sign",
            Op::Refresh => "refresh",
            Op::Status => "status",
            Op::Health => "health",
            Op::Hello => "hello",
        }
    }

    /// Whether the op opens a session (rather than being answered at once).
    pub fn opens_session(self) -> bool {
        matches!(self, Op::Keygen | Op::Sign | Op::Refresh | Op::Status)
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A session identifier, one subject token.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SessionId(String);

impl SessionId {
    /// A fresh random identifier (UUID v4, 32 hex digits).
    pub fn random() -> SessionId {
        SessionId(uuid::Uuid::new_v4().simple().to_string())
    }

    pub fn parse(value: &str) -> Result<SessionId, SessionError> {
        check_token("session id", value)?;
        Ok(SessionId(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for SessionId {
    type Error = SessionError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        check_token("session id", &value)?;
        Ok(SessionId(value))
    }
}

impl From<SessionId> for String {
    fn from(id: SessionId) -> String {
        id.0
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `mpc.v1.cosigner.<op>`: where the client sends a request.
pub fn request(op: &Op) -> String {
    format!("{PREFIX}.cosigner.{op}")
}

/// `mpc.v1.session.<session_id>.<to>`: round traffic addressed to `to`.
pub fn session(session: &SessionId, to: Party) -> String {
    format!("{PREFIX}.session.{session}.{to}")
}

/// `mpc.v1.session.<session_id>.>`: both directions of one session.
pub fn session_all(session: &SessionId) -> String {
    format!("{PREFIX}.session.{session}.>")
}

/// The readable routing headers on round messages and requests.
pub mod headers {
    pub const SESSION: &str = "Mpc-Session";
    pub const OP: &str = "Mpc-Op";
    pub const KIND: &str = "Mpc-Kind";
    pub const ROUND: &str = "Mpc-Round";
    pub const FROM: &str = "Mpc-From";
    pub const TO: &str = "Mpc-To";
    pub const SEQ: &str = "Mpc-Seq";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_versioned_subjects() {
        let sid = SessionId::parse("abc-1").unwrap();
        assert_eq!(request(&Op::Sign), "mpc.v1.cosigner.sign");
        assert_eq!(session(&sid, Party::Client), "mpc.v1.session.abc-1.client");
        assert_eq!(session_all(&sid), "mpc.v1.session.abc-1.>");
    }

    #[test]
    fn refuses_tokens_that_would_change_the_subject() {
        for bad in ["", "a.b", "*", ">", "a b", &"x".repeat(65)] {
            assert!(SessionId::parse(bad).is_err(), "{bad:?}");
            assert!(Op::parse(bad).is_none(), "{bad:?}");
        }
        assert_eq!(SessionId::random().as_str().len(), 32);
    }

    #[test]
    fn every_op_round_trips_through_its_token() {
        for op in Op::ALL {
            assert_eq!(Op::parse(op.as_str()), Some(op));
        }
        assert_eq!(Op::parse("Sign"), None);
    }
}
