//! The spend ledger: one JSON line per released signature (wallet, time,
//! native spend, token amounts), appended and fsynced before the co-signer
//! joins the signing rounds. A signing that then fails still counts: the
//! limits err on the safe side, and hold across restarts.
//!
//! A line torn by a crash was never followed by a signature (the rounds
//! start only after the fsync), so it is skipped. Entries older than 24 h
//! are pruned; the file is rewritten atomically (temporary file, fsync,
//! rename) when it holds twice as many lines as live entries.

use std::collections::{HashMap, VecDeque};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mpc_evm::{Address, U256};
use serde::{Deserialize, Serialize};

/// The window of the daily limits.
pub const WINDOW: Duration = Duration::from_secs(24 * 60 * 60);
/// The window of the rate limit.
pub const MINUTE: Duration = Duration::from_secs(60);
/// Fewer stale lines than this never trigger a rewrite.
const COMPACT_SLACK: usize = 1024;

/// One released signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub wallet: String,
    /// Milliseconds since the Unix epoch.
    pub at_ms: u64,
    pub native: U256,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tokens: Vec<(Address, U256)>,
}

/// A wallet's signatures within the windows, summed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct History {
    /// Native spend in the last 24 h.
    pub native: U256,
    /// Token amounts in the last 24 h.
    pub tokens: HashMap<Address, U256>,
    /// Signatures in the last minute.
    pub last_minute: usize,
}

impl History {
    pub fn token(&self, token: &Address) -> U256 {
        self.tokens.get(token).copied().unwrap_or_default()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("policy ledger {}: {source}", path.display())]
pub struct LedgerError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// The ledger: the live entries in memory, the file behind them.
pub struct Ledger {
    path: PathBuf,
    wallets: HashMap<String, VecDeque<Entry>>,
    /// Lines in the file, live or not: when to compact.
    lines: usize,
    /// `None` when opened read-only (`policy check`).
    file: Option<File>,
}

impl Ledger {
    /// Opens the ledger for recording, creating it (and its directory, on a
    /// first start) if absent, and compacts it.
    pub fn open(path: PathBuf, now: SystemTime) -> Result<Ledger, LedgerError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| LedgerError {
                path: path.clone(),
                source,
            })?;
        }
        let mut ledger = Ledger::read(path, now)?;
        ledger.compact()?;
        Ok(ledger)
    }

    /// Reads the ledger without ever writing it; an absent file is empty.
    pub fn read(path: PathBuf, now: SystemTime) -> Result<Ledger, LedgerError> {
        let mut ledger = Ledger {
            path,
            wallets: HashMap::new(),
            lines: 0,
            file: None,
        };
        let file = match File::open(&ledger.path) {
            Ok(file) => file,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(ledger),
            Err(error) => return Err(ledger.error(error)),
        };
        let cutoff = millis(now).saturating_sub(WINDOW.as_millis() as u64);
        for line in BufReader::new(file).lines() {
            let line = line.map_err(|e| ledger.error(e))?;
            ledger.lines += 1;
            match serde_json::from_str::<Entry>(&line) {
                Ok(entry) if entry.at_ms >= cutoff => ledger.insert(entry),
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "skipped a torn policy ledger line"),
            }
        }
        for entries in ledger.wallets.values_mut() {
            entries.make_contiguous().sort_by_key(|entry| entry.at_ms);
        }
        Ok(ledger)
    }

    /// The wallet's sums at `now`.
    pub fn history(&self, wallet: &str, now: SystemTime) -> History {
        let now = millis(now);
        let day = now.saturating_sub(WINDOW.as_millis() as u64);
        let minute = now.saturating_sub(MINUTE.as_millis() as u64);
        let mut history = History::default();
        for entry in self.wallets.get(wallet).into_iter().flatten() {
            if entry.at_ms < day {
                continue;
            }
            history.native = history.native.saturating_add(entry.native);
            for (token, amount) in &entry.tokens {
                let sum = history.tokens.entry(*token).or_default();
                *sum = sum.saturating_add(*amount);
            }
            history.last_minute += usize::from(entry.at_ms >= minute);
        }
        history
    }

    /// Appends `entry` and fsyncs it: only then may the signature start.
    pub fn record(&mut self, entry: Entry) -> Result<(), LedgerError> {
        let cutoff = entry.at_ms.saturating_sub(WINDOW.as_millis() as u64);
        let mut line = serde_json::to_vec(&entry).expect("ledger entries serialize");
        line.push(b'\n');
        if self.file.is_none() {
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)
                .map_err(|e| self.error(e))?;
            self.file = Some(file);
        }
        let file = self.file.as_mut().expect("opened above");
        let written = file.write_all(&line).and_then(|()| file.sync_data());
        written.map_err(|e| self.error(e))?;
        self.lines += 1;
        self.insert(entry);
        self.prune(cutoff);
        if self.lines > 2 * self.live() + COMPACT_SLACK {
            self.compact()?;
        }
        Ok(())
    }

    /// Live entries, all wallets.
    pub fn live(&self) -> usize {
        self.wallets.values().map(VecDeque::len).sum()
    }

    fn insert(&mut self, entry: Entry) {
        self.wallets
            .entry(entry.wallet.clone())
            .or_default()
            .push_back(entry);
    }

    fn prune(&mut self, cutoff: u64) {
        self.wallets.retain(|_, entries| {
            while entries.front().is_some_and(|entry| entry.at_ms < cutoff) {
                entries.pop_front();
            }
            !entries.is_empty()
        });
    }

    /// Rewrites the file with the live entries only, atomically.
    fn compact(&mut self) -> Result<(), LedgerError> {
        let tmp = self.path.with_extension("jsonl.tmp");
        let write = || -> std::io::Result<File> {
            let mut out = std::io::BufWriter::new(File::create(&tmp)?);
            for entry in self.wallets.values().flatten() {
                serde_json::to_writer(&mut out, entry)?;
                out.write_all(b"\n")?;
            }
            let file = out.into_inner().map_err(|e| e.into_error())?;
            file.sync_all()?;
            std::fs::rename(&tmp, &self.path)?;
            if let Some(dir) = self.path.parent() {
                File::open(dir)?.sync_all()?;
            }
            OpenOptions::new().append(true).open(&self.path)
        };
        let file = write().map_err(|e| self.error(e))?;
        self.file = Some(file);
        self.lines = self.live();
        Ok(())
    }

    fn error(&self, source: std::io::Error) -> LedgerError {
        LedgerError {
            path: self.path.clone(),
            source,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Milliseconds since the Unix epoch (0 for a clock before it).
pub fn millis(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(wallet: &str, at: SystemTime, wei: u64) -> Entry {
        Entry {
            wallet: wallet.into(),
            at_ms: millis(at),
            native: U256::from(wei),
            tokens: vec![(Address::repeat_byte(1), U256::from(7))],
        }
    }

    #[test]
    fn entries_survive_a_reopen_and_leave_the_window_after_24_hours() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.jsonl");
        let now = SystemTime::now();
        let mut ledger = Ledger::open(path.clone(), now).unwrap();
        ledger
            .record(entry("w", now - WINDOW - MINUTE, 100))
            .unwrap();
        ledger.record(entry("w", now - 2 * MINUTE, 10)).unwrap();
        ledger.record(entry("w", now, 1)).unwrap();
        ledger.record(entry("other", now, 1000)).unwrap();
        drop(ledger);

        let reopened = Ledger::open(path.clone(), now).unwrap();
        let history = reopened.history("w", now);
        assert_eq!(history.native, U256::from(11));
        assert_eq!(history.token(&Address::repeat_byte(1)), U256::from(14));
        assert_eq!(history.last_minute, 1);
        // Opening compacted the file to the live entries.
        let lines = std::fs::read_to_string(&path).unwrap().lines().count();
        assert_eq!(lines, 3);
    }

    #[test]
    fn a_first_start_creates_the_data_dir() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new/ledger.jsonl");
        let mut ledger = Ledger::open(path.clone(), SystemTime::now()).unwrap();
        ledger.record(entry("w", SystemTime::now(), 1)).unwrap();
        assert!(path.is_file());
    }

    #[test]
    fn a_torn_last_line_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.jsonl");
        let now = SystemTime::now();
        let mut ledger = Ledger::open(path.clone(), now).unwrap();
        ledger.record(entry("w", now, 5)).unwrap();
        drop(ledger);
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(b"{\"wallet\":\"w\",\"at_ms\":").unwrap();
        let read = Ledger::read(path, now).unwrap();
        assert_eq!(read.history("w", now).native, U256::from(5));
    }

    #[test]
    fn the_file_stays_bounded_as_entries_expire() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.jsonl");
        let start = SystemTime::now();
        let mut ledger = Ledger::open(path.clone(), start).unwrap();
        // Three days of one signature every two minutes.
        for i in 0..3 * 720 {
            ledger
                .record(entry("w", start + Duration::from_secs(120 * i), 1))
                .unwrap();
        }
        assert_eq!(ledger.live(), 721);
        let lines = std::fs::read_to_string(&path).unwrap().lines().count();
        assert!(lines <= 2 * 721 + COMPACT_SLACK, "{lines} lines");
    }
}
