//! A `sol!` struct as the whole EIP-712 document (`types`, `primaryType`,
//! `domain`, `message`), so the co-signer sees every field it signs, not a
//! struct hash. alloy's `SolStruct` need not implement `Serialize`: its ABI
//! encoding is decoded with the struct's own EIP-712 type into field values.

use alloy::dyn_abi::{DynSolValue, Resolver, TypedData};
use alloy::sol_types::{Eip712Domain, SolStruct, SolType};
use serde_json::{json, Map, Value};

/// The typed-data document of `payload` under `domain`. Fails (never guesses)
/// when the document would not hash to what alloy signs for the struct.
pub(crate) fn typed_data_of<T: SolStruct>(
    payload: &T,
    domain: &Eip712Domain,
) -> Result<TypedData, String> {
    let mut resolver = Resolver::from_struct::<T>();
    resolver
        .ingest_string(domain.encode_type())
        .map_err(|e| format!("EIP-712 domain type: {e}"))?;
    let ty = resolver
        .resolve(T::NAME)
        .map_err(|e| format!("EIP-712 type {}: {e}", T::NAME))?;
    let encoded = abi_encode::<T>(payload);
    let value = ty
        .abi_decode(&encoded)
        .map_err(|e| format!("{} fields: {e}", T::NAME))?;
    let typed = TypedData {
        domain: domain.clone(),
        resolver,
        primary_type: T::NAME.to_owned(),
        message: to_json(&value),
    };
    let expected = payload.eip712_signing_hash(domain);
    match typed.eip712_signing_hash() {
        Ok(hash) if hash == expected => Ok(typed),
        Ok(hash) => Err(format!(
            "the {} document hashes to {hash}, alloy to {expected}",
            T::NAME
        )),
        Err(e) => Err(format!("{} document: {e}", T::NAME)),
    }
}

/// `S::abi_encode` of its Rust value. A `SolStruct` is its own `RustType`,
/// but only the projection carries the encoding bound, so encode through it.
fn abi_encode<S: SolType>(rust: &S::RustType) -> Vec<u8> {
    S::abi_encode(rust)
}

/// A decoded value as `eth_signTypedData_v4` JSON: numbers as decimal
/// strings (they may exceed JSON's), bytes as 0x-hex, structs as objects.
fn to_json(value: &DynSolValue) -> Value {
    match value {
        DynSolValue::Bool(b) => json!(b),
        DynSolValue::Int(i, _) => json!(i.to_string()),
        DynSolValue::Uint(u, _) => json!(u.to_string()),
        DynSolValue::FixedBytes(word, size) => json!(alloy::hex::encode_prefixed(&word[..*size])),
        DynSolValue::Address(address) => json!(address.to_checksum(None)),
        DynSolValue::Function(function) => json!(function.to_string()),
        DynSolValue::Bytes(bytes) => json!(alloy::hex::encode_prefixed(bytes)),
        DynSolValue::String(text) => json!(text),
        DynSolValue::Array(items) | DynSolValue::FixedArray(items) | DynSolValue::Tuple(items) => {
            Value::Array(items.iter().map(to_json).collect())
        }
        DynSolValue::CustomStruct {
            prop_names, tuple, ..
        } => Value::Object(
            prop_names
                .iter()
                .cloned()
                .zip(tuple.iter().map(to_json))
                .collect::<Map<_, _>>(),
        ),
    }
}
