//! BIP-32 derivation: child keys match an independent implementation (the
//! `bip32` crate) and signatures at a path recover to the child address.

mod common;

use bip32::{ChildNumber, ExtendedKeyAttrs, XPub};
use common::{keygen, recovered_address, sign};
use mpc_protocol::{DerivationPath, Dkls23, ErrorKind, PathError, PublicKey, ThresholdSigner};

/// Derives `path` from the wallet's xpub with the `bip32` crate.
fn independent_child(xpub: &XPub, path: &DerivationPath) -> PublicKey {
    let mut key = xpub.clone();
    for &index in path.indices() {
        key = key
            .derive_child(ChildNumber::new(index, false).unwrap())
            .unwrap();
    }
    PublicKey::from_sec1_bytes(&key.public_key().to_sec1_bytes()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_keys_match_bip32_and_signatures_recover_to_them() {
    let (client, cosigner) = keygen().await;
    let master =
        k256::ecdsa::VerifyingKey::from_sec1_bytes(&client.public_key().to_compressed()).unwrap();
    let xpub = XPub::new(
        master,
        ExtendedKeyAttrs {
            depth: 0,
            parent_fingerprint: [0; 4],
            child_number: ChildNumber(0),
            chain_code: client.chain_code(),
        },
    );

    for text in ["m", "m/0", "m/0/7", "m/1/2/3", "m/2147483647"] {
        let path: DerivationPath = text.parse().unwrap();
        let ours = Dkls23.derive_public_key(&client, &path).unwrap();
        assert_eq!(ours, Dkls23.derive_public_key(&cosigner, &path).unwrap());
        assert_eq!(ours, independent_child(&xpub, &path), "{text}");
    }
    let child = Dkls23
        .derive_public_key(&client, &"m/0/7".parse().unwrap())
        .unwrap();
    assert_ne!(child, client.public_key());

    let digest = [0x42; 32];
    let (signature, from_cosigner) = sign(&client, &cosigner, "m/0/7", digest).await;
    let signature = signature.unwrap();
    assert_eq!(signature, from_cosigner.unwrap());
    assert_eq!(recovered_address(&digest, &signature), child.address());
    assert_ne!(child.address(), client.address());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parties_at_different_paths_do_not_sign() {
    let (client, cosigner) = keygen().await;
    let (mut a, mut b) = mpc_protocol::memory::pair();
    let ctx = common::context("paths");
    let (seven, eight): (DerivationPath, DerivationPath) =
        ("m/0/7".parse().unwrap(), "m/0/8".parse().unwrap());
    let (from_client, from_cosigner) = tokio::join!(
        Dkls23.sign(&client, &seven, [1; 32], &ctx, &mut a),
        Dkls23.sign(&cosigner, &eight, [1; 32], &ctx, &mut b),
    );
    for error in [from_client.unwrap_err(), from_cosigner.unwrap_err()] {
        assert!(
            matches!(error.kind, ErrorKind::InvalidInput { .. }),
            "{error}"
        );
    }
}

#[test]
fn hardened_paths_are_rejected_with_a_clear_error() {
    let error = "m/44'/60'/0'/0/0".parse::<DerivationPath>().unwrap_err();
    assert_eq!(error, PathError::Hardened("44'".into()));
    assert!(error.to_string().contains("non-hardened"), "{error}");
}
