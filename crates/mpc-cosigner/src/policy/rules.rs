//! The built-in rules, validated from the policy file. Every field is
//! optional: unset means "no such rule" (or the default named on it), and a
//! wallet's override replaces a global field it sets ([`Rules::overlay`]).

use mpc_evm::{Address, SignPayload, TxKind, U256};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

use super::effects::uint;
use super::{eth, Policy, PolicyRule, Refusal, Request};
pub use mpc_evm::Selector;

/// The rules for one wallet.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Rules {
    pub tx: TxRules,
    pub tokens: TokenRules,
    pub message: MessageRules,
    pub typed_data: TypedDataRules,
    /// Signatures of any kind per wallet per rolling minute.
    pub max_signatures_per_minute: Option<u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TxRules {
    pub chain_ids: Option<Vec<u64>>,
    #[serde(serialize_with = "wei")]
    pub max_value: Option<U256>,
    /// Native value plus gas at the max fee, per rolling 24 h.
    #[serde(serialize_with = "wei")]
    pub daily_limit: Option<U256>,
    /// Recipients of value and of ERC-20 transfers; others are refused.
    pub recipients_allow: Option<Vec<Address>>,
    pub recipients_deny: Option<Vec<Address>>,
    /// Contracts (and selectors) a transaction with call data may call.
    pub contracts: Option<Vec<ContractRule>>,
    /// Default true.
    pub allow_contract_creation: Option<bool>,
    /// EIP-7702 delegates an authorization may name.
    pub delegates: Option<Vec<Address>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContractRule {
    pub address: Address,
    /// Unset: any function of the contract.
    pub selectors: Option<Vec<Selector>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TokenRules {
    /// Spenders an approval or permit may name.
    pub spenders: Option<Vec<Address>>,
    /// Default true.
    pub allow_unlimited_approval: Option<bool>,
    pub daily_limits: Option<Vec<TokenLimit>>,
}

/// A token's 24 h limit, in its base units, over transfers and approvals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenLimit {
    pub token: Address,
    #[serde(serialize_with = "units")]
    pub limit: U256,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageRules {
    /// Default true.
    pub allowed: Option<bool>,
    /// In bytes.
    pub max_length: Option<usize>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TypedDataRules {
    pub domains: Option<Vec<DomainRule>>,
}

/// An allowed EIP-712 domain: each field set must match.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DomainRule {
    pub name: Option<String>,
    pub chain_id: Option<u64>,
    pub verifying_contract: Option<Address>,
    pub primary_types: Option<Vec<String>>,
}

/// The override's value if it sets one, the base's otherwise.
fn pick<T: Clone>(over: &Option<T>, base: &Option<T>) -> Option<T> {
    over.as_ref().or(base.as_ref()).cloned()
}

impl Rules {
    /// These rules with every field that `over` sets replaced.
    pub fn overlay(&self, over: &Rules) -> Rules {
        let (tx, otx) = (&self.tx, &over.tx);
        Rules {
            tx: TxRules {
                chain_ids: pick(&otx.chain_ids, &tx.chain_ids),
                max_value: pick(&otx.max_value, &tx.max_value),
                daily_limit: pick(&otx.daily_limit, &tx.daily_limit),
                recipients_allow: pick(&otx.recipients_allow, &tx.recipients_allow),
                recipients_deny: pick(&otx.recipients_deny, &tx.recipients_deny),
                contracts: pick(&otx.contracts, &tx.contracts),
                allow_contract_creation: pick(
                    &otx.allow_contract_creation,
                    &tx.allow_contract_creation,
                ),
                delegates: pick(&otx.delegates, &tx.delegates),
            },
            tokens: TokenRules {
                spenders: pick(&over.tokens.spenders, &self.tokens.spenders),
                allow_unlimited_approval: pick(
                    &over.tokens.allow_unlimited_approval,
                    &self.tokens.allow_unlimited_approval,
                ),
                daily_limits: pick(&over.tokens.daily_limits, &self.tokens.daily_limits),
            },
            message: MessageRules {
                allowed: pick(&over.message.allowed, &self.message.allowed),
                max_length: pick(&over.message.max_length, &self.message.max_length),
            },
            typed_data: TypedDataRules {
                domains: pick(&over.typed_data.domains, &self.typed_data.domains),
            },
            max_signatures_per_minute: pick(
                &over.max_signatures_per_minute,
                &self.max_signatures_per_minute,
            ),
        }
    }
}

impl Policy for Rules {
    fn check(&self, request: &Request<'_>) -> Result<(), Refusal> {
        self.check_rate(request)?;
        match request.payload {
            SignPayload::Transaction(_) | SignPayload::UnsignedTransaction(_) => {
                self.check_transaction(request)?
            }
            SignPayload::PersonalMessage(message) => self.message.check(message)?,
            SignPayload::TypedData(document) => {
                self.typed_data.check(document, request.chain_id)?
            }
            SignPayload::Authorization(_) => {}
        }
        self.check_delegates(request)?;
        self.check_tokens(request)
    }
}

impl Rules {
    fn check_rate(&self, request: &Request<'_>) -> Result<(), Refusal> {
        let Some(max) = self.max_signatures_per_minute else {
            return Ok(());
        };
        let count = request.history.last_minute + 1;
        if count > max as usize {
            return Err(Refusal::new(
                PolicyRule::SignaturesPerMinute,
                count.to_string(),
                format!("{count} signatures in a minute would exceed {max}"),
            ));
        }
        Ok(())
    }

    fn check_transaction(&self, request: &Request<'_>) -> Result<(), Refusal> {
        let tx = request
            .payload
            .transaction()
            .expect("a transaction payload");
        let rules = &self.tx;
        if let Some(allowed) = &rules.chain_ids {
            if !allowed.contains(&tx.chain_id) {
                return Err(Refusal::new(
                    PolicyRule::ChainIds,
                    tx.chain_id.to_string(),
                    format!("chain {} is not in {allowed:?}", tx.chain_id),
                ));
            }
        }
        if let Some(max) = rules.max_value {
            if tx.value > max {
                return Err(Refusal::new(
                    PolicyRule::MaxValue,
                    eth(tx.value),
                    format!("{} in one transaction is above {}", eth(tx.value), eth(max)),
                ));
            }
        }
        if let Some(limit) = rules.daily_limit {
            let total = request
                .history
                .native
                .saturating_add(request.effects.native_spend);
            if total > limit {
                return Err(Refusal::new(
                    PolicyRule::DailyLimit,
                    eth(total),
                    format!("{} spent in 24 h would exceed {}", eth(total), eth(limit)),
                ));
            }
        }
        match tx.to {
            TxKind::Create => {
                if rules.allow_contract_creation == Some(false) {
                    return Err(Refusal::new(
                        PolicyRule::ContractCreation,
                        "contract creation",
                        "contract creation is not allowed",
                    ));
                }
            }
            TxKind::Call(to) => {
                // Value goes to `to`; a call without value is the contracts rule's.
                if !tx.value.is_zero() || tx.data.is_empty() {
                    rules.check_recipient(to)?;
                }
                if !tx.data.is_empty() {
                    rules.check_contract(to, &tx.data)?;
                }
            }
        }
        for transfer in &request.effects.transfers {
            rules.check_recipient(transfer.to)?;
        }
        Ok(())
    }

    fn check_delegates(&self, request: &Request<'_>) -> Result<(), Refusal> {
        let Some(allowed) = &self.tx.delegates else {
            return Ok(());
        };
        match request
            .effects
            .delegates
            .iter()
            .find(|delegate| !allowed.contains(delegate))
        {
            Some(delegate) => Err(Refusal::new(
                PolicyRule::Delegates,
                delegate.to_checksum(None),
                format!("EIP-7702 delegate {delegate} is not allowed"),
            )),
            None => Ok(()),
        }
    }

    fn check_tokens(&self, request: &Request<'_>) -> Result<(), Refusal> {
        let rules = &self.tokens;
        for approval in &request.effects.approvals {
            if let Some(spenders) = &rules.spenders {
                if !spenders.contains(&approval.spender) {
                    return Err(Refusal::new(
                        PolicyRule::TokenSpenders,
                        approval.spender.to_checksum(None),
                        format!(
                            "spender {} may not be approved for token {}",
                            approval.spender, approval.token
                        ),
                    ));
                }
            }
            if approval.is_unlimited() && rules.allow_unlimited_approval == Some(false) {
                return Err(Refusal::new(
                    PolicyRule::UnlimitedApproval,
                    approval.amount.to_string(),
                    format!(
                        "an unlimited approval of token {} to {} is not allowed",
                        approval.token, approval.spender
                    ),
                ));
            }
        }
        for limit in rules.daily_limits.iter().flatten() {
            let amount = request
                .effects
                .token_amounts()
                .filter(|(token, _)| *token == limit.token)
                .fold(U256::ZERO, |sum, (_, amount)| sum.saturating_add(amount));
            if amount.is_zero() {
                continue;
            }
            let total = request.history.token(&limit.token).saturating_add(amount);
            if total > limit.limit {
                return Err(Refusal::new(
                    PolicyRule::TokenDailyLimit,
                    total.to_string(),
                    format!(
                        "{total} of token {} in 24 h would exceed {}",
                        limit.token, limit.limit
                    ),
                ));
            }
        }
        Ok(())
    }
}

impl TxRules {
    fn check_recipient(&self, to: Address) -> Result<(), Refusal> {
        let refuse = |rule, detail: &str| {
            Err(Refusal::new(
                rule,
                to.to_checksum(None),
                format!("recipient {to} {detail}"),
            ))
        };
        if self
            .recipients_deny
            .iter()
            .flatten()
            .any(|denied| *denied == to)
        {
            return refuse(PolicyRule::RecipientsDeny, "is denied");
        }
        match &self.recipients_allow {
            Some(allowed) if !allowed.contains(&to) => {
                refuse(PolicyRule::RecipientsAllow, "is not on the allowlist")
            }
            _ => Ok(()),
        }
    }

    fn check_contract(&self, to: Address, data: &[u8]) -> Result<(), Refusal> {
        let Some(contracts) = &self.contracts else {
            return Ok(());
        };
        let selector = data.get(..4).map(Selector::from_slice);
        let allowed = contracts.iter().any(|contract| {
            contract.address == to
                && match (&contract.selectors, selector) {
                    (None, _) => true,
                    (Some(selectors), Some(selector)) => selectors.contains(&selector),
                    (Some(_), None) => false,
                }
        });
        if allowed {
            return Ok(());
        }
        let call = match selector {
            Some(selector) => format!("{to}.{selector}"),
            None => to.to_string(),
        };
        Err(Refusal::new(
            PolicyRule::Contracts,
            call.clone(),
            format!("the call {call} is not on the contract allowlist"),
        ))
    }
}

impl MessageRules {
    fn check(&self, message: &[u8]) -> Result<(), Refusal> {
        if self.allowed == Some(false) {
            return Err(Refusal::new(
                PolicyRule::MessageAllowed,
                "personal message",
                "personal messages are not signed",
            ));
        }
        match self.max_length {
            Some(max) if message.len() > max => Err(Refusal::new(
                PolicyRule::MessageMaxLength,
                message.len().to_string(),
                format!("a message of {} bytes is longer than {max}", message.len()),
            )),
            _ => Ok(()),
        }
    }
}

impl TypedDataRules {
    fn check(&self, document: &Value, chain_id: u64) -> Result<(), Refusal> {
        let domain = &document["domain"];
        // Without this, a signature made for one chain is valid on another.
        let domain_chain = uint(&domain["chainId"]).and_then(|id| u64::try_from(id).ok());
        if domain_chain != Some(chain_id) {
            let shown = domain_chain.map_or("none".to_owned(), |id| id.to_string());
            return Err(Refusal::new(
                PolicyRule::TypedDataChainId,
                shown.clone(),
                format!(
                    "the EIP-712 domain's chainId {shown} is not the wallet's chain {chain_id}"
                ),
            ));
        }
        let Some(domains) = &self.domains else {
            return Ok(());
        };
        let name = domain["name"].as_str();
        let contract: Option<Address> = domain["verifyingContract"]
            .as_str()
            .and_then(|text| text.parse().ok());
        let primary = document["primaryType"].as_str();
        let allowed = domains.iter().any(|rule| {
            rule.name.as_deref().is_none_or(|n| Some(n) == name)
                && rule.chain_id.is_none_or(|id| Some(id) == domain_chain)
                && rule.verifying_contract.is_none_or(|c| Some(c) == contract)
                && rule
                    .primary_types
                    .as_ref()
                    .is_none_or(|types| primary.is_some_and(|p| types.iter().any(|t| t == p)))
        });
        if allowed {
            return Ok(());
        }
        let shown = format!(
            "{} / {} / {}",
            name.unwrap_or("-"),
            contract.map_or("-".to_owned(), |c| c.to_checksum(None)),
            primary.unwrap_or("-")
        );
        Err(Refusal::new(
            PolicyRule::TypedDataDomains,
            shown.clone(),
            format!("the EIP-712 domain and type {shown} (name / verifyingContract / primaryType) are not allowed"),
        ))
    }
}

/// Native amounts in `policy show`: wei, as a decimal string.
fn wei<S: Serializer>(amount: &Option<U256>, serializer: S) -> Result<S::Ok, S::Error> {
    amount.map(|wei| wei.to_string()).serialize(serializer)
}

fn units<S: Serializer>(amount: &U256, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&amount.to_string())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use mpc_evm::erc20::{transfer_calldata, TokenCall};
    use mpc_evm::{AuthorizationRequest, Fees, TxRequest};
    use serde_json::json;

    use super::*;
    use crate::policy::{Effects, History, PolicyFile};

    const CHAIN: u64 = 11_155_111;
    const ALICE: Address = Address::repeat_byte(0x35);
    const BOB: Address = Address::repeat_byte(0x44);
    const TOKEN: &str = "0x5fbdb2315678afecb367f032d93f642f64180aa3";
    const ETHER: u128 = 1_000_000_000_000_000_000;
    const GWEI: u128 = 1_000_000_000;

    fn rules(text: &str) -> Rules {
        PolicyFile::parse(Path::new("policy.toml"), text)
            .unwrap()
            .global
    }

    fn tx(to: TxKind, value: u128, data: Vec<u8>) -> SignPayload {
        SignPayload::Transaction(TxRequest {
            chain_id: CHAIN,
            nonce: 0,
            to,
            value: U256::from(value),
            gas_limit: 100_000,
            fees: Fees::Eip1559 {
                max_fee_per_gas: 2 * GWEI,
                max_priority_fee_per_gas: GWEI,
            },
            data: data.into(),
            access_list: None,
            authorization_list: None,
        })
    }

    fn pay(value: u128) -> SignPayload {
        tx(TxKind::Call(ALICE), value, Vec::new())
    }

    fn token() -> Address {
        TOKEN.parse().unwrap()
    }

    fn check_with(rules: &Rules, payload: &SignPayload, history: &History) -> Result<(), Refusal> {
        let effects = Effects::of(payload);
        rules.check(&Request {
            wallet_id: "w",
            chain_id: CHAIN,
            payload,
            effects: &effects,
            history,
        })
    }

    /// The rule that refuses `payload` under `rules`, if any.
    fn refused(rules: &Rules, payload: &SignPayload) -> Option<PolicyRule> {
        check_with(rules, payload, &History::default())
            .err()
            .map(|r| r.rule)
    }

    #[test]
    fn no_rules_refuse_nothing_but_a_typed_data_domain_for_another_chain() {
        let none = Rules::default();
        assert_eq!(refused(&none, &pay(100 * ETHER)), None);
        assert_eq!(refused(&none, &tx(TxKind::Create, 0, vec![0x60])), None);
        let other_chain = SignPayload::TypedData(json!({"domain": {"chainId": 1}}));
        assert_eq!(
            refused(&none, &other_chain),
            Some(PolicyRule::TypedDataChainId)
        );
        let no_chain = SignPayload::TypedData(json!({"domain": {"name": "x"}}));
        assert_eq!(
            refused(&none, &no_chain),
            Some(PolicyRule::TypedDataChainId)
        );
        let this_chain = SignPayload::TypedData(json!({"domain": {"chainId": "0xaa36a7"}}));
        assert_eq!(refused(&none, &this_chain), None);
    }

    #[test]
    fn chain_ids_and_max_value() {
        let rules = rules("[tx]\nchain_ids = [1]\n");
        assert_eq!(refused(&rules, &pay(1)), Some(PolicyRule::ChainIds));
        let rules = self::rules("[tx]\nmax_value = \"1ether\"\n");
        assert_eq!(refused(&rules, &pay(ETHER)), None);
        let refusal = check_with(&rules, &pay(2 * ETHER), &History::default()).unwrap_err();
        assert_eq!(refusal.rule, PolicyRule::MaxValue);
        assert_eq!(refusal.value, "2 ETH");
        assert_eq!(
            refusal.to_string(),
            "rule tx.max_value: 2 ETH in one transaction is above 1 ETH"
        );
    }

    #[test]
    fn the_daily_limit_counts_the_history_and_gas_at_the_max_fee() {
        let rules = rules("[tx]\ndaily_limit = \"1ether\"\n");
        let history = History {
            native: U256::from(ETHER / 2),
            ..History::default()
        };
        // 0.5 ETH spent + 0.5 ETH value + 100,000 gas × 2 gwei.
        let refusal = check_with(&rules, &pay(ETHER / 2), &history).unwrap_err();
        assert_eq!(refusal.rule, PolicyRule::DailyLimit);
        assert_eq!(
            refusal.to_string(),
            "rule tx.daily_limit: 1.0002 ETH spent in 24 h would exceed 1 ETH"
        );
        assert!(check_with(&rules, &pay(ETHER / 2 - 200_000 * GWEI), &history).is_ok());
    }

    #[test]
    fn recipients_allow_and_deny_apply_to_value_and_to_token_transfers() {
        let rules = rules(&format!(
            "[tx]\nrecipients_allow = [\"{ALICE}\"]\nrecipients_deny = [\"{BOB}\"]\n"
        ));
        assert_eq!(refused(&rules, &pay(1)), None);
        let to_bob = tx(TxKind::Call(BOB), 1, Vec::new());
        assert_eq!(refused(&rules, &to_bob), Some(PolicyRule::RecipientsDeny));
        let carol = Address::repeat_byte(0x55);
        let to_carol = tx(TxKind::Call(carol), 1, Vec::new());
        assert_eq!(
            refused(&rules, &to_carol),
            Some(PolicyRule::RecipientsAllow)
        );
        let data = transfer_calldata(ALICE, U256::from(5)).to_vec();
        assert_eq!(refused(&rules, &tx(TxKind::Call(token()), 0, data)), None);
        let data = transfer_calldata(carol, U256::from(5)).to_vec();
        assert_eq!(
            refused(&rules, &tx(TxKind::Call(token()), 0, data)),
            Some(PolicyRule::RecipientsAllow)
        );
    }

    #[test]
    fn contract_calls_need_the_address_and_selector_and_creation_can_be_off() {
        let rules = rules(&format!(
            "[tx]\nallow_contract_creation = false\n[[tx.contracts]]\naddress = \"{TOKEN}\"\nselectors = [\"0xa9059cbb\"]\n"
        ));
        let transfer = transfer_calldata(ALICE, U256::from(5)).to_vec();
        assert_eq!(
            refused(&rules, &tx(TxKind::Call(token()), 0, transfer.clone())),
            None
        );
        assert_eq!(
            refused(&rules, &tx(TxKind::Call(BOB), 0, transfer)),
            Some(PolicyRule::Contracts)
        );
        let approve = mpc_evm::erc20::approve_calldata(BOB, U256::from(1)).to_vec();
        assert_eq!(
            refused(&rules, &tx(TxKind::Call(token()), 0, approve)),
            Some(PolicyRule::Contracts)
        );
        assert_eq!(
            refused(&rules, &tx(TxKind::Create, 0, vec![0x60])),
            Some(PolicyRule::ContractCreation)
        );
    }

    #[test]
    fn approvals_and_permits_check_spenders_unlimited_amounts_and_token_limits() {
        let rules = rules(&format!(
            "[tokens]\nspenders = [\"{ALICE}\"]\nallow_unlimited_approval = false\n\
             [[tokens.daily_limits]]\ntoken = \"{TOKEN}\"\nlimit = \"1000\"\n"
        ));
        let permit = |spender: Address, value: &str| {
            SignPayload::TypedData(json!({
                "primaryType": "Permit",
                "domain": {"name": "Token", "chainId": CHAIN, "verifyingContract": TOKEN},
                "message": {"owner": ALICE, "spender": spender, "value": value, "nonce": 0, "deadline": 1},
            }))
        };
        assert_eq!(refused(&rules, &permit(ALICE, "10")), None);
        assert_eq!(
            refused(&rules, &permit(BOB, "10")),
            Some(PolicyRule::TokenSpenders)
        );
        assert_eq!(
            refused(&rules, &permit(ALICE, &U256::MAX.to_string())),
            Some(PolicyRule::UnlimitedApproval)
        );
        assert_eq!(
            refused(&rules, &permit(ALICE, "1001")),
            Some(PolicyRule::TokenDailyLimit)
        );
        // Transfers count against the token's limit with the history.
        let history = History {
            tokens: [(token(), U256::from(900))].into(),
            ..History::default()
        };
        let data = transfer_calldata(BOB, U256::from(101)).to_vec();
        let refusal =
            check_with(&rules, &tx(TxKind::Call(token()), 0, data), &history).unwrap_err();
        assert_eq!(refusal.rule, PolicyRule::TokenDailyLimit);
        assert_eq!(refusal.value, "1001");
        assert!(matches!(
            TokenCall::decode(&transfer_calldata(BOB, U256::from(1))),
            Some(TokenCall::Transfer { .. })
        ));
    }

    #[test]
    fn delegates_are_checked_in_authorizations_and_type_4_lists() {
        let rules = rules(&format!("[tx]\ndelegates = [\"{ALICE}\"]\n"));
        let authorization = |address| {
            SignPayload::Authorization(AuthorizationRequest {
                chain_id: CHAIN,
                address,
                nonce: 0,
            })
        };
        assert_eq!(refused(&rules, &authorization(ALICE)), None);
        assert_eq!(
            refused(&rules, &authorization(BOB)),
            Some(PolicyRule::Delegates)
        );
        let signed = AuthorizationRequest {
            chain_id: CHAIN,
            address: BOB,
            nonce: 0,
        }
        .authorization()
        .into_signed(mpc_evm::Signature::new(U256::from(1), U256::from(1), false));
        let SignPayload::Transaction(mut type4) = pay(0) else {
            unreachable!()
        };
        type4.authorization_list = Some(vec![signed]);
        assert_eq!(
            refused(&rules, &SignPayload::Transaction(type4)),
            Some(PolicyRule::Delegates)
        );
    }

    #[test]
    fn messages_can_be_off_or_bounded() {
        let message = |text: &str| SignPayload::PersonalMessage(text.as_bytes().to_vec().into());
        let off = rules("[message]\nallowed = false\n");
        assert_eq!(
            refused(&off, &message("hi")),
            Some(PolicyRule::MessageAllowed)
        );
        let short = rules("[message]\nmax_length = 3\n");
        assert_eq!(refused(&short, &message("abc")), None);
        assert_eq!(
            refused(&short, &message("abcd")),
            Some(PolicyRule::MessageMaxLength)
        );
    }

    #[test]
    fn typed_data_domains_match_every_field_they_set() {
        let rules = rules(&format!(
            "[[typed_data.domains]]\nname = \"Ether Mail\"\nverifying_contract = \"{TOKEN}\"\nprimary_types = [\"Mail\"]\n"
        ));
        let document = |name: &str, primary: &str| {
            SignPayload::TypedData(json!({
                "primaryType": primary,
                "domain": {"name": name, "chainId": CHAIN, "verifyingContract": TOKEN},
            }))
        };
        assert_eq!(refused(&rules, &document("Ether Mail", "Mail")), None);
        assert_eq!(
            refused(&rules, &document("Other", "Mail")),
            Some(PolicyRule::TypedDataDomains)
        );
        assert_eq!(
            refused(&rules, &document("Ether Mail", "Permit")),
            Some(PolicyRule::TypedDataDomains)
        );
    }

    #[test]
    fn the_rate_limit_counts_the_last_minute() {
        let rules = rules("max_signatures_per_minute = 2\n");
        let mut history = History {
            last_minute: 1,
            ..History::default()
        };
        assert!(check_with(&rules, &pay(1), &history).is_ok());
        history.last_minute = 2;
        let refusal = check_with(&rules, &pay(1), &history).unwrap_err();
        assert_eq!(refusal.rule, PolicyRule::SignaturesPerMinute);
    }
}
