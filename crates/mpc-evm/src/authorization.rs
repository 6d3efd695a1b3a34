//! EIP-7702 authorizations: auth.json (an authorization to sign on its own),
//! its digest and the signed authorization, and the signed entries of a
//! type-4 transaction's `authorization_list` in tx.json.
//!
//! An authorization lets the signing account (the authority) run the code
//! of `address` (the delegate) as its own, on chain `chain_id` (0: every
//! chain), while the authority's nonce is `nonce`.

use alloy::eips::eip7702::{Authorization, SignedAuthorization};
use alloy::primitives::{Address, Signature, B256, U256};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::fields::{Doc, Fields};
use crate::number::kind;
use crate::tx::{TxError, TxPolicy};

const AUTHORIZATION_FIELDS: &[&str] = &["chain_id", "address", "nonce"];
const SIGNED_AUTHORIZATION_FIELDS: &[&str] =
    &["chain_id", "address", "nonce", "y_parity", "r", "s"];

/// An EIP-7702 authorization to sign: auth.json `{"chain_id", "address", "nonce"}`.
/// Its serde form is that JSON, and reading it back runs the same parser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthorizationRequest {
    /// The chain the delegation is valid on; 0 makes it valid on every chain.
    pub chain_id: u64,
    /// The delegate: the contract whose code the authority will run.
    pub address: Address,
    /// The authority's account nonce at the time the authorization is used.
    pub nonce: u64,
}

impl AuthorizationRequest {
    /// Parses auth.json text; see [`AuthorizationRequest::from_value`].
    pub fn from_json(text: &str) -> Result<Self, TxError> {
        Self::from_value(&serde_json::from_str(text).map_err(TxError::AuthorizationJson)?)
    }

    /// Parses an auth.json object: all three fields required, in tx.json's
    /// number forms, the address checksummed or lower-case, nothing else.
    pub fn from_value(value: &Value) -> Result<Self, TxError> {
        let Value::Object(map) = value else {
            return Err(TxError::AuthorizationNotAnObject(kind(value)));
        };
        let fields = Fields::new(Doc::Authorization, "", map, AUTHORIZATION_FIELDS, &[])?;
        Ok(AuthorizationRequest {
            chain_id: fields.required("chain_id", fields.uint("chain_id")?)?,
            address: fields.required("address", fields.address("address")?)?,
            nonce: fields.required("nonce", fields.uint("nonce")?)?,
        })
    }

    /// Canonical auth.json.
    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "chain_id": self.chain_id,
            "address": self.address.to_checksum(None),
            "nonce": self.nonce,
        })
    }

    /// The alloy authorization this request is.
    pub fn authorization(&self) -> Authorization {
        Authorization {
            chain_id: U256::from(self.chain_id),
            address: self.address,
            nonce: self.nonce,
        }
    }

    /// The digest to sign, as alloy computes it: keccak256(0x05 ‖ rlp([chain_id, address, nonce])).
    pub fn signing_hash(&self) -> [u8; 32] {
        self.authorization().signature_hash().0
    }

    /// Checks the chain id against `policy`: the configured chain, or 0.
    pub fn validate(&self, policy: &TxPolicy) -> Result<(), TxError> {
        check_chain_id(
            Doc::Authorization,
            "chain_id",
            U256::from(self.chain_id),
            policy,
        )
    }

    /// The signed authorization, ready for a type-4 transaction's
    /// `authorization_list`. The signature must be low-s (nodes skip others).
    pub fn assemble(&self, signature: &Signature) -> Result<SignedAuthorization, TxError> {
        if signature.normalize_s().is_some() {
            return Err(TxError::HighS);
        }
        Ok(self.authorization().into_signed(*signature))
    }
}

impl Serialize for AuthorizationRequest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for AuthorizationRequest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Self::from_value(&value).map_err(serde::de::Error::custom)
    }
}

/// A signed authorization as tx.json's `authorization_list` holds it:
/// `{"chain_id", "address", "nonce", "y_parity", "r", "s"}`.
pub fn signed_authorization_json(signed: &SignedAuthorization) -> Value {
    // Chain ids are small in practice, but EIP-7702 allows 256 bits.
    let chain_id = match u64::try_from(signed.chain_id) {
        Ok(id) => Value::from(id),
        Err(_) => Value::from(signed.chain_id.to_string()),
    };
    serde_json::json!({
        "chain_id": chain_id,
        "address": signed.address.to_checksum(None),
        "nonce": signed.nonce,
        "y_parity": signed.y_parity(),
        "r": B256::from(signed.r()).to_string(),
        "s": B256::from(signed.s()).to_string(),
    })
}

/// Reads one `authorization_list` entry, named `name` (`authorization_list[0]`).
pub(crate) fn parse_signed_authorization(
    name: &str,
    value: &Value,
) -> Result<SignedAuthorization, TxError> {
    let entry = Fields::object(
        Doc::Tx,
        name,
        value,
        "{\"chain_id\", \"address\", \"nonce\", \"y_parity\", \"r\", \"s\"}",
        SIGNED_AUTHORIZATION_FIELDS,
        &[],
    )?;
    let authorization = Authorization {
        chain_id: entry.required("chain_id", entry.u256("chain_id")?)?,
        address: entry.required("address", entry.address("address")?)?,
        nonce: entry.required("nonce", entry.uint("nonce")?)?,
    };
    Ok(SignedAuthorization::new_unchecked(
        authorization,
        entry.required("y_parity", entry.uint("y_parity")?)?,
        entry.required("r", entry.u256("r")?)?,
        entry.required("s", entry.u256("s")?)?,
    ))
}

fn check_chain_id(doc: Doc, field: &str, chain_id: U256, policy: &TxPolicy) -> Result<(), TxError> {
    if chain_id.is_zero() || chain_id == U256::from(policy.chain_id) {
        return Ok(());
    }
    Err(doc.error(
        field,
        format!(
            "{chain_id} is neither the expected chain id {} (MPC_CHAIN_ID) nor 0 (any chain)",
            policy.chain_id
        ),
    ))
}

/// A type-4 transaction's list: not empty, each entry for this chain (or 0)
/// and signed so that nodes recover an authority (they skip it otherwise).
pub(crate) fn check_authorization_list(
    list: &[SignedAuthorization],
    policy: &TxPolicy,
) -> Result<(), TxError> {
    if list.is_empty() {
        return Err(Doc::Tx.error(
            "authorization_list",
            "is empty: a type 4 (EIP-7702) transaction needs at least one authorization",
        ));
    }
    for (i, signed) in list.iter().enumerate() {
        let field = |key: &str| format!("authorization_list[{i}].{key}");
        check_chain_id(Doc::Tx, &field("chain_id"), signed.chain_id, policy)?;
        if signed.y_parity() > 1 {
            return Err(Doc::Tx.error(
                &field("y_parity"),
                format!("must be 0 or 1, found {}", signed.y_parity()),
            ));
        }
        let signature = Signature::new(signed.r(), signed.s(), signed.y_parity() == 1);
        if signature.normalize_s().is_some() {
            return Err(Doc::Tx.error(
                &field("s"),
                "is in the upper half of the curve order, so nodes would skip this authorization: normalise s and flip y_parity",
            ));
        }
        if let Err(e) = signed.recover_authority() {
            return Err(Doc::Tx.error(
                &format!("authorization_list[{i}]"),
                format!("the signature recovers no authority: {e}"),
            ));
        }
    }
    Ok(())
}
