//! Key generation and signing end to end, two parties as two tokio tasks.

mod common;

use common::{context, keygen, recovered_address, sign};
use k256::ecdsa::signature::hazmat::PrehashVerifier;
use k256::ecdsa::{Signature as K256Signature, VerifyingKey};
use mpc_protocol::memory;
use mpc_protocol::{
    address, DerivationPath, Dkls23, ErrorKind, KeyShare, Party, PublicKey, ShareError,
    ThresholdSigner,
};
use sha2::{Digest, Sha256};

fn digest(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

/// Half the curve order: a low-S signature has s <= n/2 (EIP-2).
const HALF_ORDER: [u8; 32] = [
    0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0x5d, 0x57, 0x6e, 0x73, 0x57, 0xa4, 0x50, 0x1d, 0xdf, 0xe9, 0x2f, 0x46, 0x68, 0x1b, 0x20, 0xa0,
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keygen_then_sign_gives_a_verified_low_s_recoverable_signature() {
    let (client, cosigner) = keygen().await;
    assert_eq!(client.party(), Party::Client);
    assert_eq!(cosigner.party(), Party::Cosigner);
    assert_eq!(client.public_key(), cosigner.public_key());
    assert_eq!(client.chain_code(), cosigner.chain_code());
    assert_eq!(client.address(), cosigner.address());
    assert!(client.address().starts_with("0x") && client.address().len() == 42);

    let verifying_key =
        VerifyingKey::from_sec1_bytes(&client.public_key().to_compressed()).unwrap();
    // Each signature's y-parity is a fair coin (the nonces are random): sign
    // fresh messages until both occurred, at least MIN_SIGNATURES. Staying on
    // one parity for MAX_SIGNATURES happens with probability 2^-63.
    const MIN_SIGNATURES: usize = 8;
    const MAX_SIGNATURES: usize = 64;
    let mut parities = [false; 2];
    for i in 0.. {
        if i >= MIN_SIGNATURES && parities == [true, true] {
            break;
        }
        assert!(
            i < MAX_SIGNATURES,
            "{MAX_SIGNATURES} signatures, all with one y-parity: {parities:?}"
        );
        let digest = digest(&format!("message {i}"));
        let (from_client, from_cosigner) = sign(&client, &cosigner, "m", digest).await;
        let signature = from_client.unwrap();
        assert_eq!(
            signature,
            from_cosigner.unwrap(),
            "both parties learn the same signature"
        );
        assert!(signature.s <= HALF_ORDER, "s must be low (EIP-2)");
        let k256_signature = K256Signature::from_scalars(signature.r, signature.s).unwrap();
        verifying_key
            .verify_prehash(&digest, &k256_signature)
            .unwrap();
        assert_eq!(recovered_address(&digest, &signature), client.address());
        assert_eq!(&signature.to_bytes()[64..], &[signature.recovery_id()]);
        parities[usize::from(signature.y_parity)] = true;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shares_survive_a_cbor_round_trip_and_still_sign() {
    let (client, cosigner) = keygen().await;
    let bytes = client.to_cbor();
    let restored = KeyShare::from_cbor(&bytes).unwrap();
    assert_eq!(restored.party(), Party::Client);
    assert_eq!(restored.public_key(), client.public_key());
    assert_eq!(restored.chain_code(), client.chain_code());
    assert_eq!(*restored.to_cbor(), *bytes, "encoding is deterministic");

    let digest = digest("after restore");
    let (signature, _) = sign(&restored.into(), &cosigner, "m", digest).await;
    assert_eq!(
        recovered_address(&digest, &signature.unwrap()),
        client.address()
    );

    assert!(matches!(
        KeyShare::from_cbor(&bytes[..bytes.len() - 1]),
        Err(ShareError::Malformed(_))
    ));
    assert!(matches!(
        KeyShare::from_cbor(b"\xa0"),
        Err(ShareError::Malformed(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_share_debug_shows_no_secret() {
    let (client, _) = keygen().await;
    let shown = format!("{client:?}");
    assert!(shown.contains("Client"), "{shown}");
    assert!(shown.contains(&client.public_key().to_string()), "{shown}");
    assert!(
        !shown.contains("poly_point") && !shown.contains("mul_senders"),
        "{shown}"
    );
    assert!(shown.len() < 200, "{shown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parties_asked_for_different_digests_fail_with_a_clear_error() {
    let (client, cosigner) = keygen().await;
    let (mut a, mut b) = memory::pair();
    let ctx = context("mismatch");
    let master = DerivationPath::master();
    let (from_client, from_cosigner) = tokio::join!(
        Dkls23.sign(&client, &master, digest("pay alice"), &ctx, &mut a),
        Dkls23.sign(&cosigner, &master, digest("pay mallory"), &ctx, &mut b),
    );
    for error in [from_client.unwrap_err(), from_cosigner.unwrap_err()] {
        assert!(
            matches!(error.kind, ErrorKind::InvalidInput { .. }),
            "{error}"
        );
        assert_eq!(error.round.as_str(), "sign.nonce");
        assert!(!error.is_misbehaviour());
    }
}

#[test]
fn eip55_address_matches_published_vectors() {
    // Private keys 1 and 2: public keys G and 2G, whose addresses are
    // widely published (e.g. the first two keys of many test mnemonics).
    let vectors = [
        (
            "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798",
            "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf",
        ),
        (
            "02c6047f9441ed7d6d3045406e95c07cd85c778e4b8cef3ca7abac09b95c709ee5",
            "0x2B5AD5c4795c026514f8317c7a215E218DcCD6cF",
        ),
    ];
    for (public_key, expected) in vectors {
        let key = PublicKey::from_sec1_bytes(&hex::decode(public_key).unwrap()).unwrap();
        assert_eq!(address(&key), expected);
        assert_eq!(key.to_string(), public_key);
    }
    assert!(PublicKey::from_sec1_bytes(&[7; 33]).is_err());
    assert!(PublicKey::from_sec1_bytes(&[2; 5]).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clients_cannot_run_keygen_together() {
    let (mut a, mut b) = memory::pair();
    let ctx = context("two-clients");
    let (first, second) = tokio::join!(
        Dkls23.keygen(Party::Client, &ctx, &mut a),
        Dkls23.keygen(Party::Client, &ctx, &mut b),
    );
    for error in [first.unwrap_err(), second.unwrap_err()] {
        assert!(
            matches!(error.kind, ErrorKind::InvalidInput { .. }),
            "{error}"
        );
        assert_eq!(error.round.as_str(), "dkg.nonce");
    }
}
