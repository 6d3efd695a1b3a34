//! Sessions between a client and a co-signer over a real nats-server.

mod common;

use std::time::{Duration, Instant};

use common::{raw_connect, Fixture};
use mpc_protocol::{ChannelError, PeerChannel, Round};
use mpc_session::{
    connect, health, hello, subjects, watch, Identity, Op, Rejection, SessionClient, SessionError,
    SessionId,
};
use mpc_testkit::Role;
use zeroize::Zeroizing;

fn payload(bytes: &[u8]) -> Zeroizing<Vec<u8>> {
    Zeroizing::new(bytes.to_vec())
}

#[tokio::test]
async fn several_rounds_travel_both_ways_including_large_messages() {
    let mut fx = Fixture::start().await;
    let session = SessionId::random();
    let (mut client, mut cosigner) = fx.open(&session).await;
    assert_eq!(client.session_id(), &session);

    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let rounds = [Round("sign.1"), Round("sign.2"), Round("sign.3")];
    for (i, round) in rounds.into_iter().enumerate() {
        let from_client = format!("client says {i}").into_bytes();
        client.send(round, payload(&from_client)).await.unwrap();
        assert_eq!(&cosigner.recv(round).await.unwrap()[..], &from_client[..]);
        let from_cosigner = if i == 1 {
            big.clone()
        } else {
            vec![i as u8; 10]
        };
        cosigner.send(round, payload(&from_cosigner)).await.unwrap();
        assert_eq!(&client.recv(round).await.unwrap()[..], &from_cosigner[..]);
    }
}

#[tokio::test]
async fn messages_for_later_rounds_wait_until_asked_for() {
    let mut fx = Fixture::start().await;
    let (mut client, mut cosigner) = fx.open(&SessionId::random()).await;
    client
        .send(Round("dkg.3"), payload(b"three"))
        .await
        .unwrap();
    client.send(Round("dkg.2"), payload(b"two")).await.unwrap();
    client.send(Round("dkg.1"), payload(b"one")).await.unwrap();
    assert_eq!(&cosigner.recv(Round("dkg.1")).await.unwrap()[..], b"one");
    assert_eq!(&cosigner.recv(Round("dkg.2")).await.unwrap()[..], b"two");
    assert_eq!(&cosigner.recv(Round("dkg.3")).await.unwrap()[..], b"three");
}

#[tokio::test]
async fn a_silent_peer_times_out_naming_session_and_round() {
    let mut fx = Fixture::start().await;
    let session = SessionId::random();
    let (_client, mut cosigner) = fx.open(&session).await;
    let started = Instant::now();
    let err = cosigner.recv(Round("sign.2")).await.unwrap_err();
    assert!(started.elapsed() >= Duration::from_secs(2));
    assert!(started.elapsed() < Duration::from_secs(4));
    let ChannelError::Timeout { round, seconds } = &err else {
        panic!("expected a timeout, got {err:?}");
    };
    assert_eq!(*seconds, 2);
    assert!(
        round.contains("sign.2") && round.contains(session.as_str()),
        "{round}"
    );
    assert!(err.to_string().contains(session.as_str()), "{err}");
}

#[tokio::test]
async fn an_abort_fails_the_peers_wait_at_once() {
    let mut fx = Fixture::start().await;
    let (mut client, mut cosigner) = fx.open(&SessionId::random()).await;
    let started = Instant::now();
    let (received, ()) = tokio::join!(cosigner.recv(Round("sign.1")), async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        client.abort("digest mismatch").await;
    });
    assert_eq!(
        received,
        Err(ChannelError::PeerAborted("digest mismatch".into()))
    );
    assert!(started.elapsed() < Duration::from_secs(1));
    // The abort stays the answer, and the aborting side is closed.
    assert_eq!(
        cosigner.recv(Round("sign.2")).await,
        Err(ChannelError::PeerAborted("digest mismatch".into()))
    );
    assert_eq!(
        client.send(Round("sign.1"), payload(b"late")).await,
        Err(ChannelError::Closed)
    );
}

#[tokio::test]
async fn no_cosigner_is_reported_at_once() {
    let nats = mpc_testkit::NatsServer::start();
    let client = SessionClient::new(
        connect(&nats.url(Role::Client)).await.unwrap(),
        Identity::generate().unwrap(),
        common::quick_config(),
    );
    let started = Instant::now();
    let err = client
        .open(&[7; 32], &Op::Keygen, &SessionId::random(), b"keygen")
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
    assert!(
        matches!(err, SessionError::CosignerUnreachable { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("mpc.v1.cosigner.keygen"), "{err}");
    assert!(err.to_string().contains("start mpc-cosigner"), "{err}");
}

#[tokio::test]
async fn hello_gives_the_cosigner_key_and_health_says_ok() {
    let fx = Fixture::start().await;
    let cosigner_pub = fx.cosigner_pub();
    // Answered without the caller driving `Incoming::next`.
    let (key, status) = tokio::join!(
        hello(&fx.client_nats, Duration::from_secs(2)),
        health(&fx.client_nats, Duration::from_secs(2)),
    );
    assert_eq!(key.unwrap(), cosigner_pub);
    let status = status.unwrap();
    assert_eq!(status.status, "ok");
    assert_eq!(status.version, env!("CARGO_PKG_VERSION"));
}

#[tokio::test]
async fn a_request_from_an_unpinned_client_key_is_refused() {
    let mut fx = Fixture::start().await;
    let pinned = Identity::generate().unwrap().public_key();
    let cosigner_pub = fx.cosigner_pub();
    let session = SessionId::random();
    let (client_side, cosigner_side) = tokio::join!(
        fx.client
            .open(&cosigner_pub, &Op::Sign, &session, b"sign this"),
        async {
            fx.incoming
                .next()
                .await
                .unwrap()
                .authenticate(&pinned)
                .await
        }
    );
    assert!(
        matches!(
            cosigner_side,
            Err(SessionError::ClientNotAuthenticated { .. })
        ),
        "{cosigner_side:?}"
    );
    match client_side {
        Err(SessionError::Rejected {
            rejection,
            authenticated: false,
            ..
        }) => {
            assert_eq!(rejection.code, "unauthenticated")
        }
        other => panic!("expected an unauthenticated refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn a_client_pinning_another_cosigner_key_is_refused() {
    let mut fx = Fixture::start().await;
    let wrong_cosigner = Identity::generate().unwrap().public_key();
    let session = SessionId::random();
    let (client_side, cosigner_side) = tokio::join!(
        fx.client.open(&wrong_cosigner, &Op::Sign, &session, b"x"),
        async {
            let request = fx.incoming.next().await.unwrap();
            let claimed = request.client_pub;
            request.authenticate(&claimed).await
        }
    );
    assert!(matches!(
        cosigner_side,
        Err(SessionError::ClientNotAuthenticated { .. })
    ));
    assert!(matches!(
        client_side,
        Err(SessionError::Rejected {
            authenticated: false,
            ..
        })
    ));
}

#[tokio::test]
async fn a_reply_not_from_the_pinned_cosigner_is_refused() {
    let fx = Fixture::start().await;
    // An impostor with the co-signer's broker credentials answers in place of
    // the real co-signer (whose subscription is dropped first).
    drop(fx.incoming);
    let (impostor, _) = raw_connect(&fx.nats, Role::Cosigner).await;
    let mut requests = impostor.subscribe(subjects::ALL_REQUESTS).await.unwrap();
    // A flush does not wait for the broker to register the subscription:
    // probe until the impostor hears the client, so the request cannot miss it.
    use futures::StreamExt;
    loop {
        fx.client_nats
            .publish("mpc.v1.cosigner.probe", "probe".into())
            .await
            .unwrap();
        fx.client_nats.flush().await.unwrap();
        match tokio::time::timeout(Duration::from_millis(200), requests.next()).await {
            Ok(Some(message)) if message.subject.as_str() == "mpc.v1.cosigner.probe" => break,
            Ok(_) | Err(_) => continue,
        }
    }
    let answer = async {
        let request = tokio::time::timeout(Duration::from_secs(10), async {
            // Late probes may still be queued ahead of the request.
            loop {
                let message = requests.next().await.unwrap();
                if message.subject.as_str() == subjects::request(&Op::Sign) {
                    return message;
                }
            }
        })
        .await
        .expect("the impostor hears the request");
        let forged = ciborium::Value::Map(vec![(
            "Handshake".into(),
            ciborium::Value::Map(vec![
                ("version".into(), 2.into()),
                ("handshake".into(), ciborium::Value::Bytes(vec![0x42; 96])),
            ]),
        )]);
        impostor
            .publish(request.reply.unwrap(), mpc_cbor::encode(&forged).into())
            .await
            .unwrap();
    };
    let cosigner_pub = fx.cosigner_identity.public_key();
    let session = SessionId::random();
    let (client_side, ()) = tokio::join!(
        fx.client.open(&cosigner_pub, &Op::Sign, &session, b"x"),
        answer
    );
    assert!(
        matches!(
            client_side,
            Err(SessionError::CosignerNotAuthenticated { .. })
        ),
        "{client_side:?}"
    );
}

#[tokio::test]
async fn an_authenticated_rejection_reaches_the_client_as_such() {
    let mut fx = Fixture::start().await;
    let cosigner_pub = fx.cosigner_pub();
    let session = SessionId::random();
    let (client_side, ()) = tokio::join!(
        fx.client.open(&cosigner_pub, &Op::Sign, &session, b"x"),
        async {
            let request = fx.incoming.next().await.unwrap();
            let claimed = request.client_pub;
            let authenticated = request.authenticate(&claimed).await.unwrap();
            authenticated
                .reject(Rejection::new(
                    "wallet_locked",
                    "another signing is in progress",
                ))
                .await
                .unwrap();
        }
    );
    let err = client_side.unwrap_err();
    match &err {
        SessionError::Rejected {
            rejection,
            authenticated: true,
            ..
        } => {
            assert_eq!(rejection.code, "wallet_locked")
        }
        other => panic!("expected an authenticated rejection, got {other:?}"),
    }
    assert!(
        err.to_string().contains("another signing is in progress"),
        "{err}"
    );
}

#[tokio::test]
async fn an_unauthenticated_refusal_names_its_reason() {
    let mut fx = Fixture::start().await;
    let cosigner_pub = fx.cosigner_pub();
    let session = SessionId::random();
    let (client_side, ()) = tokio::join!(
        fx.client.open(&cosigner_pub, &Op::Sign, &session, b"x"),
        async {
            let request = fx.incoming.next().await.unwrap();
            request
                .reject(Rejection::new(
                    "unknown_wallet",
                    "no wallet is pinned to this key",
                ))
                .await;
        }
    );
    let err = client_side.unwrap_err();
    assert!(
        matches!(&err, SessionError::Rejected { authenticated: false, rejection, .. }
        if rejection.code == "unknown_wallet")
    );
    assert!(err.to_string().contains("unauthenticated reply"), "{err}");
}

#[tokio::test]
async fn watch_shows_routing_headers_and_sizes_but_no_content() {
    let mut fx = Fixture::start().await;
    let session = SessionId::random();
    let mut watcher = watch(&fx.client_nats, &session).await.unwrap();
    fx.client_nats.flush().await.unwrap();
    let (mut client, mut cosigner) = fx.open(&session).await;
    client
        .send(Round("sign.1"), payload(b"secret share bits"))
        .await
        .unwrap();
    cosigner.recv(Round("sign.1")).await.unwrap();

    let record = tokio::time::timeout(Duration::from_secs(2), watcher.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.subject, format!("mpc.v1.session.{session}.cosigner"));
    let header = |name: &str| {
        record
            .headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(header("Mpc-Session"), Some(session.as_str()));
    assert_eq!(header("Mpc-Round"), Some("sign.1"));
    assert_eq!(header("Mpc-From"), Some("client"));
    assert_eq!(header("Mpc-To"), Some("cosigner"));
    assert_eq!(header("Mpc-Seq"), Some("0"));
    let ciphertext_len = record.ciphertext_len.unwrap();
    assert!(ciphertext_len > b"secret share bits".len() + 16);
    assert!(!format!("{record:?}").contains("secret share"));
}

#[tokio::test]
async fn a_broker_restart_between_sessions_is_survived() {
    let mut fx = Fixture::start().await;
    let (mut client, mut cosigner) = fx.open(&SessionId::random()).await;
    client
        .send(Round("sign.1"), payload(b"before"))
        .await
        .unwrap();
    assert_eq!(
        &cosigner.recv(Round("sign.1")).await.unwrap()[..],
        b"before"
    );
    drop((client, cosigner));

    fx.nats.kill();
    tokio::time::sleep(Duration::from_millis(300)).await;
    fx.nats.start_again();
    common::wait_connected(&fx.client_nats).await;
    common::wait_connected(&fx.cosigner_nats).await;
    // The co-signer's request subscription is restored on reconnect.
    common::wait_for_cosigner(&fx.client_nats).await;

    let (mut client, mut cosigner) = fx.open(&SessionId::random()).await;
    client
        .send(Round("sign.1"), payload(b"after"))
        .await
        .unwrap();
    assert_eq!(&cosigner.recv(Round("sign.1")).await.unwrap()[..], b"after");
    cosigner
        .send(Round("sign.2"), payload(b"back"))
        .await
        .unwrap();
    assert_eq!(&client.recv(Round("sign.2")).await.unwrap()[..], b"back");
}
