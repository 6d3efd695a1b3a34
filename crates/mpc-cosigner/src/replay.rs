//! The session ids of requests the co-signer accepted, for as long as a
//! replay of them could still pass the freshness check, kept in a file so a
//! restart forgets none: a request recorded before a restart is refused after
//! it. Only authenticated requests enter, so a flood of forged ones cannot
//! evict a real entry; when full, new requests are refused rather than
//! forgetting one early.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// At most this many ids are remembered; past it requests are refused as busy.
/// At 60 bytes each, about 60 MiB: a rate of ~8,700 requests a second for a
/// whole 60 s window, far above what one co-signer signs.
const MAX_REMEMBERED: usize = 1 << 20;
/// How many admissions between two sweeps of expired ids.
const SWEEP_EVERY: usize = 1024;

/// What became of a request's session id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// First seen: remembered (durably) now.
    Fresh,
    /// Already accepted once: a replay.
    Replayed,
    /// The memory is full of ids still inside the window.
    Full,
}

/// Why the memory cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum MemoryError {
    #[error("cannot {action} the replay memory {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the replay memory {path} is corrupt at line {line}; stop the co-signer, remove the file \
         and wait {window_s} s before starting it again (no request older than that is accepted)"
    )]
    Corrupt {
        path: PathBuf,
        line: usize,
        window_s: u64,
    },
    #[error(transparent)]
    Store(#[from] mpc_store::StoreError),
}

/// Where accepted session ids are kept: a file for one co-signer, the
/// fleet's sessions bucket for replicas on JetStream.
pub enum Memory {
    File(std::sync::Arc<SessionMemory>),
    Fleet(Box<crate::fleet::memory::FleetMemory>),
}

impl Memory {
    /// Whether `session_id` is known to be used already, checked before the
    /// request is authenticated, changing nothing. Only the file knows this
    /// cheaply; the fleet checks after authentication, in [`admit`](Self::admit).
    pub fn known(&self, session_id: &str) -> bool {
        match self {
            Memory::File(memory) => memory.contains(session_id),
            Memory::Fleet(_) => false,
        }
    }

    /// Remembers an authenticated request's session id before it is served.
    pub async fn admit(
        &self,
        session_id: &str,
        issued_at: u64,
        now: u64,
    ) -> anyhow::Result<Admission> {
        match self {
            Memory::File(memory) => {
                let (memory, session_id) = (std::sync::Arc::clone(memory), session_id.to_owned());
                // Blocking: an fsync per admission.
                let admitted =
                    tokio::task::spawn_blocking(move || memory.admit(&session_id, issued_at, now))
                        .await?;
                Ok(admitted?)
            }
            Memory::Fleet(fleet) => Ok(fleet.admit(session_id, issued_at).await?),
        }
    }
}

/// Session id → the request's `issued_at` (Unix seconds), on disk as one
/// `<issued_at> <session id>` line per accepted request. The ids and the file
/// have their own locks, so the check before authentication never waits for
/// an admission's fsync.
pub struct SessionMemory {
    path: PathBuf,
    window: u64,
    seen: Mutex<HashMap<String, u64>>,
    /// Held for a whole admission: admissions are serialized, and an id
    /// enters `seen` only once its line is on disk.
    log: Mutex<Log>,
}

struct Log {
    file: File,
    /// Lines in the file, live or expired: compacted when mostly expired.
    lines: usize,
    since_sweep: usize,
}

impl SessionMemory {
    /// Reads the memory at `path` (creating it), keeping the ids still
    /// inside `window` of `now`. A last line cut short by a crash is dropped:
    /// its request was never answered.
    pub fn open(path: &Path, window: Duration, now: u64) -> Result<SessionMemory, MemoryError> {
        let window = window.as_secs();
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(source) => return Err(io("read", path, source)),
        };
        let complete = text.rfind('\n').map_or("", |end| &text[..end]);
        let mut seen = HashMap::new();
        for (index, line) in complete.lines().enumerate() {
            let corrupt = || MemoryError::Corrupt {
                path: path.to_owned(),
                line: index + 1,
                window_s: window,
            };
            let (issued_at, id) = line.split_once(' ').ok_or_else(corrupt)?;
            let issued_at: u64 = issued_at.parse().map_err(|_| corrupt())?;
            if id.is_empty() || id.contains(char::is_whitespace) {
                return Err(corrupt());
            }
            if !expired(issued_at, window, now) {
                seen.insert(id.to_owned(), issued_at);
            }
        }
        let memory = SessionMemory {
            path: path.to_owned(),
            window,
            seen: Mutex::new(seen),
            log: Mutex::new(Log {
                file: open_log(path)?,
                lines: 0,
                since_sweep: 0,
            }),
        };
        // Starts from a file of live, whole lines only.
        memory.compact(&mut memory.log())?;
        Ok(memory)
    }

    /// Whether `session_id` was accepted already: a cheap check before the
    /// request is authenticated, which changes nothing.
    pub fn contains(&self, session_id: &str) -> bool {
        self.seen().contains_key(session_id)
    }

    /// Remembers an authenticated request's session id, on disk before this
    /// returns `Fresh`. Blocking (fsync).
    pub fn admit(
        &self,
        session_id: &str,
        issued_at: u64,
        now: u64,
    ) -> Result<Admission, MemoryError> {
        let mut log = self.log();
        if self.contains(session_id) {
            return Ok(Admission::Replayed);
        }
        log.since_sweep += 1;
        if log.since_sweep >= SWEEP_EVERY || self.seen().len() >= MAX_REMEMBERED {
            self.sweep(&mut log, now)?;
        }
        if self.seen().len() >= MAX_REMEMBERED {
            return Ok(Admission::Full);
        }
        writeln!(log.file, "{issued_at} {session_id}")
            .and_then(|()| log.file.sync_data())
            .map_err(|source| io("append to", &self.path, source))?;
        log.lines += 1;
        self.seen().insert(session_id.to_owned(), issued_at);
        Ok(Admission::Fresh)
    }

    /// Forgets ids whose requests the freshness check refuses by now, and
    /// rewrites the file once most of its lines are such.
    fn sweep(&self, log: &mut Log, now: u64) -> Result<(), MemoryError> {
        log.since_sweep = 0;
        let live = {
            let mut seen = self.seen();
            seen.retain(|_, issued_at| !expired(*issued_at, self.window, now));
            seen.len()
        };
        if log.lines > 2 * live + SWEEP_EVERY {
            self.compact(log)?;
        }
        Ok(())
    }

    /// Replaces the file with the live ids (atomically) and appends from there.
    fn compact(&self, log: &mut Log) -> Result<(), MemoryError> {
        let (text, lines) = {
            let seen = self.seen();
            let mut text = String::with_capacity(seen.len() * 48);
            for (id, issued_at) in seen.iter() {
                text.push_str(&format!("{issued_at} {id}\n"));
            }
            (text, seen.len())
        };
        mpc_store::write_private(&self.path, text.as_bytes())?;
        log.file = open_log(&self.path)?;
        log.lines = lines;
        Ok(())
    }

    fn seen(&self) -> MutexGuard<'_, HashMap<String, u64>> {
        self.seen.lock().expect("session ids")
    }

    fn log(&self) -> MutexGuard<'_, Log> {
        self.log.lock().expect("session log")
    }
}

/// A request issued at `issued_at` fails the freshness check from `now` on.
fn expired(issued_at: u64, window: u64, now: u64) -> bool {
    issued_at.saturating_add(window) < now
}

fn open_log(path: &Path) -> Result<File, MemoryError> {
    OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map_err(|source| io("open", path, source))
}

fn io(action: &'static str, path: &Path, source: std::io::Error) -> MemoryError {
    MemoryError::Io {
        action,
        path: path.to_owned(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: Duration = Duration::from_secs(60);

    #[test]
    fn an_id_is_admitted_once_and_survives_a_reopen_until_it_expires() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sessions.seen");
        let memory = SessionMemory::open(&path, WINDOW, 1000).unwrap();
        assert_eq!(memory.admit("a", 1000, 1000).unwrap(), Admission::Fresh);
        assert_eq!(memory.admit("a", 1000, 1001).unwrap(), Admission::Replayed);
        assert_eq!(memory.admit("b", 990, 1001).unwrap(), Admission::Fresh);
        drop(memory);

        let memory = SessionMemory::open(&path, WINDOW, 1045).unwrap();
        assert!(memory.contains("a") && memory.contains("b"));
        // b's request (issued at 990) fails the freshness check after 1050.
        let memory = SessionMemory::open(&path, WINDOW, 1055).unwrap();
        assert!(memory.contains("a") && !memory.contains("b"));
        let memory = SessionMemory::open(&path, WINDOW, 1061).unwrap();
        assert!(!memory.contains("a"), "past 1000 + 60 nobody can replay it");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "");
    }

    #[test]
    fn a_line_cut_short_by_a_crash_is_dropped_and_a_corrupt_one_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sessions.seen");
        std::fs::write(&path, "1000 a\n1000 b").unwrap();
        let memory = SessionMemory::open(&path, WINDOW, 1000).unwrap();
        assert!(memory.contains("a") && !memory.contains("b"));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "1000 a\n");

        std::fs::write(&path, "1000 a\nnot a line\n").unwrap();
        let error = SessionMemory::open(&path, WINDOW, 1000)
            .err()
            .expect("a corrupt line is refused");
        assert!(error.to_string().contains("line 2"), "{error}");
    }

    #[test]
    fn expired_ids_are_swept_and_the_file_compacted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sessions.seen");
        let memory = SessionMemory::open(&path, WINDOW, 0).unwrap();
        for i in 0..3 * SWEEP_EVERY {
            let now = i as u64;
            memory.admit(&format!("s{i}"), now, now).unwrap();
        }
        let now = (3 * SWEEP_EVERY) as u64;
        assert!(memory.seen().len() < 2 * SWEEP_EVERY, "swept on the way");
        assert!(memory.seen().values().all(|at| !expired(*at, 60, now - 1)));
        let lines = std::fs::read_to_string(&path).unwrap().lines().count();
        assert!(lines < 3 * SWEEP_EVERY, "compacted: {lines} lines");
        assert_eq!(lines, memory.log().lines);
    }
}
