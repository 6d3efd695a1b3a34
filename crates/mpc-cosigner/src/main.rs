//! `mpc-cosigner`: the second party of every wallet. It answers `hello` and
//! `health`, joins keygen, sign and refresh sessions requested over NATS,
//! keeps one encrypted share per wallet, and signs only what it can see.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use mpc_session::{subjects, unix_now, SessionConfig};
use mpc_store::{KeySource, ResolvedKeySource};

use mpc_cosigner::enrollment::{self, Enrollment};
use mpc_cosigner::fleet::enrollment::FleetEnrollment;
use mpc_cosigner::fleet::memory::FleetMemory;
use mpc_cosigner::fleet::{Fleet, FleetConfig};
use mpc_cosigner::policy::shared::SharedLedger;
use mpc_cosigner::policy::{self, PolicyEngine};
use mpc_cosigner::replay::{Memory, SessionMemory};
use mpc_cosigner::sessions::{Cosigner, Setup};
use mpc_cosigner::wallets::Wallets;
use mpc_cosigner::{backup, identity, warn_if_weak, SHARE_PASSPHRASE};

/// glibc's malloc keeps the 19 MiB blocks of every Argon2id run in its heap
/// (RSS grew by ~19 MiB per wallet loaded); mimalloc hands them back.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The co-signer worker of the 2-of-2 MPC wallet.
#[derive(Debug, Parser)]
#[command(
    name = "mpc-cosigner",
    version,
    after_help = "\
Key source: MPC_KEY_SOURCE=keyring|passphrase; a passphrase comes from MPC_PASSPHRASE or
MPC_PASSPHRASE_FILE (never from a flag). Logs are JSON lines on stderr (MPC_LOG filter).

Examples:
  MPC_NATS_URL=nats://cosigner:PASSWORD@127.0.0.1:4222 MPC_PASSPHRASE_FILE=/run/secrets/pw \\
    mpc-cosigner --data-dir /var/lib/mpc-cosigner
  mpc-cosigner --data-dir /var/lib/mpc-cosigner identity   # hand the fingerprint to clients
  mpc-cosigner --data-dir /var/lib/mpc-cosigner enroll     # a token for one `mpc keygen --enroll`
  mpc-cosigner --data-dir /var/lib/mpc-cosigner --policy /etc/mpc/policy.toml   # kill -HUP reloads it
  mpc-cosigner --data-dir /var/lib/mpc-cosigner --policy /etc/mpc/policy.toml \\
    policy check --wallet 9ba3bea5-... --tx tx.json --json   # exit 8: the policy would refuse
  MPC_BACKUP_PASSPHRASE_FILE=/root/backup-pw mpc-cosigner --data-dir /var/lib/mpc-cosigner \\
    backup export --wallet 9ba3bea5-... --out 9ba3bea5.backup"
)]
struct Args {
    #[command(subcommand)]
    admin: Option<Admin>,
    /// Broker URL with the co-signer user's credentials (needed to serve)
    #[arg(long, env = "MPC_NATS_URL", hide_env_values = true)]
    nats_url: Option<String>,
    /// Where shares (one file per wallet), the identity key, enrollment and
    /// the policy ledger live
    #[arg(long, env = "MPC_COSIGNER_DATA")]
    data_dir: Option<PathBuf>,
    /// Where shares, leases and session ids live: files in the data dir (one
    /// co-signer), or JetStream KV buckets every replica of a fleet shares
    #[arg(long, env = "MPC_COSIGNER_STORE", value_enum, default_value_t = Store::File)]
    store: Store,
    /// JetStream replicas of the fleet's buckets when this replica creates
    /// them (3 on a 3-node cluster)
    #[arg(long, env = "MPC_JETSTREAM_REPLICAS", default_value_t = 1)]
    replicas: usize,
    /// Seconds a wallet stays leased to a replica that stopped renewing
    /// (it died mid-session), when this replica creates the leases bucket
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(3..))]
    lease_ttl: u64,
    /// The identity key file (default: <data-dir>/identity.key). With
    /// --store jetstream every replica loads the same one, which the operator
    /// provides (e.g. a mounted secret); it is never created implicitly then
    #[arg(long, env = "MPC_COSIGNER_IDENTITY_FILE")]
    identity_file: Option<PathBuf>,
    /// keyring or passphrase
    #[arg(long, env = "MPC_KEY_SOURCE")]
    key_source: Option<String>,
    /// The policy file (TOML): global rules and per-wallet overrides,
    /// validated at start and reloaded on SIGHUP. Without it, only the chain
    /// and the fee cap are checked
    #[arg(long, env = "MPC_COSIGNER_POLICY")]
    policy: Option<PathBuf>,
    /// Only transactions for this chain are signed
    #[arg(long, env = "MPC_CHAIN_ID", default_value_t = 11155111)]
    chain_id: u64,
    /// NATS queue group; co-signers sharing one data dir share the load
    #[arg(long, default_value = subjects::COSIGNER_QUEUE_GROUP)]
    queue_group: String,
    /// Seconds to wait for the client in each protocol round
    /// (a session holds its wallet: a client that vanished mid-session
    /// blocks that wallet this long at most)
    #[arg(long, default_value_t = 10)]
    round_timeout: u64,
    /// Sessions served at once; more are refused as busy
    #[arg(long, default_value_t = 64)]
    max_sessions: usize,
    /// Seconds a new wallet is kept when its client never confirmed keeping
    /// its share (an interrupted keygen); a completed sign or refresh of that
    /// client confirms it
    #[arg(long, default_value_t = 24 * 60 * 60)]
    unconfirmed_keygen_ttl: u64,
    /// Seconds a request's timestamp may be from this machine's clock, either
    /// way; older ones are refused as replays
    #[arg(long, default_value_t = mpc_session::DEFAULT_FRESHNESS_WINDOW.as_secs())]
    freshness_window: u64,
    /// Let any client with the broker's client credentials create wallets
    /// (the embedded demo). Without it only allowlisted clients and holders
    /// of an enrollment token can (`mpc-cosigner enroll`)
    #[arg(long, env = "MPC_OPEN_ENROLLMENT")]
    open_enrollment: bool,
}

/// Where the co-signer keeps its wallets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Store {
    /// One encrypted file per wallet in <data-dir>/wallets
    File,
    /// JetStream KV buckets, shared by every replica (needs a passphrase key source)
    Jetstream,
}

/// Operator commands that work on the data dir instead of serving.
#[derive(Debug, Subcommand)]
enum Admin {
    /// Print the co-signer's static public key and its fingerprint (creating
    /// the key on first use), for clients to give `mpc keygen --cosigner-key`
    Identity {
        /// One JSON object: {"public_key", "fingerprint"}
        #[arg(long)]
        json: bool,
    },
    /// Admit a client to create wallets: print a single-use enrollment token
    /// for `mpc keygen --enroll`, or with --client allowlist a client key
    Enroll {
        /// Allowlist this client public key (or fingerprint) instead
        #[arg(long)]
        client: Option<String>,
        /// Seconds the token stays valid
        #[arg(long, default_value_t = 24 * 60 * 60)]
        ttl: u64,
        /// One JSON object: {"token", "expires_in_s"} or {"client", "added"}
        #[arg(long)]
        json: bool,
    },
    /// Portable, passphrase-encrypted copies of a wallet's co-signer share
    #[command(subcommand)]
    Backup(backup::BackupCommand),
    /// Ask the policy file (--policy) and the spend ledger, without signing
    #[command(subcommand)]
    Policy(policy::command::PolicyCommand),
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    mpc_logging::init("info");
    match run(Args::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("Error: {error:#}");
            // A refused stale backup and a policy refusal have their own
            // status, as `mpc` gives them.
            let status = if error.is::<backup::Stale>() {
                9
            } else if error.is::<policy::Refusal>() {
                8
            } else {
                1
            };
            std::process::ExitCode::from(status)
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    let data_dir = match args.data_dir {
        Some(dir) => dir,
        None => dirs::data_dir()
            .context("no data directory on this system: pass --data-dir")?
            .join("mpc-wallet/cosigner"),
    };
    let identity_path = args
        .identity_file
        .clone()
        .unwrap_or_else(|| data_dir.join("identity.key"));
    // Needs no key source: the identity key is kept apart from the shares.
    let enrollment_dir = data_dir.join("enrollment");
    let fleet_config = FleetConfig {
        replicas: args.replicas,
        lease_ttl: Duration::from_secs(args.lease_ttl),
        freshness_window: Duration::from_secs(args.freshness_window),
    };
    match &args.admin {
        Some(Admin::Identity { json }) => {
            print_identity(&identity::load_or_create(&identity_path)?, *json);
            return Ok(());
        }
        Some(Admin::Enroll { client, ttl, json }) => {
            let book = match args.store {
                Store::File => Book::Dir(enrollment_dir),
                Store::Jetstream => {
                    let nats_url = args.nats_url.as_deref().context(
                        "--store jetstream enrolls in the fleet's bucket: set MPC_NATS_URL to the \
                         broker, with the co-signer user's credentials",
                    )?;
                    let (nats, violations) = connect_broker(nats_url).await?;
                    Book::Fleet(FleetEnrollment::new(
                        open_fleet(nats, &violations, fleet_config).await?,
                    ))
                }
            };
            return enroll(book, client.as_deref(), *ttl, *json).await;
        }
        _ => {}
    }
    let policy_file = || {
        args.policy
            .as_deref()
            .context("the policy commands read the policy file: pass --policy policy.toml")
    };
    // Needs no key source either: the policy and the ledger are not secret.
    if let Some(Admin::Policy(command)) = args.admin {
        let engine = PolicyEngine::read_only(policy_file()?, &data_dir, args.chain_id)?;
        return policy::command::run(command, Arc::new(engine), args.chain_id);
    }
    // A bad policy file stops the start, before anything else is touched;
    // SIGHUP reloads it from now on (instead of ending the process).
    if let Some(path) = &args.policy {
        PolicyEngine::validate(path)?;
    }
    let explicit = args.key_source.clone();
    let key_source =
        tokio::task::spawn_blocking(move || mpc_store::resolve_key_source(explicit.as_deref()))
            .await??;
    let key_source = match key_source {
        ResolvedKeySource::Ready(source) => source,
        ResolvedKeySource::PromptForPassphrase => anyhow::bail!(
            "the co-signer needs a key source: an OS keyring, or MPC_PASSPHRASE_FILE / MPC_PASSPHRASE"
        ),
    };
    let key_source_name = match &key_source {
        KeySource::Keyring(_) => "keyring",
        KeySource::Passphrase(_) => "passphrase",
    };
    let wallets_dir = data_dir.join("wallets");
    if let Some(Admin::Backup(command)) = args.admin {
        if args.store == Store::Jetstream {
            anyhow::bail!(
                "backups work on the file store only; run them against a --store file data dir"
            );
        }
        return tokio::task::spawn_blocking(move || {
            backup::run(command, &wallets_dir, &key_source)
        })
        .await?;
    }
    // New wallets' shares are encrypted under this passphrase.
    if let KeySource::Passphrase(passphrase) = &key_source {
        warn_if_weak(SHARE_PASSPHRASE, passphrase);
    }
    let nats_url = args.nats_url.context(
        "set MPC_NATS_URL (or --nats-url) to the broker, with the co-signer user's credentials",
    )?;
    let (nats, mut violations) = connect_broker(&nats_url).await?;
    let config = SessionConfig {
        round_timeout: Duration::from_secs(args.round_timeout),
        freshness_window: Duration::from_secs(args.freshness_window),
        ..SessionConfig::default()
    };
    let (identity, wallets, memory, fleet) = match args.store {
        Store::File => {
            // These create the data dir on a first start, before the replay
            // memory's file goes in it.
            let identity = identity::load_or_create(&identity_path)?;
            let wallets = Wallets::open(wallets_dir, key_source)?;
            let memory = SessionMemory::open(
                &data_dir.join("sessions.seen"),
                config.freshness_window,
                unix_now(),
            )?;
            (identity, wallets, Memory::File(Arc::new(memory)), None)
        }
        Store::Jetstream => {
            if !matches!(key_source, KeySource::Passphrase(_)) {
                anyhow::bail!(
                    "--store jetstream needs MPC_KEY_SOURCE=passphrase (MPC_PASSPHRASE_FILE): \
                     every replica must open every share, and an OS keyring is one machine's"
                );
            }
            let identity = identity::load(&identity_path).with_context(|| {
                format!(
                    "--store jetstream loads the fleet's shared identity from {}: create it once \
                     with `mpc-cosigner --identity-file FILE identity` and give every replica \
                     that file (MPC_COSIGNER_IDENTITY_FILE)",
                    identity_path.display()
                )
            })?;
            let fleet = open_fleet(nats.clone(), &violations, fleet_config).await?;
            let memory = Memory::Fleet(Box::new(FleetMemory::new(fleet.sessions.clone())));
            let wallets = Wallets::fleet(
                fleet.clone(),
                key_source,
                mpc_cosigner::fleet::replica_name(),
            );
            (identity, wallets, memory, Some(fleet))
        }
    };
    // Counted in the fleet's bucket when the replicas share their wallets,
    // so a limit holds across all of them; SIGHUP reloads the file.
    let shared_enrollment = fleet.clone().map(FleetEnrollment::new);
    let (engine, _reload) = match &args.policy {
        Some(path) => {
            let engine = Arc::new(match fleet {
                Some(fleet) => PolicyEngine::shared(path, SharedLedger::new(fleet), args.chain_id)?,
                None => PolicyEngine::open(path, &data_dir, args.chain_id)?,
            });
            let reload = policy::engine::spawn_reload_on_hangup(Arc::clone(&engine))?;
            tracing::info!(file = %path.display(), "policy in force");
            (Some(engine), Some(reload))
        }
        None => (None, None),
    };
    let enrollment = match (args.open_enrollment, shared_enrollment) {
        (true, _) => Enrollment::Open,
        (false, Some(fleet)) => Enrollment::Fleet(fleet),
        (false, None) => Enrollment::enrolled(enrollment_dir)?,
    };
    let incoming =
        mpc_session::serve(nats.clone(), Arc::new(identity), &args.queue_group, config).await?;
    // With another role's credentials the subscription is refused: say so and stop.
    violations.check(&nats).await?;
    tracing::info!(
        data_dir = %data_dir.display(),
        key_source = key_source_name,
        chain_id = args.chain_id,
        open_enrollment = args.open_enrollment,
        store = ?args.store,
        "co-signer ready"
    );
    let mut cosigner = Cosigner::new(Setup {
        wallets,
        memory,
        enrollment,
        chain_id: args.chain_id,
        max_sessions: args.max_sessions,
    });
    if let Some(engine) = engine {
        cosigner = cosigner.with_policy(engine);
    }
    let _sweep = cosigner.spawn_unconfirmed_sweep(Duration::from_secs(args.unconfirmed_keygen_ttl));
    let _follower = cosigner.spawn_cache_follower();
    tokio::select! {
        () = cosigner.run(incoming) => anyhow::bail!("the broker subscription ended"),
        _ = tokio::signal::ctrl_c() => {
            tracing::info!("shutting down");
            Ok(())
        }
    }
}

/// Where `enroll` writes: the data dir, or the fleet's bucket.
enum Book {
    Dir(PathBuf),
    Fleet(FleetEnrollment),
}

/// The fleet's buckets, created with this replica's settings if absent. A
/// refusal of the JetStream API says more than the timeout it ends in.
async fn open_fleet(
    nats: mpc_session::Client,
    violations: &mpc_session::PermissionViolations,
    config: FleetConfig,
) -> anyhow::Result<Fleet> {
    Fleet::open(nats, config).await.map_err(|error| {
        violations
            .reported()
            .map_or(error.into(), anyhow::Error::from)
    })
}

async fn enroll(book: Book, client: Option<&str>, ttl: u64, json: bool) -> anyhow::Result<()> {
    match client {
        Some(client) => {
            let added = match &book {
                Book::Dir(dir) => enrollment::allow_client(dir, client)?,
                Book::Fleet(fleet) => enrollment::allow_fleet_client(fleet, client).await?,
            };
            if json {
                println!("{}", serde_json::json!({"client": client, "added": added}));
            } else if added {
                println!("client {client} may now create wallets");
            } else {
                println!("client {client} was allowlisted already");
            }
        }
        None => {
            let ttl_s = Duration::from_secs(ttl);
            let token = match &book {
                Book::Dir(dir) => enrollment::issue_token(dir, ttl_s, unix_now())?,
                Book::Fleet(fleet) => {
                    enrollment::issue_fleet_token(fleet, ttl_s, unix_now()).await?
                }
            };
            if json {
                println!(
                    "{}",
                    serde_json::json!({"token": token, "expires_in_s": ttl})
                );
            } else {
                println!("{token}");
                eprintln!(
                    "single use, valid {ttl} s: give it to the client for `mpc keygen --enroll`"
                );
            }
        }
    }
    Ok(())
}

fn print_identity(identity: &mpc_session::Identity, json: bool) {
    let public_key = hex::encode(identity.public_key());
    let fingerprint = identity.fingerprint();
    if json {
        println!(
            "{}",
            serde_json::json!({"public_key": public_key, "fingerprint": fingerprint})
        );
    } else {
        println!("public key   {public_key}\nfingerprint  {fingerprint}");
    }
}

/// How long a starting co-signer waits for its broker: started together (a
/// shell, compose, systemd), the broker may not listen yet.
const BROKER_WAIT: Duration = Duration::from_secs(30);

async fn connect_broker(
    url: &str,
) -> Result<(mpc_session::Client, mpc_session::PermissionViolations), mpc_session::SessionError> {
    let deadline = tokio::time::Instant::now() + BROKER_WAIT;
    loop {
        match mpc_session::connect_watching(url).await {
            Err(error @ mpc_session::SessionError::Connect { .. })
                if tokio::time::Instant::now() < deadline =>
            {
                tracing::warn!(%error, "broker not reachable yet, retrying");
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            result => return result,
        }
    }
}
