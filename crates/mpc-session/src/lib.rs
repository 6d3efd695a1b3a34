//! NATS transport for the 2-of-2 MPC wallet.
//!
//! A client opens a session with a request on `mpc.v1.cosigner.<op>` that
//! carries the first message of a Noise KK handshake (both static X25519 keys
//! pinned); the co-signer's reply completes it. Round messages then travel on
//! `mpc.v1.session.<session_id>.<to_party>` as CBOR envelopes encrypted with
//! the handshake's keys, behind [`NatsPeerChannel`], which implements the
//! protocol's [`PeerChannel`](mpc_protocol::PeerChannel).
//!
//! The crate knows nothing of shares, MPC maths or Ethereum: request,
//! response and round bodies are opaque bytes.

mod channel;
mod client;
mod config;
mod connect;
mod error;
mod fingerprint;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod identity;
mod noise;
mod replay;
mod server;
pub mod subjects;
mod watch;
mod wire;

pub use async_nats::Client;
pub use channel::NatsPeerChannel;
pub use client::{health, hello, SessionClient};
pub use config::{BufferBudget, SessionConfig, DEFAULT_FRESHNESS_WINDOW};
pub use connect::{connect, connect_watching, PermissionViolations};
pub use error::SessionError;
pub use fingerprint::{ExpectedKey, Fingerprint};
pub use identity::Identity;
pub use server::{serve, AuthenticatedRequest, Incoming, IncomingRequest, SERVICE_NAME};
pub use subjects::{Op, SessionId};
pub use watch::{watch, watch_all, Watch, WatchRecord};
pub use wire::{unix_now, Health, Rejection, Violation};
