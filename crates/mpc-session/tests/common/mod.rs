//! Shared set-up for the transport tests: a real nats-server, a client and a
//! co-signer connected with their own roles, and helpers to open a session.
#![allow(dead_code)] // each test binary uses its own subset

use std::sync::Arc;
use std::time::{Duration, Instant};

use ciborium::Value;
use mpc_session::{
    connect, serve, subjects, Client, Identity, Incoming, NatsPeerChannel, Op, SessionClient,
    SessionConfig, SessionId,
};
use mpc_testkit::{NatsServer, Role};

pub struct Fixture {
    pub nats: NatsServer,
    pub client: SessionClient,
    pub client_nats: Client,
    pub cosigner_nats: Client,
    pub cosigner_identity: Arc<Identity>,
    pub incoming: Incoming,
}

pub fn quick_config() -> SessionConfig {
    SessionConfig {
        round_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(2),
        max_buffered_rounds: 4,
        ..SessionConfig::default()
    }
}

pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(std::env::var("MPC_LOG").unwrap_or_else(|_| "warn".into()))
        .with_test_writer()
        .try_init();
}

impl Fixture {
    pub async fn start() -> Fixture {
        init_tracing();
        let nats = NatsServer::start();
        let client_nats = connect(&nats.url(Role::Client))
            .await
            .expect("client connects");
        let cosigner_nats = connect(&nats.url(Role::Cosigner))
            .await
            .expect("co-signer connects");
        let cosigner_identity = Arc::new(Identity::generate().unwrap());
        let incoming = serve(
            cosigner_nats.clone(),
            cosigner_identity.clone(),
            subjects::COSIGNER_QUEUE_GROUP,
            quick_config(),
        )
        .await
        .unwrap();
        wait_for_cosigner(&client_nats).await;
        let client = SessionClient::new(
            client_nats.clone(),
            Identity::generate().unwrap(),
            quick_config(),
        );
        Fixture {
            nats,
            client,
            client_nats,
            cosigner_nats,
            cosigner_identity,
            incoming,
        }
    }

    pub fn cosigner_pub(&self) -> [u8; 32] {
        self.cosigner_identity.public_key()
    }

    /// Opens a session as the fixture's client.
    pub async fn open(&mut self, session: &SessionId) -> (NatsPeerChannel, NatsPeerChannel) {
        let cosigner_pub = self.cosigner_pub();
        open_pair(&mut self.incoming, &self.client, &cosigner_pub, session).await
    }
}

/// Opens a session, the co-signer accepting the client's claimed key and
/// answering `response:<request>`.
pub async fn open_pair(
    incoming: &mut Incoming,
    client: &SessionClient,
    cosigner_pub: &[u8; 32],
    session: &SessionId,
) -> (NatsPeerChannel, NatsPeerChannel) {
    let request = format!("request for {session}").into_bytes();
    let (client_side, cosigner_side) = tokio::join!(
        client.open(cosigner_pub, &Op::Sign, session, &request),
        async {
            let incoming = incoming.next().await.expect("a request arrives");
            assert_eq!(incoming.op, Op::Sign);
            assert_eq!(&incoming.session_id, session);
            let claimed = incoming.client_pub;
            let authenticated = incoming.authenticate(&claimed).await.unwrap();
            assert_eq!(authenticated.body, request);
            let mut response = b"response:".to_vec();
            response.extend_from_slice(&authenticated.body);
            authenticated.accept(&response).await.unwrap()
        }
    );
    let (client_channel, response) = client_side.expect("client opens the session");
    assert_eq!(response, [b"response:".as_slice(), &request].concat());
    (client_channel, cosigner_side)
}

/// A raw NATS connection for a role, reporting server errors (permission
/// violations) on the returned channel.
pub async fn raw_connect(
    nats: &NatsServer,
    role: Role,
) -> (Client, tokio::sync::mpsc::UnboundedReceiver<String>) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let client = async_nats::ConnectOptions::with_user_and_password(
        role.user().into(),
        nats.password(role).into(),
    )
    .event_callback(move |event| {
        let tx = tx.clone();
        async move {
            if let async_nats::Event::ServerError(error) = event {
                let _ = tx.send(error.to_string());
            }
        }
    })
    .connect(format!("127.0.0.1:{}", nats.port()))
    .await
    .expect("raw connection");
    (client, rx)
}

/// Waits until the co-signer's subscription is live: `health` answers.
pub async fn wait_for_cosigner(client: &Client) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while mpc_session::health(client, Duration::from_millis(200))
        .await
        .is_err()
    {
        assert!(
            Instant::now() < deadline,
            "co-signer not serving within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until a NATS client is connected again (after a broker restart).
pub async fn wait_connected(client: &Client) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while client.connection_state() != async_nats::connection::State::Connected {
        assert!(
            Instant::now() < deadline,
            "client did not reconnect within 20 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A captured message as a generic CBOR value, for editing it.
pub fn decode(payload: &[u8]) -> Value {
    mpc_cbor::decode("captured message", payload).unwrap()
}

/// The map entry `key` of a CBOR map value.
pub fn field<'a>(value: &'a mut Value, key: &str) -> &'a mut Value {
    value
        .as_map_mut()
        .expect("CBOR map")
        .iter_mut()
        .find(|(k, _)| k.as_text() == Some(key))
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no field {key}"))
}
