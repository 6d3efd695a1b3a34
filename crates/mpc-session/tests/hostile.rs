//! A hostile third NATS client, holding the client's or the co-signer's broker
//! credentials, injects forged, replayed, re-sessioned, duplicated, reordered
//! and bit-flipped envelopes. Neither party may accept any of them; the real
//! messages still get through, and with none the wait ends in a clean timeout.

mod common;

use async_nats::{Client, HeaderMap, Message};
use common::{decode, field, open_pair, raw_connect, Fixture};
use futures::StreamExt;
use mpc_protocol::Party;
use mpc_protocol::{ChannelError, PeerChannel, Round};
use mpc_session::{subjects, Identity, SessionClient, SessionId};
use mpc_testkit::Role;
use zeroize::Zeroizing;

fn payload(bytes: &[u8]) -> Zeroizing<Vec<u8>> {
    Zeroizing::new(bytes.to_vec())
}

/// A captured message, to be tampered with and re-published.
#[derive(Clone)]
struct Captured {
    headers: HeaderMap,
    envelope: ciborium::Value,
}

impl Captured {
    fn of(message: &Message) -> Captured {
        Captured {
            headers: message
                .headers
                .clone()
                .expect("round messages carry headers"),
            envelope: decode(&message.payload),
        }
    }

    fn route(&mut self) -> &mut ciborium::Value {
        field(&mut self.envelope, "route")
    }

    /// Claims another sequence number, in the envelope and the header alike.
    fn with_seq(mut self, seq: u64) -> Captured {
        *field(self.route(), "seq") = seq.into();
        self.headers.insert("Mpc-Seq", seq.to_string().as_str());
        self
    }

    /// Claims another session, in the envelope and the header alike.
    fn with_session(mut self, session: &SessionId) -> Captured {
        *field(self.route(), "session_id") = session.as_str().into();
        self.headers.insert("Mpc-Session", session.as_str());
        self
    }

    fn with_round(mut self, round: &str) -> Captured {
        *field(self.route(), "round") = round.into();
        self.headers.insert("Mpc-Round", round);
        self
    }

    fn frame(&mut self) -> &mut Vec<u8> {
        field(&mut self.envelope, "ciphertext")
            .as_array_mut()
            .unwrap()[0]
            .as_bytes_mut()
            .unwrap()
    }

    fn flipped(mut self) -> Captured {
        self.frame()[5] ^= 0x01;
        self
    }

    /// Same routing facts, ciphertext of the attacker's choosing.
    fn forged(mut self) -> Captured {
        let frame = self.frame();
        let len = frame.len();
        *frame = (0..len).map(|i| (i * 31 + 7) as u8).collect();
        self
    }

    async fn inject(&self, attacker: &Client, subject: String) {
        attacker
            .publish_with_headers(
                subject,
                self.headers.clone(),
                mpc_cbor::encode(&self.envelope).into(),
            )
            .await
            .unwrap();
    }
}

async fn next_captured(tap: &mut async_nats::Subscriber) -> Captured {
    let message = tokio::time::timeout(std::time::Duration::from_secs(2), tap.next())
        .await
        .expect("the tap sees the message")
        .unwrap();
    Captured::of(&message)
}

/// Waits until the tap has seen `count` more messages.
async fn drain(tap: &mut async_nats::Subscriber, count: usize) {
    for _ in 0..count {
        tokio::time::timeout(std::time::Duration::from_secs(2), tap.next())
            .await
            .expect("the tap sees the injected message")
            .unwrap();
    }
}

#[tokio::test]
async fn injected_envelopes_are_rejected_and_real_ones_still_arrive() {
    let mut fx = Fixture::start().await;
    // The client's credentials may read all session traffic and write to co-signers;
    // the co-signer's may write to clients.
    let (as_client, _) = raw_connect(&fx.nats, Role::Client).await;
    let (as_cosigner, _) = raw_connect(&fx.nats, Role::Cosigner).await;
    let mut tap = as_client.subscribe("mpc.v1.session.>").await.unwrap();
    as_client.flush().await.unwrap();

    let s1 = SessionId::random();
    let (mut client, mut cosigner) = fx.open(&s1).await;
    // A second session with another client identity: its messages are
    // authentic, just not from the peer pinned in s1.
    let mallory = SessionClient::new(
        fx.client_nats.clone(),
        Identity::generate().unwrap(),
        common::quick_config(),
    );
    let s2 = SessionId::random();
    let cosigner_pub = fx.cosigner_pub();
    let (mut mallory_channel, mut cosigner2) =
        open_pair(&mut fx.incoming, &mallory, &cosigner_pub, &s2).await;

    client.send(Round("sign.1"), payload(b"one")).await.unwrap();
    assert_eq!(&cosigner.recv(Round("sign.1")).await.unwrap()[..], b"one");
    let to_cosigner = next_captured(&mut tap).await;
    cosigner
        .send(Round("sign.1"), payload(b"uno"))
        .await
        .unwrap();
    assert_eq!(&client.recv(Round("sign.1")).await.unwrap()[..], b"uno");
    let to_client = next_captured(&mut tap).await;
    // Mallory's seq 1 is captured, so with s1's label only the key is wrong.
    for round in ["sign.1", "sign.2"] {
        mallory_channel
            .send(Round(round), payload(b"evil"))
            .await
            .unwrap();
    }
    next_captured(&mut tap).await;
    let from_mallory = next_captured(&mut tap).await;

    // Against the co-signer of s1. Tampered copies claim seq 7, which the
    // client has not used, so only authentication can stop them.
    let s1_cosigner = subjects::session(&s1, Party::Cosigner);
    let attacks = [
        to_cosigner.clone(),                                  // duplicate / replay
        to_cosigner.clone().with_seq(7),                      // replay under a fresh seq
        to_cosigner.clone().with_seq(7).with_round("sign.2"), // ... claiming the next round
        to_cosigner.clone().with_seq(7).flipped(),            // bit flip
        to_cosigner
            .clone()
            .with_seq(7)
            .with_round("sign.2")
            .forged(), // forgery
        from_mallory.clone().with_session(&s1),               // wrong identity key
        to_client.clone().with_session(&s1).with_seq(7),      // reflected back at its sender
    ];
    for attack in &attacks {
        attack.inject(&as_client, s1_cosigner.clone()).await;
    }
    // Not CBOR, and a genuine envelope whose headers lie.
    as_client
        .publish(s1_cosigner.clone(), b"\xff garbage".as_slice().into())
        .await
        .unwrap();
    let mut lying = to_cosigner.clone().with_seq(7);
    lying.headers.insert("Mpc-Round", "sign.9");
    lying.inject(&as_client, s1_cosigner.clone()).await;
    // Once the tap saw them, the broker has queued them to the co-signer
    // ahead of the real message.
    drain(&mut tap, attacks.len() + 2).await;

    client.send(Round("sign.2"), payload(b"two")).await.unwrap();
    assert_eq!(&cosigner.recv(Round("sign.2")).await.unwrap()[..], b"two");
    // And none was buffered as a later round.
    assert!(matches!(
        cosigner.recv(Round("sign.9")).await,
        Err(ChannelError::Timeout { .. })
    ));

    // Against the client of s1, with the co-signer's credentials.
    let s1_client = subjects::session(&s1, Party::Client);
    for attack in [
        to_client.clone(),
        to_client.clone().with_seq(7).with_round("sign.2"),
        to_client.clone().with_seq(7).flipped(),
        to_client.clone().with_seq(7).forged(),
    ] {
        attack.inject(&as_cosigner, s1_client.clone()).await;
    }
    drain(&mut tap, 4).await;
    cosigner
        .send(Round("sign.2"), payload(b"dos"))
        .await
        .unwrap();
    assert_eq!(&client.recv(Round("sign.2")).await.unwrap()[..], b"dos");

    // Replays from s1 into s2 (where seq 0 and 1 are taken): verbatim
    // (wrong session in the envelope) and re-labelled with a fresh seq (wrong
    // keys). With no real message the wait times out.
    assert_eq!(&cosigner2.recv(Round("sign.1")).await.unwrap()[..], b"evil");
    assert_eq!(&cosigner2.recv(Round("sign.2")).await.unwrap()[..], b"evil");
    let s2_cosigner = subjects::session(&s2, Party::Cosigner);
    to_cosigner.inject(&as_client, s2_cosigner.clone()).await;
    for round in ["sign.3", "sign.4"] {
        to_cosigner
            .clone()
            .with_session(&s2)
            .with_seq(2)
            .with_round(round)
            .inject(&as_client, s2_cosigner.clone())
            .await;
    }
    drain(&mut tap, 3).await;
    let err = cosigner2.recv(Round("sign.3")).await.unwrap_err();
    assert!(matches!(err, ChannelError::Timeout { .. }), "{err:?}");
}

#[tokio::test]
async fn reordered_and_duplicated_real_messages_are_delivered_once_in_round_order() {
    let mut fx = Fixture::start().await;
    let (as_client, _) = raw_connect(&fx.nats, Role::Client).await;
    let mut tap = as_client.subscribe("mpc.v1.session.>").await.unwrap();
    as_client.flush().await.unwrap();
    let session = SessionId::random();
    let (mut client, mut cosigner) = fx.open(&session).await;

    client
        .send(Round("dkg.2"), payload(b"second"))
        .await
        .unwrap();
    client
        .send(Round("dkg.1"), payload(b"first"))
        .await
        .unwrap();
    let second = next_captured(&mut tap).await;
    let first = next_captured(&mut tap).await;
    // Duplicates of both, in yet another order, after the originals.
    let subject = subjects::session(&session, Party::Cosigner);
    first.inject(&as_client, subject.clone()).await;
    second.inject(&as_client, subject.clone()).await;
    first.inject(&as_client, subject).await;
    drain(&mut tap, 3).await;

    assert_eq!(&cosigner.recv(Round("dkg.1")).await.unwrap()[..], b"first");
    assert_eq!(&cosigner.recv(Round("dkg.2")).await.unwrap()[..], b"second");
    // A duplicate is never delivered as a second message for a round.
    assert!(matches!(
        cosigner.recv(Round("dkg.1")).await,
        Err(ChannelError::Timeout { .. })
    ));
}

#[tokio::test]
async fn an_authenticated_peer_flooding_future_rounds_ends_its_session() {
    let mut fx = Fixture::start().await;
    let session = SessionId::random();
    let (mut client, mut cosigner) = fx.open(&session).await;
    let limit = mpc_session::SessionConfig::default().max_buffered_bytes;
    // Authentic, well-formed messages for rounds the co-signer has not
    // reached: three of 3 MiB are past the 8 MiB a session may hold.
    for round in ["flood.1", "flood.2", "flood.3"] {
        client
            .send(Round(round), payload(&vec![7u8; 3 << 20]))
            .await
            .unwrap();
    }
    let err = cosigner.recv(Round("sign.1")).await.unwrap_err();
    assert_eq!(
        err,
        ChannelError::OverBudget {
            scope: "session",
            bytes: 9 << 20,
            limit
        },
        "{err}"
    );
    assert!(err.to_string().contains("session ended"), "{err}");
    // The flooder is told, inside the session.
    let told = client.recv(Round("sign.2")).await.unwrap_err();
    assert!(matches!(told, ChannelError::PeerAborted(_)), "{told:?}");
}
