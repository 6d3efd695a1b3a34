//! mpc-session
