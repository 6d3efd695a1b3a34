//! One embedded instance per `$MPC_HOME`, shared by every command using it.
//!
//! - `embedded.lock`: the start mutex. Held (exclusive flock) while a
//!   command decides to join, start or stop the instance.
//! - `embedded.users`: every user holds a shared flock on it for as long as
//!   its connection lives. Whoever can lock it exclusively is the last user.
//! - `embedded.json` (0600): which processes make up the running instance.
//!
//! Flocks vanish with their process, so a crashed command never blocks the
//! next one; an instance a crashed last user left running is joined, and
//! stopped by whoever is then last.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::fs::{flock, FlockOperation};
use rustix::process::{kill_process, Pid, Signal};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

const RECORD: &str = "embedded.json";

/// The processes of a running instance, as `embedded.json` records them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Record {
    /// The broker's client port on 127.0.0.1.
    pub port: u16,
    pub nats: u32,
    pub cosigner: u32,
    pub broadcaster: Option<BroadcasterRecord>,
}

/// The running broadcaster and the chain it sends to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct BroadcasterRecord {
    pub pid: u32,
    pub rpc_url: String,
    pub chain_id: u64,
}

impl Record {
    /// The recorded pids with the programs they must run, in stop order.
    fn processes(&self) -> Vec<(u32, &'static str)> {
        let mut processes: Vec<_> = self
            .broadcaster
            .iter()
            .map(|b| (b.pid, "mpc-broadcaster"))
            .collect();
        processes.push((self.cosigner, "mpc-cosigner"));
        processes.push((self.nats, "nats-server"));
        processes
    }

    /// The first recorded process that is gone, by name.
    pub fn gone(&self, home: &Path) -> Option<&'static str> {
        self.processes()
            .into_iter()
            .find(|(pid, program)| !is_ours(*pid, program, home))
            .map(|(_, program)| program)
    }

    /// Whether every process still runs and the broker answers.
    pub fn alive(&self, home: &Path) -> bool {
        self.gone(home).is_none() && std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok()
    }

    /// Stops the recorded processes that are still ours (TERM, then KILL
    /// after 5 s) and waits until they are gone.
    pub fn stop(&self, home: &Path) {
        for (pid, program) in self.processes() {
            if !is_ours(pid, program, home) {
                continue;
            }
            let Some(target) = i32::try_from(pid).ok().and_then(Pid::from_raw) else {
                continue;
            };
            let _ = kill_process(target, Signal::TERM);
            let deadline = Instant::now() + Duration::from_secs(5);
            while is_ours(pid, program, home) {
                if Instant::now() > deadline {
                    let _ = kill_process(target, Signal::KILL);
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

pub(crate) fn read(home: &Path) -> Option<Record> {
    serde_json::from_slice(&fs::read(home.join(RECORD)).ok()?).ok()
}

pub(crate) fn write(home: &Path, record: &Record) -> Result<()> {
    let text = serde_json::to_vec(record).expect("plain JSON");
    Ok(mpc_store::write_private(&home.join(RECORD), &text)?)
}

pub(crate) fn remove(home: &Path) {
    let _ = fs::remove_file(home.join(RECORD));
}

/// The start mutex, held until dropped.
pub(crate) struct StartLock {
    _file: File,
}

impl StartLock {
    pub fn acquire(home: &Path) -> Result<StartLock> {
        let file = open(&home.join("embedded.lock"))?;
        flock(&file, FlockOperation::LockExclusive).map_err(flock_error(home))?;
        Ok(StartLock { _file: file })
    }
}

/// This connection's use of the instance: a shared flock on `embedded.users`.
pub(crate) struct Use(File);

impl Use {
    /// Registers a user; call with the start mutex held.
    pub fn register(home: &Path) -> Result<Use> {
        let file = open(&home.join("embedded.users"))?;
        flock(&file, FlockOperation::LockShared).map_err(flock_error(home))?;
        Ok(Use(file))
    }

    /// Ends this use; true when no other user remains. Call with the start
    /// mutex held, so nobody joins in between.
    pub fn end_is_last(self) -> bool {
        let _ = flock(&self.0, FlockOperation::Unlock);
        flock(&self.0, FlockOperation::NonBlockingLockExclusive).is_ok()
    }
}

fn open(path: &Path) -> Result<File> {
    fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })
}

fn flock_error(home: &Path) -> impl Fn(rustix::io::Errno) -> Error + '_ {
    move |errno| Error::Io {
        path: home.join("embedded.lock"),
        source: io::Error::from(errno),
    }
}

/// Whether `pid` runs `program` started for `home` (its working directory):
/// a recorded pid may since belong to something else, which is never killed.
/// A zombie has no command line, so it counts as gone.
pub(crate) fn is_ours(pid: u32, program: &str, home: &Path) -> bool {
    let proc = PathBuf::from(format!("/proc/{pid}"));
    let Ok(cmdline) = fs::read(proc.join("cmdline")) else {
        return false;
    };
    let runs_program = cmdline
        .split(|byte| *byte == 0)
        .next()
        .and_then(|arg0| std::str::from_utf8(arg0).ok())
        .and_then(|arg0| Path::new(arg0).file_name())
        .is_some_and(|name| name == program);
    runs_program && fs::read_link(proc.join("cwd")).is_ok_and(|cwd| cwd == home)
}
