//! The co-signer as a fleet on a real 3-node NATS cluster (R3 JetStream):
//! replicas with empty local dirs and `--store jetstream` share every wallet,
//! a lease per wallet keeps one session at a time fleet-wide, and killing a
//! replica or the JetStream leader's node loses nothing.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use alloy::primitives::{Address, Signature};
use futures::StreamExt;
use mpc_e2e::{
    binary, parse_failure, parse_success, spawn_worker, Worker, CLIENT_PASSPHRASE,
    COSIGNER_PASSPHRASE,
};
use mpc_testkit::{NatsCluster, Role, CLUSTER_SIZE, SEPOLIA_CHAIN_ID};
use serde_json::Value;

/// Short, so a replica killed mid-session frees its wallet quickly.
const LEASE_TTL_S: u64 = 5;

struct Fleet {
    cluster: NatsCluster,
    dir: tempfile::TempDir,
    replicas: Vec<Option<Worker>>,
    /// Extra flags of every replica.
    flags: Vec<String>,
}

impl Fleet {
    /// The cluster, one shared identity, and a replica on each node, each
    /// letting any client create wallets.
    fn start() -> Fleet {
        Self::start_with(&["--open-enrollment"])
    }

    /// Like `start`, every replica with `flags` too.
    fn start_with(flags: &[&str]) -> Fleet {
        let cluster = NatsCluster::start();
        let dir = tempfile::tempdir().unwrap();
        let identity = dir.path().join("identity.key");
        let created = Command::new(binary("mpc-cosigner"))
            .arg("--identity-file")
            .arg(&identity)
            .args(["identity", "--json"])
            .output()
            .unwrap();
        assert!(created.status.success(), "{created:?}");
        let mut fleet = Fleet {
            cluster,
            dir,
            replicas: (0..CLUSTER_SIZE).map(|_| None).collect(),
            flags: flags.iter().map(|flag| flag.to_string()).collect(),
        };
        for index in 0..CLUSTER_SIZE {
            fleet.start_replica(index);
        }
        fleet.wait_for_replicas(CLUSTER_SIZE);
        fleet
    }

    /// Replica `index`, on node `index`, with an empty data dir of its own.
    fn start_replica(&mut self, index: usize) {
        let data = self.dir.path().join(format!("replica-{index}"));
        let worker = spawn_worker(
            Command::new(binary("mpc-cosigner"))
                .arg("--data-dir")
                .arg(&data)
                .args(["--store", "jetstream", "--replicas", "3"])
                .args([
                    "--lease-ttl",
                    &LEASE_TTL_S.to_string(),
                    "--round-timeout",
                    "3",
                ])
                .arg("--identity-file")
                .arg(self.dir.path().join("identity.key"))
                .args(&self.flags)
                .env("MPC_NATS_URL", self.cluster.node_url(index, Role::Cosigner))
                .env("MPC_KEY_SOURCE", "passphrase")
                .env("MPC_PASSPHRASE", COSIGNER_PASSPHRASE)
                .env("MPC_CHAIN_ID", SEPOLIA_CHAIN_ID.to_string())
                .env("MPC_LOG", "debug"),
            self.dir.path().join(format!("replica-{index}.log")),
        );
        self.replicas[index] = Some(worker);
    }

    fn kill_replica(&mut self, index: usize) {
        self.replicas[index].take().expect("replica running").kill();
    }

    /// Until replica `index` logged `needle`.
    fn wait_for_log(&self, index: usize, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.log(index).contains(needle) {
            assert!(
                Instant::now() < deadline,
                "replica {index} never logged {needle}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn log(&self, index: usize) -> String {
        std::fs::read_to_string(self.dir.path().join(format!("replica-{index}.log"))).unwrap()
    }

    /// Until `count` replicas answer the Services API (nats-py, independently).
    fn wait_for_replicas(&self, count: usize) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let micro = self.micro();
            if micro["info"].as_array().unwrap().len() == count {
                return micro;
            }
            assert!(
                Instant::now() < deadline,
                "{count} replicas did not register: {micro}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// What `nats micro info|stats mpc-cosigner` would show, asked by nats-py.
    fn micro(&self) -> Value {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/micro.py");
        let tool = mpc_testkit::tool("python3");
        let python = std::fs::read_link(&tool).unwrap_or(tool);
        let url = format!("nats://127.0.0.1:{}", self.cluster.port(0));
        let output = Command::new(python)
            .arg(script)
            .args([
                url.as_str(),
                "observer",
                self.cluster.password(Role::Observer),
            ])
            .arg("mpc-cosigner")
            .current_dir(self.dir.path())
            .output()
            .expect("run micro.py (scripts/install-tools installs nats-py)");
        assert!(output.status.success(), "micro.py: {output:?}");
        serde_json::from_slice(&output.stdout).unwrap()
    }

    /// `mpc <args> --json` as the client, on every node of the cluster.
    fn mpc(&self, args: &[&str]) -> Output {
        Command::new(binary("mpc"))
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("MPC_NATS_URL", self.cluster.url(Role::Client))
            .env("MPC_HOME", self.dir.path().join("client-home"))
            .env("MPC_PASSPHRASE", CLIENT_PASSPHRASE)
            .current_dir(self.dir.path())
            .args(args)
            .arg("--json")
            .output()
            .unwrap()
    }

    fn mpc_ok(&self, args: &[&str]) -> Value {
        parse_success(args, &self.mpc(args))
    }

    fn share(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn keygen(&self, name: &str) -> Address {
        let share = self.share(name);
        let created = self.mpc_ok(&["keygen", "--out", share.to_str().unwrap()]);
        created["address"].as_str().unwrap().parse().unwrap()
    }

    /// Signs `message` and checks, independently, whom the signature recovers to.
    fn sign(&self, share: &str, message: &str, extra: &[&str]) -> Result<Address, (i32, String)> {
        let share = self.share(share);
        let args = [
            &[
                "sign",
                "--share",
                share.to_str().unwrap(),
                "--message",
                message,
            ][..],
            extra,
        ]
        .concat();
        let output = self.mpc(&args);
        if !output.status.success() {
            let (exit, error, _) = parse_failure(&args, &output);
            return Err((exit, error["error"]["code"].as_str().unwrap().to_owned()));
        }
        let signed = parse_success(&args, &output);
        let bytes = hex::decode(
            signed["signature"]
                .as_str()
                .unwrap()
                .trim_start_matches("0x"),
        )
        .unwrap();
        let signature = Signature::from_raw(&bytes).expect("r ‖ s ‖ v");
        Ok(signature.recover_address_from_msg(message).unwrap())
    }

    /// A JetStream client as the co-signer role, to look at the buckets.
    async fn jetstream(&self) -> async_nats::jetstream::Context {
        let nats = mpc_session::connect(&self.cluster.url(Role::Cosigner))
            .await
            .unwrap();
        async_nats::jetstream::new(nats)
    }
}

/// Wallets still leased, as the leases bucket lists them (asked again
/// while the cluster is still settling after a node came back).
async fn leased(js: &async_nats::jetstream::Context) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let listed = async {
            let leases = js.get_key_value("MPC_COSIGNER_LEASES").await?;
            let keys: Vec<_> = leases.keys().await?.collect().await;
            keys.into_iter()
                .collect::<Result<Vec<String>, _>>()
                .map_err(async_nats::Error::from)
        };
        match listed.await {
            Ok(keys) => return keys,
            Err(error) if Instant::now() < deadline => {
                eprintln!("listing leases: {error}; asking again");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(error) => panic!("cannot list the leases: {error}"),
        }
    }
}

#[test]
fn any_replica_serves_any_wallet_and_one_of_two_racing_rotations_wins() {
    let mut fleet = Fleet::start();
    let address = fleet.keygen("a.enc");

    // Each replica alone signs for the wallet the fleet created.
    for alone in 0..CLUSTER_SIZE {
        for other in (0..CLUSTER_SIZE).filter(|other| *other != alone) {
            fleet.kill_replica(other);
        }
        let message = format!("signed by replica {alone}");
        assert_eq!(fleet.sign("a.enc", &message, &[]), Ok(address));
        // Its log line may trail the signature the client already has.
        fleet.wait_for_log(alone, "\"signed\"");
        for other in (0..CLUSTER_SIZE).filter(|other| *other != alone) {
            fleet.start_replica(other);
        }
        fleet.wait_for_replicas(CLUSTER_SIZE);
    }

    // Every replica is listed, with its version and endpoints, and counts
    // the requests it answered.
    let micro = fleet.micro();
    for info in micro["info"].as_array().unwrap() {
        assert_eq!(info["name"], "mpc-cosigner");
        assert_eq!(info["version"], env!("CARGO_PKG_VERSION"));
        let endpoints: Vec<&str> = info["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .map(|endpoint| endpoint["subject"].as_str().unwrap())
            .collect();
        assert!(endpoints.contains(&"mpc.v1.cosigner.sign"), "{info}");
        assert!(endpoints.contains(&"mpc.v1.cosigner.keygen"), "{info}");
    }
    let ids: std::collections::BTreeSet<&str> = micro["stats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|stats| stats["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), CLUSTER_SIZE, "one stats reply per replica");

    // Two copies of one client share rotate at once: the wallet's lease lets
    // one session in; the other is refused (busy, or stale once it lost).
    let copy = fleet.share("b.enc");
    std::fs::copy(fleet.share("a.enc"), &copy).unwrap();
    let rotations: Vec<Output> = std::thread::scope(|scope| {
        let racers: Vec<_> = ["a.enc", "b.enc"]
            .map(|name| {
                let share = fleet.share(name);
                let fleet = &fleet;
                scope.spawn(move || fleet.mpc(&["rotate", "--share", share.to_str().unwrap()]))
            })
            .into_iter()
            .collect();
        racers
            .into_iter()
            .map(|racer| racer.join().unwrap())
            .collect()
    });
    let won: Vec<usize> = (0..2).filter(|i| rotations[*i].status.success()).collect();
    assert_eq!(won.len(), 1, "exactly one rotation wins: {rotations:?}");
    let lost = &rotations[1 - won[0]];
    let (exit, error, _) = parse_failure(&["rotate"], lost);
    assert!(
        matches!(
            (exit, error["error"]["code"].as_str().unwrap()),
            (5, "cosigner_busy") | (9, "client_share_outdated")
        ),
        "the losing rotation says why: {error}"
    );
    let winner = ["a.enc", "b.enc"][won[0]];
    assert_eq!(fleet.sign(winner, "after the race", &[]), Ok(address));
    // Every replica followed the wallets bucket the whole time.
    for index in 0..CLUSTER_SIZE {
        assert!(
            !fleet.log(index).contains("wallets watch stopped"),
            "replica {index}"
        );
    }
}

#[test]
fn a_policy_limit_holds_across_replicas() {
    let policy = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(policy.path(), "max_signatures_per_minute = 3\n").unwrap();
    let mut fleet = Fleet::start_with(&[
        "--open-enrollment",
        "--policy",
        policy.path().to_str().unwrap(),
    ]);
    let address = fleet.keygen("a.enc");
    // Replica 0 alone signs twice, then replica 1 alone once: three in all.
    fleet.kill_replica(1);
    fleet.kill_replica(2);
    for n in 0..2 {
        assert_eq!(
            fleet.sign("a.enc", &format!("on replica 0: {n}"), &[]),
            Ok(address)
        );
    }
    fleet.start_replica(1);
    fleet.wait_for_replicas(2);
    fleet.kill_replica(0);
    assert_eq!(fleet.sign("a.enc", "on replica 1", &[]), Ok(address));
    // The fourth this minute is refused, by a replica that signed only one.
    assert_eq!(
        fleet.sign("a.enc", "one too many", &[]),
        Err((8, "policy_refused".to_owned()))
    );
    fleet.wait_for_log(1, "policy_refused");
}

#[test]
fn a_token_enrolled_in_the_fleet_admits_one_keygen_through_any_replica() {
    let fleet = Fleet::start_with(&[]);
    let share = fleet.share("a.enc");
    let keygen = |token: Option<&str>| {
        let mut args = vec!["keygen", "--out", share.to_str().unwrap(), "--force"];
        args.extend(token.map(|token| ["--enroll", token]).into_iter().flatten());
        fleet.mpc(&args)
    };
    let refused = keygen(None);
    let (exit, error, _) = parse_failure(&["keygen"], &refused);
    assert_eq!(
        (exit, error["error"]["code"].as_str()),
        (1, Some("not_enrolled"))
    );

    // Issued by the operator's command against one node, kept in the bucket.
    let issued = Command::new(binary("mpc-cosigner"))
        .args(["--store", "jetstream", "enroll", "--json"])
        .env("MPC_NATS_URL", fleet.cluster.node_url(2, Role::Cosigner))
        .output()
        .unwrap();
    let issued = parse_success(&["enroll"], &issued);
    let token = issued["token"].as_str().unwrap();
    let created = parse_success(&["keygen"], &keygen(Some(token)));
    assert!(created["address"].as_str().unwrap().starts_with("0x"));
    // Single use, whichever replica the second attempt reaches.
    let again = keygen(Some(token));
    let (exit, error, _) = parse_failure(&["keygen"], &again);
    assert_eq!(
        (exit, error["error"]["code"].as_str()),
        (1, Some("not_enrolled"))
    );
    assert!(!fleet
        .mpc(&["keygen", "--out", "b.enc", "--enroll", token])
        .status
        .success());
}

#[tokio::test(flavor = "multi_thread")]
async fn killing_a_replica_and_the_jetstream_leader_under_load_signs_nothing_wrong() {
    const WALLETS: usize = 8;
    let mut fleet = tokio::task::block_in_place(Fleet::start);
    let addresses: Vec<Address> = tokio::task::block_in_place(|| {
        (0..WALLETS)
            .map(|w| fleet.keygen(&format!("w{w}.enc")))
            .collect()
    });
    let js = fleet.jetstream().await;

    // Each wallet signs in a loop while a replica, then the node leading the
    // wallets bucket, is killed.
    let stop = std::sync::atomic::AtomicBool::new(false);
    let (outcomes, leader) = std::thread::scope(|scope| {
        let signers: Vec<_> = (0..WALLETS)
            .map(|w| {
                let (fleet, stop) = (&fleet, &stop);
                scope.spawn(move || {
                    let mut outcomes = Vec::new();
                    let mut n = 0;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        let message = format!("wallet {w} message {n}");
                        let signed =
                            fleet.sign(&format!("w{w}.enc"), &message, &["--retry-for", "30"]);
                        outcomes.push((w, Instant::now(), signed));
                        n += 1;
                    }
                    outcomes
                })
            })
            .collect();
        std::thread::sleep(Duration::from_secs(4));
        let killed_replica_at = Instant::now();
        fleet_kill(&fleet, 0);
        std::thread::sleep(Duration::from_secs(4));
        let leader = tokio::task::block_in_place(|| {
            tokio::runtime::Handle::current()
                .block_on(stream_leader(&js, "KV_MPC_COSIGNER_WALLETS"))
        });
        let index = fleet
            .cluster
            .index_of(&leader)
            .expect("the leader is a node");
        let killed_leader_at = Instant::now();
        kill_node(&fleet, index);
        std::thread::sleep(Duration::from_secs(8));
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let outcomes: Vec<_> = signers
            .into_iter()
            .flat_map(|signer| signer.join().unwrap())
            .collect();
        (outcomes, (index, killed_replica_at, killed_leader_at))
    });
    let (leader_index, killed_replica_at, killed_leader_at) = leader;

    let mut signed_after_leader_kill = 0;
    for (w, at, outcome) in &outcomes {
        match outcome {
            // Never a signature of another key.
            Ok(recovered) => {
                assert_eq!(recovered, &addresses[*w], "wallet {w}");
                signed_after_leader_kill += usize::from(*at > killed_leader_at);
            }
            Err((exit, code)) => assert!(
                *exit == 5
                    && [
                        "cosigner_unreachable",
                        "cosigner_timeout",
                        "session_failed",
                        "cosigner_busy"
                    ]
                    .contains(&code.as_str()),
                "wallet {w}: a clear error, not {exit} {code}"
            ),
        }
    }
    let ok = outcomes.iter().filter(|(_, _, o)| o.is_ok()).count();
    eprintln!(
        "{ok} of {} signings succeeded; {signed_after_leader_kill} after the leader's node was killed",
        outcomes.len()
    );
    assert!(
        outcomes
            .iter()
            .any(|(_, at, o)| o.is_ok() && *at > killed_replica_at),
        "signing went on after a replica died"
    );
    assert!(
        signed_after_leader_kill > 0,
        "signing went on after the leader's node died"
    );

    // The node catches up, the replica comes back, and every wallet signs and rotates.
    tokio::task::block_in_place(|| fleet.cluster.start_again(leader_index));
    fleet.start_replica(0);
    tokio::task::block_in_place(|| fleet.wait_for_replicas(CLUSTER_SIZE));
    assert_replicas_current(&js, "KV_MPC_COSIGNER_WALLETS").await;
    tokio::task::block_in_place(|| {
        for (w, address) in addresses.iter().enumerate() {
            let share = fleet.share(&format!("w{w}.enc"));
            fleet.mpc_ok(&[
                "rotate",
                "--share",
                share.to_str().unwrap(),
                "--retry-for",
                "20",
            ]);
            assert_eq!(
                fleet.sign(&format!("w{w}.enc"), "rotated", &[]),
                Ok(*address)
            );
        }
    });
    // No lease outlives its session (one of a killed replica, its TTL).
    tokio::time::sleep(Duration::from_secs(LEASE_TTL_S + 1)).await;
    assert_eq!(leased(&js).await, Vec::<String>::new());
}

fn fleet_kill(fleet: &Fleet, replica: usize) {
    // Through a shared reference: the scope's signers hold the fleet.
    let pid = fleet.replicas[replica].as_ref().unwrap().pid();
    kill_9(pid);
}

fn kill_node(fleet: &Fleet, index: usize) {
    let pid = fleet.cluster.pid(index);
    kill_9(pid);
}

fn kill_9(pid: u32) {
    let status = Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// The server leading a stream's replicas.
async fn stream_leader(js: &async_nats::jetstream::Context, stream: &str) -> String {
    let mut stream = js.get_stream(stream).await.unwrap();
    let info = stream.info().await.unwrap();
    info.cluster
        .as_ref()
        .and_then(|c| c.leader.clone())
        .expect("a leader")
}

/// Until every replica of `stream` is current (a restarted node caught up).
async fn assert_replicas_current(js: &async_nats::jetstream::Context, stream: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(mut handle) = js.get_stream(stream).await {
            if let Ok(info) = handle.info().await {
                let cluster = info.cluster.clone().unwrap();
                if cluster.leader.is_some()
                    && cluster.replicas.len() == CLUSTER_SIZE - 1
                    && cluster
                        .replicas
                        .iter()
                        .all(|replica| replica.current && !replica.offline)
                {
                    return;
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "{stream} did not get all replicas current"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
