//! mpc-store
