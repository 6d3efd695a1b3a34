//! ERC-20 call data, built and read by alloy's ABI coder.

use alloy::primitives::{Address, Bytes, U256};
use alloy::sol;
use alloy::sol_types::SolCall;

sol! {
    /// The standard ERC-20 calls the wallet uses or reads.
    interface IERC20 {
        function transfer(address to, uint256 amount) external returns (bool);
        function transferFrom(address from, address to, uint256 amount) external returns (bool);
        function approve(address spender, uint256 amount) external returns (bool);
        function balanceOf(address owner) external view returns (uint256);
        function decimals() external view returns (uint8);
    }
}

pub use IERC20::{approveCall, balanceOfCall, decimalsCall, transferCall, transferFromCall};

/// `transfer(address,uint256)` call data.
pub fn transfer_calldata(to: Address, amount: U256) -> Bytes {
    transferCall { to, amount }.abi_encode().into()
}

/// `approve(address,uint256)` call data.
pub fn approve_calldata(spender: Address, amount: U256) -> Bytes {
    approveCall { spender, amount }.abi_encode().into()
}

/// `balanceOf(address)` call data, for reading a token balance with `eth_call`.
pub fn balance_of_calldata(owner: Address) -> Bytes {
    balanceOfCall { owner }.abi_encode().into()
}

/// `decimals()` call data: how many decimals the token's amounts have
/// (optional in ERC-20, so a token may revert instead).
pub fn decimals_calldata() -> Bytes {
    decimalsCall {}.abi_encode().into()
}

/// A call that moves or approves a token's amounts, as a policy reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenCall {
    /// `transfer(to, amount)`: the sender's tokens go to `to`.
    Transfer { to: Address, amount: U256 },
    /// `transferFrom(from, to, amount)`: tokens of `from` (who approved the
    /// sender) go to `to`.
    TransferFrom {
        from: Address,
        to: Address,
        amount: U256,
    },
    /// `approve(spender, amount)`: `spender` may move up to `amount`.
    Approve { spender: Address, amount: U256 },
}

impl TokenCall {
    /// Decodes call data that is exactly one of the three calls (selector
    /// and ABI-valid arguments); anything else is `None`.
    pub fn decode(data: &[u8]) -> Option<TokenCall> {
        let selector: [u8; 4] = data.get(..4)?.try_into().ok()?;
        match selector {
            transferCall::SELECTOR => {
                transferCall::abi_decode_validate(data)
                    .ok()
                    .map(|call| TokenCall::Transfer {
                        to: call.to,
                        amount: call.amount,
                    })
            }
            transferFromCall::SELECTOR => {
                transferFromCall::abi_decode_validate(data)
                    .ok()
                    .map(|call| TokenCall::TransferFrom {
                        from: call.from,
                        to: call.to,
                        amount: call.amount,
                    })
            }
            approveCall::SELECTOR => {
                approveCall::abi_decode_validate(data)
                    .ok()
                    .map(|call| TokenCall::Approve {
                        spender: call.spender,
                        amount: call.amount,
                    })
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TO: Address = Address::repeat_byte(0x35);

    #[test]
    fn the_three_token_calls_decode_and_others_do_not() {
        let amount = U256::from(250);
        assert_eq!(
            TokenCall::decode(&transfer_calldata(TO, amount)),
            Some(TokenCall::Transfer { to: TO, amount })
        );
        let from = Address::repeat_byte(0x11);
        let data = transferFromCall {
            from,
            to: TO,
            amount,
        }
        .abi_encode();
        assert_eq!(
            TokenCall::decode(&data),
            Some(TokenCall::TransferFrom {
                from,
                to: TO,
                amount
            })
        );
        let data = approve_calldata(TO, U256::MAX);
        assert_eq!(
            TokenCall::decode(&data),
            Some(TokenCall::Approve {
                spender: TO,
                amount: U256::MAX
            })
        );
        assert_eq!(TokenCall::decode(&balance_of_calldata(TO)), None);
        // A known selector with truncated arguments is not a token call.
        assert_eq!(
            TokenCall::decode(&transfer_calldata(TO, amount)[..20]),
            None
        );
        assert_eq!(TokenCall::decode(&[]), None);
    }
}
