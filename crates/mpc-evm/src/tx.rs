//! tx.json: parsing, validation, signing hash and the signed raw transaction.
//!
//! A [`TxDraft`] is tx.json as written (fields that `prepare` can fill may be
//! missing); a [`TxRequest`] is complete. Both come from the same parser, so
//! the client and the co-signer read a transaction identically.

use alloy::consensus::{SignableTransaction, TxEip1559, TxEnvelope, TxLegacy};
use alloy::eips::eip2718::Encodable2718;
use alloy::primitives::{to_eip155_v, Address, Bytes, Signature, TxKind, B256, U256};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::erc20;
use crate::number::{kind, parse_u256, parse_uint};

/// One gwei in wei.
pub const GWEI: u128 = 1_000_000_000;
/// Default cap on the fee per gas a transaction may offer: 10,000 gwei.
pub const DEFAULT_MAX_FEE_PER_GAS: u128 = 10_000 * GWEI;
/// The intrinsic gas of the cheapest transaction (a plain transfer).
pub const MIN_GAS_LIMIT: u64 = 21_000;

/// What a transaction must satisfy before anyone signs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxPolicy {
    /// The chain the wallet is configured for (`MPC_CHAIN_ID`).
    pub chain_id: u64,
    /// Upper bound on `gas_price` / `max_fee_per_gas`, in wei: guards against a
    /// typo spending the whole balance on fees.
    pub max_fee_per_gas: u128,
}

impl TxPolicy {
    pub fn new(chain_id: u64) -> Self {
        TxPolicy {
            chain_id,
            max_fee_per_gas: DEFAULT_MAX_FEE_PER_GAS,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TxError {
    #[error("tx.json is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("tx.json must be a JSON object, found {0}")]
    NotAnObject(&'static str),
    #[error("tx.json field `{field}`: {reason}")]
    Field { field: String, reason: String },
    #[error("signature s is in the upper half of the curve order: normalise s (and flip the y parity) before assembling")]
    HighS,
}

impl TxError {
    /// The tx.json field the error is about, if any.
    pub fn field(&self) -> Option<&str> {
        match self {
            TxError::Field { field, .. } => Some(field),
            _ => None,
        }
    }
}

fn field_error(field: &str, reason: impl Into<String>) -> TxError {
    TxError::Field {
        field: field.to_owned(),
        reason: reason.into(),
    }
}

/// Fee fields: legacy (EIP-155) or EIP-1559, never a mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fees {
    Legacy {
        gas_price: u128,
    },
    Eip1559 {
        max_fee_per_gas: u128,
        max_priority_fee_per_gas: u128,
    },
}

impl Fees {
    /// The most wei per gas the transaction can pay.
    pub fn max_fee_per_gas(&self) -> u128 {
        match *self {
            Fees::Legacy { gas_price } => gas_price,
            Fees::Eip1559 {
                max_fee_per_gas, ..
            } => max_fee_per_gas,
        }
    }
}

/// Fee fields as written in tx.json, possibly incomplete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DraftFees {
    Unset,
    Legacy {
        gas_price: u128,
    },
    Eip1559 {
        max_fee_per_gas: Option<u128>,
        max_priority_fee_per_gas: Option<u128>,
    },
}

/// tx.json as written: `to`, `value` and `data` are known (an `erc20` block is
/// already expanded into them); chain id, nonce, gas and fees may be missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxDraft {
    pub chain_id: Option<u64>,
    pub nonce: Option<u64>,
    pub to: Address,
    pub value: U256,
    pub gas_limit: Option<u64>,
    pub fees: DraftFees,
    pub data: Bytes,
}

/// Largest chain id whose EIP-155 `v` (`chain_id * 2 + 36`) fits in 64 bits (EIP-2294).
pub const MAX_CHAIN_ID: u64 = u64::MAX / 2 - 36;

const TOP_LEVEL_FIELDS: &[&str] = &[
    "chain_id",
    "nonce",
    "to",
    "value",
    "gas",
    "gas_limit",
    "gas_price",
    "max_fee_per_gas",
    "max_priority_fee_per_gas",
    "data",
    "erc20",
];
const ERC20_FIELDS: &[&str] = &["token", "to", "amount"];

/// A tx.json object, read field by field so every error names its field.
struct Fields<'a> {
    prefix: &'static str,
    map: &'a Map<String, Value>,
}

impl<'a> Fields<'a> {
    fn new(
        prefix: &'static str,
        map: &'a Map<String, Value>,
        known: &[&str],
    ) -> Result<Self, TxError> {
        if let Some(unknown) = map.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(field_error(
                &format!("{prefix}{unknown}"),
                format!("unknown field; expected one of: {}", known.join(", ")),
            ));
        }
        Ok(Fields { prefix, map })
    }

    fn name(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// `null` counts as absent, so a draft can spell out what it leaves open.
    fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    fn uint<T: TryFrom<U256>>(&self, key: &str) -> Result<Option<T>, TxError> {
        self.get(key)
            .map(|v| parse_uint(v).map_err(|reason| field_error(&self.name(key), reason)))
            .transpose()
    }

    fn u256(&self, key: &str) -> Result<Option<U256>, TxError> {
        self.get(key)
            .map(|v| parse_u256(v).map_err(|reason| field_error(&self.name(key), reason)))
            .transpose()
    }

    fn address(&self, key: &str) -> Result<Option<Address>, TxError> {
        self.get(key)
            .map(|v| parse_address(v).map_err(|reason| field_error(&self.name(key), reason)))
            .transpose()
    }

    fn required<T>(&self, key: &str, value: Option<T>) -> Result<T, TxError> {
        value.ok_or_else(|| field_error(&self.name(key), "is required"))
    }
}

/// Accepts EIP-55 checksummed or all lower-case hex; rejects a wrong checksum,
/// which is how EIP-55 catches a mistyped address.
fn parse_address(value: &Value) -> Result<Address, String> {
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

fn parse_data(value: &Value) -> Result<Bytes, String> {
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

impl TxDraft {
    /// Parses tx.json text; see [`TxDraft::from_value`].
    pub fn from_json(text: &str) -> Result<Self, TxError> {
        Self::from_value(&serde_json::from_str(text)?)
    }

    /// Parses a tx.json object: number forms, address checksums, no unknown
    /// fields, no mix of legacy and EIP-1559 fees, `erc20` expanded.
    pub fn from_value(value: &Value) -> Result<Self, TxError> {
        let Value::Object(map) = value else {
            return Err(TxError::NotAnObject(kind(value)));
        };
        let fields = Fields::new("", map, TOP_LEVEL_FIELDS)?;
        let (to, value, data) = match fields.get("erc20") {
            Some(erc20) => Self::erc20_call(&fields, erc20)?,
            None => (
                fields.required("to", fields.address("to")?)?,
                fields.u256("value")?.unwrap_or_default(),
                match fields.get("data") {
                    Some(v) => parse_data(v).map_err(|r| field_error("data", r))?,
                    None => Bytes::new(),
                },
            ),
        };
        if fields.has("gas") && fields.has("gas_limit") {
            return Err(field_error(
                "gas",
                "give either `gas` or `gas_limit`, not both",
            ));
        }
        let gas_limit = match fields.uint("gas_limit")? {
            Some(gas) => Some(gas),
            None => fields.uint("gas")?,
        };
        let chain_id = fields.uint("chain_id")?;
        if chain_id.is_some_and(|id| id > MAX_CHAIN_ID) {
            return Err(field_error(
                "chain_id",
                format!("must be at most {MAX_CHAIN_ID} (EIP-2294), so EIP-155 v fits in 64 bits"),
            ));
        }
        Ok(TxDraft {
            chain_id,
            nonce: fields.uint("nonce")?,
            to,
            value,
            gas_limit,
            fees: Self::fees(&fields)?,
            data,
        })
    }

    fn erc20_call(fields: &Fields, erc20: &Value) -> Result<(Address, U256, Bytes), TxError> {
        if let Some(clash) = ["to", "value", "data"].into_iter().find(|k| fields.has(k)) {
            return Err(field_error(
                clash,
                "`erc20` replaces `to`, `value` and `data`: remove this field",
            ));
        }
        let Value::Object(map) = erc20 else {
            return Err(field_error(
                "erc20",
                format!(
                    "expected an object {{\"token\", \"to\", \"amount\"}}, found {}",
                    kind(erc20)
                ),
            ));
        };
        let call = Fields::new("erc20.", map, ERC20_FIELDS)?;
        let token = call.required("token", call.address("token")?)?;
        let recipient = call.required("to", call.address("to")?)?;
        let amount = call.required("amount", call.u256("amount")?)?;
        Ok((
            token,
            U256::ZERO,
            erc20::transfer_calldata(recipient, amount),
        ))
    }

    fn fees(fields: &Fields) -> Result<DraftFees, TxError> {
        let gas_price = fields.uint("gas_price")?;
        let max_fee_per_gas = fields.uint("max_fee_per_gas")?;
        let max_priority_fee_per_gas = fields.uint("max_priority_fee_per_gas")?;
        match (gas_price, max_fee_per_gas.is_some() || max_priority_fee_per_gas.is_some()) {
            (Some(_), true) => Err(field_error(
                "gas_price",
                "legacy `gas_price` cannot be combined with EIP-1559 `max_fee_per_gas`/`max_priority_fee_per_gas`",
            )),
            (Some(gas_price), false) => Ok(DraftFees::Legacy { gas_price }),
            (None, true) => Ok(DraftFees::Eip1559 {
                max_fee_per_gas,
                max_priority_fee_per_gas,
            }),
            (None, false) => Ok(DraftFees::Unset),
        }
    }

    /// The complete request, checked against `policy`; missing fields are errors
    /// (fill them with `EvmRpc::prepare` instead).
    pub fn complete(self, policy: &TxPolicy) -> Result<TxRequest, TxError> {
        let request = self.require_all()?;
        request.validate(policy)?;
        Ok(request)
    }

    fn require_all(self) -> Result<TxRequest, TxError> {
        let missing = |field: &str| {
            field_error(
                field,
                "is required (or run `mpc tx prepare` to fill it from the node)",
            )
        };
        let fees = match self.fees {
            DraftFees::Legacy { gas_price } => Fees::Legacy { gas_price },
            DraftFees::Eip1559 {
                max_fee_per_gas,
                max_priority_fee_per_gas,
            } => Fees::Eip1559 {
                max_fee_per_gas: max_fee_per_gas.ok_or_else(|| missing("max_fee_per_gas"))?,
                max_priority_fee_per_gas: max_priority_fee_per_gas
                    .ok_or_else(|| missing("max_priority_fee_per_gas"))?,
            },
            DraftFees::Unset => return Err(missing("max_fee_per_gas")),
        };
        Ok(TxRequest {
            chain_id: self.chain_id.ok_or_else(|| missing("chain_id"))?,
            nonce: self.nonce.ok_or_else(|| missing("nonce"))?,
            to: self.to,
            value: self.value,
            gas_limit: self.gas_limit.ok_or_else(|| missing("gas_limit"))?,
            fees,
            data: self.data,
        })
    }
}

/// A complete transaction. Its serde form is canonical tx.json, and reading it
/// back runs the full tx.json parser, so a co-signer receiving one sees exactly
/// the fields it will sign (call [`TxRequest::validate`] with its own policy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxRequest {
    pub chain_id: u64,
    pub nonce: u64,
    pub to: Address,
    pub value: U256,
    pub gas_limit: u64,
    pub fees: Fees,
    pub data: Bytes,
}

/// A signed transaction ready for `eth_sendRawTransaction`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedTx {
    /// EIP-2718 encoding (RLP for legacy), 0x-hex in JSON.
    pub raw_tx: Bytes,
    pub tx_hash: B256,
    pub r: B256,
    pub s: B256,
    /// EIP-155 v (`chain_id * 2 + 35 + parity`) for legacy, the y parity for typed transactions.
    pub v: u64,
}

impl TxRequest {
    /// Parses and validates tx.json text in one step.
    pub fn from_json(text: &str, policy: &TxPolicy) -> Result<Self, TxError> {
        TxDraft::from_json(text)?.complete(policy)
    }

    /// Checks the request against `policy`: chain id, gas limit and fee bounds.
    pub fn validate(&self, policy: &TxPolicy) -> Result<(), TxError> {
        if self.chain_id != policy.chain_id {
            return Err(field_error(
                "chain_id",
                format!(
                    "{} does not match the expected chain id {} (MPC_CHAIN_ID)",
                    self.chain_id, policy.chain_id
                ),
            ));
        }
        if self.gas_limit < MIN_GAS_LIMIT {
            return Err(field_error(
                "gas_limit",
                format!(
                    "{} is below the {MIN_GAS_LIMIT} gas every transaction costs",
                    self.gas_limit
                ),
            ));
        }
        let (fee_field, fee) = match self.fees {
            Fees::Legacy { gas_price } => ("gas_price", gas_price),
            Fees::Eip1559 {
                max_fee_per_gas,
                max_priority_fee_per_gas,
            } => {
                if max_priority_fee_per_gas > max_fee_per_gas {
                    return Err(field_error(
                        "max_priority_fee_per_gas",
                        format!(
                            "{max_priority_fee_per_gas} exceeds max_fee_per_gas {max_fee_per_gas}"
                        ),
                    ));
                }
                ("max_fee_per_gas", max_fee_per_gas)
            }
        };
        if fee == 0 {
            return Err(field_error(fee_field, "must be greater than zero"));
        }
        if fee > policy.max_fee_per_gas {
            return Err(field_error(
                fee_field,
                format!(
                    "{fee} wei per gas exceeds the configured cap of {} wei ({} gwei)",
                    policy.max_fee_per_gas,
                    policy.max_fee_per_gas / GWEI
                ),
            ));
        }
        Ok(())
    }

    pub fn is_legacy(&self) -> bool {
        matches!(self.fees, Fees::Legacy { .. })
    }

    /// Canonical tx.json: big numbers as decimal strings, `to` checksummed.
    pub fn to_json(&self) -> Value {
        let mut map = Map::new();
        map.insert("chain_id".into(), self.chain_id.into());
        map.insert("nonce".into(), self.nonce.into());
        map.insert("to".into(), self.to.to_checksum(None).into());
        map.insert("value".into(), self.value.to_string().into());
        map.insert("gas_limit".into(), self.gas_limit.into());
        match self.fees {
            Fees::Legacy { gas_price } => {
                map.insert("gas_price".into(), gas_price.to_string().into());
            }
            Fees::Eip1559 {
                max_fee_per_gas,
                max_priority_fee_per_gas,
            } => {
                map.insert("max_fee_per_gas".into(), max_fee_per_gas.to_string().into());
                map.insert(
                    "max_priority_fee_per_gas".into(),
                    max_priority_fee_per_gas.to_string().into(),
                );
            }
        }
        map.insert("data".into(), self.data.to_string().into());
        Value::Object(map)
    }

    fn legacy(&self, gas_price: u128) -> TxLegacy {
        TxLegacy {
            chain_id: Some(self.chain_id),
            nonce: self.nonce,
            gas_price,
            gas_limit: self.gas_limit,
            to: TxKind::Call(self.to),
            value: self.value,
            input: self.data.clone(),
        }
    }

    fn eip1559(&self, max_fee_per_gas: u128, max_priority_fee_per_gas: u128) -> TxEip1559 {
        TxEip1559 {
            chain_id: self.chain_id,
            nonce: self.nonce,
            gas_limit: self.gas_limit,
            max_fee_per_gas,
            max_priority_fee_per_gas,
            to: TxKind::Call(self.to),
            value: self.value,
            access_list: Default::default(),
            input: self.data.clone(),
        }
    }

    /// The 32-byte digest the two parties sign (keccak of the signing encoding).
    pub fn signing_hash(&self) -> [u8; 32] {
        match self.fees {
            Fees::Legacy { gas_price } => self.legacy(gas_price).signature_hash(),
            Fees::Eip1559 {
                max_fee_per_gas,
                max_priority_fee_per_gas,
            } => self
                .eip1559(max_fee_per_gas, max_priority_fee_per_gas)
                .signature_hash(),
        }
        .0
    }

    /// The `v` value users see for this transaction type.
    pub fn v(&self, y_parity: bool) -> u64 {
        match self.fees {
            Fees::Legacy { .. } => to_eip155_v(y_parity as u8, self.chain_id),
            Fees::Eip1559 { .. } => y_parity as u64,
        }
    }

    /// Assembles the signed raw transaction. The signature must be low-s
    /// (EIP-2); it is not checked against an address here (see `verify`).
    pub fn assemble(&self, signature: &Signature) -> Result<SignedTx, TxError> {
        if signature.normalize_s().is_some() {
            return Err(TxError::HighS);
        }
        let envelope: TxEnvelope = match self.fees {
            Fees::Legacy { gas_price } => self.legacy(gas_price).into_signed(*signature).into(),
            Fees::Eip1559 {
                max_fee_per_gas,
                max_priority_fee_per_gas,
            } => self
                .eip1559(max_fee_per_gas, max_priority_fee_per_gas)
                .into_signed(*signature)
                .into(),
        };
        Ok(SignedTx {
            raw_tx: envelope.encoded_2718().into(),
            tx_hash: *envelope.tx_hash(),
            r: signature.r().into(),
            s: signature.s().into(),
            v: self.v(signature.v()),
        })
    }
}

impl Serialize for TxRequest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for TxRequest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        TxDraft::from_value(&value)
            .and_then(TxDraft::require_all)
            .map_err(serde::de::Error::custom)
    }
}
