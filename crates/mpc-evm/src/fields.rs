//! Reading a JSON object (tx.json, auth.json, and the objects nested in them)
//! field by field, so every error names the field it is about, nested ones
//! with their path (`access_list[0].storage_keys[1]`).

use alloy::primitives::{Address, Bytes, B256, U256};
use serde_json::{Map, Value};

use crate::number::{kind, parse_amount_uint, parse_amount_value, parse_u256, parse_uint};
use crate::tx::TxError;

/// The document a field belongs to, so its error says which file to fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Doc {
    Tx,
    Authorization,
}

impl Doc {
    pub(crate) fn error(self, field: &str, reason: impl Into<String>) -> TxError {
        let (field, reason) = (field.to_owned(), reason.into());
        match self {
            Doc::Tx => TxError::Field { field, reason },
            Doc::Authorization => TxError::AuthorizationField { field, reason },
        }
    }
}

/// A tx.json field error.
pub(crate) fn field_error(field: &str, reason: impl Into<String>) -> TxError {
    Doc::Tx.error(field, reason)
}

/// One JSON object, its known fields and their accepted alternative spellings.
pub(crate) struct Fields<'a> {
    doc: Doc,
    prefix: String,
    map: &'a Map<String, Value>,
    /// `(alias, canonical name)` pairs.
    aliases: &'static [(&'static str, &'static str)],
}

impl<'a> Fields<'a> {
    /// Refuses unknown fields, and a field given under both its names.
    pub(crate) fn new(
        doc: Doc,
        prefix: impl Into<String>,
        map: &'a Map<String, Value>,
        known: &[&str],
        aliases: &'static [(&'static str, &'static str)],
    ) -> Result<Self, TxError> {
        let prefix = prefix.into();
        let is_alias = |k: &str| aliases.iter().any(|(alias, _)| *alias == k);
        if let Some(unknown) = map
            .keys()
            .find(|k| !known.contains(&k.as_str()) && !is_alias(k))
        {
            return Err(doc.error(
                &format!("{prefix}{unknown}"),
                format!("unknown field; expected one of: {}", known.join(", ")),
            ));
        }
        if let Some((alias, canonical)) = aliases
            .iter()
            .find(|(alias, canonical)| map.contains_key(*alias) && map.contains_key(*canonical))
        {
            return Err(doc.error(
                &format!("{prefix}{alias}"),
                format!("is another name for `{canonical}`: give only one of them"),
            ));
        }
        Ok(Fields {
            doc,
            prefix,
            map,
            aliases,
        })
    }

    /// Reads `value` as the object `name` (e.g. `access_list[0]`) of this document.
    pub(crate) fn object(
        doc: Doc,
        name: &str,
        value: &'a Value,
        shape: &str,
        known: &[&str],
        aliases: &'static [(&'static str, &'static str)],
    ) -> Result<Self, TxError> {
        let Value::Object(map) = value else {
            return Err(doc.error(
                name,
                format!("expected an object {shape}, found {}", kind(value)),
            ));
        };
        Self::new(doc, format!("{name}."), map, known, aliases)
    }

    /// The key as written in the document: the alias if that is what was given.
    fn key(&self, key: &'a str) -> &'a str {
        if self.map.contains_key(key) {
            return key;
        }
        self.aliases
            .iter()
            .find(|(alias, canonical)| *canonical == key && self.map.contains_key(*alias))
            .map_or(key, |(alias, _)| alias)
    }

    /// The field's full name for errors, spelt as the document spells it.
    pub(crate) fn name(&self, key: &'a str) -> String {
        format!("{}{}", self.prefix, self.key(key))
    }

    pub(crate) fn error(&self, key: &'a str, reason: impl Into<String>) -> TxError {
        self.doc.error(&self.name(key), reason)
    }

    /// `null` counts as absent, so a draft can spell out what it leaves open.
    pub(crate) fn get(&self, key: &'a str) -> Option<&'a Value> {
        self.map.get(self.key(key)).filter(|v| !v.is_null())
    }

    pub(crate) fn has(&self, key: &'a str) -> bool {
        self.get(key).is_some()
    }

    fn read<T>(
        &self,
        key: &'a str,
        parse: impl FnOnce(&'a Value) -> Result<T, String>,
    ) -> Result<Option<T>, TxError> {
        self.get(key)
            .map(|v| parse(v).map_err(|reason| self.error(key, reason)))
            .transpose()
    }

    /// An integer (no units) that fits in `T`.
    pub(crate) fn uint<T: TryFrom<U256>>(&self, key: &'a str) -> Result<Option<T>, TxError> {
        self.read(key, parse_uint)
    }

    /// A 256-bit integer (no units).
    pub(crate) fn u256(&self, key: &'a str) -> Result<Option<U256>, TxError> {
        self.read(key, parse_u256)
    }

    /// An amount of wei, units allowed, that fits in `T`.
    pub(crate) fn amount<T: TryFrom<U256>>(&self, key: &'a str) -> Result<Option<T>, TxError> {
        self.read(key, parse_amount_uint)
    }

    /// A 256-bit amount of wei, units allowed.
    pub(crate) fn amount_u256(&self, key: &'a str) -> Result<Option<U256>, TxError> {
        self.read(key, parse_amount_value)
    }

    pub(crate) fn address(&self, key: &'a str) -> Result<Option<Address>, TxError> {
        self.read(key, parse_address)
    }

    pub(crate) fn bytes(&self, key: &'a str) -> Result<Option<Bytes>, TxError> {
        self.read(key, parse_data)
    }

    /// A JSON array; each element is read by the caller, named `key[i]`.
    pub(crate) fn array(&self, key: &'a str) -> Result<Option<&'a [Value]>, TxError> {
        self.read(key, |value| match value {
            Value::Array(items) => Ok(items.as_slice()),
            other => Err(format!("expected an array, found {}", kind(other))),
        })
    }

    pub(crate) fn required<T>(&self, key: &'a str, value: Option<T>) -> Result<T, TxError> {
        value.ok_or_else(|| self.error(key, "is required"))
    }
}

/// Accepts EIP-55 checksummed or all lower-case hex; rejects a wrong checksum,
/// which is how EIP-55 catches a mistyped address.
pub(crate) fn parse_address(value: &Value) -> Result<Address, String> {
    let Value::String(text) = value else {
        return Err(format!(
            "expected a 0x-hex address string, found {}",
            kind(value)
        ));
    };
    let hex = text
        .strip_prefix("0x")
        .ok_or_else(|| format!("{text:?} must start with 0x"))?;
    if hex.len() != 40 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(format!("{text:?} is not 20 bytes of hex"));
    }
    if hex.chars().all(|c| !c.is_ascii_uppercase()) {
        return text.parse().map_err(|e| format!("{text:?}: {e}"));
    }
    Address::parse_checksummed(text, None).map_err(|_| {
        format!("{text:?} has a wrong EIP-55 checksum (mistyped?); check it, or write it all lower-case")
    })
}

pub(crate) fn parse_data(value: &Value) -> Result<Bytes, String> {
    let Value::String(text) = value else {
        return Err(format!("expected a 0x-hex string, found {}", kind(value)));
    };
    let hex = text
        .strip_prefix("0x")
        .ok_or_else(|| format!("{text:?} must start with 0x"))?;
    alloy::hex::decode(hex)
        .map(Bytes::from)
        .map_err(|e| format!("not valid hex: {e}"))
}

/// A 32-byte word such as a storage key: exactly 64 hex digits after 0x.
pub(crate) fn parse_b256(value: &Value) -> Result<B256, String> {
    let bytes = parse_data(value)?;
    B256::try_from(bytes.as_ref())
        .map_err(|_| format!("is {} bytes, expected 32 (64 hex digits)", bytes.len()))
}
