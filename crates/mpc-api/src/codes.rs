//! The stable codes of the co-signer's refusals. On the wire a code is its
//! snake_case name (readable in logs and by other implementations); in code it
//! is this enum, so every decision on a refusal is a `match`.

use std::fmt;

/// Why the co-signer refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RejectionCode {
    /// No wallet with this id on the co-signer.
    UnknownWallet,
    /// Keygen for a wallet id the co-signer already holds.
    WalletExists,
    /// The wallet is locked after a peer misbehaved.
    WalletLocked,
    /// Another session on this wallet is running, or the co-signer is at capacity.
    Busy,
    /// The co-signer holds a newer share version than the client sent: a
    /// refresh completed on its side; the client must promote its staged share.
    ClientShareOutdated,
    /// The client sent a share version the co-signer never had.
    ShareVersionMismatch,
    /// The payload does not pass the co-signer's own validation.
    InvalidPayload,
    /// The request body could not be decoded.
    BadRequest,
    /// The request was authenticated with a client key other than the one
    /// pinned for the wallet at keygen.
    WrongClient,
    /// The session id was already used: a replayed request.
    SessionReplayed,
    /// An op the co-signer does not serve.
    UnknownOp,
    /// The co-signer's policy refused what was to be signed; the message
    /// names the rule and the value that broke it.
    PolicyRefused,
    /// Keygen by a client the co-signer does not admit: not on its allowlist
    /// and no valid enrollment token.
    NotEnrolled,
    /// The request's timestamp is outside the co-signer's freshness window
    /// (a replay, or a clock that is off).
    RequestExpired,
    /// The co-signer failed on its side (storage, keyring).
    Internal,
    /// A code this version does not know (a newer co-signer).
    Unrecognized,
}

impl RejectionCode {
    const ALL: [RejectionCode; 15] = [
        RejectionCode::UnknownWallet,
        RejectionCode::WalletExists,
        RejectionCode::WalletLocked,
        RejectionCode::Busy,
        RejectionCode::ClientShareOutdated,
        RejectionCode::ShareVersionMismatch,
        RejectionCode::InvalidPayload,
        RejectionCode::BadRequest,
        RejectionCode::WrongClient,
        RejectionCode::SessionReplayed,
        RejectionCode::UnknownOp,
        RejectionCode::PolicyRefused,
        RejectionCode::NotEnrolled,
        RejectionCode::RequestExpired,
        RejectionCode::Internal,
    ];

    /// The code as it travels on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectionCode::UnknownWallet => "unknown_wallet",
            RejectionCode::WalletExists => "wallet_exists",
            RejectionCode::WalletLocked => "wallet_locked",
            RejectionCode::Busy => "busy",
            RejectionCode::ClientShareOutdated => "client_share_outdated",
            RejectionCode::ShareVersionMismatch => "share_version_mismatch",
            RejectionCode::InvalidPayload => "invalid_payload",
            RejectionCode::BadRequest => "bad_request",
            RejectionCode::WrongClient => "wrong_client",
            RejectionCode::SessionReplayed => "session_replayed",
            RejectionCode::UnknownOp => "unknown_op",
            RejectionCode::PolicyRefused => "policy_refused",
            RejectionCode::NotEnrolled => "not_enrolled",
            RejectionCode::RequestExpired => "request_expired",
            RejectionCode::Internal => "internal",
            RejectionCode::Unrecognized => "unrecognized",
        }
    }

    /// Whether the co-signer may send this code in clear, before it knows
    /// who asked (a malformed or replayed request, or no room for it). Every
    /// other refusal comes inside the Noise session; one that arrives in clear
    /// was forged.
    pub fn sent_before_authentication(self) -> bool {
        matches!(
            self,
            RejectionCode::Busy
                | RejectionCode::BadRequest
                | RejectionCode::SessionReplayed
                | RejectionCode::Unrecognized
        )
    }

    /// The code a wire string names; [`Unrecognized`](Self::Unrecognized)
    /// for one this version does not know.
    pub fn from_wire(code: &str) -> RejectionCode {
        Self::ALL
            .into_iter()
            .find(|known| known.as_str() == code)
            .unwrap_or(RejectionCode::Unrecognized)
    }
}

impl fmt::Display for RejectionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::RejectionCode;

    #[test]
    fn every_code_round_trips_through_its_wire_name() {
        for code in RejectionCode::ALL {
            assert_eq!(RejectionCode::from_wire(code.as_str()), code);
        }
        assert_eq!(
            RejectionCode::from_wire("from_the_future"),
            RejectionCode::Unrecognized
        );
    }
}
