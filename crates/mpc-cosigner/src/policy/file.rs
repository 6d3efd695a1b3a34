//! The policy file: TOML with the global rules at the top level and a
//! `[wallets."<id>"]` table per wallet that overrides them. Unknown keys are
//! errors, and so are values that do not read (an address, an amount, a
//! selector): every error names the file and the line.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use mpc_evm::{parse_amount, Address, Selector, U256};
use serde::Deserialize;
use toml::Spanned;

use super::rules::{
    ContractRule, DomainRule, MessageRules, Rules, TokenLimit, TokenRules, TxRules, TypedDataRules,
};

/// A policy file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("{}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Not TOML, an unknown key, a value of the wrong type: toml's message
    /// names the line and column.
    #[error("{}: {message}", path.display())]
    Syntax { path: PathBuf, message: String },
    /// A value of the right type that does not mean anything.
    #[error("{}, line {line}: {key}: {reason}", path.display())]
    Value {
        path: PathBuf,
        line: usize,
        key: &'static str,
        reason: String,
    },
}

impl FileError {
    /// The 1-based line the error is on, when it is a value's.
    pub fn line(&self) -> Option<usize> {
        match self {
            FileError::Value { line, .. } => Some(*line),
            FileError::Read { .. } | FileError::Syntax { .. } => None,
        }
    }
}

/// A validated policy file: the global rules and each wallet's effective rules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyFile {
    pub global: Rules,
    /// Global rules overlaid with the wallet's table.
    pub wallets: BTreeMap<String, Rules>,
}

impl PolicyFile {
    pub fn load(path: &Path) -> Result<PolicyFile, FileError> {
        let text = std::fs::read_to_string(path).map_err(|source| FileError::Read {
            path: path.to_owned(),
            source,
        })?;
        PolicyFile::parse(path, &text)
    }

    /// Parses `text`; `path` is only for the errors.
    pub fn parse(path: &Path, text: &str) -> Result<PolicyFile, FileError> {
        let doc: RulesDoc = toml::from_str(text).map_err(|error| FileError::Syntax {
            path: path.to_owned(),
            message: error.to_string().trim_end().to_owned(),
        })?;
        let reader = Reader { path, text };
        let global = reader.rules(&doc)?;
        let mut wallets = BTreeMap::new();
        for (id, table) in doc.wallets.iter().flat_map(|w| w.get_ref()) {
            if let Some(nested) = &table.wallets {
                return Err(reader.error(
                    nested.span(),
                    "wallets",
                    format!("the table of wallet {id:?} cannot hold wallets of its own"),
                ));
            }
            wallets.insert(id.clone(), global.overlay(&reader.rules(table)?));
        }
        Ok(PolicyFile { global, wallets })
    }

    /// The rules in force for `wallet_id`.
    pub fn rules(&self, wallet_id: &str) -> &Rules {
        self.wallets.get(wallet_id).unwrap_or(&self.global)
    }
}

type Text = Spanned<String>;

/// The file, and each wallet's table: the same keys (a wallet's table
/// holding `wallets` of its own is refused).
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RulesDoc {
    wallets: Option<Spanned<BTreeMap<String, RulesDoc>>>,
    #[serde(default)]
    tx: TxDoc,
    #[serde(default)]
    tokens: TokensDoc,
    #[serde(default)]
    message: MessageRules,
    #[serde(default)]
    typed_data: TypedDataDoc,
    max_signatures_per_minute: Option<u32>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct TxDoc {
    chain_ids: Option<Vec<u64>>,
    max_value: Option<Text>,
    daily_limit: Option<Text>,
    recipients_allow: Option<Vec<Text>>,
    recipients_deny: Option<Vec<Text>>,
    contracts: Option<Vec<ContractDoc>>,
    allow_contract_creation: Option<bool>,
    delegates: Option<Vec<Text>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ContractDoc {
    address: Text,
    selectors: Option<Vec<Text>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct TokensDoc {
    spenders: Option<Vec<Text>>,
    allow_unlimited_approval: Option<bool>,
    daily_limits: Option<Vec<TokenLimitDoc>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenLimitDoc {
    token: Text,
    limit: Text,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct TypedDataDoc {
    domains: Option<Vec<DomainDoc>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DomainDoc {
    name: Option<String>,
    chain_id: Option<u64>,
    verifying_contract: Option<Text>,
    primary_types: Option<Vec<String>>,
}

/// Turns the documents into rules, with errors that name the line.
struct Reader<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Reader<'_> {
    fn rules(&self, doc: &RulesDoc) -> Result<Rules, FileError> {
        let tx = &doc.tx;
        Ok(Rules {
            tx: TxRules {
                chain_ids: tx.chain_ids.clone(),
                max_value: self.opt(&tx.max_value, "tx.max_value", Self::amount)?,
                daily_limit: self.opt(&tx.daily_limit, "tx.daily_limit", Self::amount)?,
                recipients_allow: self.addresses(&tx.recipients_allow, "tx.recipients_allow")?,
                recipients_deny: self.addresses(&tx.recipients_deny, "tx.recipients_deny")?,
                contracts: tx
                    .contracts
                    .as_ref()
                    .map(|contracts| contracts.iter().map(|c| self.contract(c)).collect())
                    .transpose()?,
                allow_contract_creation: tx.allow_contract_creation,
                delegates: self.addresses(&tx.delegates, "tx.delegates")?,
            },
            tokens: TokenRules {
                spenders: self.addresses(&doc.tokens.spenders, "tokens.spenders")?,
                allow_unlimited_approval: doc.tokens.allow_unlimited_approval,
                daily_limits: doc
                    .tokens
                    .daily_limits
                    .as_ref()
                    .map(|limits| {
                        limits
                            .iter()
                            .map(|limit| {
                                Ok(TokenLimit {
                                    token: self
                                        .address(&limit.token, "tokens.daily_limits.token")?,
                                    limit: self
                                        .amount(&limit.limit, "tokens.daily_limits.limit")?,
                                })
                            })
                            .collect()
                    })
                    .transpose()?,
            },
            message: doc.message.clone(),
            typed_data: TypedDataRules {
                domains: doc
                    .typed_data
                    .domains
                    .as_ref()
                    .map(|domains| domains.iter().map(|d| self.domain(d)).collect())
                    .transpose()?,
            },
            max_signatures_per_minute: doc.max_signatures_per_minute,
        })
    }

    fn contract(&self, doc: &ContractDoc) -> Result<ContractRule, FileError> {
        Ok(ContractRule {
            address: self.address(&doc.address, "tx.contracts.address")?,
            selectors: doc
                .selectors
                .as_ref()
                .map(|selectors| {
                    selectors
                        .iter()
                        .map(|s| self.selector(s, "tx.contracts.selectors"))
                        .collect()
                })
                .transpose()?,
        })
    }

    fn domain(&self, doc: &DomainDoc) -> Result<DomainRule, FileError> {
        Ok(DomainRule {
            name: doc.name.clone(),
            chain_id: doc.chain_id,
            verifying_contract: self.opt(
                &doc.verifying_contract,
                "typed_data.domains.verifying_contract",
                Self::address,
            )?,
            primary_types: doc.primary_types.clone(),
        })
    }

    fn opt<T>(
        &self,
        value: &Option<Text>,
        key: &'static str,
        read: impl Fn(&Self, &Text, &'static str) -> Result<T, FileError>,
    ) -> Result<Option<T>, FileError> {
        value.as_ref().map(|v| read(self, v, key)).transpose()
    }

    fn addresses(
        &self,
        values: &Option<Vec<Text>>,
        key: &'static str,
    ) -> Result<Option<Vec<Address>>, FileError> {
        values
            .as_ref()
            .map(|values| values.iter().map(|v| self.address(v, key)).collect())
            .transpose()
    }

    fn address(&self, value: &Text, key: &'static str) -> Result<Address, FileError> {
        let text = value.get_ref();
        // Mixed case must be a valid EIP-55 checksum: a typo in a checksummed
        // address is caught, not silently allowed.
        let digits = text.get(2..).unwrap_or_default();
        let parsed = match digits.chars().any(|c| c.is_ascii_uppercase()) {
            true => Address::parse_checksummed(text, None).ok(),
            false => text.parse().ok(),
        };
        parsed.ok_or_else(|| {
            self.error(
                value.span(),
                key,
                format!(
                    "{text:?} is not an address (0x and 40 hex digits, checksummed or lower-case)"
                ),
            )
        })
    }

    fn amount(&self, value: &Text, key: &'static str) -> Result<U256, FileError> {
        parse_amount(value.get_ref()).map_err(|reason| self.error(value.span(), key, reason))
    }

    fn selector(&self, value: &Text, key: &'static str) -> Result<Selector, FileError> {
        let text = value.get_ref();
        match text.strip_prefix("0x").map(hex::decode) {
            Some(Ok(bytes)) if bytes.len() == 4 => Ok(Selector::from_slice(&bytes)),
            _ => Err(self.error(
                value.span(),
                key,
                format!("{text:?} is not a 4-byte selector (0x and 8 hex digits)"),
            )),
        }
    }

    fn error(&self, span: Range<usize>, key: &'static str, reason: String) -> FileError {
        FileError::Value {
            path: self.path.to_owned(),
            line: 1 + self.text[..span.start].matches('\n').count(),
            key,
            reason,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<PolicyFile, FileError> {
        PolicyFile::parse(Path::new("policy.toml"), text)
    }

    #[test]
    fn global_rules_apply_and_a_wallet_table_overrides_only_what_it_sets() {
        let file = parse(
            r#"
max_signatures_per_minute = 10
[tx]
chain_ids = [11155111]
max_value = "0.5ether"
daily_limit = "1ether"
[[tx.contracts]]
address = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
selectors = ["0xa9059cbb"]
[wallets."w1".tx]
daily_limit = "2ether"
"#,
        )
        .unwrap();
        let ether = U256::from(10u64.pow(18));
        assert_eq!(file.global.tx.daily_limit, Some(ether));
        let w1 = file.rules("w1");
        assert_eq!(w1.tx.daily_limit, Some(ether * U256::from(2)));
        assert_eq!(w1.tx.max_value, Some(ether / U256::from(2)));
        assert_eq!(w1.max_signatures_per_minute, Some(10));
        assert_eq!(w1.tx.contracts, file.global.tx.contracts);
        assert_eq!(file.rules("another"), &file.global);
    }

    #[test]
    fn an_unknown_key_is_refused_with_its_line() {
        let error = parse("[tx]\nchain_ids = [1]\nmax_valu = \"1\"\n").unwrap_err();
        let message = error.to_string();
        assert!(matches!(error, FileError::Syntax { .. }), "{message}");
        assert!(message.contains("line 3"), "{message}");
        assert!(message.contains("max_valu"), "{message}");
    }

    #[test]
    fn a_bad_address_amount_or_selector_names_its_line_and_key() {
        let cases = [
            ("[tx]\n\nrecipients_deny = [\"0x1234\"]\n", 3, "tx.recipients_deny"),
            // A checksum typo (last digit's case) is caught.
            (
                "[tokens]\nspenders = [\n  \"0x000000000022D473030F116dDEE9F6B43aC78BA3\",\n  \"0x000000000022D473030F116dDEE9F6B43aC78Ba3\",\n]\n",
                4,
                "tokens.spenders",
            ),
            ("[tx]\nmax_value = \"1 bitcoin\"\n", 2, "tx.max_value"),
            (
                "[[tx.contracts]]\naddress = \"0x5fbdb2315678afecb367f032d93f642f64180aa3\"\nselectors = [\"0xa9059c\"]\n",
                3,
                "tx.contracts.selectors",
            ),
            (
                "[wallets.w1.typed_data]\n[[wallets.w1.typed_data.domains]]\nverifying_contract = \"nope\"\n",
                3,
                "typed_data.domains.verifying_contract",
            ),
        ];
        for (text, line, key) in cases {
            let error = parse(text).unwrap_err();
            assert_eq!(error.line(), Some(line), "{error}");
            assert!(error.to_string().contains(key), "{error}");
            assert!(
                error.to_string().contains(&format!("line {line}")),
                "{error}"
            );
        }
    }

    #[test]
    fn a_wallet_table_cannot_hold_wallets() {
        let error = parse("[wallets.w1]\n[wallets.w1.wallets.w2]\n").unwrap_err();
        assert!(error.line().is_some(), "{error}");
        assert!(error.to_string().contains("cannot hold wallets"), "{error}");
    }

    #[test]
    fn a_value_of_the_wrong_type_names_its_line() {
        let error = parse("[message]\nallowed = \"yes\"\n").unwrap_err();
        assert!(error.to_string().contains("line 2"), "{error}");
    }
}
