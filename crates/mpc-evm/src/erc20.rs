//! ERC-20 call data, built by alloy's ABI encoder.

use alloy::primitives::{Address, Bytes, U256};
use alloy::sol;
use alloy::sol_types::SolCall;

sol! {
    /// The standard ERC-20 calls the wallet uses.
    interface IERC20 {
        function transfer(address to, uint256 amount) external returns (bool);
        function balanceOf(address owner) external view returns (uint256);
        function decimals() external view returns (uint8);
    }
}

pub use IERC20::{balanceOfCall, decimalsCall, transferCall};

/// `transfer(address,uint256)` call data.
pub fn transfer_calldata(to: Address, amount: U256) -> Bytes {
    transferCall { to, amount }.abi_encode().into()
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
