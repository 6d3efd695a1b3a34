use crate::wire::Rejection;

/// What went wrong setting up or serving a session. Messages say what failed
/// and, where the user can act, what to do.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("invalid NATS URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },

    #[error("cannot connect to the NATS broker at {url}: {reason}")]
    Connect { url: String, reason: String },

    #[error(
        "the broker refused this role's traffic ({detail}): the credentials in MPC_NATS_URL \
         lack this role's permissions (see nats/users.conf: use this role's own user)"
    )]
    PermissionDenied { detail: String },

    #[error("invalid {what} {value:?}: use 1 to 64 characters from A-Z a-z 0-9 _ -")]
    InvalidToken { what: &'static str, value: String },

    #[error(
        "invalid peer key {value:?}: give the public key (64 hex digits) or its fingerprint \
         (32 hex digits, as `mpc-cosigner identity` prints it)"
    )]
    InvalidPeerKey { value: String },

    #[error(
        "no co-signer is listening on {subject}: start mpc-cosigner against the same NATS broker"
    )]
    CosignerUnreachable { subject: String },

    #[error(
        "the co-signer did not answer the {op} request of session {session} within {seconds} s"
    )]
    RequestTimeout {
        op: String,
        session: String,
        seconds: u64,
    },

    #[error("the co-signer refused the {op} request of session {session}: {rejection}{}",
        if *authenticated { "" } else { " (unauthenticated reply)" })]
    Rejected {
        op: String,
        session: String,
        rejection: Rejection,
        /// Whether the refusal came inside the Noise handshake, i.e. provably
        /// from the pinned co-signer.
        authenticated: bool,
    },

    #[error("the {op} reply of session {session} failed authentication: it does not come from the pinned co-signer key")]
    CosignerNotAuthenticated { op: String, session: String },

    #[error("the {op} request of session {session} failed authentication: it does not come from the expected client key")]
    ClientNotAuthenticated { op: String, session: String },

    #[error(
        "the {op} request of session {session} was issued {skew_s} s away from the co-signer's \
         clock, outside its {window_s} s freshness window: a replay, or a clock that is off"
    )]
    RequestExpired {
        op: String,
        session: String,
        skew_s: u64,
        window_s: u64,
    },

    #[error("the {what} is {len} bytes; at most {max} fit in the handshake")]
    BodyTooLarge {
        what: &'static str,
        len: usize,
        max: usize,
    },

    #[error("malformed {what}: {reason}")]
    Malformed { what: &'static str, reason: String },

    #[error("NATS transport failure: {0}")]
    Transport(String),

    #[error("Noise setup failed: {0}")]
    Noise(String),
}

impl From<mpc_cbor::DecodeError> for SessionError {
    fn from(error: mpc_cbor::DecodeError) -> SessionError {
        SessionError::Malformed {
            what: error.what,
            reason: error.detail,
        }
    }
}

impl SessionError {
    pub(crate) fn transport(err: impl std::fmt::Display) -> SessionError {
        SessionError::Transport(err.to_string())
    }

    pub(crate) fn noise(err: snow::Error) -> SessionError {
        SessionError::Noise(err.to_string())
    }
}
