//! The new wire payloads: transactions as unsigned EIP-2718 bytes and
//! EIP-7702 authorizations (auth.json, digest, signed authorization), in
//! CBOR as the co-signer receives them and in JSON.

use alloy::eips::eip7702::Authorization;
use alloy::signers::local::PrivateKeySigner;
use alloy::signers::SignerSync;
use mpc_evm::{
    signed_authorization_json, Address, AuthorizationRequest, Bytes, Fees, PayloadError,
    SignPayload, Signature, TxDraft, TxError, TxKind, TxPolicy, TxRequest, B256, U256,
};
use serde_json::{json, Value};

const CHAIN: u64 = 11155111;
const DELEGATE: &str = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
const KEY: &str = "0x2222222222222222222222222222222222222222222222222222222222222222";

fn signer() -> PrivateKeySigner {
    KEY.parse().unwrap()
}

fn delegate() -> Address {
    DELEGATE.parse().unwrap()
}

fn auth_request() -> AuthorizationRequest {
    AuthorizationRequest {
        chain_id: CHAIN,
        address: delegate(),
        nonce: 5,
    }
}

fn sign(digest: [u8; 32]) -> Signature {
    signer().sign_hash_sync(&B256::from(digest)).unwrap()
}

fn cbor_round_trip(payload: &SignPayload) -> (SignPayload, ciborium::Value) {
    let mut bytes = Vec::new();
    ciborium::into_writer(payload, &mut bytes).unwrap();
    let value: ciborium::Value = ciborium::from_reader(bytes.as_slice()).unwrap();
    (ciborium::from_reader(bytes.as_slice()).unwrap(), value)
}

/// The `payload` entry of a CBOR-encoded `SignPayload`.
fn cbor_payload(value: &ciborium::Value) -> &ciborium::Value {
    let map = value.as_map().expect("a map");
    let entry = map
        .iter()
        .find(|(k, _)| k.as_text() == Some("payload"))
        .expect("a payload entry");
    &entry.1
}

fn type4() -> TxRequest {
    let authorization = auth_request()
        .assemble(&sign(auth_request().signing_hash()))
        .unwrap();
    let tx_json = json!({"chain_id": CHAIN, "nonce": 1, "to": DELEGATE, "gas_limit": 100000,
        "max_fee_per_gas": "2gwei", "max_priority_fee_per_gas": "1gwei",
        "authorization_list": [signed_authorization_json(&authorization)]});
    TxRequest::from_json(&tx_json.to_string(), &TxPolicy::new(CHAIN)).unwrap()
}

fn type1() -> TxRequest {
    let tx_json = json!({"chain_id": CHAIN, "nonce": 0, "to": null, "gas_limit": 60000,
        "gas_price": "1gwei", "data": "0x6000", "access_list": [{"address": DELEGATE}]});
    TxRequest::from_json(&tx_json.to_string(), &TxPolicy::new(CHAIN)).unwrap()
}

#[test]
fn authorization_digest_is_alloys() {
    let request = auth_request();
    let alloy = Authorization {
        chain_id: U256::from(CHAIN),
        address: delegate(),
        nonce: 5,
    };
    assert_eq!(request.authorization(), alloy);
    assert_eq!(B256::from(request.signing_hash()), alloy.signature_hash());
    let payload = SignPayload::Authorization(request);
    assert_eq!(
        B256::from(payload.digest().unwrap()),
        alloy.signature_hash()
    );
    // A different field, a different digest.
    let other = AuthorizationRequest {
        nonce: 6,
        ..request
    };
    assert_ne!(other.signing_hash(), request.signing_hash());
}

#[test]
fn signed_authorization_recovers_the_signer_and_prints_as_tx_json_reads_it() {
    let request = auth_request();
    let signature = sign(request.signing_hash());
    let payload = SignPayload::Authorization(request);
    assert_eq!(payload.v(signature.v()), signature.v() as u64);
    let signed = request.assemble(&signature).unwrap();
    assert_eq!(signed.recover_authority().unwrap(), signer().address());
    let printed = signed_authorization_json(&signed);
    assert_eq!(
        printed,
        json!({"chain_id": CHAIN, "address": DELEGATE, "nonce": 5,
            "y_parity": signature.v() as u8,
            "r": B256::from(signature.r()).to_string(),
            "s": B256::from(signature.s()).to_string()})
    );
    // The printed form is an `authorization_list` entry: it reads back the same.
    assert_eq!(type4().authorization_list, Some(vec![signed]));

    let order: U256 = "0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141"
        .parse()
        .unwrap();
    let high = Signature::new(signature.r(), order - signature.s(), !signature.v());
    assert!(matches!(request.assemble(&high), Err(TxError::HighS)));
}

#[test]
fn auth_json_is_parsed_like_tx_json() {
    let parsed = AuthorizationRequest::from_json(
        &json!({"chain_id": "0xaa36a7", "address": DELEGATE.to_lowercase(), "nonce": "5"})
            .to_string(),
    )
    .unwrap();
    assert_eq!(parsed, auth_request());
    assert_eq!(
        parsed.to_json(),
        json!({"chain_id": CHAIN, "address": DELEGATE, "nonce": 5})
    );

    let good = json!({"chain_id": CHAIN, "address": DELEGATE, "nonce": 5});
    let edit = |key: &str, value: Value| {
        let mut v = good.clone();
        v[key] = value;
        v
    };
    let drop = |key: &str| {
        let mut v = good.clone();
        v.as_object_mut().unwrap().remove(key);
        v
    };
    let cases = [
        (drop("nonce"), "nonce", "required"),
        (drop("address"), "address", "required"),
        (drop("chain_id"), "chain_id", "required"),
        (
            edit(
                "address",
                json!(DELEGATE.replace('F', "f").replacen("0x5f", "0x5F", 1)),
            ),
            "address",
            "checksum",
        ),
        (edit("nonce", json!(1.5)), "nonce", "non-negative integer"),
        (
            edit("nonce", json!("1ether")),
            "nonce",
            "not a decimal or 0x-hex",
        ),
        (
            edit("chain_id", json!("18446744073709551616")),
            "chain_id",
            "too large",
        ),
        (
            edit("delegate", json!(DELEGATE)),
            "delegate",
            "unknown field",
        ),
    ];
    for (value, field, needle) in cases {
        let err = AuthorizationRequest::from_value(&value).expect_err(field);
        assert_eq!(err.field(), Some(field), "{err}");
        let text = err.to_string();
        assert!(
            text.starts_with(&format!("auth.json field `{field}`")),
            "{text}"
        );
        assert!(text.contains(needle), "{text} should mention {needle:?}");
    }
    assert!(matches!(
        AuthorizationRequest::from_json("[]"),
        Err(TxError::AuthorizationNotAnObject("an array"))
    ));
    assert!(matches!(
        AuthorizationRequest::from_json("{"),
        Err(TxError::AuthorizationJson(_))
    ));
}

#[test]
fn authorization_policy_is_this_chain_or_any_chain() {
    let policy = TxPolicy::new(CHAIN);
    auth_request().validate(&policy).unwrap();
    let any_chain = AuthorizationRequest {
        chain_id: 0,
        ..auth_request()
    };
    any_chain.validate(&policy).unwrap();
    let mainnet = AuthorizationRequest {
        chain_id: 1,
        ..auth_request()
    };
    let err = SignPayload::Authorization(mainnet)
        .validate(&policy)
        .unwrap_err();
    let PayloadError::Transaction(err) = err else {
        panic!("{err:?}")
    };
    assert_eq!(err.field(), Some("chain_id"));
    assert!(
        err.to_string()
            .contains("neither the expected chain id 11155111"),
        "{err}"
    );
}

#[test]
fn new_payloads_round_trip_through_cbor_as_the_wire_carries_them() {
    for tx in [type1(), type4()] {
        let payload = SignPayload::UnsignedTransaction(tx.clone());
        let (back, value) = cbor_round_trip(&payload);
        assert_eq!(back, payload);
        assert_eq!(back.digest().unwrap(), tx.signing_hash());
        // On the wire it is the unsigned bytes themselves, a CBOR byte string.
        assert_eq!(
            cbor_payload(&value).as_bytes().map(Vec::as_slice),
            Some(&tx.encode_unsigned()[..])
        );
    }
    let authorization = SignPayload::Authorization(auth_request());
    let (back, value) = cbor_round_trip(&authorization);
    assert_eq!(back, authorization);
    assert!(cbor_payload(&value).is_map());
    // The existing variants keep their form: a transaction is tx.json.
    let as_json = SignPayload::Transaction(type4());
    let (back, value) = cbor_round_trip(&as_json);
    assert_eq!(back, as_json);
    assert!(cbor_payload(&value).is_map());
}

#[test]
fn new_payloads_in_json() {
    let tx = type4();
    let payload = SignPayload::UnsignedTransaction(tx.clone());
    let value = serde_json::to_value(&payload).unwrap();
    assert_eq!(
        value,
        json!({"kind": "unsigned_transaction", "payload": tx.encode_unsigned().to_string()})
    );
    assert_eq!(
        serde_json::from_value::<SignPayload>(value).unwrap(),
        payload
    );
    let value = serde_json::to_value(SignPayload::Authorization(auth_request())).unwrap();
    assert_eq!(
        value,
        json!({"kind": "authorization", "payload": {"chain_id": CHAIN, "address": DELEGATE, "nonce": 5}})
    );
}

#[test]
fn receiving_bad_payloads_fails_with_the_parsers_message() {
    let blob = json!({"kind": "unsigned_transaction", "payload": "0x03c0"});
    let err = serde_json::from_value::<SignPayload>(blob).unwrap_err();
    assert!(err.to_string().contains("blob"), "{err}");
    let trailing = format!("{}00", type1().encode_unsigned());
    let err = serde_json::from_value::<SignPayload>(
        json!({"kind": "unsigned_transaction", "payload": trailing}),
    )
    .unwrap_err();
    assert!(err.to_string().contains("follow the transaction"), "{err}");
    let unknown = json!({"kind": "authorization", "payload": {"chain_id": 1, "address": DELEGATE, "nonce": 0, "extra": 1}});
    let err = serde_json::from_value::<SignPayload>(unknown).unwrap_err();
    assert!(err.to_string().contains("auth.json field `extra`"), "{err}");
}

#[test]
fn both_transaction_forms_are_checked_the_same_way() {
    let tx = type4();
    let policy = TxPolicy::new(CHAIN);
    let forms = [
        SignPayload::Transaction(tx.clone()),
        SignPayload::UnsignedTransaction(tx.clone()),
    ];
    for payload in &forms {
        assert_eq!(payload.transaction(), Some(&tx));
        payload.validate(&policy).unwrap();
        assert!(payload.validate(&TxPolicy::new(1)).is_err());
        assert_eq!(payload.digest().unwrap(), tx.signing_hash());
        assert_eq!(payload.v(true), 1);
    }
    for other in [
        SignPayload::Authorization(auth_request()),
        SignPayload::PersonalMessage(Bytes::from_static(b"hi")),
        SignPayload::TypedData(json!({})),
    ] {
        assert_eq!(other.transaction(), None);
    }
    SignPayload::PersonalMessage(Bytes::from_static(b"hi"))
        .validate(&policy)
        .unwrap();

    // A hand-built shape no type can carry is not given a digest.
    let mut legacy = tx;
    legacy.fees = Fees::Legacy { gas_price: 1 };
    assert!(SignPayload::Transaction(legacy).digest().is_err());
}

#[test]
fn a_prepared_draft_and_its_unsigned_bytes_agree() {
    // What a client does: tx.json in, unsigned bytes on the wire, the
    // co-signer decodes and gets the very same request.
    let draft = TxDraft::from_json(
        &json!({"chain_id": CHAIN, "nonce": 9, "to": DELEGATE, "value": "0.5ether",
            "gas_limit": 21000, "gas_price": "3gwei", "type": 1})
        .to_string(),
    )
    .unwrap();
    let tx = draft.complete(&TxPolicy::new(CHAIN)).unwrap();
    assert_eq!(tx.to, TxKind::Call(delegate()));
    let (back, _) = cbor_round_trip(&SignPayload::UnsignedTransaction(tx.clone()));
    assert_eq!(back.transaction(), Some(&tx));
}
