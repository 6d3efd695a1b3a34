//! tx.json for every supported transaction type: access lists (EIP-2930),
//! authorization lists (EIP-7702), contract creation, the `type` field and
//! its inference, and each bad input refused with its field named.

use alloy::signers::local::PrivateKeySigner;
use alloy::signers::SignerSync;
use mpc_evm::{
    signed_authorization_json, AccessList, AccessListItem, Address, AuthorizationRequest, Bytes,
    DraftFees, Fees, TxDraft, TxError, TxKind, TxPolicy, TxRequest, TxType, B256, U256,
};
use serde_json::{json, Value};

const SEPOLIA: u64 = 11155111;
const TO: &str = "0x3535353535353535353535353535353535353535";
const KEY: &str = "0x1111111111111111111111111111111111111111111111111111111111111111";
const SLOT: &str = "0x0000000000000000000000000000000000000000000000000000000000000001";
/// Init code deploying nothing useful: enough to be a creation.
const INIT_CODE: &str = "0x600a600c600039600a6000f3602a60005260206000f3";

fn to() -> Address {
    TO.parse().unwrap()
}

fn base_1559() -> Value {
    json!({
        "chain_id": SEPOLIA, "nonce": 0, "to": TO, "value": "0",
        "gas_limit": 100000, "max_fee_per_gas": "30000000000",
        "max_priority_fee_per_gas": "1000000000", "data": "0x"
    })
}

fn base_legacy() -> Value {
    json!({"chain_id": SEPOLIA, "nonce": 0, "to": TO, "gas_limit": 100000, "gas_price": "20000000000"})
}

fn with(mut base: Value, key: &str, value: Value) -> Value {
    base[key] = value;
    base
}

fn without(mut base: Value, key: &str) -> Value {
    base.as_object_mut().unwrap().remove(key);
    base
}

fn policy() -> TxPolicy {
    TxPolicy::new(SEPOLIA)
}

fn parse(value: &Value) -> Result<TxRequest, TxError> {
    TxDraft::from_value(value)?.complete(&policy())
}

fn assert_field_error(value: &Value, field: &str, needle: &str) {
    let err = parse(value).expect_err("must be rejected");
    assert_eq!(err.field(), Some(field), "{err}");
    assert!(
        err.to_string().contains(needle),
        "{err} should mention {needle:?}"
    );
}

/// A signed authorization for `chain_id`, as tx.json's `authorization_list` holds it.
fn authorization(chain_id: u64) -> Value {
    let request = AuthorizationRequest {
        chain_id,
        address: to(),
        nonce: 7,
    };
    let signer: PrivateKeySigner = KEY.parse().unwrap();
    let signature = signer
        .sign_hash_sync(&B256::from(request.signing_hash()))
        .unwrap();
    signed_authorization_json(&request.assemble(&signature).unwrap())
}

fn base_7702() -> Value {
    with(
        base_1559(),
        "authorization_list",
        json!([authorization(SEPOLIA)]),
    )
}

#[test]
fn access_list_with_gas_price_is_type_1_and_with_max_fees_type_2() {
    let list = json!([{"address": TO, "storage_keys": [SLOT]}, {"address": TO, "storageKeys": []}]);
    let expected = AccessList(vec![
        AccessListItem {
            address: to(),
            storage_keys: vec![SLOT.parse().unwrap()],
        },
        AccessListItem {
            address: to(),
            storage_keys: vec![],
        },
    ]);
    let type1 = parse(&with(base_legacy(), "access_list", list.clone())).unwrap();
    assert_eq!(type1.tx_type(), TxType::Eip2930);
    assert_eq!(type1.access_list.as_ref(), Some(&expected));
    assert_eq!(type1.v(true), 1, "typed transactions use the bare parity");
    let type2 = parse(&with(base_1559(), "access_list", list)).unwrap();
    assert_eq!(type2.tx_type(), TxType::Eip1559);
    assert_eq!(type2.access_list, Some(expected));

    // An empty list: with gas_price still type 1; with max fees the same as none.
    let empty1 = parse(&with(base_legacy(), "access_list", json!([]))).unwrap();
    assert_eq!(
        (empty1.tx_type(), empty1.access_list),
        (TxType::Eip2930, Some(AccessList::default()))
    );
    let empty2 = parse(&with(base_1559(), "access_list", json!([]))).unwrap();
    assert_eq!(empty2, parse(&base_1559()).unwrap());
    assert_eq!(parse(&base_legacy()).unwrap().tx_type(), TxType::Legacy);
}

#[test]
fn bad_access_lists_name_the_entry() {
    let item = |entry: Value| with(base_legacy(), "access_list", json!([entry]));
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            with(base_legacy(), "access_list", json!({})),
            "access_list",
            "expected an array",
        ),
        (item(json!(TO)), "access_list[0]", "expected an object"),
        (
            item(json!({"storage_keys": []})),
            "access_list[0].address",
            "required",
        ),
        (
            item(json!({"address": "0x1234"})),
            "access_list[0].address",
            "20 bytes",
        ),
        (
            item(json!({"address": TO, "storage_keys": [SLOT, "0x01"]})),
            "access_list[0].storage_keys[1]",
            "expected 32",
        ),
        (
            item(json!({"address": TO, "storageKeys": ["0xzz"]})),
            "access_list[0].storageKeys[0]",
            "not valid hex",
        ),
        (
            item(json!({"address": TO, "storage_keys": SLOT})),
            "access_list[0].storage_keys",
            "expected an array",
        ),
        (
            item(json!({"address": TO, "storage_keys": [], "storageKeys": []})),
            "access_list[0].storageKeys",
            "give only one",
        ),
        (
            item(json!({"address": TO, "slots": []})),
            "access_list[0].slots",
            "unknown field",
        ),
    ];
    for (value, field, needle) in cases {
        assert_field_error(&value, field, needle);
    }
}

#[test]
fn authorization_list_makes_type_4() {
    let tx = parse(&base_7702()).unwrap();
    assert_eq!(tx.tx_type(), TxType::Eip7702);
    let list = tx.authorization_list.as_ref().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(
        (list[0].chain_id, list[0].address, list[0].nonce),
        (U256::from(SEPOLIA), to(), 7)
    );
    let authority = list[0].recover_authority().unwrap();
    assert_eq!(
        authority,
        KEY.parse::<PrivateKeySigner>().unwrap().address()
    );
    // Chain id 0 authorizes on every chain, this one included.
    assert!(parse(&with(
        base_1559(),
        "authorization_list",
        json!([authorization(0)])
    ))
    .is_ok());
    // Numbers in any tx.json form.
    let mut entry = authorization(SEPOLIA);
    entry["chain_id"] = json!(format!("{SEPOLIA:#x}"));
    entry["nonce"] = json!("7");
    entry["y_parity"] = json!(format!("{:#x}", list[0].y_parity()));
    assert_eq!(
        parse(&with(base_1559(), "authorization_list", json!([entry]))).unwrap(),
        tx
    );
}

#[test]
fn bad_authorization_lists_name_the_entry_and_field() {
    let entry = |edit: &dyn Fn(&mut Value)| {
        let mut entry = authorization(SEPOLIA);
        edit(&mut entry);
        with(
            base_1559(),
            "authorization_list",
            json!([authorization(SEPOLIA), entry]),
        )
    };
    let high_s = {
        let order: U256 = "0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141"
            .parse()
            .unwrap();
        let low: U256 = authorization(SEPOLIA)["s"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        B256::from(order - low).to_string()
    };
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            with(
                base_legacy(),
                "authorization_list",
                json!([authorization(SEPOLIA)]),
            ),
            "authorization_list",
            "needs EIP-1559 fees",
        ),
        (
            with(
                with(without(base_7702(), "to"), "data", json!(INIT_CODE)),
                "gas_limit",
                json!(100000),
            ),
            "to",
            "cannot create a contract",
        ),
        (
            with(base_1559(), "authorization_list", json!([])),
            "authorization_list",
            "is empty",
        ),
        (
            with(base_1559(), "authorization_list", json!({})),
            "authorization_list",
            "expected an array",
        ),
        (
            with(base_1559(), "authorization_list", json!([1])),
            "authorization_list[0]",
            "expected an object",
        ),
        (
            entry(&|e| {
                e.as_object_mut().unwrap().remove("y_parity");
            }),
            "authorization_list[1].y_parity",
            "required",
        ),
        (
            entry(&|e| e["v"] = json!(0)),
            "authorization_list[1].v",
            "unknown field",
        ),
        (
            entry(&|e| e["nonce"] = json!(-1)),
            "authorization_list[1].nonce",
            "non-negative",
        ),
        (
            entry(&|e| e["address"] = json!("0x12")),
            "authorization_list[1].address",
            "20 bytes",
        ),
        (
            entry(&|e| e["chain_id"] = json!(1)),
            "authorization_list[1].chain_id",
            "1 is neither the expected chain id 11155111 (MPC_CHAIN_ID) nor 0",
        ),
        (
            entry(&|e| e["y_parity"] = json!(2)),
            "authorization_list[1].y_parity",
            "0 or 1",
        ),
        (
            entry(&|e| e["s"] = json!(high_s.clone())),
            "authorization_list[1].s",
            "upper half",
        ),
        (
            entry(&|e| e["r"] = json!("0x0")),
            "authorization_list[1]",
            "recovers no authority",
        ),
    ];
    for (value, field, needle) in cases {
        assert_field_error(&value, field, needle);
    }
}

#[test]
fn an_explicit_type_must_agree_with_the_fields() {
    let list = json!([{"address": TO, "storage_keys": [SLOT]}]);
    for (value, expected) in [
        (with(base_legacy(), "type", json!(0)), TxType::Legacy),
        (with(base_legacy(), "type", json!("0x1")), TxType::Eip2930),
        (
            with(
                with(base_legacy(), "type", json!(1)),
                "access_list",
                list.clone(),
            ),
            TxType::Eip2930,
        ),
        (with(base_1559(), "type", json!("2")), TxType::Eip1559),
        (
            with(
                with(base_1559(), "type", json!(2)),
                "access_list",
                list.clone(),
            ),
            TxType::Eip1559,
        ),
        (with(base_7702(), "type", json!("0x04")), TxType::Eip7702),
    ] {
        let tx = parse(&value).unwrap_or_else(|e| panic!("{value}: {e}"));
        assert_eq!(tx.tx_type(), expected, "{value}");
    }
    // `"type": 1` alone is a type-1 transaction with an empty access list.
    let type1 = parse(&with(base_legacy(), "type", json!(1))).unwrap();
    assert_eq!(type1.access_list, Some(AccessList::default()));

    let cases: Vec<(Value, &str, &str)> = vec![
        (
            with(base_1559(), "type", json!(0)),
            "type",
            "type 0 (legacy): uses `gas_price`",
        ),
        (
            with(base_1559(), "type", json!(1)),
            "type",
            "type 1 (EIP-2930): uses `gas_price`",
        ),
        (
            with(base_legacy(), "type", json!(2)),
            "type",
            "type 2 (EIP-1559): uses `max_fee_per_gas`",
        ),
        (
            with(with(base_legacy(), "type", json!(0)), "access_list", list),
            "type",
            "has no access list",
        ),
        (
            with(base_7702(), "type", json!(2)),
            "type",
            "cannot carry an `authorization_list`",
        ),
        (
            with(base_1559(), "type", json!(4)),
            "authorization_list",
            "required for type 4",
        ),
        (
            with(base_1559(), "type", json!(3)),
            "type",
            "blob transactions",
        ),
        (
            with(base_1559(), "type", json!(5)),
            "type",
            "unknown transaction type 5",
        ),
        (
            with(base_1559(), "type", json!("legacy")),
            "type",
            "not a decimal or 0x-hex",
        ),
        (
            with(base_1559(), "max_fee_per_blob_gas", json!(1)),
            "max_fee_per_blob_gas",
            "not supported",
        ),
        (
            with(base_1559(), "blob_versioned_hashes", json!([])),
            "blob_versioned_hashes",
            "not supported",
        ),
    ];
    for (value, field, needle) in cases {
        assert_field_error(&value, field, needle);
    }
}

#[test]
fn drafts_infer_their_type_from_the_fields() {
    let resolved = |value: Value| {
        TxDraft::from_value(&value)
            .unwrap()
            .resolved_type()
            .unwrap()
    };
    let list = json!([{"address": TO}]);
    assert_eq!(resolved(json!({"to": TO})), None);
    assert_eq!(resolved(json!({"to": TO, "access_list": list})), None);
    assert_eq!(
        resolved(json!({"to": TO, "gas_price": 1})),
        Some(TxType::Legacy)
    );
    assert_eq!(
        resolved(json!({"to": TO, "gas_price": 1, "access_list": list})),
        Some(TxType::Eip2930)
    );
    assert_eq!(
        resolved(json!({"to": TO, "max_fee_per_gas": 1})),
        Some(TxType::Eip1559)
    );
    assert_eq!(
        resolved(json!({"to": TO, "authorization_list": [authorization(SEPOLIA)]})),
        Some(TxType::Eip7702)
    );
    assert_eq!(
        resolved(json!({"to": TO, "type": 1})),
        Some(TxType::Eip2930)
    );
    // With the fees open, the type decides which fee field is missing.
    let open = without(base_legacy(), "gas_price");
    assert_field_error(
        &with(open.clone(), "type", json!(1)),
        "gas_price",
        "required",
    );
    assert_field_error(&open, "max_fee_per_gas", "required");
    let draft = TxDraft::from_value(&with(open, "type", json!(0))).unwrap();
    assert_eq!(
        (draft.fees, draft.tx_type),
        (DraftFees::Unset, Some(TxType::Legacy))
    );
}

#[test]
fn no_to_with_init_code_is_a_contract_creation() {
    let create = with(without(base_1559(), "to"), "data", json!(INIT_CODE));
    let tx = parse(&create).unwrap();
    assert_eq!(tx.to, TxKind::Create);
    assert_eq!(tx.data, INIT_CODE.parse::<Bytes>().unwrap());
    assert_eq!(parse(&with(create.clone(), "to", Value::Null)).unwrap(), tx);
    // Legacy and EIP-2930 may create too.
    let legacy = with(without(base_legacy(), "to"), "data", json!(INIT_CODE));
    assert_eq!(parse(&legacy).unwrap().to, TxKind::Create);
    let type1 = parse(&with(legacy, "access_list", json!([]))).unwrap();
    assert_eq!(
        (type1.to, type1.tx_type()),
        (TxKind::Create, TxType::Eip2930)
    );
    // The canonical form says so with `"to": null`, and reads back the same.
    let canonical = tx.to_json();
    assert_eq!(canonical["to"], Value::Null);
    assert_eq!(
        TxRequest::from_json(&canonical.to_string(), &policy()).unwrap(),
        tx
    );

    assert_field_error(&without(base_1559(), "to"), "to", "nothing to deploy");
    assert_field_error(
        &with(base_1559(), "to", Value::Null),
        "to",
        "nothing to deploy",
    );
    assert_field_error(
        &with(create.clone(), "gas_limit", json!(52_999)),
        "gas_limit",
        "below the 53000 gas a contract creation costs",
    );
    assert!(parse(&with(create, "gas_limit", json!(53_000))).is_ok());
}

#[test]
fn every_type_round_trips_through_canonical_tx_json() {
    let list = json!([{"address": TO, "storage_keys": [SLOT]}]);
    let create = with(without(base_legacy(), "to"), "data", json!(INIT_CODE));
    for value in [
        base_legacy(),
        with(base_legacy(), "access_list", list.clone()),
        with(base_legacy(), "type", json!(1)),
        with(base_1559(), "access_list", list.clone()),
        with(base_7702(), "access_list", list),
        create,
    ] {
        let tx = parse(&value).unwrap();
        let text = serde_json::to_string(&tx).unwrap();
        let back: TxRequest = serde_json::from_str(&text).unwrap();
        assert_eq!(back, tx, "{text}");
        assert_eq!(back.signing_hash(), tx.signing_hash());
    }
    let canonical = parse(&base_7702()).unwrap().to_json();
    assert_eq!(canonical["authorization_list"][0], authorization(SEPOLIA));
}

#[test]
fn validate_rechecks_authorizations_and_shape_of_a_received_request() {
    let tx = parse(&base_7702()).unwrap();
    let err = tx.validate(&TxPolicy::new(1)).unwrap_err();
    assert_eq!(err.field(), Some("chain_id"));

    // Shapes the parser never makes, refused when built by hand.
    let mut empty = tx.clone();
    empty.authorization_list = Some(vec![]);
    assert_eq!(
        empty.validate(&policy()).unwrap_err().field(),
        Some("authorization_list")
    );
    let mut legacy = tx.clone();
    legacy.fees = Fees::Legacy { gas_price: 1 };
    let err = legacy.validate(&policy()).unwrap_err();
    assert_eq!(err.field(), Some("authorization_list"), "{err}");
    let signature = alloy::primitives::Signature::test_signature();
    assert_eq!(
        legacy.assemble(&signature).unwrap_err().field(),
        Some("authorization_list")
    );
    let mut create = tx;
    create.to = TxKind::Create;
    assert_eq!(create.validate(&policy()).unwrap_err().field(), Some("to"));
}
