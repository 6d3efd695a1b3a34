//! Digests and signatures against published vectors (EIP-155, EIP-191, EIP-712).

use mpc_evm::{
    message_v, personal_message_hash, recover_signer, typed_data_hash, verify_signer, Address,
    Fees, SignPayload, Signature, TxError, TxKind, TxRequest, VerifyError, B256, U256,
};
use serde_json::json;

fn hex32(s: &str) -> B256 {
    s.parse().unwrap()
}

/// The example transaction in EIP-155's text.
fn eip155_example() -> TxRequest {
    TxRequest {
        chain_id: 1,
        nonce: 9,
        to: TxKind::Call(
            "0x3535353535353535353535353535353535353535"
                .parse()
                .unwrap(),
        ),
        value: U256::from(10u64.pow(18)),
        gas_limit: 21000,
        fees: Fees::Legacy {
            gas_price: 20_000_000_000,
        },
        data: Default::default(),
        access_list: None,
        authorization_list: None,
    }
}

#[test]
fn eip155_example_signing_hash() {
    assert_eq!(
        B256::from(eip155_example().signing_hash()),
        hex32("0xdaf5a779ae972f972197303d7b574746c7ef83eadac0f2791ad23db92e4c8e53")
    );
}

#[test]
fn eip155_example_assembles_to_the_published_signed_transaction() {
    let tx = eip155_example();
    let signature = Signature::from_scalars_and_parity(
        hex32("0x28ef61340bd939bc2195fe537567866003e1a15d3c71ff63e1590620aa636276"),
        hex32("0x67cbe9d8997f761aecb703304b3800ccf555c9f3dc64214b297fb1966a3b6d83"),
        false,
    );
    let signed = tx.assemble(&signature).unwrap();
    assert_eq!(signed.v, 37);
    assert_eq!(
        signed.raw_tx.to_string(),
        "0xf86c098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a76400008025a028ef61340bd939bc2195fe537567866003e1a15d3c71ff63e1590620aa636276a067cbe9d8997f761aecb703304b3800ccf555c9f3dc64214b297fb1966a3b6d83"
    );
    assert_eq!(signed.tx_hash, alloy_keccak(&signed.raw_tx));
    // The EIP's key is 0x4646…46, whose address is 0x9d8A62f656a8d1615C1294fd71e9CFb3E4855A4F.
    let sender: Address = "0x9d8A62f656a8d1615C1294fd71e9CFb3E4855A4F"
        .parse()
        .unwrap();
    verify_signer(&tx.signing_hash(), &signature, sender).unwrap();
    let decoded = mpc_evm::decode_raw_tx(&signed.raw_tx).unwrap();
    assert_eq!(
        (decoded.from, decoded.chain_id, decoded.nonce),
        (sender, Some(1), 9)
    );
}

fn alloy_keccak(bytes: &[u8]) -> B256 {
    mpc_evm::raw::raw_tx_hash(bytes)
}

#[test]
fn high_s_is_refused_when_assembling() {
    let tx = eip155_example();
    let low = Signature::from_scalars_and_parity(
        hex32("0x28ef61340bd939bc2195fe537567866003e1a15d3c71ff63e1590620aa636276"),
        hex32("0x67cbe9d8997f761aecb703304b3800ccf555c9f3dc64214b297fb1966a3b6d83"),
        false,
    );
    let high = Signature::new(low.r(), alloy_order() - low.s(), true);
    assert!(matches!(tx.assemble(&high), Err(TxError::HighS)));
}

fn alloy_order() -> U256 {
    "0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141"
        .parse()
        .unwrap()
}

#[test]
fn v_is_eip155_for_legacy_and_parity_for_typed() {
    let legacy = eip155_example();
    assert_eq!((legacy.v(false), legacy.v(true)), (37, 38));
    let typed = TxRequest {
        fees: Fees::Eip1559 {
            max_fee_per_gas: 2,
            max_priority_fee_per_gas: 1,
        },
        chain_id: 11155111,
        ..legacy
    };
    assert_eq!((typed.v(false), typed.v(true)), (0, 1));
    assert_eq!((message_v(false), message_v(true)), (27, 28));
}

#[test]
fn personal_sign_hash_matches_the_published_hello_world_vector() {
    assert_eq!(
        B256::from(personal_message_hash(b"Hello World")),
        hex32("0xa1de988600a42c4b4ab089b619297c17d53cffae5d5120d82d8a92d0bb3b78f2")
    );
}

fn eip712_mail() -> serde_json::Value {
    json!({
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"}, {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"}, {"name": "verifyingContract", "type": "address"}
            ],
            "Person": [{"name": "name", "type": "string"}, {"name": "wallet", "type": "address"}],
            "Mail": [
                {"name": "from", "type": "Person"}, {"name": "to", "type": "Person"},
                {"name": "contents", "type": "string"}
            ]
        },
        "primaryType": "Mail",
        "domain": {"name": "Ether Mail", "version": "1", "chainId": 1,
                   "verifyingContract": "0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC"},
        "message": {
            "from": {"name": "Cow", "wallet": "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826"},
            "to": {"name": "Bob", "wallet": "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB"},
            "contents": "Hello, Bob!"
        }
    })
}

#[test]
fn eip712_mail_example_digest_and_signature() {
    let digest = typed_data_hash(&eip712_mail()).unwrap();
    assert_eq!(
        B256::from(digest),
        hex32("0xbe609aee343fb3c4b28e1df9e632fca64fcfaede20f02e86244efddf30957bd2")
    );
    // EIP-712's example signature by keccak256("cow"): v = 28.
    let signature = Signature::from_scalars_and_parity(
        hex32("0x4355c47d63924e8a72e509b65029052eb6c299d53a04e167c5775fd466751c9d"),
        hex32("0x07299936d304c153f6443dfa05f40ff007d72911b6f72307f996231605b91562"),
        true,
    );
    let cow: Address = "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826"
        .parse()
        .unwrap();
    assert_eq!(recover_signer(&digest, &signature).unwrap(), cow);
    let bob: Address = "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB"
        .parse()
        .unwrap();
    match verify_signer(&digest, &signature, bob) {
        Err(VerifyError::WrongSigner {
            expected,
            recovered,
        }) => {
            assert_eq!((expected, recovered), (bob, cow))
        }
        other => panic!("expected WrongSigner, got {other:?}"),
    }
    assert_eq!(SignPayload::TypedData(eip712_mail()).v(signature.v()), 28);
}

#[test]
fn invalid_typed_data_is_an_error() {
    let mut broken = eip712_mail();
    broken["primaryType"] = json!("Letter");
    assert!(typed_data_hash(&broken).is_err());
    assert!(SignPayload::TypedData(json!({"types": 1}))
        .digest()
        .is_err());
}

#[test]
fn sign_payload_round_trips_and_recomputes_each_digest() {
    let payloads = [
        SignPayload::Transaction(eip155_example()),
        SignPayload::PersonalMessage(b"Hello World".to_vec().into()),
        SignPayload::TypedData(eip712_mail()),
    ];
    let expected = [
        "0xdaf5a779ae972f972197303d7b574746c7ef83eadac0f2791ad23db92e4c8e53",
        "0xa1de988600a42c4b4ab089b619297c17d53cffae5d5120d82d8a92d0bb3b78f2",
        "0xbe609aee343fb3c4b28e1df9e632fca64fcfaede20f02e86244efddf30957bd2",
    ];
    for (payload, digest) in payloads.iter().zip(expected) {
        let json = serde_json::to_string(payload).unwrap();
        let back: SignPayload = serde_json::from_str(&json).unwrap();
        assert_eq!(&back, payload);
        assert_eq!(B256::from(back.digest().unwrap()), hex32(digest), "{json}");
    }
    let json = serde_json::to_value(&payloads[1]).unwrap();
    assert_eq!(
        json,
        json!({"kind": "personal_message", "payload": "0x48656c6c6f20576f726c64"})
    );
}

#[test]
fn typed_data_naming_another_chain_is_refused_and_a_domain_without_one_is_not() {
    let sepolia = mpc_evm::TxPolicy::new(11_155_111);
    let mainnet = SignPayload::TypedData(eip712_mail());
    let error = mainnet.validate(&sepolia).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("chain 1, not this wallet's chain 11155111"),
        "{error}"
    );
    assert!(mainnet.validate(&mpc_evm::TxPolicy::new(1)).is_ok());

    let mut hex_chain = eip712_mail();
    hex_chain["domain"]["chainId"] = json!("0xaa36a7");
    assert!(SignPayload::TypedData(hex_chain).validate(&sepolia).is_ok());

    let mut no_chain = eip712_mail();
    no_chain["domain"]
        .as_object_mut()
        .unwrap()
        .remove("chainId");
    no_chain["types"]["EIP712Domain"]
        .as_array_mut()
        .unwrap()
        .retain(|field| field["name"] != "chainId");
    assert!(SignPayload::TypedData(no_chain).validate(&sepolia).is_ok());
}
