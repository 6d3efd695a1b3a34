//! The rules of the co-signer's policy, as the refusals name them. On the
//! wire a rule is its dotted name (the policy file's key, so an operator
//! finds it there); in code it is this enum.

use std::fmt;

/// A rule of the co-signer's policy that can refuse a signature.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PolicyRule {
    /// `tx.chain_ids`: the transaction's chain is not allowed.
    ChainIds,
    /// `tx.max_value`: more native value than one transaction may move.
    MaxValue,
    /// `tx.daily_limit`: native value plus gas over the rolling 24 h limit.
    DailyLimit,
    /// `tx.recipients_allow`: a recipient not on the allowlist.
    RecipientsAllow,
    /// `tx.recipients_deny`: a recipient on the denylist.
    RecipientsDeny,
    /// `tx.contracts`: a call to a contract or selector not allowed.
    Contracts,
    /// `tx.allow_contract_creation`: contract creation is off.
    ContractCreation,
    /// `tx.delegates`: an EIP-7702 delegate not on the allowlist.
    Delegates,
    /// `max_signatures_per_minute`: too many signatures for the wallet.
    SignaturesPerMinute,
    /// `tokens.daily_limits`: an ERC-20 amount over the token's 24 h limit.
    TokenDailyLimit,
    /// `tokens.spenders`: an approval or permit for a spender not allowed.
    TokenSpenders,
    /// `tokens.allow_unlimited_approval`: an unlimited approval or permit.
    UnlimitedApproval,
    /// `message.allowed`: personal messages are not signed.
    MessageAllowed,
    /// `message.max_length`: a personal message longer than allowed.
    MessageMaxLength,
    /// `typed_data.chain_id`: an EIP-712 domain for another chain.
    TypedDataChainId,
    /// `typed_data.domains`: an EIP-712 domain or primary type not allowed.
    TypedDataDomains,
    /// A rule of an operator's own policy (`mpc_cosigner::policy::Policy`), by its name.
    Other(String),
}

impl PolicyRule {
    const BUILT_IN: [PolicyRule; 16] = [
        PolicyRule::ChainIds,
        PolicyRule::MaxValue,
        PolicyRule::DailyLimit,
        PolicyRule::RecipientsAllow,
        PolicyRule::RecipientsDeny,
        PolicyRule::Contracts,
        PolicyRule::ContractCreation,
        PolicyRule::Delegates,
        PolicyRule::SignaturesPerMinute,
        PolicyRule::TokenDailyLimit,
        PolicyRule::TokenSpenders,
        PolicyRule::UnlimitedApproval,
        PolicyRule::MessageAllowed,
        PolicyRule::MessageMaxLength,
        PolicyRule::TypedDataChainId,
        PolicyRule::TypedDataDomains,
    ];

    /// The rule's name on the wire and in the policy file.
    pub fn as_str(&self) -> &str {
        match self {
            PolicyRule::ChainIds => "tx.chain_ids",
            PolicyRule::MaxValue => "tx.max_value",
            PolicyRule::DailyLimit => "tx.daily_limit",
            PolicyRule::RecipientsAllow => "tx.recipients_allow",
            PolicyRule::RecipientsDeny => "tx.recipients_deny",
            PolicyRule::Contracts => "tx.contracts",
            PolicyRule::ContractCreation => "tx.allow_contract_creation",
            PolicyRule::Delegates => "tx.delegates",
            PolicyRule::SignaturesPerMinute => "max_signatures_per_minute",
            PolicyRule::TokenDailyLimit => "tokens.daily_limits",
            PolicyRule::TokenSpenders => "tokens.spenders",
            PolicyRule::UnlimitedApproval => "tokens.allow_unlimited_approval",
            PolicyRule::MessageAllowed => "message.allowed",
            PolicyRule::MessageMaxLength => "message.max_length",
            PolicyRule::TypedDataChainId => "typed_data.chain_id",
            PolicyRule::TypedDataDomains => "typed_data.domains",
            PolicyRule::Other(name) => name,
        }
    }

    /// The rule a wire name names; an unknown name is an operator's rule.
    pub fn from_wire(name: &str) -> PolicyRule {
        Self::BUILT_IN
            .into_iter()
            .find(|known| known.as_str() == name)
            .unwrap_or_else(|| PolicyRule::Other(name.to_owned()))
    }
}

/// A policy refusal as data: the rule and the value that broke it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyViolation {
    /// The rule that refused.
    pub rule: PolicyRule,
    /// The offending value, as the message shows it (`1.2 ETH`).
    pub value: String,
}

impl fmt::Display for PolicyRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::PolicyRule;

    #[test]
    fn every_rule_round_trips_through_its_wire_name() {
        for rule in PolicyRule::BUILT_IN {
            assert_eq!(PolicyRule::from_wire(rule.as_str()), rule);
        }
        assert_eq!(
            PolicyRule::from_wire("acme.office_hours"),
            PolicyRule::Other("acme.office_hours".into())
        );
    }
}
