//! A chaos proxy: a TCP proxy on a free loopback port in front of a real
//! nats-server that reads the NATS text protocol just far enough to see
//! individual messages, and misbehaves on one of them: the Nth message on a
//! matching subject, in one direction, is dropped, duplicated, delayed (so
//! later messages overtake it) or has one bit flipped. Everything else
//! passes through unchanged. Deterministic: the only randomness (which bit
//! to flip) comes from a seed. Dropping the proxy closes every connection.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::{NatsServer, Role};

/// Longest protocol line accepted (INFO and CONNECT are the long ones).
const MAX_LINE: u64 = 64 * 1024;
/// Largest message accepted: the broker's `max_payload` (4 MB) and headers.
const MAX_MESSAGE: usize = 5 * 1024 * 1024;

/// Which way a message travels through the proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From the proxied client to the broker (`PUB`, `HPUB`).
    ToBroker,
    /// From the broker to the proxied client (`MSG`, `HMSG`).
    FromBroker,
}

/// What happens to the chosen message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Never forwarded.
    Drop,
    /// Forwarded twice in a row.
    Duplicate,
    /// Held back for this long while later messages pass it.
    Delay(Duration),
    /// Forwarded with one bit of its payload (not its headers) flipped,
    /// chosen by the seed among the payload's last `within_last` bytes
    /// (`usize::MAX`: anywhere). Counting from the end keeps the position
    /// stable when the payload length varies by a byte from run to run.
    FlipBit { within_last: usize },
}

/// The one message to misbehave on: the `nth` (1-based) message travelling
/// in `direction` whose subject starts with `subject_prefix`.
#[derive(Debug, Clone)]
pub struct ChaosRule {
    pub subject_prefix: String,
    pub direction: Direction,
    pub nth: usize,
    pub fault: Fault,
}

/// A fault the proxy applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub subject: String,
    pub direction: Direction,
    pub fault: Fault,
}

struct Shared {
    upstream_port: u16,
    rule: ChaosRule,
    matched: AtomicUsize,
    applied: Mutex<Vec<Applied>>,
    rng: Mutex<StdRng>,
    /// Set on drop; the condvar wakes messages held back by a delay.
    stopping: Mutex<bool>,
    stopped: Condvar,
    /// Every socket opened, to shut down on drop.
    sockets: Mutex<Vec<TcpStream>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

/// See the module documentation. Stops when dropped.
pub struct ChaosProxy {
    port: u16,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

impl ChaosProxy {
    /// Listens on a free loopback port and forwards each connection to the
    /// broker on `upstream_port`, applying `rule`; `seed` picks flipped bits.
    pub fn start(upstream_port: u16, rule: ChaosRule, seed: u64) -> ChaosProxy {
        assert!(rule.nth >= 1, "ChaosRule::nth counts from 1");
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the chaos proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let shared = Arc::new(Shared {
            upstream_port,
            rule,
            matched: AtomicUsize::new(0),
            applied: Mutex::new(Vec::new()),
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
            stopping: Mutex::new(false),
            stopped: Condvar::new(),
            sockets: Mutex::new(Vec::new()),
            threads: Mutex::new(Vec::new()),
        });
        let acceptor = {
            let shared = Arc::clone(&shared);
            std::thread::spawn(move || accept_loop(&listener, &shared))
        };
        ChaosProxy {
            port,
            shared,
            acceptor: Some(acceptor),
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `nats://user:password@127.0.0.1:<proxy port>` for a role of `nats`.
    pub fn url(&self, nats: &NatsServer, role: Role) -> String {
        format!(
            "nats://{}:{}@127.0.0.1:{}",
            role.user(),
            nats.password(role),
            self.port
        )
    }

    /// How many messages matched the rule's subject and direction so far.
    pub fn matched(&self) -> usize {
        self.shared.matched.load(Ordering::SeqCst)
    }

    /// The faults applied so far (at most one).
    pub fn applied(&self) -> Vec<Applied> {
        self.shared.applied.lock().expect("applied list").clone()
    }
}

impl Drop for ChaosProxy {
    fn drop(&mut self) {
        *self.shared.stopping.lock().expect("stop flag") = true;
        self.shared.stopped.notify_all();
        // Wakes the acceptor, which then sees `stopping`.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        for socket in self.shared.sockets.lock().expect("socket list").drain(..) {
            let _ = socket.shutdown(Shutdown::Both);
        }
        let threads: Vec<_> = self
            .shared
            .threads
            .lock()
            .expect("thread list")
            .drain(..)
            .collect();
        for thread in threads {
            let _ = thread.join();
        }
    }
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    for downstream in listener.incoming() {
        if shared.is_stopping() {
            return;
        }
        let Ok(downstream) = downstream else { continue };
        // A broker that is down: the client sees the connection close and
        // retries, exactly as if it had dialled the broker itself.
        let Ok(upstream) = TcpStream::connect(("127.0.0.1", shared.upstream_port)) else {
            let _ = downstream.shutdown(Shutdown::Both);
            continue;
        };
        let pumps = [
            (&downstream, &upstream, Direction::ToBroker),
            (&upstream, &downstream, Direction::FromBroker),
        ]
        .map(|(from, to, direction)| {
            let (from, to) = (clone(from), Arc::new(Mutex::new(clone(to))));
            let shared = Arc::clone(shared);
            std::thread::spawn(move || pump(from, &to, direction, &shared))
        });
        shared
            .sockets
            .lock()
            .expect("socket list")
            .extend([downstream, upstream]);
        shared.threads.lock().expect("thread list").extend(pumps);
    }
}

fn clone(stream: &TcpStream) -> TcpStream {
    stream.try_clone().expect("clone a proxy socket")
}

/// Forwards one direction of a connection frame by frame until either side
/// closes, then closes both so the peer notices.
fn pump(from: TcpStream, to: &Arc<Mutex<TcpStream>>, direction: Direction, shared: &Arc<Shared>) {
    let mut reader = BufReader::new(clone(&from));
    while let Some(frame) = read_frame(&mut reader) {
        if forward(frame, to, direction, shared).is_err() {
            break;
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.lock().expect("proxy writer").shutdown(Shutdown::Both);
}

/// One protocol operation: its line, and for messages the payload after it.
struct Frame {
    bytes: Vec<u8>,
    /// For messages: the subject and where the payload (after any headers) lies.
    message: Option<(String, Range<usize>)>,
}

/// Reads one operation; `None` at end of stream or on anything that is not
/// the NATS protocol within the size limits.
fn read_frame(reader: &mut BufReader<TcpStream>) -> Option<Frame> {
    let mut bytes = Vec::new();
    reader
        .by_ref()
        .take(MAX_LINE)
        .read_until(b'\n', &mut bytes)
        .ok()?;
    if !bytes.ends_with(b"\n") {
        return None;
    }
    let line = std::str::from_utf8(&bytes).ok()?;
    let tokens: Vec<&str> = line.split_ascii_whitespace().collect();
    let op = tokens.first()?.to_ascii_uppercase();
    let header_tokens = match op.as_str() {
        "PUB" | "MSG" => 0,
        "HPUB" | "HMSG" => 1,
        _ => {
            return Some(Frame {
                bytes,
                message: None,
            })
        }
    };
    // `<op> <subject> ... [<header bytes>] <total bytes>`
    let subject = (*tokens.get(1)?).to_owned();
    let total: usize = tokens.last()?.parse().ok()?;
    let headers: usize = match header_tokens {
        0 => 0,
        _ => tokens.get(tokens.len().checked_sub(2)?)?.parse().ok()?,
    };
    if total > MAX_MESSAGE || headers > total {
        return None;
    }
    let start = bytes.len();
    bytes.resize(start + total + 2, 0);
    reader.read_exact(&mut bytes[start..]).ok()?;
    let payload = start + headers..start + total;
    Some(Frame {
        bytes,
        message: Some((subject, payload)),
    })
}

fn forward(
    mut frame: Frame,
    to: &Arc<Mutex<TcpStream>>,
    direction: Direction,
    shared: &Arc<Shared>,
) -> std::io::Result<()> {
    let fault = frame
        .message
        .as_ref()
        .and_then(|(subject, _)| shared.fault_for(subject, direction));
    let Some(fault) = fault else {
        return write(to, &frame.bytes);
    };
    let (subject, payload) = frame.message.take().expect("faults apply to messages");
    shared.applied.lock().expect("applied list").push(Applied {
        subject,
        direction,
        fault,
    });
    match fault {
        Fault::Drop => Ok(()),
        Fault::Duplicate => {
            write(to, &frame.bytes)?;
            write(to, &frame.bytes)
        }
        Fault::Delay(delay) => {
            let (to, waiting) = (Arc::clone(to), Arc::clone(shared));
            let late = std::thread::spawn(move || {
                if waiting.sleep_unless_stopped(delay) {
                    // The connection may have closed meanwhile: then it is lost.
                    let _ = write(&to, &frame.bytes);
                }
            });
            shared.threads.lock().expect("thread list").push(late);
            Ok(())
        }
        Fault::FlipBit { within_last } => {
            let window = payload.len().min(within_last);
            assert!(window > 0, "cannot flip a bit of an empty payload");
            let bit = shared.rng.lock().expect("rng").gen_range(0..window * 8);
            let byte = payload.end - 1 - bit / 8;
            frame.bytes[byte] ^= 1 << (bit % 8);
            write(to, &frame.bytes)
        }
    }
}

impl Shared {
    fn is_stopping(&self) -> bool {
        *self.stopping.lock().expect("stop flag")
    }

    /// Waits `delay`, cut short when the proxy stops; true if it did not.
    fn sleep_unless_stopped(&self, delay: Duration) -> bool {
        let stopping = self.stopping.lock().expect("stop flag");
        let (stopping, _) = self
            .stopped
            .wait_timeout_while(stopping, delay, |stopping| !*stopping)
            .expect("stop flag");
        !*stopping
    }

    /// The fault for this message, if it is the rule's Nth match.
    fn fault_for(&self, subject: &str, direction: Direction) -> Option<Fault> {
        let rule = &self.rule;
        if direction != rule.direction || !subject.starts_with(&rule.subject_prefix) {
            return None;
        }
        let n = self.matched.fetch_add(1, Ordering::SeqCst) + 1;
        (n == rule.nth).then_some(rule.fault)
    }
}

/// Writes a whole frame under the lock, so delayed frames never interleave.
fn write(to: &Arc<Mutex<TcpStream>>, bytes: &[u8]) -> std::io::Result<()> {
    to.lock().expect("proxy writer").write_all(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake broker: accepts one connection and returns what it received.
    fn sink() -> (u16, JoinHandle<Vec<u8>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let handle = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut received = Vec::new();
            stream.read_to_end(&mut received).unwrap();
            received
        });
        (port, handle)
    }

    /// Sends `input` through a proxy with `rule`, waits `settle`, stops the
    /// proxy and returns what the broker end received.
    fn through_proxy(rule: ChaosRule, input: &[u8], settle: Duration) -> (Vec<u8>, Vec<Applied>) {
        let (port, received) = sink();
        let proxy = ChaosProxy::start(port, rule, 7);
        let mut client = TcpStream::connect(("127.0.0.1", proxy.port())).unwrap();
        client.write_all(input).unwrap();
        std::thread::sleep(settle);
        let applied = proxy.applied();
        drop(proxy);
        (received.join().unwrap(), applied)
    }

    const SETTLE: Duration = Duration::from_millis(100);

    const TRAFFIC: &[u8] = b"CONNECT {}\r\nPING\r\nPUB a.1 3\r\nabc\r\n\
        HPUB s.x _INBOX.1 12 15\r\nNATS/1.0\r\n\r\nxyz\r\nPUB s.y 2\r\nde\r\nSUB s.> 1\r\n";

    fn rule(fault: Fault, nth: usize) -> ChaosRule {
        ChaosRule {
            subject_prefix: "s.".into(),
            direction: Direction::ToBroker,
            nth,
            fault,
        }
    }

    #[test]
    fn passes_everything_that_does_not_match() {
        let other = ChaosRule {
            direction: Direction::FromBroker,
            ..rule(Fault::Drop, 1)
        };
        let (received, applied) = through_proxy(other, TRAFFIC, SETTLE);
        assert_eq!(received, TRAFFIC);
        assert!(applied.is_empty());
    }

    #[test]
    fn drops_duplicates_and_flips_only_the_nth_match() {
        let (dropped, applied) = through_proxy(rule(Fault::Drop, 2), TRAFFIC, SETTLE);
        let expected = String::from_utf8_lossy(TRAFFIC).replace("PUB s.y 2\r\nde\r\n", "");
        assert_eq!(String::from_utf8_lossy(&dropped), expected);
        assert_eq!(applied.len(), 1);
        assert_eq!(applied[0].subject, "s.y");

        let (duplicated, _) = through_proxy(rule(Fault::Duplicate, 2), TRAFFIC, SETTLE);
        let expected = String::from_utf8_lossy(TRAFFIC).replace(
            "PUB s.y 2\r\nde\r\n",
            "PUB s.y 2\r\nde\r\nPUB s.y 2\r\nde\r\n",
        );
        assert_eq!(String::from_utf8_lossy(&duplicated), expected);

        let flip = Fault::FlipBit { within_last: 1 };
        let (flipped, _) = through_proxy(rule(flip, 1), TRAFFIC, SETTLE);
        let diff: Vec<usize> = (0..TRAFFIC.len())
            .filter(|&i| flipped[i] != TRAFFIC[i])
            .collect();
        assert_eq!(diff.len(), 1, "one byte changed");
        let at = diff[0];
        assert_eq!(TRAFFIC[at], b'z', "the last payload byte, not a header");
        assert_eq!((flipped[at] ^ TRAFFIC[at]).count_ones(), 1, "one bit");
    }

    #[test]
    fn a_delayed_message_is_overtaken_by_later_ones() {
        let delay = Fault::Delay(Duration::from_millis(300));
        let (received, applied) =
            through_proxy(rule(delay, 1), TRAFFIC, Duration::from_millis(600));
        let text = String::from_utf8_lossy(&received);
        let (late, later) = (
            text.find("HPUB s.x").unwrap(),
            text.find("SUB s.>").unwrap(),
        );
        assert!(late > later, "the delayed message arrived last: {text}");
        assert_eq!(received.len(), TRAFFIC.len());
        assert_eq!(applied[0].fault, Fault::Delay(Duration::from_millis(300)));
    }

    #[test]
    fn stopping_does_not_wait_for_a_held_message() {
        let started = std::time::Instant::now();
        let hold = Fault::Delay(Duration::from_secs(30));
        let (received, applied) = through_proxy(rule(hold, 1), TRAFFIC, SETTLE);
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "stopped at once"
        );
        assert_eq!(applied.len(), 1);
        assert!(
            !String::from_utf8_lossy(&received).contains("s.x"),
            "never sent"
        );
    }

    #[test]
    fn closes_a_connection_that_is_not_nats() {
        let oversized = format!("PUB s.x {}\r\n", MAX_MESSAGE + 1);
        let (received, _) = through_proxy(rule(Fault::Drop, 5), oversized.as_bytes(), SETTLE);
        assert!(received.is_empty(), "nothing forwarded");
    }
}
