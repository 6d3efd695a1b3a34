//! `nats/users.conf` gives each role only its own subjects.

mod common;

use std::time::Duration;

use common::raw_connect;
use futures::StreamExt;
use mpc_testkit::{NatsServer, Role};
use tokio::sync::mpsc::UnboundedReceiver;

async fn expect_violation(errors: &mut UnboundedReceiver<String>, what: &str, subject: &str) {
    let error = tokio::time::timeout(Duration::from_secs(3), errors.recv())
        .await
        .unwrap_or_else(|_| panic!("no permissions violation for {what} {subject}"))
        .unwrap();
    assert!(error.contains("Permissions Violation"), "{error}");
    assert!(error.contains(what) && error.contains(subject), "{error}");
}

async fn assert_silent(subscriber: &mut async_nats::Subscriber) {
    let got = tokio::time::timeout(Duration::from_millis(500), subscriber.next()).await;
    assert!(got.is_err(), "a forbidden message was delivered");
}

#[tokio::test]
async fn the_client_cannot_speak_as_the_cosigner_nor_hear_requests() {
    let nats = NatsServer::start();
    let (client, mut errors) = raw_connect(&nats, Role::Client).await;
    let (observer, _) = raw_connect(&nats, Role::Client).await;
    let mut seen = observer.subscribe("mpc.v1.session.>").await.unwrap();
    observer.flush().await.unwrap();

    client
        .publish("mpc.v1.session.s1.client", "forged".into())
        .await
        .unwrap();
    expect_violation(&mut errors, "Publish", "mpc.v1.session.s1.client").await;
    assert_silent(&mut seen).await;

    // Control: what the client may publish does arrive.
    client
        .publish("mpc.v1.session.s1.cosigner", "allowed".into())
        .await
        .unwrap();
    let allowed = tokio::time::timeout(Duration::from_secs(2), seen.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(allowed.subject.as_str(), "mpc.v1.session.s1.cosigner");

    let _requests = client.subscribe("mpc.v1.cosigner.>").await.unwrap();
    expect_violation(&mut errors, "Subscription", "mpc.v1.cosigner.>").await;
}

#[tokio::test]
async fn the_cosigner_cannot_send_requests_nor_read_client_bound_traffic() {
    let nats = NatsServer::start();
    let (cosigner, mut errors) = raw_connect(&nats, Role::Cosigner).await;
    let (other_cosigner, _) = raw_connect(&nats, Role::Cosigner).await;
    let mut requests = other_cosigner.subscribe("mpc.v1.cosigner.>").await.unwrap();
    other_cosigner.flush().await.unwrap();

    cosigner
        .publish("mpc.v1.cosigner.sign", "forged".into())
        .await
        .unwrap();
    expect_violation(&mut errors, "Publish", "mpc.v1.cosigner.sign").await;
    assert_silent(&mut requests).await;

    let _eavesdrop = cosigner.subscribe("mpc.v1.session.*.client").await.unwrap();
    expect_violation(&mut errors, "Subscription", "mpc.v1.session.*.client").await;
}
