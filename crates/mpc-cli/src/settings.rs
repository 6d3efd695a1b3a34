//! Where and how the CLI reaches the broker, the co-signer and the chain,
//! from its flags and environment.

use std::path::PathBuf;
use std::time::Duration;

use mpc_client::{Connection, ConnectionBuilder, ExpectedKey};
use mpc_session::Op;

use crate::cli::{BrokerArgs, ChainArgs, DEFAULT_ROUND_TIMEOUT_SECS};
use crate::output::CliError;

/// Which embedded services a command needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    /// Broker and co-signer.
    Cosigner,
    /// Broker, co-signer and broadcaster.
    Broadcaster,
}

/// The global settings of one `mpc` invocation.
#[derive(Debug, Clone)]
pub struct Settings {
    pub home: PathBuf,
    pub nats_url: Option<String>,
    pub rpc_url: Option<String>,
    pub chain_id: u64,
    pub round_timeout: Duration,
    /// How long a signing retries transient failures.
    pub retry_for: Duration,
    /// Print `session <id>` on stderr as keygen, sign and rotate sessions
    /// open (text mode), so they can be followed with `mpc watch <id>`.
    pub announce_sessions: bool,
}

impl Settings {
    /// The settings of one command: what it has no flags for (a command that
    /// never reaches the broker, or the chain) keeps the defaults, unused.
    pub fn new(
        broker: Option<&BrokerArgs>,
        chain: Option<&ChainArgs>,
        announce_sessions: bool,
    ) -> Settings {
        Settings {
            home: broker
                .and_then(|broker| broker.home.clone())
                .unwrap_or_else(Settings::default_home),
            nats_url: broker.and_then(|broker| broker.nats_url.clone()),
            rpc_url: chain.and_then(|chain| chain.rpc_url.clone()),
            chain_id: chain.map_or(mpc_client::DEFAULT_CHAIN_ID, |chain| chain.chain_id),
            round_timeout: Duration::from_secs(
                broker.map_or(DEFAULT_ROUND_TIMEOUT_SECS, |broker| broker.timeout),
            ),
            retry_for: Duration::from_secs(broker.map_or(0, |broker| broker.retry_for)),
            announce_sessions,
        }
    }

    /// `$MPC_HOME`, else the user's data dir.
    pub fn default_home() -> PathBuf {
        dirs::data_dir()
            .unwrap_or_else(|| PathBuf::from("."))
            .join("mpc-wallet")
    }

    /// Connects to `MPC_NATS_URL`, or (the CLI's default) starts the
    /// embedded broker and co-signer under the home folder.
    pub async fn connect(&self) -> Result<Connection, CliError> {
        self.connect_for(Needs::Cosigner).await
    }

    /// Like [`connect`](Self::connect); the embedded default also starts
    /// the broadcaster when `needs` says so (and an RPC URL is set).
    pub async fn connect_for(&self, needs: Needs) -> Result<Connection, CliError> {
        Ok(self.builder(needs).connect().await?)
    }

    /// Like [`connect`](Self::connect), for a keygen that must find the
    /// co-signer key `expected` and shows the enrollment `token`, when given.
    pub async fn connect_for_keygen(
        &self,
        expected: Option<ExpectedKey>,
        token: Option<String>,
    ) -> Result<Connection, CliError> {
        let mut builder = self.builder(Needs::Cosigner);
        if let Some(expected) = expected {
            builder = builder.cosigner_key(expected);
        }
        if let Some(token) = token {
            builder = builder.enrollment_token(token);
        }
        Ok(builder.connect().await?)
    }

    fn builder(&self, needs: Needs) -> ConnectionBuilder {
        let mut builder = Connection::builder()
            .chain_id(self.chain_id)
            .round_timeout(self.round_timeout)
            .retry_transient(self.retry_for);
        if self.announce_sessions {
            builder = builder.on_session_start(|op, session| {
                if matches!(op, Op::Keygen | Op::Sign | Op::Refresh) {
                    eprintln!("session {session}");
                }
            });
        }
        if let Some(rpc_url) = &self.rpc_url {
            builder = builder.rpc_url(rpc_url);
        }
        match &self.nats_url {
            Some(url) => builder.nats_url(url),
            None if needs == Needs::Broadcaster => {
                builder.embedded(&self.home).embedded_broadcaster()
            }
            None => builder.embedded(&self.home),
        }
    }
}
