//! Nonces for `eth_sendTransaction`. The node's pending count lags behind
//! what this server has queued (the broadcaster has not sent it yet), so
//! concurrent sends from one account would all read the same
//! count. Each account's sends therefore take turns, and the account
//! remembers the nonce after the last one it queued.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use mpc_evm::Address;
use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

#[derive(Default)]
pub struct Nonces {
    accounts: Mutex<HashMap<Address, Arc<AsyncMutex<Next>>>>,
}

/// One past the last nonce this server queued for an account, if any.
#[derive(Debug, Default)]
pub struct Next(Option<u64>);

impl Nonces {
    /// The account's turn: held from choosing the nonce until the signed
    /// transaction is queued (or has failed), so no two sends share a nonce.
    pub async fn turn(&self, from: Address) -> OwnedMutexGuard<Next> {
        let slot = {
            let mut accounts = self.accounts.lock().unwrap_or_else(|e| e.into_inner());
            Arc::clone(accounts.entry(from).or_default())
        };
        slot.lock_owned().await
    }
}

impl Next {
    /// Whether choosing needs to know if the account still has something
    /// queued: only while this server may be ahead of the node.
    pub fn ahead(&self) -> bool {
        self.0.is_some()
    }

    /// The nonce for the next transaction, from the node's `pending` count
    /// and whether the account had something queued *before* that count was
    /// read (read after, a transaction could leave the queue and reach the
    /// node in between, unseen by both). Past this server's last nonce
    /// while that is still queued; otherwise the node's count, which also
    /// means a transaction the node refused leaves no gap to wait behind.
    pub fn choose(&mut self, pending: u64, queued_before: bool) -> u64 {
        match self.0 {
            Some(next) if next > pending && queued_before => next,
            _ => {
                self.0 = None;
                pending
            }
        }
    }

    /// Records that a transaction with `nonce` was queued.
    pub fn queued(&mut self, nonce: u64) {
        self.0 = Some(self.0.map_or(nonce + 1, |next| next.max(nonce + 1)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_the_node_until_it_has_queued_something() {
        let mut next = Next::default();
        assert!(!next.ahead());
        assert_eq!(next.choose(7, false), 7);
        next.queued(7);
        // The node has not seen nonce 7 yet, and it is still queued.
        assert!(next.ahead());
        assert_eq!(next.choose(7, true), 8);
        next.queued(8);
        // The node caught up: no more queue checks needed.
        assert_eq!(next.choose(9, true), 9);
        assert!(!next.ahead());
    }

    #[test]
    fn a_refused_transaction_leaves_no_gap() {
        let mut next = Next::default();
        next.queued(3);
        // Nonce 3 never reached the node and nothing is queued any more.
        assert_eq!(next.choose(3, false), 3);
    }

    #[test]
    fn an_explicit_lower_nonce_does_not_move_it_back() {
        let mut next = Next::default();
        next.queued(5);
        next.queued(2);
        assert_eq!(next.choose(0, true), 6);
    }

    #[tokio::test]
    async fn one_account_takes_turns_and_others_do_not_wait() {
        let nonces = Nonces::default();
        let a = Address::repeat_byte(0xaa);
        let held = nonces.turn(a).await;
        let other = tokio::time::timeout(
            std::time::Duration::from_millis(200),
            nonces.turn(Address::repeat_byte(0xbb)),
        )
        .await;
        assert!(other.is_ok(), "another account is not blocked");
        let same = tokio::time::timeout(std::time::Duration::from_millis(50), nonces.turn(a)).await;
        assert!(same.is_err(), "the same account waits for its turn");
        drop(held);
        assert!(
            tokio::time::timeout(std::time::Duration::from_millis(200), nonces.turn(a))
                .await
                .is_ok()
        );
    }
}
