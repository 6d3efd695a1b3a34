//! What signing a payload would do, decoded once for every rule: the native
//! amount it can spend, the ERC-20 amounts it moves, the approvals it
//! grants (an `approve` call, an EIP-2612 `Permit`, a Permit2
//! `PermitSingle` or `PermitBatch`) and the EIP-7702 delegates it names.

use mpc_evm::erc20::TokenCall;
use mpc_evm::{Address, SignPayload, TxKind, U256};
use serde_json::Value;

/// Permit2 amounts are `uint160`: its maximum is its "unlimited".
const UNLIMITED: U256 = U256::from_limbs([u64::MAX, u64::MAX, u32::MAX as u64, 0]);

/// Tokens leaving the wallet (or an account that approved it) to `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenTransfer {
    pub token: Address,
    pub to: Address,
    pub amount: U256,
}

/// A right for `spender` to move up to `amount` of `token`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Approval {
    pub token: Address,
    pub spender: Address,
    pub amount: U256,
}

impl Approval {
    /// Whether the approval has no practical bound (`uint160` max or more).
    pub fn is_unlimited(&self) -> bool {
        self.amount >= UNLIMITED
    }
}

/// The effects of one signature.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Effects {
    /// Native value plus the most gas can cost (gas limit × max fee per gas).
    pub native_spend: U256,
    pub transfers: Vec<TokenTransfer>,
    pub approvals: Vec<Approval>,
    /// EIP-7702 delegates: a type-4 transaction's list, or the authorization's.
    pub delegates: Vec<Address>,
}

impl Effects {
    pub fn of(payload: &SignPayload) -> Effects {
        match payload {
            SignPayload::Transaction(tx) | SignPayload::UnsignedTransaction(tx) => {
                let gas = U256::from(tx.gas_limit) * U256::from(tx.fees.max_fee_per_gas());
                let mut effects = Effects {
                    native_spend: tx.value.saturating_add(gas),
                    delegates: tx
                        .authorization_list
                        .iter()
                        .flatten()
                        .map(|authorization| authorization.address)
                        .collect(),
                    ..Effects::default()
                };
                if let TxKind::Call(token) = tx.to {
                    effects.add_token_call(token, &tx.data);
                }
                effects
            }
            SignPayload::Authorization(authorization) => Effects {
                delegates: vec![authorization.address],
                ..Effects::default()
            },
            SignPayload::TypedData(document) => Effects {
                approvals: permit_approvals(document),
                ..Effects::default()
            },
            SignPayload::PersonalMessage(_) => Effects::default(),
        }
    }

    fn add_token_call(&mut self, token: Address, data: &[u8]) {
        match TokenCall::decode(data) {
            Some(
                TokenCall::Transfer { to, amount } | TokenCall::TransferFrom { to, amount, .. },
            ) => self.transfers.push(TokenTransfer { token, to, amount }),
            Some(TokenCall::Approve { spender, amount }) => self.approvals.push(Approval {
                token,
                spender,
                amount,
            }),
            None => {}
        }
    }

    /// What the token's 24 h limit counts: transfers and approvals alike
    /// (an approval lets its spender move that much at any time).
    pub fn token_amounts(&self) -> impl Iterator<Item = (Address, U256)> + '_ {
        let moved = self.transfers.iter().map(|t| (t.token, t.amount));
        moved.chain(self.approvals.iter().map(|a| (a.token, a.amount)))
    }
}

/// The approvals an EIP-712 permit grants; none for other documents.
fn permit_approvals(document: &Value) -> Vec<Approval> {
    let message = &document["message"];
    let spender = address(&message["spender"]);
    let approval = |token: Option<Address>, amount: &Value| {
        Some(Approval {
            token: token?,
            spender: spender?,
            amount: uint(amount)?,
        })
    };
    let details = |detail: &Value| approval(address(&detail["token"]), &detail["amount"]);
    let approvals = match document["primaryType"].as_str() {
        // EIP-2612: the token is the contract that verifies the permit.
        Some("Permit") => vec![approval(
            address(&document["domain"]["verifyingContract"]),
            &message["value"],
        )],
        Some("PermitSingle") => vec![details(&message["details"])],
        Some("PermitBatch") => match message["details"].as_array() {
            Some(batch) => batch.iter().map(details).collect(),
            None => vec![None],
        },
        _ => return Vec::new(),
    };
    // A permit whose fields do not read is refused as an unlimited approval
    // to nobody: it is safer to over-count than to wave it through.
    approvals
        .into_iter()
        .map(|approval| {
            approval.unwrap_or(Approval {
                token: Address::ZERO,
                spender: Address::ZERO,
                amount: U256::MAX,
            })
        })
        .collect()
}

fn address(value: &Value) -> Option<Address> {
    value.as_str()?.parse().ok()
}

/// A `uint256` as EIP-712 JSON writes it: a number, or a decimal or 0x-hex string.
pub(crate) fn uint(value: &Value) -> Option<U256> {
    match value {
        Value::Number(number) => number.as_u64().map(U256::from),
        Value::String(text) => text.parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const TOKEN: &str = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
    const SPENDER: &str = "0x000000000022D473030F116dDEE9F6B43aC78BA3";

    fn typed(primary: &str, message: Value) -> SignPayload {
        SignPayload::TypedData(json!({
            "primaryType": primary,
            "domain": {"name": "Token", "chainId": 1, "verifyingContract": TOKEN},
            "message": message,
        }))
    }

    #[test]
    fn an_eip2612_permit_approves_the_verifying_contracts_token() {
        let effects = Effects::of(&typed(
            "Permit",
            json!({"owner": SPENDER, "spender": SPENDER, "value": "1000", "nonce": 0, "deadline": 1}),
        ));
        assert_eq!(
            effects.approvals,
            vec![Approval {
                token: TOKEN.parse().unwrap(),
                spender: SPENDER.parse().unwrap(),
                amount: U256::from(1000),
            }]
        );
    }

    #[test]
    fn permit2_single_and_batch_approve_each_detail() {
        let detail = json!({"token": TOKEN, "amount": "0xffffffffffffffffffffffffffffffffffffffff",
                            "expiration": 1, "nonce": 0});
        let single = Effects::of(&typed(
            "PermitSingle",
            json!({"details": detail, "spender": SPENDER, "sigDeadline": 1}),
        ));
        assert_eq!(single.approvals.len(), 1);
        assert!(single.approvals[0].is_unlimited());
        let batch = Effects::of(&typed(
            "PermitBatch",
            json!({"details": [detail, {"token": TOKEN, "amount": 5}], "spender": SPENDER}),
        ));
        assert_eq!(batch.approvals.len(), 2);
        assert_eq!(batch.approvals[1].amount, U256::from(5));
    }

    #[test]
    fn an_unreadable_permit_counts_as_unlimited_and_other_documents_as_nothing() {
        let broken = Effects::of(&typed("Permit", json!({"spender": "nobody"})));
        assert!(broken.approvals[0].is_unlimited());
        assert_eq!(Effects::of(&typed("Mail", json!({}))), Effects::default());
    }
}
