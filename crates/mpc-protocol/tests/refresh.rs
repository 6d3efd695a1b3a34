//! Key refresh: same key, new shares, and old and new shares never mix.

mod common;

use std::sync::Arc;

use common::{both, context, keygen, recovered_address, sign};
use mpc_protocol::memory;
use mpc_protocol::{Dkls23, KeyShare, ThresholdSigner};

async fn refresh(
    client: &Arc<KeyShare>,
    cosigner: &Arc<KeyShare>,
) -> (Arc<KeyShare>, Arc<KeyShare>) {
    let (mut a, mut b) = memory::pair();
    let (share_a, share_b) = (client.clone(), cosigner.clone());
    let (ctx_a, ctx_b) = (context("refresh"), context("refresh"));
    let (new_client, new_cosigner) = both(
        async move { Dkls23.refresh(&share_a, &ctx_a, &mut a).await },
        async move { Dkls23.refresh(&share_b, &ctx_b, &mut b).await },
    )
    .await;
    (
        Arc::new(new_client.unwrap()),
        Arc::new(new_cosigner.unwrap()),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_keeps_the_key_and_old_and_new_shares_do_not_mix() {
    let (client, cosigner) = keygen().await;
    let (new_client, new_cosigner) = refresh(&client, &cosigner).await;

    assert_eq!(new_client.public_key(), client.public_key());
    assert_eq!(new_cosigner.address(), client.address());
    assert_eq!(new_client.chain_code(), client.chain_code());
    assert_ne!(
        *new_client.to_cbor(),
        *client.to_cbor(),
        "the share changed"
    );

    let digest = [7; 32];
    let (signature, _) = sign(&new_client, &new_cosigner, "m/0/7", digest).await;
    let child = Dkls23
        .derive_public_key(&client, &"m/0/7".parse().unwrap())
        .unwrap();
    assert_eq!(
        recovered_address(&digest, &signature.unwrap()),
        child.address()
    );

    for (a, b) in [(&client, &new_cosigner), (&new_client, &cosigner)] {
        let (from_client, from_cosigner) = sign(a, b, "m", digest).await;
        let error = from_client.expect_err("old and new shares must not sign together");
        assert!(error.is_retryable() && !error.is_misbehaviour(), "{error}");
        assert!(from_cosigner.is_err());
    }

    // The old pair still works until it is replaced.
    let (signature, _) = sign(&client, &cosigner, "m", digest).await;
    assert_eq!(
        recovered_address(&digest, &signature.unwrap()),
        client.address()
    );
}
