//! 2-of-2 threshold ECDSA for EVM wallets.

pub mod channel;

pub use channel::{ChannelError, Party, PeerChannel, Round};
