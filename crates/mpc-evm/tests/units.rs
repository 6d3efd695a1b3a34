//! Amounts with units (`parse_amount`, and the tx.json amount fields that use
//! it): the accepted forms, and a clear refusal of everything else.

use mpc_evm::{parse_amount, TxDraft, TxPolicy, TxRequest, U256};
use serde_json::{json, Value};

const SEPOLIA: u64 = 11155111;
const TO: &str = "0x3535353535353535353535353535353535353535";

fn wei(n: u128) -> U256 {
    U256::from(n)
}

#[test]
fn amounts_may_carry_a_unit_or_be_plain_wei() {
    let ether = 10u128.pow(18);
    let cases: &[(&str, U256)] = &[
        ("0.01ether", wei(ether / 100)),
        ("30gwei", wei(30_000_000_000)),
        ("1000wei", wei(1000)),
        ("1.5 ether", wei(ether * 3 / 2)),
        ("  2  gwei ", wei(2_000_000_000)),
        ("0.000000001ether", wei(1_000_000_000)),
        ("0.000000000000000001ether", wei(1)),
        ("1.5GWEI", wei(1_500_000_000)),
        ("1eth", wei(ether)),
        ("0ether", U256::ZERO),
        ("1000", wei(1000)),
        ("0x3e8", wei(1000)),
        (
            "115792089237316195423570985008687907853269984665640564039457584007913129639935",
            U256::MAX,
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(parse_amount(text).as_ref(), Ok(expected), "{text}");
    }
}

#[test]
fn bad_amounts_say_what_is_wrong() {
    let cases = [
        ("1.0000000001gwei", "has 10 decimals, but gwei has only 9"),
        (
            "0.0000000000000000001ether",
            "has 19 decimals, but ether has only 18",
        ),
        ("1.5wei", "wei has no decimals"),
        ("1.5", "no unit"),
        ("-1ether", "cannot be negative"),
        ("-5", "cannot be negative"),
        ("1 parsec", "\"parsec\" is not a unit"),
        ("1e18", "not a decimal or 0x-hex"),
        ("1 18", "\"18\" is not a unit"),
        ("ether", "not a decimal or 0x-hex"),
        (".5ether", "not a decimal or 0x-hex"),
        ("1.ether", "not a decimal or 0x-hex"),
        ("1.2.3ether", "not a decimal or 0x-hex"),
        ("0x10gwei", "not a decimal or 0x-hex"),
        ("", "not a decimal or 0x-hex"),
        (
            "115792089237316195423570985008687907853269984665640564039457584007913129639935ether",
            "does not fit in 256 bits",
        ),
    ];
    for (text, needle) in cases {
        let err = parse_amount(text).expect_err(text);
        assert!(
            err.contains(needle),
            "{text:?}: {err:?} should mention {needle:?}"
        );
    }
}

fn base() -> Value {
    json!({"chain_id": SEPOLIA, "nonce": 0, "to": TO, "gas_limit": 21000})
}

fn with(mut value: Value, key: &str, field: Value) -> Value {
    value[key] = field;
    value
}

#[test]
fn every_amount_field_of_tx_json_takes_units() {
    let tx = TxRequest::from_json(
        &with(
            with(
                with(base(), "value", json!("0.01ether")),
                "max_fee_per_gas",
                json!("30gwei"),
            ),
            "max_priority_fee_per_gas",
            json!("1.5 gwei"),
        )
        .to_string(),
        &TxPolicy::new(SEPOLIA),
    )
    .unwrap();
    assert_eq!(tx.value, wei(10u128.pow(16)));
    assert_eq!(tx.fees.max_fee_per_gas(), 30_000_000_000);
    assert_eq!(
        tx.fees,
        mpc_evm::Fees::Eip1559 {
            max_fee_per_gas: 30_000_000_000,
            max_priority_fee_per_gas: 1_500_000_000
        }
    );
    let legacy = TxDraft::from_value(&with(base(), "gas_price", json!("2gwei"))).unwrap();
    assert_eq!(
        legacy.fees,
        mpc_evm::DraftFees::Legacy {
            gas_price: 2_000_000_000
        }
    );
    let token = json!({"chain_id": SEPOLIA, "erc20": {"token": TO, "to": TO, "amount": "2ether"}});
    let erc20 = TxDraft::from_value(&token).unwrap();
    assert_eq!(
        erc20.data,
        mpc_evm::erc20::transfer_calldata(TO.parse().unwrap(), wei(2 * 10u128.pow(18)))
    );
}

#[test]
fn unit_errors_name_their_field_and_counts_take_no_units() {
    let cases = [
        (with(base(), "value", json!("1.5")), "value", "no unit"),
        (with(base(), "value", json!("-1ether")), "value", "negative"),
        (
            with(base(), "gas_price", json!("1 parsec")),
            "gas_price",
            "not a unit",
        ),
        (
            with(base(), "max_fee_per_gas", json!("1.0000000001gwei")),
            "max_fee_per_gas",
            "decimals",
        ),
        (
            with(base(), "max_priority_fee_per_gas", json!("1e9")),
            "max_priority_fee_per_gas",
            "not a unit",
        ),
        // u128 fee fields: 10^21 ether is 10^39 wei, above 2^128.
        (
            with(base(), "gas_price", json!("1000000000000000000000ether")),
            "gas_price",
            "too large",
        ),
        (
            json!({"erc20": {"token": TO, "to": TO, "amount": "1xyz"}}),
            "erc20.amount",
            "not a unit",
        ),
        (
            with(base(), "nonce", json!("1gwei")),
            "nonce",
            "not a decimal or 0x-hex",
        ),
        (
            with(base(), "gas_limit", json!("21000wei")),
            "gas_limit",
            "not a decimal or 0x-hex",
        ),
        (
            with(base(), "chain_id", json!("1.0ether")),
            "chain_id",
            "not a decimal or 0x-hex",
        ),
    ];
    for (value, field, needle) in cases {
        let err = TxDraft::from_value(&value).expect_err(field);
        assert_eq!(err.field(), Some(field), "{err}");
        let text = err.to_string();
        assert!(text.contains(needle), "{text} should mention {needle:?}");
        assert!(text.contains(&format!("`{field}`")), "{text}");
    }
}
