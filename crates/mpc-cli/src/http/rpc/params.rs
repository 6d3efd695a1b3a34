//! JSON-RPC parameters as Ethereum tools send them, read into the wallet's
//! own types: a transaction object becomes tx.json (so it is checked by the
//! same rules as `mpc sign --tx`), messages and typed data become payloads.

use mpc_evm::{Address, TxDraft};
use serde_json::{Map, Value};

use super::error::RpcError;

/// JSON-RPC transaction fields and their tx.json names. Blob fields map to
/// names tx.json refuses with a clear reason.
const TX_FIELDS: &[(&str, &str)] = &[
    ("to", "to"),
    ("value", "value"),
    ("gas", "gas"),
    ("gasLimit", "gas_limit"),
    ("gasPrice", "gas_price"),
    ("maxFeePerGas", "max_fee_per_gas"),
    ("maxPriorityFeePerGas", "max_priority_fee_per_gas"),
    ("nonce", "nonce"),
    ("chainId", "chain_id"),
    ("type", "type"),
    ("accessList", "access_list"),
    ("authorizationList", "authorization_list"),
    ("maxFeePerBlobGas", "max_fee_per_blob_gas"),
    ("blobVersionedHashes", "blob_versioned_hashes"),
    ("blobs", "blobs"),
    ("sidecar", "sidecar"),
];
/// An EIP-7702 authorization's JSON-RPC fields and their tx.json names.
const AUTHORIZATION_FIELDS: &[(&str, &str)] = &[
    ("chainId", "chain_id"),
    ("address", "address"),
    ("nonce", "nonce"),
    ("yParity", "y_parity"),
    ("r", "r"),
    ("s", "s"),
];

/// The positional parameters, `[]` when left out.
pub fn positional(params: Option<&Value>) -> Result<&[Value], RpcError> {
    match params {
        None => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(_) => Err(RpcError::invalid_params(
            "params must be an array for this method",
        )),
    }
}

/// The transaction object of `eth_sendTransaction` / `eth_signTransaction`:
/// its `from` and the rest as a tx.json draft.
pub fn transaction(params: &[Value]) -> Result<(Address, TxDraft), RpcError> {
    let [Value::Object(object)] = params else {
        return Err(RpcError::invalid_params(
            "expected one parameter: the transaction object",
        ));
    };
    let from = match object.get("from") {
        Some(value) => address(value, "from")?,
        None => {
            return Err(RpcError::invalid_params(
                "the transaction needs `from`: one of eth_accounts",
            ))
        }
    };
    let mut tx = Map::new();
    let data = payload_bytes(object)?;
    for (key, value) in object {
        if matches!(key.as_str(), "from" | "data" | "input") || value.is_null() {
            continue;
        }
        let name = tx_json_name(TX_FIELDS, key, "transaction")?;
        let value = match name {
            "authorization_list" => authorization_list(value)?,
            _ => value.clone(),
        };
        tx.insert(name.to_owned(), value);
    }
    if let Some(data) = data {
        tx.insert("data".into(), data.clone());
    }
    let draft = TxDraft::from_value(&Value::Object(tx))
        .map_err(|e| RpcError::invalid_params(format!("transaction: {e}")))?;
    Ok((from, draft))
}

/// The tx.json name of the JSON-RPC field `key` of a `what` in `table`.
fn tx_json_name(
    table: &[(&str, &'static str)],
    key: &str,
    what: &str,
) -> Result<&'static str, RpcError> {
    table
        .iter()
        .find(|(rpc, _)| *rpc == key)
        .map(|(_, name)| *name)
        .ok_or_else(|| RpcError::invalid_params(format!("unknown {what} field `{key}`")))
}

/// `data` or `input` (tools send either, some both: then they must agree).
fn payload_bytes(object: &Map<String, Value>) -> Result<Option<&Value>, RpcError> {
    let present = |key| object.get(key).filter(|value| !value.is_null());
    match (present("data"), present("input")) {
        (Some(data), Some(input)) if data != input => Err(RpcError::invalid_params(
            "the transaction's `data` and `input` differ: give one",
        )),
        (data, input) => Ok(data.or(input)),
    }
}

fn authorization_list(value: &Value) -> Result<Value, RpcError> {
    let Value::Array(items) = value else {
        return Ok(value.clone());
    };
    let rename = |item: &Value| match item {
        Value::Object(fields) => fields
            .iter()
            .map(|(key, value)| {
                let name = tx_json_name(AUTHORIZATION_FIELDS, key, "authorization")?;
                Ok((name.to_owned(), value.clone()))
            })
            .collect::<Result<Map<_, _>, _>>()
            .map(Value::Object),
        other => Ok(other.clone()),
    };
    items
        .iter()
        .map(rename)
        .collect::<Result<Vec<_>, _>>()
        .map(Value::Array)
}

pub fn address(value: &Value, what: &str) -> Result<Address, RpcError> {
    value
        .as_str()
        .and_then(|text| text.parse::<Address>().ok())
        .ok_or_else(|| RpcError::invalid_params(format!("`{what}` must be a 0x address")))
}

/// Whether `value` is the 0x text of one of `served`.
fn is_one_of(value: &Value, served: &[Address]) -> bool {
    value
        .as_str()
        .filter(|text| text.len() == 42 && text.starts_with("0x"))
        .and_then(|text| text.parse::<Address>().ok())
        .is_some_and(|address| served.contains(&address))
}

/// `personal_sign`'s account and message bytes. The standard order is
/// `[message, address]`; some clients send `[address, message]`, accepted
/// only when exactly one of the two is one of `served`.
pub fn personal_sign(params: &[Value], served: &[Address]) -> Result<(Address, Vec<u8>), RpcError> {
    let [first, second, ..] = params else {
        return Err(RpcError::invalid_params(
            "expected [message, address]: the message (0x hex or text) and the signing account",
        ));
    };
    let (message, account) = match (is_one_of(first, served), is_one_of(second, served)) {
        (false, true) => (first, second),
        (true, false) => (second, first),
        (true, true) => {
            return Err(RpcError::invalid_params(
                "both parameters are accounts of this wallet: which is the message is ambiguous; send [message, address]",
            ))
        }
        // Neither is ours: report the account in the standard position.
        (false, false) => (first, second),
    };
    let account = address(account, "address")?;
    Ok((account, message_bytes(message)?))
}

/// A message as clients send it: 0x-hex bytes, or else the text itself.
fn message_bytes(value: &Value) -> Result<Vec<u8>, RpcError> {
    let Some(text) = value.as_str() else {
        return Err(RpcError::invalid_params("the message must be a string"));
    };
    match text.strip_prefix("0x") {
        Some(digits) => hex::decode(digits)
            .map_err(|e| RpcError::invalid_params(format!("the 0x message is not hex: {e}"))),
        None => Ok(text.as_bytes().to_vec()),
    }
}

/// `eth_signTypedData_v4`'s account and document (`[address, typedData]`,
/// the document as an object or as JSON text, as viem and ethers send it).
pub fn typed_data(params: &[Value]) -> Result<(Address, Value), RpcError> {
    let [account, document, ..] = params else {
        return Err(RpcError::invalid_params(
            "expected [address, typedData]: the signing account and the EIP-712 document",
        ));
    };
    let account = address(account, "address")?;
    let document = match document {
        Value::String(text) => serde_json::from_str(text).map_err(|e| {
            RpcError::invalid_params(format!("the typed data string is not JSON: {e}"))
        })?,
        Value::Object(_) => document.clone(),
        _ => {
            return Err(RpcError::invalid_params(
                "the typed data must be an object or its JSON text",
            ))
        }
    };
    Ok((account, document))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mpc_evm::{DraftFees, TxKind, U256};
    use serde_json::json;

    const ME: &str = "0x1111111111111111111111111111111111111111";
    const TO: &str = "0x2222222222222222222222222222222222222222";

    #[test]
    fn a_tools_transaction_object_reads_as_tx_json() {
        let (from, draft) = transaction(&[json!({
            "from": ME, "to": TO, "value": "0xde0b6b3a7640000", "gas": "0x5208",
            "maxFeePerGas": "0x77359400", "maxPriorityFeePerGas": "0x3b9aca00",
            "nonce": "0x7", "chainId": "0xaa36a7", "type": "0x2", "input": "0x",
            "accessList": [{"address": TO, "storageKeys": []}],
        })])
        .unwrap();
        assert_eq!(from, ME.parse::<Address>().unwrap());
        assert_eq!(draft.to, TxKind::Call(TO.parse().unwrap()));
        assert_eq!(draft.value, U256::from(10u64.pow(18)));
        assert_eq!(draft.gas_limit, Some(21_000));
        assert_eq!(draft.nonce, Some(7));
        assert_eq!(draft.chain_id, Some(11_155_111));
        assert!(matches!(
            draft.fees,
            DraftFees::Eip1559 {
                max_fee_per_gas: Some(2_000_000_000),
                ..
            }
        ));
    }

    #[test]
    fn a_deployment_has_no_to_and_its_code_in_data() {
        let (_, draft) = transaction(&[json!({"from": ME, "to": null, "data": "0x6000"})]).unwrap();
        assert!(draft.to.is_create());
        assert_eq!(draft.data.as_ref(), &[0x60, 0x00]);
    }

    #[test]
    fn bad_transaction_objects_are_invalid_params_that_say_why() {
        let cases = [
            (json!({"to": TO}), "needs `from`"),
            (
                json!({"from": ME, "to": TO, "color": "red"}),
                "unknown transaction field `color`",
            ),
            (
                json!({"from": ME, "to": TO, "data": "0x01", "input": "0x02"}),
                "differ",
            ),
            (
                json!({"from": ME, "to": TO, "gasPrice": "0x1", "maxFeePerGas": "0x1"}),
                "gas_price",
            ),
            (
                json!({"from": ME, "to": TO, "blobVersionedHashes": []}),
                "blob",
            ),
        ];
        for (object, expected) in cases {
            let error = transaction(std::slice::from_ref(&object)).unwrap_err();
            assert_eq!(
                error.code,
                super::super::error::RpcCode::InvalidParams,
                "{object}"
            );
            assert!(
                error.message.contains(expected),
                "{object}: {}",
                error.message
            );
        }
    }

    #[test]
    fn personal_sign_takes_either_order_only_when_unambiguous() {
        let me: Address = ME.parse().unwrap();
        let other: Address = TO.parse().unwrap();
        let (account, message) = personal_sign(&[json!("0x68656c6c6f"), json!(ME)], &[me]).unwrap();
        assert_eq!((account, message.as_slice()), (me, b"hello".as_slice()));
        let (account, message) = personal_sign(&[json!(ME), json!("hello")], &[me]).unwrap();
        assert_eq!((account, message.as_slice()), (me, b"hello".as_slice()));
        // Both are ours: refuse to guess.
        let error = personal_sign(&[json!(TO), json!(ME)], &[me, other]).unwrap_err();
        assert!(error.message.contains("ambiguous"), "{}", error.message);
    }

    #[test]
    fn typed_data_comes_as_an_object_or_as_json_text() {
        let document =
            json!({"types": {}, "primaryType": "EIP712Domain", "domain": {}, "message": {}});
        let (_, from_text) = typed_data(&[json!(ME), json!(document.to_string())]).unwrap();
        let (_, from_object) = typed_data(&[json!(ME), document.clone()]).unwrap();
        assert_eq!(from_text, document);
        assert_eq!(from_object, document);
        assert!(typed_data(&[json!(ME), json!(5)]).is_err());
    }
}
