//! Command-line surface of `mpc`, as promised in CLI.md. Names here are a
//! contract: add freely, rename nothing.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

const AFTER_HELP: &str = "\
Environment:
  MPC_NATS_URL         broker URL (nats://user:password@host:port); unset = start a local broker and co-signer
  MPC_RPC_URL          EVM JSON-RPC URL (Sepolia in real use)
  MPC_CHAIN_ID         expected chain id (default 11155111)
  MPC_PASSPHRASE, MPC_PASSPHRASE_FILE   share passphrase for non-interactive use
  MPC_KEY_SOURCE       keyring | passphrase
  MPC_COSIGNER_KEY     the co-signer key or fingerprint keygen must find (mpc-cosigner identity)
  MPC_ENROLL_TOKEN     the single-use token keygen shows the co-signer (mpc-cosigner enroll)
  MPC_HOME             local state (embedded broker, co-signer data, HTTP token)
  MPC_LOG              log filter; logs are JSON lines on stderr (off by default)

Exit codes:
  0 ok, 1 failure, 2 usage (also: file exists, no terminal for a passphrase, malformed URL),
  3 invalid input, 4 share or backup unreadable, 5 broker or co-signer unreachable / timeout,
  6 wallet locked, 7 chain or RPC error, 8 refused by the co-signer's policy (names the rule),
  9 backup or share stale (rotated since), 130 interrupted

Example, a first transaction:
  mpc keygen --out client_share.enc
  mpc sign --share client_share.enc --tx tx.json --out sig.json
  mpc broadcast --raw sig.json";

/// A 2-of-2 MPC wallet for EVM chains: this CLI holds one key share, the
/// co-signer the other; every signature needs both.
#[derive(Debug, Parser)]
#[command(name = "mpc", version, after_help = AFTER_HELP)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Print exactly one JSON object on stdout (errors as {"error": {...}})
    #[arg(long, global = true)]
    pub json: bool,
}

/// `--timeout` when none is given.
pub const DEFAULT_ROUND_TIMEOUT_SECS: u64 = 30;

/// How a command reaches the broker and co-signer (only on commands that do).
#[derive(Debug, Clone, Args)]
pub struct BrokerArgs {
    /// Broker URL; unset starts (or joins) the local broker and co-signer of --home
    #[arg(long, env = "MPC_NATS_URL", hide_env_values = true)]
    pub nats_url: Option<String>,
    /// Local state folder (embedded broker and co-signer, HTTP token)
    #[arg(long, env = "MPC_HOME")]
    pub home: Option<PathBuf>,
    /// Seconds to wait for the co-signer in each protocol round
    #[arg(long, default_value_t = DEFAULT_ROUND_TIMEOUT_SECS)]
    pub timeout: u64,
    /// Seconds a signing keeps retrying, with fresh sessions, when no
    /// co-signer answers, one times out or the wallet is busy (a fleet
    /// replica or broker node restarting); 0 reports the first failure
    #[arg(long, env = "MPC_RETRY_FOR", default_value_t = 0)]
    pub retry_for: u64,
}

/// How a command reaches the chain (only on commands that do).
#[derive(Debug, Clone, Args)]
pub struct ChainArgs {
    /// EVM JSON-RPC URL
    #[arg(long, env = "MPC_RPC_URL", hide_env_values = true)]
    pub rpc_url: Option<String>,
    /// Chain id every transaction must carry
    #[arg(long, env = "MPC_CHAIN_ID", default_value_t = 11155111)]
    pub chain_id: u64,
}

/// Whether a command that queues a transaction waits for its receipt.
#[derive(Debug, Clone, Copy, Args)]
pub struct WaitArgs {
    /// Return once queued instead of waiting for the receipt
    #[arg(long)]
    pub no_wait: bool,
    /// Seconds to wait for the receipt
    #[arg(long, default_value_t = 120, visible_alias = "wait-timeout-secs")]
    pub wait_timeout: u64,
}

impl WaitArgs {
    /// How long to wait for the receipt; `None` with `--no-wait`.
    pub fn receipt_wait(self) -> Option<Duration> {
        (!self.no_wait).then(|| Duration::from_secs(self.wait_timeout))
    }
}

/// Where a new share's encryption key comes from (only on commands that write one).
#[derive(Debug, Clone, Copy, Args)]
pub struct KeySourceArgs {
    /// The OS keyring, or a passphrase
    #[arg(long = "key-source", env = "MPC_KEY_SOURCE", value_enum)]
    pub source: Option<KeySourceArg>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KeySourceArg {
    Keyring,
    Passphrase,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a new wallet with the co-signer; writes your share, prints the address and the pinned co-signer fingerprint
    #[command(after_help = "\
The co-signer's key is pinned in the share: every later session must come from it. With
--cosigner-key, keygen refuses any other co-signer (exit 1, cosigner_key_mismatch); without,
it pins whichever answers, so compare the printed fingerprint with `mpc-cosigner identity`.
A co-signer creates wallets only for clients it admits: pass the single-use token its
operator printed with `mpc-cosigner enroll` (refused otherwise: exit 1, not_enrolled).

Examples:
  mpc keygen --out client_share.enc --json
  mpc keygen --out client_share.enc --cosigner-key 6668:7aad:f862:bd77:6c8f:c18b:8e9f:8e20 \
    --enroll mpc-enroll-0f1e2d3c4b5a69788796a5b4c3d2e1f0")]
    Keygen {
        /// Where to write the encrypted client share
        #[arg(long, default_value = "client_share.enc")]
        out: PathBuf,
        /// Replace an existing file at --out
        #[arg(long)]
        force: bool,
        /// The co-signer's public key (64 hex digits) or fingerprint, from `mpc-cosigner identity`
        #[arg(long, env = "MPC_COSIGNER_KEY", value_name = "KEY")]
        cosigner_key: Option<mpc_client::ExpectedKey>,
        /// The single-use enrollment token from the co-signer's operator
        #[arg(
            long,
            env = "MPC_ENROLL_TOKEN",
            value_name = "TOKEN",
            hide_env_values = true
        )]
        enroll: Option<String>,
        #[command(flatten)]
        broker: BrokerArgs,
        #[command(flatten)]
        key_source: KeySourceArgs,
    },
    /// Print the wallet's address (or a child account's)
    #[command(after_help = "Example:\n  mpc address --share client_share.enc --index 3")]
    Address {
        /// The encrypted client share file
        #[arg(long, default_value = "client_share.enc")]
        share: PathBuf,
        /// Child account N, at BIP32 path m/0/N (non-hardened)
        #[arg(long)]
        index: Option<u32>,
    },
    /// Sign a transaction, a personal message, EIP-712 typed data or an EIP-7702 authorization with the co-signer
    #[command(after_help = "\
Examples:
  mpc sign --share client_share.enc --tx tx.json --out sig.json
  mpc sign --share client_share.enc --message 'hello' --json
  mpc sign --share client_share.enc --typed-data mail.json --index 2
  mpc sign --share client_share.enc --authorization auth.json --json")]
    Sign(SignArgs),
    /// Queue a signed transaction for the broadcaster and wait for its receipt, or look up its status
    #[command(after_help = "\
Examples:
  mpc broadcast --raw raw_tx.hex
  mpc broadcast --raw sig.json --no-wait
  mpc broadcast --raw 0x02f8...
  mpc broadcast --status 0x5f0c... --json")]
    Broadcast {
        /// A file with the 0x-hex raw transaction, a sig.json, or the 0x-hex itself
        #[arg(long, visible_alias = "raw-tx", required_unless_present = "status")]
        raw: Option<String>,
        /// Print what the broadcaster last recorded for this transaction hash, at once
        #[arg(long, value_name = "TX_HASH", conflicts_with = "raw")]
        status: Option<String>,
        #[command(flatten)]
        wait: WaitArgs,
        #[command(flatten)]
        broker: BrokerArgs,
        #[command(flatten)]
        chain: ChainArgs,
    },
    /// Transaction helpers
    #[command(subcommand)]
    Tx(TxCommand),
    /// Portable, passphrase-encrypted copies of a share
    #[command(subcommand)]
    Backup(BackupCommand),
    /// Refresh both shares with the co-signer; the address stays the same, earlier backups go stale
    #[command(
        after_help = "Every backup exported before a rotation can no longer sign: re-export after \
                      every rotation, or let rotate write the new backup.\n\nExample:\n  \
                      mpc rotate --share client_share.enc --backup-out wallet.backup"
    )]
    Rotate {
        /// The encrypted client share file
        #[arg(long, default_value = "client_share.enc")]
        share: PathBuf,
        /// Also write a backup of the new share here (every earlier backup is stale afterwards)
        #[arg(long)]
        backup_out: Option<PathBuf>,
        #[command(flatten)]
        broker: BrokerArgs,
    },
    /// Clear a local wallet lock after investigating a misbehaving co-signer
    Unlock {
        /// The encrypted client share file
        #[arg(long, default_value = "client_share.enc")]
        share: PathBuf,
    },
    /// Check that the broker and the co-signer answer
    Health {
        #[command(flatten)]
        broker: BrokerArgs,
    },
    /// Serve keygen, address, sign and broadcast over local HTTP, and Ethereum JSON-RPC at /rpc (bearer token in $MPC_HOME/http.token)
    #[command(after_help = "\
Example:
  mpc serve --listen 127.0.0.1:8645 --share client_share.enc --accounts 1,2
  curl -H \"Authorization: Bearer $(cat \"$MPC_HOME/http.token\")\" -X POST http://127.0.0.1:8645/address
  cast send --unlocked --from <wallet> --rpc-url http://127.0.0.1:8645/rpc \\
    --rpc-headers \"Authorization: Bearer $(cat \"$MPC_HOME/http.token\")\" <to> --value 0.01ether
The API is described at GET /openapi.yaml (docs/openapi.yaml).")]
    Serve {
        /// Address to listen on; keep it on loopback unless a proxy guards it
        #[arg(long, default_value = "127.0.0.1:8645")]
        listen: std::net::SocketAddr,
        /// Share file used when a request names none (also where keygen writes)
        /// The encrypted client share file
        #[arg(long, default_value = "client_share.enc")]
        share: PathBuf,
        /// Child accounts (m/0/N) that JSON-RPC at /rpc serves besides the master address
        #[arg(long, value_delimiter = ',', value_name = "N,N,...")]
        accounts: Vec<u32>,
        #[command(flatten)]
        broker: BrokerArgs,
        #[command(flatten)]
        chain: ChainArgs,
        #[command(flatten)]
        key_source: KeySourceArgs,
    },
    /// Print a session's round traffic live, one JSON line per message (routing headers, ciphertext sizes)
    #[command(
        after_help = "Examples:\n  mpc watch 5f0c9a...        # the session id keygen, sign and rotate print\n  mpc watch --all --seconds 60   # every session, live"
    )]
    Watch {
        /// Session id to watch (printed by keygen, sign and rotate)
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        session: Option<String>,
        /// Follow every session instead of one
        #[arg(long)]
        all: bool,
        /// Stop after this many seconds
        #[arg(long)]
        seconds: Option<u64>,
        #[command(flatten)]
        broker: BrokerArgs,
    },
    /// The broker: how to watch its traffic read-only
    #[command(subcommand)]
    Broker(BrokerCommand),
    /// Prepare, sign and broadcast in one step, then wait for the receipt: ether, an ERC-20 token, or a contract deployment
    #[command(after_help = "\
Amounts take units: 1000 (wei), 30gwei, 0.01ether. --amount is in the token's smallest unit,
as tx.json's erc20.amount (so 250 is 250 raw units; 1.5ether is 1.5 * 10^18 units).

Examples:
  mpc send --share client_share.enc --to 0x3535353535353535353535353535353535353535 --value 0.01ether
  mpc send --to 0x3535...3535 --erc20 0x5FbD...0aa3 --amount 250 --json
  mpc send --data 0x6080... --json    # no --to: deploys the init code, prints contract_address")]
    Send(SendArgs),
    /// An account's ether balance, or its ERC-20 token balance (asks only the RPC)
    #[command(
        after_help = "Examples:\n  mpc balance --share client_share.enc\n  mpc balance --index 2 --token 0x5FbD...0aa3 --json"
    )]
    Balance {
        /// The encrypted client share file
        #[arg(long, default_value = "client_share.enc")]
        share: PathBuf,
        /// Child account N (BIP32 m/0/N)
        #[arg(long)]
        index: Option<u32>,
        /// An ERC-20 token address: its balanceOf instead of ether
        #[arg(long)]
        token: Option<String>,
        #[command(flatten)]
        chain: ChainArgs,
    },
    /// An account's next nonce, counting pending transactions (asks only the RPC)
    #[command(after_help = "Example:\n  mpc nonce --share client_share.enc --index 1 --json")]
    Nonce {
        /// The encrypted client share file
        #[arg(long, default_value = "client_share.enc")]
        share: PathBuf,
        /// Child account N (BIP32 m/0/N)
        #[arg(long)]
        index: Option<u32>,
        #[command(flatten)]
        chain: ChainArgs,
    },
    /// Transactions waiting in the broadcaster's queue
    #[command(subcommand)]
    Queue(QueueCommand),
    /// Print a shell completion script
    #[command(
        after_help = "Examples:\n  mpc completions bash > /etc/bash_completion.d/mpc\n  mpc completions zsh > \"${fpath[1]}/_mpc\""
    )]
    Completions {
        /// The shell
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Args)]
pub struct SendArgs {
    /// The encrypted client share file
    #[arg(long, default_value = "client_share.enc")]
    pub share: PathBuf,
    /// Recipient (of the tokens, with --erc20); leave out with --data to deploy a contract
    #[arg(long)]
    pub to: Option<String>,
    /// Ether to send: 1000 (wei), 30gwei, 0.01ether
    #[arg(long, conflicts_with = "erc20")]
    pub value: Option<String>,
    /// 0x-hex call data, or without --to the contract's init code
    #[arg(long, conflicts_with = "erc20")]
    pub data: Option<String>,
    /// Send this ERC-20 token (its contract address) instead of ether
    #[arg(long, requires_all = ["to", "amount"])]
    pub erc20: Option<String>,
    /// Token amount in the token's smallest unit (raw integer; units such as 1.5ether also work)
    #[arg(long, requires = "erc20")]
    pub amount: Option<String>,
    /// Send from child account N (BIP32 m/0/N)
    #[arg(long)]
    pub index: Option<u32>,
    #[command(flatten)]
    pub wait: WaitArgs,
    #[command(flatten)]
    pub broker: BrokerArgs,
    #[command(flatten)]
    pub chain: ChainArgs,
}

#[derive(Debug, Args)]
pub struct ReplaceArgs {
    /// Hash of the pending transaction to replace
    pub tx_hash: String,
    /// The encrypted client share file
    #[arg(long, default_value = "client_share.enc")]
    pub share: PathBuf,
    /// The child account N (BIP32 m/0/N) that sent it
    #[arg(long)]
    pub index: Option<u32>,
    #[command(flatten)]
    pub wait: WaitArgs,
    #[command(flatten)]
    pub broker: BrokerArgs,
    #[command(flatten)]
    pub chain: ChainArgs,
}

#[derive(Debug, Subcommand)]
pub enum BrokerCommand {
    /// The broker URL and, for the embedded broker, the read-only observer's credentials and a ready `nats sub 'mpc.>'` line
    Info {
        #[command(flatten)]
        broker: BrokerArgs,
    },
}

#[derive(Debug, Args)]
pub struct SignArgs {
    /// The encrypted client share file
    #[arg(long, default_value = "client_share.enc")]
    pub share: PathBuf,
    /// Transaction to sign (tx.json)
    #[arg(long, group = "payload")]
    pub tx: Option<PathBuf>,
    /// EIP-191 personal message (text; 0x-hex is signed as bytes)
    #[arg(long, group = "payload")]
    pub message: Option<String>,
    /// EIP-712 typed data JSON file
    #[arg(long, group = "payload")]
    pub typed_data: Option<PathBuf>,
    /// EIP-7702 authorization file: {"chain_id", "address" (the delegate), "nonce"}
    #[arg(long, group = "payload")]
    pub authorization: Option<PathBuf>,
    /// Where to write sig.json
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Sign with child account N (BIP32 m/0/N)
    #[arg(long)]
    pub index: Option<u32>,
    #[command(flatten)]
    pub broker: BrokerArgs,
    #[command(flatten)]
    pub chain: ChainArgs,
}

#[derive(Debug, Subcommand)]
pub enum QueueCommand {
    /// List queued transactions, oldest first (`in_flight`: the broadcaster is on it)
    #[command(after_help = "Example:\n  mpc queue ls --json")]
    Ls {
        #[command(flatten)]
        broker: BrokerArgs,
    },
    /// Remove a queued transaction so the broadcaster never (re)sends it
    #[command(after_help = "\
A transaction already in flight may have reached the node: replace it with
`mpc tx cancel` to be sure it is never mined.

Example:
  mpc queue drop 0x5f0c...")]
    Drop {
        /// The transaction hash (0x + 64 hex digits)
        tx_hash: String,
        #[command(flatten)]
        broker: BrokerArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum TxCommand {
    /// Fill nonce, fees and gas from the RPC
    #[command(
        after_help = "Example:\n  mpc tx prepare --share client_share.enc --tx partial.json --out tx.json"
    )]
    Prepare {
        /// The encrypted client share file
        #[arg(long, default_value = "client_share.enc")]
        share: PathBuf,
        /// A partial tx.json: what it leaves out is filled from the node
        #[arg(long)]
        tx: PathBuf,
        /// Where to write the complete tx.json
        #[arg(long)]
        out: Option<PathBuf>,
        /// Prepare for child account N (BIP32 m/0/N)
        #[arg(long)]
        index: Option<u32>,
        #[command(flatten)]
        chain: ChainArgs,
    },
    /// A transaction's receipt, or `pending` while the node holds it unmined (asks only the RPC)
    #[command(after_help = "Example:\n  mpc tx status 0x5c50...e1a2 --json")]
    Status {
        /// The transaction hash
        tx_hash: String,
        #[command(flatten)]
        chain: ChainArgs,
    },
    /// Replace a pending transaction by the same one with fees raised 12.5% (or to the node's current fees, if higher)
    #[command(
        after_help = "Example:\n  mpc tx speed-up 0x5c50...e1a2 --share client_share.enc --json"
    )]
    SpeedUp(ReplaceArgs),
    /// Replace a pending transaction by a 0-value transfer to yourself with the same nonce and raised fees
    #[command(
        after_help = "Example:\n  mpc tx cancel 0x5c50...e1a2 --share client_share.enc --json"
    )]
    Cancel(ReplaceArgs),
}

#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// Re-encrypt a share under a backup passphrase (asked twice, or MPC_BACKUP_PASSPHRASE or MPC_BACKUP_PASSPHRASE_FILE)
    Export {
        /// The encrypted client share file
        #[arg(long, default_value = "client_share.enc")]
        share: PathBuf,
        /// Where to write the backup
        #[arg(long)]
        out: PathBuf,
        /// Replace an existing file at --out
        #[arg(long)]
        force: bool,
    },
    /// Restore a backup into a share file for this machine; refuses a backup the co-signer says is stale
    Import {
        /// The backup file
        #[arg(long = "in")]
        input: PathBuf,
        /// Where to write the restored share
        #[arg(long, default_value = "client_share.enc")]
        out: PathBuf,
        /// Replace an existing file at --out
        #[arg(long)]
        force: bool,
        /// Restore even when the co-signer says the backup is stale (it cannot sign)
        #[arg(long)]
        allow_stale: bool,
        #[command(flatten)]
        broker: BrokerArgs,
        #[command(flatten)]
        key_source: KeySourceArgs,
    },
    /// Decrypt a backup, check its share and ask the co-signer whether it is still current (exit 9 when stale); writes nothing
    Verify {
        /// The backup file
        #[arg(long = "in")]
        input: PathBuf,
        #[command(flatten)]
        broker: BrokerArgs,
    },
}

impl Command {
    /// The broker settings of a command that talks to the co-signer or the queue.
    pub fn broker(&self) -> Option<&BrokerArgs> {
        match self {
            Command::Keygen { broker, .. }
            | Command::Broadcast { broker, .. }
            | Command::Rotate { broker, .. }
            | Command::Health { broker }
            | Command::Serve { broker, .. }
            | Command::Watch { broker, .. }
            | Command::Broker(BrokerCommand::Info { broker })
            | Command::Queue(QueueCommand::Ls { broker } | QueueCommand::Drop { broker, .. })
            | Command::Backup(
                BackupCommand::Import { broker, .. } | BackupCommand::Verify { broker, .. },
            ) => Some(broker),
            Command::Sign(args) => Some(&args.broker),
            Command::Send(args) => Some(&args.broker),
            Command::Tx(TxCommand::SpeedUp(args) | TxCommand::Cancel(args)) => Some(&args.broker),
            Command::Address { .. }
            | Command::Unlock { .. }
            | Command::Balance { .. }
            | Command::Nonce { .. }
            | Command::Completions { .. }
            | Command::Tx(TxCommand::Prepare { .. } | TxCommand::Status { .. })
            | Command::Backup(BackupCommand::Export { .. }) => None,
        }
    }

    /// The chain settings of a command that talks to the node.
    pub fn chain(&self) -> Option<&ChainArgs> {
        match self {
            Command::Broadcast { chain, .. }
            | Command::Serve { chain, .. }
            | Command::Balance { chain, .. }
            | Command::Nonce { chain, .. }
            | Command::Tx(TxCommand::Prepare { chain, .. } | TxCommand::Status { chain, .. }) => {
                Some(chain)
            }
            Command::Sign(args) => Some(&args.chain),
            Command::Send(args) => Some(&args.chain),
            Command::Tx(TxCommand::SpeedUp(args) | TxCommand::Cancel(args)) => Some(&args.chain),
            _ => None,
        }
    }

    /// The key source of a command that writes a new share.
    pub fn key_source(&self) -> Option<KeySourceArg> {
        match self {
            Command::Keygen { key_source, .. }
            | Command::Serve { key_source, .. }
            | Command::Backup(BackupCommand::Import { key_source, .. }) => key_source.source,
            _ => None,
        }
    }
}
