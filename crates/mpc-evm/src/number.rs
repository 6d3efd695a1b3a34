//! tx.json numbers: JSON numbers, decimal strings or 0x-hex strings.

use alloy::primitives::U256;
use serde_json::Value;

/// Reads a non-negative integer of at most 256 bits; the error says why not.
pub(crate) fn parse_u256(value: &Value) -> Result<U256, String> {
    match value {
        Value::Number(n) => n.as_u64().map(U256::from).ok_or_else(|| {
            format!("{n} is not a non-negative integer below 2^64; write larger numbers as a decimal or 0x-hex string")
        }),
        Value::String(s) => parse_u256_str(s.trim()),
        other => Err(format!(
            "expected a number, decimal string or 0x-hex string, found {}",
            kind(other)
        )),
    }
}

fn parse_u256_str(s: &str) -> Result<U256, String> {
    let (digits, radix) = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => (hex, 16),
        None => (s, 10),
    };
    let valid_digit = |c: char| c.is_digit(radix);
    if digits.is_empty() || !digits.chars().all(valid_digit) {
        return Err(format!("{s:?} is not a decimal or 0x-hex integer"));
    }
    U256::from_str_radix(digits, radix as u64).map_err(|_| format!("{s} does not fit in 256 bits"))
}

/// Reads an integer that must also fit in `T` (u64 for nonces and gas, u128 for fees).
pub(crate) fn parse_uint<T: TryFrom<U256>>(value: &Value) -> Result<T, String> {
    let wide = parse_u256(value)?;
    T::try_from(wide).map_err(|_| {
        format!(
            "{wide} is too large (at most {} bits)",
            8 * std::mem::size_of::<T>()
        )
    })
}

pub(crate) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
