//! mpc-evm
