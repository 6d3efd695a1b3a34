//! tx.json: parsing, validation, signing hash and the signed raw transaction.
//!
//! A [`TxDraft`] is tx.json as written (fields that `prepare` can fill may be
//! missing); a [`TxRequest`] is complete. Both come from the same parser, so
//! the client and the co-signer read a transaction identically.
//!
//! Supported are EIP-2718 types 0 (legacy, EIP-155), 1 (EIP-2930 access
//! list), 2 (EIP-1559) and 4 (EIP-7702 authorizations); blob transactions
//! (type 3) are not. The type follows from the fields, or from an explicit
//! `type` that must agree with them.

use alloy::consensus::{
    SignableTransaction, TxEip1559, TxEip2930, TxEip7702, TxLegacy, TxType, TypedTransaction,
};
use alloy::eips::eip2718::Encodable2718;
use alloy::eips::eip2930::{AccessList, AccessListItem};
use alloy::eips::eip7702::SignedAuthorization;
use alloy::primitives::{to_eip155_v, Bytes, Signature, TxKind, B256, U256};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::authorization::{
    check_authorization_list, parse_signed_authorization, signed_authorization_json,
};
use crate::erc20;
use crate::fields::{field_error, parse_b256, Doc, Fields};
use crate::number::kind;

/// One gwei in wei.
pub const GWEI: u128 = 1_000_000_000;
/// Default cap on the fee per gas a transaction may offer: 10,000 gwei.
pub const DEFAULT_MAX_FEE_PER_GAS: u128 = 10_000 * GWEI;
/// The intrinsic gas of the cheapest transaction (a plain transfer).
pub const MIN_GAS_LIMIT: u64 = 21_000;
/// The intrinsic gas of the cheapest contract creation (21,000 + 32,000).
pub const MIN_CREATE_GAS_LIMIT: u64 = 53_000;

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
    /// The policy for `chain_id` with the default fee cap.
    pub fn new(chain_id: u64) -> Self {
        TxPolicy {
            chain_id,
            max_fee_per_gas: DEFAULT_MAX_FEE_PER_GAS,
        }
    }
}

/// Why a transaction (tx.json, unsigned bytes) or an authorization (auth.json)
/// was refused.
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
    /// Unsigned EIP-2718 bytes that are not a supported transaction.
    #[error("unsigned transaction bytes: {0}")]
    Unsigned(#[from] UnsignedTxError),
    #[error("auth.json is not valid JSON: {0}")]
    AuthorizationJson(serde_json::Error),
    #[error("auth.json must be a JSON object {{\"chain_id\", \"address\", \"nonce\"}}, found {0}")]
    AuthorizationNotAnObject(&'static str),
    #[error("auth.json field `{field}`: {reason}")]
    AuthorizationField { field: String, reason: String },
}

impl TxError {
    /// The tx.json (or auth.json) field the error is about, if any.
    pub fn field(&self) -> Option<&str> {
        match self {
            TxError::Field { field, .. } | TxError::AuthorizationField { field, .. } => Some(field),
            _ => None,
        }
    }
}

/// Why unsigned EIP-2718 transaction bytes could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnsignedTxError {
    #[error("not a valid unsigned EIP-2718 transaction: {0}")]
    Malformed(String),
    #[error("{0} bytes follow the transaction; give exactly one transaction")]
    TrailingBytes(usize),
    #[error("blob transactions (EIP-4844, type 3) are not supported")]
    Blob,
    #[error("unknown transaction type byte {0:#04x}; supported are 0 (legacy), 1 (EIP-2930), 2 (EIP-1559) and 4 (EIP-7702)")]
    UnknownType(u8),
    #[error("legacy transaction without a chain id (pre-EIP-155): any chain could replay it")]
    NoChainId,
    #[error(
        "chain id {0} is above {MAX_CHAIN_ID} (EIP-2294), so EIP-155 v would not fit in 64 bits"
    )]
    ChainIdTooLarge(u64),
    #[error("not the canonical encoding of the transaction it decodes to (it would be signed as different bytes)")]
    NonCanonical,
}

/// Fee fields: legacy (`gas_price`, types 0 and 1) or EIP-1559 (types 2 and 4), never a mix.
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
    /// A call, or [`TxKind::Create`] (no `to`) deploying the init code in `data`.
    pub to: TxKind,
    pub value: U256,
    pub gas_limit: Option<u64>,
    pub fees: DraftFees,
    pub data: Bytes,
    /// EIP-2930 access list, when tx.json gives one.
    pub access_list: Option<AccessList>,
    /// EIP-7702 signed authorizations, when tx.json gives them (type 4).
    pub authorization_list: Option<Vec<SignedAuthorization>>,
    /// The `type` tx.json states, if it does (checked against the fields).
    pub tx_type: Option<TxType>,
}

/// Largest chain id whose EIP-155 `v` (`chain_id * 2 + 36`) fits in 64 bits (EIP-2294).
pub const MAX_CHAIN_ID: u64 = u64::MAX / 2 - 36;

const TOP_LEVEL_FIELDS: &[&str] = &[
    "type",
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
    "access_list",
    "authorization_list",
];
const ERC20_FIELDS: &[&str] = &["token", "to", "amount"];
const ACCESS_LIST_ITEM_FIELDS: &[&str] = &["address", "storage_keys"];
const ACCESS_LIST_ITEM_ALIASES: &[(&str, &str)] = &[("storageKeys", "storage_keys")];
/// Fields of blob transactions, refused by name rather than as unknown.
const BLOB_FIELDS: &[&str] = &[
    "max_fee_per_blob_gas",
    "blob_versioned_hashes",
    "blobs",
    "sidecar",
];

const EIP1559_FEE_FIELDS: &str = "`max_fee_per_gas`/`max_priority_fee_per_gas`";

/// The number tx.json's `type` field uses for a transaction type.
fn type_name(tx_type: TxType) -> &'static str {
    match tx_type {
        TxType::Legacy => "type 0 (legacy)",
        TxType::Eip2930 => "type 1 (EIP-2930)",
        TxType::Eip1559 => "type 2 (EIP-1559)",
        TxType::Eip4844 => "type 3 (EIP-4844 blobs)",
        TxType::Eip7702 => "type 4 (EIP-7702)",
    }
}

fn parse_tx_type(fields: &Fields) -> Result<Option<TxType>, TxError> {
    let Some(number) = fields.uint::<u64>("type")? else {
        return Ok(None);
    };
    match number {
        0 => Ok(Some(TxType::Legacy)),
        1 => Ok(Some(TxType::Eip2930)),
        2 => Ok(Some(TxType::Eip1559)),
        3 => Err(field_error(
            "type",
            "blob transactions (EIP-4844, type 3) are not supported",
        )),
        4 => Ok(Some(TxType::Eip7702)),
        other => Err(field_error(
            "type",
            format!("unknown transaction type {other}; supported are 0 (legacy), 1 (EIP-2930), 2 (EIP-1559) and 4 (EIP-7702)"),
        )),
    }
}

fn parse_access_list(items: &[Value]) -> Result<AccessList, TxError> {
    let item = |(i, value): (usize, &Value)| -> Result<AccessListItem, TxError> {
        let name = format!("access_list[{i}]");
        let entry = Fields::object(
            Doc::Tx,
            &name,
            value,
            "{\"address\", \"storage_keys\"}",
            ACCESS_LIST_ITEM_FIELDS,
            ACCESS_LIST_ITEM_ALIASES,
        )?;
        let address = entry.required("address", entry.address("address")?)?;
        let keys = entry.array("storage_keys")?.unwrap_or_default();
        let key_field = entry.name("storage_keys");
        let storage_keys = keys
            .iter()
            .enumerate()
            .map(|(k, key)| {
                parse_b256(key).map_err(|reason| field_error(&format!("{key_field}[{k}]"), reason))
            })
            .collect::<Result<Vec<B256>, TxError>>()?;
        Ok(AccessListItem {
            address,
            storage_keys,
        })
    };
    Ok(AccessList(
        items
            .iter()
            .enumerate()
            .map(item)
            .collect::<Result<_, _>>()?,
    ))
}

fn access_list_json(list: &AccessList) -> Value {
    let item = |item: &AccessListItem| {
        serde_json::json!({
            "address": item.address.to_checksum(None),
            "storage_keys": item.storage_keys.iter().map(B256::to_string).collect::<Vec<_>>(),
        })
    };
    Value::Array(list.0.iter().map(item).collect())
}

/// With EIP-1559 fees an empty access list and none encode identically: keep
/// one form (`None`) so equal transactions compare equal.
fn normalize_access_list(fees_are_1559: bool, list: Option<AccessList>) -> Option<AccessList> {
    list.filter(|list| !(fees_are_1559 && list.0.is_empty()))
}

/// A transaction without `to` deploys `data`: it must have something to deploy.
fn check_create(to: TxKind, data: &Bytes) -> Result<(), TxError> {
    if to.is_create() && data.is_empty() {
        return Err(field_error(
            "to",
            "is required: without `to` the transaction deploys a contract from `data`, but `data` is empty (nothing to deploy)",
        ));
    }
    Ok(())
}

/// The type the fields make, checked against an explicit `type`; `None` when
/// the fees are still open (then `prepare` fills EIP-1559 fees: type 2).
fn resolve_type(
    explicit: Option<TxType>,
    fees: &DraftFees,
    to: TxKind,
    has_access_list: bool,
    has_authorizations: bool,
) -> Result<Option<TxType>, TxError> {
    let legacy_fees = matches!(fees, DraftFees::Legacy { .. });
    let eip1559_fees = matches!(fees, DraftFees::Eip1559 { .. });
    if has_authorizations && legacy_fees {
        return Err(field_error(
            "authorization_list",
            format!("makes a type 4 (EIP-7702) transaction, which needs EIP-1559 fees: give {EIP1559_FEE_FIELDS} instead of `gas_price`"),
        ));
    }
    let tx_type = match explicit {
        None if has_authorizations => Some(TxType::Eip7702),
        None if legacy_fees && has_access_list => Some(TxType::Eip2930),
        None if legacy_fees => Some(TxType::Legacy),
        None if eip1559_fees => Some(TxType::Eip1559),
        None => None,
        Some(explicit) => {
            let conflict = |reason: String| {
                Err(field_error(
                    "type",
                    format!("{}: {reason}", type_name(explicit)),
                ))
            };
            match explicit {
                TxType::Eip4844 => {
                    return conflict("blob transactions are not supported".into());
                }
                TxType::Legacy | TxType::Eip2930 if eip1559_fees => {
                    return conflict(format!("uses `gas_price`, not {EIP1559_FEE_FIELDS}"));
                }
                TxType::Eip1559 | TxType::Eip7702 if legacy_fees => {
                    return conflict(format!("uses {EIP1559_FEE_FIELDS}, not `gas_price`"));
                }
                TxType::Legacy if has_access_list => {
                    return conflict(
                        "has no access list: use type 1 (EIP-2930), or leave out `type`".into(),
                    );
                }
                TxType::Legacy | TxType::Eip2930 | TxType::Eip1559 if has_authorizations => {
                    return conflict(
                        "cannot carry an `authorization_list` (that is type 4, EIP-7702)".into(),
                    );
                }
                TxType::Eip7702 if !has_authorizations => {
                    return Err(field_error(
                        "authorization_list",
                        "is required for type 4 (EIP-7702)",
                    ));
                }
                _ => Some(explicit),
            }
        }
    };
    if tx_type == Some(TxType::Eip7702) && to.is_create() {
        return Err(field_error(
            "to",
            "is required: an EIP-7702 (type 4) transaction cannot create a contract",
        ));
    }
    Ok(tx_type)
}

impl TxDraft {
    /// Parses tx.json text; see [`TxDraft::from_value`].
    pub fn from_json(text: &str) -> Result<Self, TxError> {
        Self::from_value(&serde_json::from_str(text)?)
    }

    /// Parses a tx.json object: number forms (amounts also with units),
    /// address checksums, no unknown fields, no mix of legacy and EIP-1559
    /// fees, `type` consistent with the fields, `erc20` expanded.
    pub fn from_value(value: &Value) -> Result<Self, TxError> {
        let Value::Object(map) = value else {
            return Err(TxError::NotAnObject(kind(value)));
        };
        if let Some(blob) = BLOB_FIELDS.iter().find(|k| map.contains_key(**k)) {
            return Err(field_error(
                blob,
                "blob transactions (EIP-4844, type 3) are not supported",
            ));
        }
        let fields = Fields::new(Doc::Tx, "", map, TOP_LEVEL_FIELDS, &[])?;
        let tx_type = parse_tx_type(&fields)?;
        let (to, value, data) = match fields.get("erc20") {
            Some(erc20) => Self::erc20_call(&fields, erc20)?,
            None => (
                fields.address("to")?.into(),
                fields.amount_u256("value")?.unwrap_or_default(),
                fields.bytes("data")?.unwrap_or_default(),
            ),
        };
        check_create(to, &data)?;
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
        let access_list = fields
            .array("access_list")?
            .map(parse_access_list)
            .transpose()?;
        let authorization_list = fields
            .array("authorization_list")?
            .map(|items| {
                if items.is_empty() {
                    return Err(field_error(
                        "authorization_list",
                        "is empty: a type 4 (EIP-7702) transaction needs at least one authorization",
                    ));
                }
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| {
                        parse_signed_authorization(&format!("authorization_list[{i}]"), item)
                    })
                    .collect()
            })
            .transpose()?;
        let draft = TxDraft {
            chain_id,
            nonce: fields.uint("nonce")?,
            to,
            value,
            gas_limit,
            fees: Self::fees(&fields)?,
            data,
            access_list,
            authorization_list,
            tx_type,
        };
        draft.resolved_type()?;
        Ok(draft)
    }

    fn erc20_call(fields: &Fields, erc20: &Value) -> Result<(TxKind, U256, Bytes), TxError> {
        if let Some(clash) = ["to", "value", "data"].into_iter().find(|k| fields.has(k)) {
            return Err(field_error(
                clash,
                "`erc20` replaces `to`, `value` and `data`: remove this field",
            ));
        }
        let call = Fields::object(
            Doc::Tx,
            "erc20",
            erc20,
            "{\"token\", \"to\", \"amount\"}",
            ERC20_FIELDS,
            &[],
        )?;
        let token = call.required("token", call.address("token")?)?;
        let recipient = call.required("to", call.address("to")?)?;
        let amount = call.required("amount", call.amount_u256("amount")?)?;
        Ok((
            TxKind::Call(token),
            U256::ZERO,
            erc20::transfer_calldata(recipient, amount),
        ))
    }

    fn fees(fields: &Fields) -> Result<DraftFees, TxError> {
        let gas_price = fields.amount("gas_price")?;
        let max_fee_per_gas = fields.amount("max_fee_per_gas")?;
        let max_priority_fee_per_gas = fields.amount("max_priority_fee_per_gas")?;
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

    /// The transaction type the draft makes: its explicit `type`, or the one
    /// its fields imply; `None` while the fees are open and nothing else
    /// decides (`prepare` then fills EIP-1559 fees: type 2). Fails when
    /// `type` and the fields disagree.
    pub fn resolved_type(&self) -> Result<Option<TxType>, TxError> {
        resolve_type(
            self.tx_type,
            &self.fees,
            self.to,
            self.access_list.is_some(),
            self.authorization_list.is_some(),
        )
    }

    /// The complete request, checked against `policy`; missing fields are errors
    /// (fill them with `EvmRpc::prepare` instead).
    pub fn complete(self, policy: &TxPolicy) -> Result<TxRequest, TxError> {
        let request = self.require_all()?;
        request.validate(policy)?;
        Ok(request)
    }

    fn require_all(self) -> Result<TxRequest, TxError> {
        let tx_type = self.resolved_type()?;
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
            DraftFees::Unset => {
                return Err(match tx_type {
                    Some(TxType::Legacy | TxType::Eip2930) => missing("gas_price"),
                    _ => missing("max_fee_per_gas"),
                })
            }
        };
        let mut access_list = self.access_list;
        if tx_type == Some(TxType::Eip2930) {
            // `"type": 1` without a list is a type-1 transaction with an empty one.
            access_list.get_or_insert_with(AccessList::default);
        }
        Ok(TxRequest {
            chain_id: self.chain_id.ok_or_else(|| missing("chain_id"))?,
            nonce: self.nonce.ok_or_else(|| missing("nonce"))?,
            to: self.to,
            value: self.value,
            gas_limit: self.gas_limit.ok_or_else(|| missing("gas_limit"))?,
            access_list: normalize_access_list(matches!(fees, Fees::Eip1559 { .. }), access_list),
            fees,
            data: self.data,
            authorization_list: self.authorization_list,
        })
    }
}

/// A complete transaction. Its serde form is canonical tx.json, and reading it
/// back runs the full tx.json parser, so a co-signer receiving one sees exactly
/// the fields it will sign (call [`TxRequest::validate`] with its own policy).
///
/// The type follows from the fields (see [`TxRequest::tx_type`]): legacy fees
/// make type 0, or type 1 with an access list; EIP-1559 fees make type 2, or
/// type 4 with an authorization list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxRequest {
    pub chain_id: u64,
    pub nonce: u64,
    /// A call, or [`TxKind::Create`] deploying the init code in `data`.
    pub to: TxKind,
    pub value: U256,
    pub gas_limit: u64,
    pub fees: Fees,
    pub data: Bytes,
    /// EIP-2930 access list. With legacy fees, `Some` (even empty) makes a
    /// type-1 transaction; with EIP-1559 fees an empty list is the same as
    /// `None`, which the parser and decoder produce for it.
    pub access_list: Option<AccessList>,
    /// EIP-7702 signed authorizations: `Some` makes a type-4 transaction. Only
    /// a call with EIP-1559 fees can carry them, and never an empty list:
    /// [`TxRequest::validate`] refuses other shapes (which the parser never
    /// produces) and so do [`TxRequest::assemble`] and `SignPayload::digest`.
    pub authorization_list: Option<Vec<SignedAuthorization>>,
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

    /// Checks the request against `policy`: chain id, gas limit, fee bounds,
    /// and for EIP-7702 each authorization's chain id and signature.
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
        self.check_shape()?;
        check_create(self.to, &self.data)?;
        let (min_gas, what) = match self.to {
            TxKind::Create => (MIN_CREATE_GAS_LIMIT, "a contract creation"),
            TxKind::Call(_) => (MIN_GAS_LIMIT, "every transaction"),
        };
        if self.gas_limit < min_gas {
            return Err(field_error(
                "gas_limit",
                format!("{} is below the {min_gas} gas {what} costs", self.gas_limit),
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
        if let Some(list) = &self.authorization_list {
            check_authorization_list(list, policy)?;
        }
        Ok(())
    }

    /// Refuses an authorization list where no transaction type can carry it
    /// (legacy fees, or a contract creation): signing must not drop it silently.
    pub(crate) fn check_shape(&self) -> Result<(), TxError> {
        if self.authorization_list.is_none() {
            return Ok(());
        }
        if let Fees::Legacy { .. } = self.fees {
            return Err(field_error(
                "authorization_list",
                format!("makes a type 4 (EIP-7702) transaction, which needs EIP-1559 fees ({EIP1559_FEE_FIELDS}), not `gas_price`"),
            ));
        }
        if self.to.is_create() {
            return Err(field_error(
                "to",
                "is required: an EIP-7702 (type 4) transaction cannot create a contract",
            ));
        }
        Ok(())
    }

    /// `true` for a type-0 (legacy, EIP-155) transaction, whose `v` encodes the chain id.
    pub fn is_legacy(&self) -> bool {
        self.tx_type() == TxType::Legacy
    }

    /// The EIP-2718 type of the transaction these fields make.
    pub fn tx_type(&self) -> TxType {
        self.unsigned().tx_type()
    }

    /// Canonical tx.json: big numbers as decimal strings, addresses
    /// checksummed, `to` null for a contract creation; `access_list` and
    /// `authorization_list` only when present.
    pub fn to_json(&self) -> Value {
        let mut map = Map::new();
        map.insert("chain_id".into(), self.chain_id.into());
        map.insert("nonce".into(), self.nonce.into());
        let to = match self.to {
            TxKind::Call(to) => to.to_checksum(None).into(),
            TxKind::Create => Value::Null,
        };
        map.insert("to".into(), to);
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
        if let Some(list) = &self.access_list {
            map.insert("access_list".into(), access_list_json(list));
        }
        if let Some(list) = &self.authorization_list {
            let list = list.iter().map(signed_authorization_json).collect();
            map.insert("authorization_list".into(), Value::Array(list));
        }
        Value::Object(map)
    }

    /// The alloy transaction these fields make: the one place that decides
    /// the type. A shape [`TxRequest::check_shape`] refuses is built without
    /// its authorization list, the safe direction (it delegates nothing).
    pub(crate) fn unsigned(&self) -> TypedTransaction {
        let (chain_id, nonce, gas_limit, value) =
            (self.chain_id, self.nonce, self.gas_limit, self.value);
        let input = self.data.clone();
        match self.fees {
            Fees::Legacy { gas_price } => match &self.access_list {
                None => TxLegacy {
                    chain_id: Some(chain_id),
                    nonce,
                    gas_price,
                    gas_limit,
                    to: self.to,
                    value,
                    input,
                }
                .into(),
                Some(access_list) => TxEip2930 {
                    chain_id,
                    nonce,
                    gas_price,
                    gas_limit,
                    to: self.to,
                    value,
                    access_list: access_list.clone(),
                    input,
                }
                .into(),
            },
            Fees::Eip1559 {
                max_fee_per_gas,
                max_priority_fee_per_gas,
            } => {
                let access_list = self.access_list.clone().unwrap_or_default();
                match (&self.authorization_list, self.to) {
                    (Some(authorization_list), TxKind::Call(to)) => TxEip7702 {
                        chain_id,
                        nonce,
                        gas_limit,
                        max_fee_per_gas,
                        max_priority_fee_per_gas,
                        to,
                        value,
                        access_list,
                        authorization_list: authorization_list.clone(),
                        input,
                    }
                    .into(),
                    _ => TxEip1559 {
                        chain_id,
                        nonce,
                        gas_limit,
                        max_fee_per_gas,
                        max_priority_fee_per_gas,
                        to: self.to,
                        value,
                        access_list,
                        input,
                    }
                    .into(),
                }
            }
        }
    }

    /// The 32-byte digest the two parties sign: keccak256 of the unsigned
    /// EIP-2718 encoding ([`TxRequest::encode_unsigned`]), as alloy computes it.
    pub fn signing_hash(&self) -> [u8; 32] {
        self.unsigned().signature_hash().0
    }

    /// The `v` value users see for this transaction type.
    pub fn v(&self, y_parity: bool) -> u64 {
        match self.tx_type() {
            TxType::Legacy => to_eip155_v(y_parity as u8, self.chain_id),
            _ => y_parity as u64,
        }
    }

    /// Assembles the signed raw transaction. The signature must be low-s
    /// (EIP-2); it is not checked against an address here (see `verify`).
    pub fn assemble(&self, signature: &Signature) -> Result<SignedTx, TxError> {
        if signature.normalize_s().is_some() {
            return Err(TxError::HighS);
        }
        self.check_shape()?;
        let envelope = self.unsigned().into_envelope(*signature);
        Ok(SignedTx {
            raw_tx: envelope.encoded_2718().into(),
            tx_hash: *envelope.tx_hash(),
            r: signature.r().into(),
            s: signature.s().into(),
            v: self.v(signature.v()),
        })
    }

    /// Reads an alloy unsigned transaction back into a request. Legacy
    /// transactions need a chain id; blob transactions are refused.
    pub(crate) fn from_typed(tx: TypedTransaction) -> Result<Self, UnsignedTxError> {
        let request = match tx {
            TypedTransaction::Legacy(tx) => TxRequest {
                chain_id: tx.chain_id.ok_or(UnsignedTxError::NoChainId)?,
                nonce: tx.nonce,
                to: tx.to,
                value: tx.value,
                gas_limit: tx.gas_limit,
                fees: Fees::Legacy {
                    gas_price: tx.gas_price,
                },
                data: tx.input,
                access_list: None,
                authorization_list: None,
            },
            TypedTransaction::Eip2930(tx) => TxRequest {
                chain_id: tx.chain_id,
                nonce: tx.nonce,
                to: tx.to,
                value: tx.value,
                gas_limit: tx.gas_limit,
                fees: Fees::Legacy {
                    gas_price: tx.gas_price,
                },
                data: tx.input,
                access_list: Some(tx.access_list),
                authorization_list: None,
            },
            TypedTransaction::Eip1559(tx) => TxRequest {
                chain_id: tx.chain_id,
                nonce: tx.nonce,
                to: tx.to,
                value: tx.value,
                gas_limit: tx.gas_limit,
                fees: Fees::Eip1559 {
                    max_fee_per_gas: tx.max_fee_per_gas,
                    max_priority_fee_per_gas: tx.max_priority_fee_per_gas,
                },
                data: tx.input,
                access_list: normalize_access_list(true, Some(tx.access_list)),
                authorization_list: None,
            },
            TypedTransaction::Eip7702(tx) => TxRequest {
                chain_id: tx.chain_id,
                nonce: tx.nonce,
                to: TxKind::Call(tx.to),
                value: tx.value,
                gas_limit: tx.gas_limit,
                fees: Fees::Eip1559 {
                    max_fee_per_gas: tx.max_fee_per_gas,
                    max_priority_fee_per_gas: tx.max_priority_fee_per_gas,
                },
                data: tx.input,
                access_list: normalize_access_list(true, Some(tx.access_list)),
                authorization_list: Some(tx.authorization_list),
            },
            TypedTransaction::Eip4844(_) => return Err(UnsignedTxError::Blob),
        };
        // The tx.json parser refuses these chain ids too: EIP-155 v must fit in 64 bits.
        if request.chain_id > MAX_CHAIN_ID {
            return Err(UnsignedTxError::ChainIdTooLarge(request.chain_id));
        }
        Ok(request)
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
