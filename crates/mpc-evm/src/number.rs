//! tx.json numbers: JSON numbers, decimal strings or 0x-hex strings; amounts
//! (value, fees, token amounts) may also carry a unit: `"0.01ether"`, `"30 gwei"`.

use alloy::primitives::utils::{ParseUnits, Unit};
use alloy::primitives::U256;
use serde_json::Value;

/// Reads a non-negative integer of at most 256 bits; the error says why not.
pub(crate) fn parse_u256(value: &Value) -> Result<U256, String> {
    match value {
        Value::String(s) => parse_u256_str(s.trim()),
        other => parse_json_number(other),
    }
}

/// Reads an amount in wei: anything [`parse_u256`] reads, or a string with a
/// unit as [`parse_amount`] describes.
pub(crate) fn parse_amount_value(value: &Value) -> Result<U256, String> {
    match value {
        Value::String(s) => parse_amount(s),
        other => parse_json_number(other),
    }
}

fn parse_json_number(value: &Value) -> Result<U256, String> {
    match value {
        Value::Number(n) => n.as_u64().map(U256::from).ok_or_else(|| {
            format!("{n} is not a non-negative integer below 2^64; write larger numbers as a decimal or 0x-hex string")
        }),
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

/// Parses an amount of wei as a user writes it: a decimal or 0x-hex integer
/// (`"1000"`, `"0x3e8"`, meaning wei), or a decimal number with a unit
/// (`"0.01ether"`, `"30gwei"`, `"1.5 ether"`, `"1000wei"`; units as alloy
/// names them, case-insensitive). Refuses negative numbers, unknown units and
/// more decimals than the unit has (alloy would silently truncate them).
/// The error says what is wrong, without naming a field.
pub fn parse_amount(text: &str) -> Result<U256, String> {
    let s = text.trim();
    if s.starts_with('-') {
        return Err(format!("{s:?}: amounts cannot be negative"));
    }
    if s.starts_with("0x") || s.starts_with("0X") {
        return parse_u256_str(s);
    }
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = (&s[..split], s[split..].trim_start());
    if unit.is_empty() && !number.contains('.') {
        return parse_u256_str(number);
    }
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let well_formed =
        |digits: &str| !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit());
    if !well_formed(whole) || (number.contains('.') && !well_formed(fraction)) {
        return Err(format!(
            "{s:?} is not a decimal or 0x-hex integer, nor a decimal number with a unit such as \"0.01ether\""
        ));
    }
    if unit.is_empty() {
        return Err(format!(
            "{s:?} has decimals but no unit: amounts without a unit are whole wei; write e.g. \"{number}ether\" or \"{number}gwei\""
        ));
    }
    // Only names: alloy would also read a bare number of decimals ("1 18") as a unit.
    let parsed_unit = unit
        .chars()
        .all(|c| c.is_ascii_alphabetic())
        .then(|| unit.parse::<Unit>().ok())
        .flatten()
        .ok_or_else(|| {
            format!(
                "{s:?} is not a decimal or 0x-hex integer, and {unit:?} is not a unit: use wei, gwei or ether (e.g. \"0.01ether\", \"30gwei\")"
            )
        })?;
    let decimals = parsed_unit.get() as usize;
    if fraction.len() > decimals {
        return Err(match decimals {
            0 => format!("{s:?}: {unit} has no decimals; write a whole number"),
            _ => format!(
                "{s:?} has {} decimals, but {unit} has only {decimals}",
                fraction.len()
            ),
        });
    }
    match ParseUnits::parse_units(number, parsed_unit) {
        Ok(ParseUnits::U256(wei)) => Ok(wei),
        // Unreachable: the sign was refused above.
        Ok(ParseUnits::I256(_)) => Err(format!("{s:?}: amounts cannot be negative")),
        Err(_) => Err(format!("{s} does not fit in 256 bits of wei")),
    }
}

/// `amount` in units of `decimals` decimals, without trailing zeros:
/// `format_amount(10^16, 18)` is `Some("0.01")`; `None` for more than 77
/// decimals, which no 256-bit amount has.
pub fn format_amount(amount: U256, decimals: u8) -> Option<String> {
    let text = alloy::primitives::utils::format_units(amount, decimals).ok()?;
    Some(match text.split_once('.') {
        Some((whole, fraction)) => match fraction.trim_end_matches('0') {
            "" => whole.to_owned(),
            fraction => format!("{whole}.{fraction}"),
        },
        None => text,
    })
}

/// Narrows a 256-bit number to `T` (u64 for nonces and gas, u128 for fees).
fn narrow<T: TryFrom<U256>>(wide: U256) -> Result<T, String> {
    T::try_from(wide).map_err(|_| {
        format!(
            "{wide} is too large (at most {} bits)",
            8 * std::mem::size_of::<T>()
        )
    })
}

/// Reads an integer that must also fit in `T` (u64 for nonces and gas, u128 for fees).
pub(crate) fn parse_uint<T: TryFrom<U256>>(value: &Value) -> Result<T, String> {
    narrow(parse_u256(value)?)
}

/// Reads an amount (see [`parse_amount_value`]) that must also fit in `T`.
pub(crate) fn parse_amount_uint<T: TryFrom<U256>>(value: &Value) -> Result<T, String> {
    narrow(parse_amount_value(value)?)
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
