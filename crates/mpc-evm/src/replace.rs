//! Replacement transactions: the same nonce with higher fees, to speed a
//! pending transaction up or to cancel it.

use alloy::primitives::{Address, Bytes, TxKind, U256};

use crate::tx::{Fees, TxRequest};

/// Gas of a plain ether transfer, which a cancellation is.
const TRANSFER_GAS: u64 = 21_000;

/// Raises a fee by 1/8 (12.5%, rounded up, at least 1 wei): geth, reth and
/// anvil replace a pending transaction only for at least 10% more on both
/// the fee cap and the tip.
fn bump(fee: u128) -> u128 {
    fee.saturating_add(fee.div_ceil(8).max(1))
}

/// The fees a replacement pays: each of the original's raised by 12.5%, or
/// the node's current suggestion where that is higher. Legacy stays legacy.
pub fn replacement_fees(original: Fees, current: Fees) -> Fees {
    match original {
        Fees::Legacy { gas_price } => Fees::Legacy {
            gas_price: bump(gas_price).max(current.max_fee_per_gas()),
        },
        Fees::Eip1559 {
            max_fee_per_gas,
            max_priority_fee_per_gas,
        } => {
            let current_tip = match current {
                Fees::Eip1559 {
                    max_priority_fee_per_gas,
                    ..
                } => max_priority_fee_per_gas,
                Fees::Legacy { .. } => 0,
            };
            let tip = bump(max_priority_fee_per_gas).max(current_tip);
            Fees::Eip1559 {
                // The cap never falls below the tip it has to pay.
                max_fee_per_gas: bump(max_fee_per_gas)
                    .max(current.max_fee_per_gas())
                    .max(tip),
                max_priority_fee_per_gas: tip,
            }
        }
    }
}

impl TxRequest {
    /// The same transaction with [`replacement_fees`]: mined in its place.
    pub fn speed_up(&self, current: Fees) -> TxRequest {
        TxRequest {
            fees: replacement_fees(self.fees, current),
            ..self.clone()
        }
    }

    /// A 0-value transfer from `from` to itself with the same nonce and
    /// [`replacement_fees`]: once mined, the original can never be.
    pub fn cancellation(&self, from: Address, current: Fees) -> TxRequest {
        TxRequest {
            chain_id: self.chain_id,
            nonce: self.nonce,
            to: TxKind::Call(from),
            value: U256::ZERO,
            gas_limit: TRANSFER_GAS,
            fees: replacement_fees(self.fees, current),
            data: Bytes::new(),
            // An EIP-1559 transfer; legacy (type 0) for a legacy original.
            access_list: None,
            authorization_list: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_fee_rises_by_at_least_an_eighth_or_to_the_current_suggestion() {
        let original = Fees::Eip1559 {
            max_fee_per_gas: 800,
            max_priority_fee_per_gas: 0,
        };
        let low = Fees::Eip1559 {
            max_fee_per_gas: 10,
            max_priority_fee_per_gas: 0,
        };
        assert_eq!(
            replacement_fees(original, low),
            Fees::Eip1559 {
                max_fee_per_gas: 900,
                max_priority_fee_per_gas: 1
            }
        );
        let high = Fees::Eip1559 {
            max_fee_per_gas: 5000,
            max_priority_fee_per_gas: 7,
        };
        assert_eq!(
            replacement_fees(original, high),
            Fees::Eip1559 {
                max_fee_per_gas: 5000,
                max_priority_fee_per_gas: 7
            }
        );
        assert_eq!(
            replacement_fees(Fees::Legacy { gas_price: 9 }, low),
            Fees::Legacy { gas_price: 11 }
        );
    }
}
