//! tx.json parsing and validation: every number form, ERC-20 call data and
//! each validation error naming its field.

use mpc_evm::erc20::transfer_calldata;
use mpc_evm::{Address, DraftFees, Fees, TxDraft, TxError, TxKind, TxPolicy, TxRequest, U256};
use serde_json::{json, Value};

const SEPOLIA: u64 = 11155111;
const TO: &str = "0x3535353535353535353535353535353535353535";
const CHECKSUMMED: &str = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";

fn base_1559() -> Value {
    json!({
        "chain_id": SEPOLIA, "nonce": 0, "to": TO, "value": "1000000000000000",
        "gas_limit": 21000, "max_fee_per_gas": "30000000000",
        "max_priority_fee_per_gas": "1000000000", "data": "0x"
    })
}

/// The base without the fields `erc20` replaces.
fn erc20_base() -> Value {
    without(without(without(base_1559(), "to"), "value"), "data")
}

fn with(mut base: Value, key: &str, value: Value) -> Value {
    base[key] = value;
    base
}

fn without(mut base: Value, key: &str) -> Value {
    base.as_object_mut().unwrap().remove(key);
    base
}

fn parse(value: &Value) -> Result<TxRequest, TxError> {
    TxDraft::from_value(value)?.complete(&TxPolicy::new(SEPOLIA))
}

/// The error must be about `field` and mention `needle`.
fn assert_field_error(value: &Value, field: &str, needle: &str) {
    let err = parse(value).expect_err("must be rejected");
    assert_eq!(err.field(), Some(field), "{err}");
    assert!(
        err.to_string().contains(needle),
        "{err:?} should mention {needle:?}"
    );
}

#[test]
fn contract_example_parses_to_eip1559() {
    let tx = parse(&base_1559()).unwrap();
    assert_eq!(tx.chain_id, SEPOLIA);
    assert_eq!(tx.to, TxKind::Call(TO.parse::<Address>().unwrap()));
    assert_eq!(tx.value, U256::from(1_000_000_000_000_000u64));
    assert_eq!(tx.gas_limit, 21000);
    assert_eq!(
        tx.fees,
        Fees::Eip1559 {
            max_fee_per_gas: 30_000_000_000,
            max_priority_fee_per_gas: 1_000_000_000
        }
    );
    assert!(tx.data.is_empty());
    assert!(!tx.is_legacy());
}

#[test]
fn numbers_may_be_json_numbers_decimal_strings_or_hex_strings() {
    for (nonce, value) in [
        (json!(7), json!(1000)),
        (json!("7"), json!("1000")),
        (json!("0x7"), json!("0x3e8")),
        (json!("0X07"), json!(" 0x03E8 ")),
    ] {
        let tx = parse(&with(with(base_1559(), "nonce", nonce), "value", value)).unwrap();
        assert_eq!(tx.nonce, 7);
        assert_eq!(tx.value, U256::from(1000));
    }
    let max = "115792089237316195423570985008687907853269984665640564039457584007913129639935";
    assert_eq!(
        parse(&with(base_1559(), "value", json!(max)))
            .unwrap()
            .value,
        U256::MAX
    );
}

#[test]
fn legacy_uses_gas_price_and_gas_is_an_alias_of_gas_limit() {
    let legacy = json!({"chain_id": SEPOLIA, "nonce": "0x1", "to": TO, "value": 0,
        "gas": "0x5208", "gas_price": "20000000000"});
    let tx = parse(&legacy).unwrap();
    assert!(tx.is_legacy());
    assert_eq!(tx.gas_limit, 21000);
    assert_eq!(
        tx.fees,
        Fees::Legacy {
            gas_price: 20_000_000_000
        }
    );
}

#[test]
fn erc20_builds_transfer_calldata_to_the_token() {
    let token = "0x5fbdb2315678afecb367f032d93f642f64180aa3";
    let value = json!({"chain_id": SEPOLIA, "nonce": 3, "gas_limit": 60000,
        "max_fee_per_gas": "2000000000", "max_priority_fee_per_gas": "1000000000",
        "erc20": {"token": token, "to": TO, "amount": "0x10"}});
    let tx = parse(&value).unwrap();
    assert_eq!(tx.to, TxKind::Call(token.parse::<Address>().unwrap()));
    assert_eq!(tx.value, U256::ZERO);
    let expected = format!(
        "0xa9059cbb{:0>64}{:0>64}",
        TO.trim_start_matches("0x"),
        "10"
    );
    assert_eq!(tx.data.to_string(), expected);
    assert_eq!(
        tx.data,
        transfer_calldata(TO.parse().unwrap(), U256::from(16))
    );
}

#[test]
fn addresses_must_be_checksummed_or_lower_case() {
    assert!(parse(&with(base_1559(), "to", json!(CHECKSUMMED))).is_ok());
    assert!(parse(&with(base_1559(), "to", json!(CHECKSUMMED.to_lowercase()))).is_ok());
    let bad_checksum = CHECKSUMMED
        .replace("F39", "f39")
        .replacen("0xf39F", "0xf39f", 1);
    assert_field_error(
        &with(base_1559(), "to", json!(bad_checksum)),
        "to",
        "checksum",
    );
    assert_field_error(&with(base_1559(), "to", json!("0x1234")), "to", "20 bytes");
    assert_field_error(
        &with(base_1559(), "to", json!(TO.trim_start_matches("0x"))),
        "to",
        "0x",
    );
    assert_field_error(&with(base_1559(), "to", json!(42)), "to", "address string");
}

#[test]
fn every_validation_error_names_its_field() {
    let policy_cap = "10000000000001"; // 10,000 gwei + 1 wei
    let cases: Vec<(Value, &str, &str)> = vec![
        (with(base_1559(), "chain_id", json!(1)), "chain_id", "expected chain id 11155111"),
        (without(base_1559(), "nonce"), "nonce", "required"),
        (without(base_1559(), "to"), "to", "required"),
        (without(base_1559(), "gas_limit"), "gas_limit", "required"),
        (with(base_1559(), "gas_limit", json!(0)), "gas_limit", "below the 21000"),
        (with(base_1559(), "gas_limit", json!(20999)), "gas_limit", "below the 21000"),
        (with(base_1559(), "nonce", json!(-1)), "nonce", "non-negative integer"),
        (with(base_1559(), "nonce", json!(1.5)), "nonce", "non-negative integer"),
        (with(base_1559(), "nonce", json!("0x1_0000_0000_0000_0000")), "nonce", "not a decimal or 0x-hex"),
        (with(base_1559(), "nonce", json!("18446744073709551616")), "nonce", "too large"),
        (with(base_1559(), "value", json!("1e18")), "value", "not a decimal or 0x-hex"),
        (with(base_1559(), "value", json!(true)), "value", "found a boolean"),
        (
            with(base_1559(), "value", json!("115792089237316195423570985008687907853269984665640564039457584007913129639936")),
            "value",
            "does not fit in 256 bits",
        ),
        (with(base_1559(), "data", json!("0xzz")), "data", "not valid hex"),
        (with(base_1559(), "max_priority_fee_per_gas", json!("30000000001")), "max_priority_fee_per_gas", "exceeds max_fee_per_gas"),
        (with(base_1559(), "max_fee_per_gas", json!(policy_cap)), "max_fee_per_gas", "cap"),
        (with(with(base_1559(), "max_fee_per_gas", json!(0)), "max_priority_fee_per_gas", json!(0)), "max_fee_per_gas", "greater than zero"),
        (without(base_1559(), "max_priority_fee_per_gas"), "max_priority_fee_per_gas", "required"),
        (without(without(base_1559(), "max_priority_fee_per_gas"), "max_fee_per_gas"), "max_fee_per_gas", "required"),
        (with(base_1559(), "gas_price", json!(1)), "gas_price", "cannot be combined"),
        (with(base_1559(), "gas", json!(21000)), "gas", "not both"),
        (with(base_1559(), "gasLimit", json!(21000)), "gasLimit", "unknown field"),
        (with(base_1559(), "erc20", json!({"token": TO, "to": TO, "amount": 1})), "to", "`erc20` replaces"),
        (
            with(erc20_base(), "erc20", json!({"token": TO, "to": TO})),
            "erc20.amount",
            "required",
        ),
        (
            with(erc20_base(), "erc20", json!({"token": TO, "to": TO, "amount": 1, "memo": "x"})),
            "erc20.memo",
            "unknown field",
        ),
        (with(erc20_base(), "erc20", json!([])), "erc20", "expected an object"),
    ];
    for (value, field, needle) in cases {
        assert_field_error(&value, field, needle);
    }
    let legacy = json!({"chain_id": SEPOLIA, "nonce": 0, "to": TO, "gas_limit": 21000, "gas_price": policy_cap});
    assert_field_error(&legacy, "gas_price", "cap");
}

#[test]
fn not_json_or_not_an_object_is_rejected() {
    let policy = TxPolicy::new(SEPOLIA);
    assert!(matches!(
        TxRequest::from_json("{", &policy),
        Err(TxError::Json(_))
    ));
    assert!(matches!(
        TxRequest::from_json("[1]", &policy),
        Err(TxError::NotAnObject("an array"))
    ));
}

#[test]
fn a_draft_may_leave_nonce_gas_fees_and_chain_open() {
    let draft = TxDraft::from_value(&json!({"to": TO, "value": "5"})).unwrap();
    assert_eq!(
        (draft.chain_id, draft.nonce, draft.gas_limit),
        (None, None, None)
    );
    assert_eq!(draft.fees, DraftFees::Unset);
    let partial =
        TxDraft::from_value(&json!({"to": TO, "max_priority_fee_per_gas": 2, "nonce": null}))
            .unwrap();
    assert_eq!(
        partial.fees,
        DraftFees::Eip1559 {
            max_fee_per_gas: None,
            max_priority_fee_per_gas: Some(2)
        }
    );
    assert_eq!(partial.nonce, None);
}

#[test]
fn serde_round_trip_is_canonical_tx_json_and_reparses() {
    let tx = parse(&with(base_1559(), "to", json!(CHECKSUMMED.to_lowercase()))).unwrap();
    let text = serde_json::to_string(&tx).unwrap();
    let back: TxRequest = serde_json::from_str(&text).unwrap();
    assert_eq!(back, tx);
    let value: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(value["to"], json!(CHECKSUMMED));
    assert_eq!(value["max_fee_per_gas"], json!("30000000000"));
    // Deserialising runs the same parser: a tampered checksum is refused.
    let tampered = text.replace("0xf39Fd6", "0xF39fd6");
    let err = serde_json::from_str::<TxRequest>(&tampered).unwrap_err();
    assert!(err.to_string().contains("checksum"), "{err}");
}

#[test]
fn validate_rechecks_a_received_request_against_the_local_policy() {
    let tx = parse(&base_1559()).unwrap();
    let strict = TxPolicy {
        chain_id: SEPOLIA,
        max_fee_per_gas: 1_000_000_000,
    };
    assert_eq!(
        tx.validate(&strict).unwrap_err().field(),
        Some("max_fee_per_gas")
    );
    assert_eq!(
        tx.validate(&TxPolicy::new(1)).unwrap_err().field(),
        Some("chain_id")
    );
}

/// Found by the `tx_json` fuzz target (fuzz/regressions/tx_json/): a chain id
/// near u64::MAX made EIP-155 `v` (`chain_id * 2 + 35 + parity`) overflow,
/// a panic in debug builds and a wrong `v` in release.
#[test]
fn chain_ids_beyond_eip_2294_are_refused_so_eip155_v_fits() {
    use mpc_evm::tx::MAX_CHAIN_ID;
    let legacy = |chain_id: u64| {
        let base = without(
            without(base_1559(), "max_fee_per_gas"),
            "max_priority_fee_per_gas",
        );
        with(
            with(base, "gas_price", json!("1")),
            "chain_id",
            json!(chain_id.to_string()),
        )
    };
    for too_big in [MAX_CHAIN_ID + 1, u64::MAX] {
        let err = TxDraft::from_value(&legacy(too_big)).unwrap_err();
        assert_eq!(err.field(), Some("chain_id"), "{err}");
        assert!(err.to_string().contains("EIP-2294"), "{err}");
    }
    let policy = TxPolicy::new(MAX_CHAIN_ID);
    let largest = TxDraft::from_value(&legacy(MAX_CHAIN_ID))
        .unwrap()
        .complete(&policy)
        .unwrap();
    let v_parity_1 = MAX_CHAIN_ID.checked_mul(2).and_then(|v| v.checked_add(36));
    assert_eq!(Some(largest.v(true)), v_parity_1);
    assert_eq!(Some(largest.v(false) + 1), v_parity_1);
}
