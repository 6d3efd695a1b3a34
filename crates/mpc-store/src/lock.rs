//! Wallet lock: a record beside the share (`<share>.lock`) that makes
//! `load_unlocked` refuse to hand out the share for signing.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::atomic;
use crate::error::{Result, StoreError};

/// Why a wallet was locked. Stored as JSON, mode 0600.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockRecord {
    pub reason: String,
    pub evidence: String,
    /// Seconds since the Unix epoch.
    pub locked_at: u64,
}

pub fn lock_path(share_path: &Path) -> PathBuf {
    atomic::sibling(share_path, ".lock")
}

/// Locks the wallet of `share_path`, replacing any earlier record.
pub fn lock(share_path: &Path, reason: &str, evidence: &str) -> Result<LockRecord> {
    let record = LockRecord {
        reason: reason.into(),
        evidence: evidence.into(),
        locked_at: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    };
    let json = serde_json::to_vec_pretty(&record).expect("a lock record always serializes");
    atomic::write_private(&lock_path(share_path), &json)?;
    Ok(record)
}

/// `Some` when the wallet is locked. An unreadable record is an error, never "unlocked".
pub fn lock_status(share_path: &Path) -> Result<Option<LockRecord>> {
    let path = lock_path(share_path);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StoreError::io("read lock record", path, e)),
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| StoreError::LockRecordCorrupt {
            path,
            detail: e.to_string(),
        })
}

/// Removes the lock; `false` when the wallet was not locked.
pub fn unlock(share_path: &Path) -> Result<bool> {
    let path = lock_path(share_path);
    match std::fs::remove_file(&path) {
        Ok(()) => {
            atomic::sync_dir(&atomic::parent_dir(&path))?;
            Ok(true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(StoreError::io("remove lock record", path, e)),
    }
}
