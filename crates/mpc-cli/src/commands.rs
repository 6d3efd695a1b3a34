//! One function per subcommand: read the inputs, call the library, print the
//! result. Nothing here that the HTTP API would need too.

use std::path::{Path, PathBuf};
use std::time::Duration;

use mpc_client::{Account, Backup, Connection, Freshness, Share, Wallet};
use mpc_evm::{AuthorizationRequest, EvmRpc, SignPayload, TxDraft, TxPolicy, TxRequest};
use mpc_store::Overwrite;
use serde_json::{json, Value};

use crate::cli::{
    BackupCommand, BrokerCommand, Command, GlobalArgs, QueueCommand, SignArgs, TxCommand,
};
use crate::output::{print_result, CliError, ExitCode};
use crate::progress::Step;
use crate::secrets;
use crate::settings::{Needs, Settings};
use crate::views::{BroadcastView, HealthView, KeygenView, RotateView, SignView};
use crate::wallet_ops::{self, Replacement};

pub async fn run(global: &GlobalArgs, command: Command) -> Result<(), CliError> {
    let settings = Settings::new(command.broker(), command.chain(), !global.json);
    let key_source = command.key_source().map(|source| match source {
        crate::cli::KeySourceArg::Keyring => "keyring",
        crate::cli::KeySourceArg::Passphrase => "passphrase",
    });
    let json = global.json;
    match command {
        Command::Keygen {
            out,
            force,
            cosigner_key,
            enroll,
            ..
        } => {
            let source = blocking(move || secrets::key_source_for_new(key_source)).await?;
            let connection = settings.connect_for_keygen(cosigner_key, enroll).await?;
            let step = Step::begin(json, "generating the key with the co-signer (DKLs23)");
            let (_, outcome) = connection
                .keygen(&out, source, Overwrite::from_force(force))
                .await?;
            step.done();
            print_result(json, &KeygenView::from(outcome), |v| {
                format!(
                    "address    {}\nwallet id  {}\nshare      {}\nco-signer  {} (pinned key fingerprint)",
                    v["address"].as_str().unwrap_or_default(),
                    v["wallet_id"].as_str().unwrap_or_default(),
                    out.display(),
                    v["cosigner_fingerprint"].as_str().unwrap_or_default(),
                )
            });
        }
        Command::Address { share, index } => {
            let account = Account::from_index(index);
            let address = open_share(&share)
                .await?
                .address(account)?
                .to_checksum(None);
            let output =
                json!({"address": address, "index": index, "path": account.path()?.to_string()});
            print_result(json, &output, |_| address.clone());
        }
        Command::Sign(args) => sign(&settings, json, args).await?,
        Command::Broadcast {
            status: Some(tx_hash),
            ..
        } => wallet_ops::broadcast_status(&settings, json, &tx_hash).await?,
        Command::Broadcast { raw, wait, .. } => {
            // clap requires --raw unless --status is given.
            let raw = read_raw_tx(raw.as_deref().unwrap_or_default())?;
            let connection = settings.connect_for(Needs::Broadcaster).await?;
            let step = Step::begin(
                json || wait.no_wait,
                "queued; waiting for the broadcaster's receipt and confirmations",
            );
            let output =
                BroadcastView::from(connection.broadcast(&raw, wait.receipt_wait()).await?);
            step.done();
            print_result(json, &output, |v| {
                format!(
                    "{} {}",
                    v["tx_hash"].as_str().unwrap_or_default(),
                    v["status"].as_str().unwrap_or_default()
                )
            });
        }
        Command::Tx(TxCommand::Prepare {
            share,
            tx,
            out,
            index,
            ..
        }) => {
            let draft = TxDraft::from_json(&read_text(&tx)?)?;
            let from = open_share(&share)
                .await?
                .address(Account::from_index(index))?;
            let rpc_url = settings.rpc_url.as_deref().ok_or_else(|| {
                CliError::from(mpc_client::Error::RpcUrlMissing {
                    operation: "tx prepare",
                })
            })?;
            let prepared = EvmRpc::connect(rpc_url, settings.chain_id)
                .await?
                .prepare(draft, from, &TxPolicy::new(settings.chain_id))
                .await?;
            let tx_json = prepared.to_json();
            if let Some(out) = &out {
                write_json(out, &tx_json)?;
            }
            let output = json!({"tx": tx_json, "tx_hash_to_sign": format!("0x{}", hex::encode(prepared.signing_hash()))});
            print_result(json, &output, |v| {
                serde_json::to_string_pretty(&v["tx"]).unwrap_or_default()
            });
        }
        Command::Backup(command) => backup(&settings, json, key_source, command).await?,
        Command::Rotate {
            share, backup_out, ..
        } => {
            // Everything the new backup needs is checked before the shares change.
            let backup_passphrase = match &backup_out {
                Some(out) if out.exists() => {
                    return Err(mpc_store::StoreError::AlreadyExists { path: out.clone() }.into())
                }
                Some(_) => Some(blocking(|| secrets::backup_passphrase(true)).await?),
                None => None,
            };
            let connection = settings.connect().await?;
            let wallet = open_wallet(&connection, &share).await?;
            let step = Step::begin(json, "refreshing both shares and checking the new pair");
            let rotated = wallet.rotate().await?;
            step.done();
            if let (Some(out), Some(passphrase)) = (&backup_out, backup_passphrase) {
                wallet
                    .backup_export(out, passphrase, Overwrite::Refuse)
                    .await?;
            }
            let output = RotateView::new(&rotated, wallet.share().wallet_id(), backup_out.clone());
            print_result(json, &output, |v| {
                let backup = match &backup_out {
                    Some(out) => format!("new backup written to {}", out.display()),
                    None => "export a new backup now: `mpc backup export`".to_owned(),
                };
                format!(
                    "rotated; address {} unchanged, share version {}\n\
                     every earlier backup is now stale and can no longer sign; {backup}",
                    v["address"].as_str().unwrap_or_default(),
                    v["share_version"]
                )
            });
        }
        Command::Unlock { share } => {
            let path = share.clone();
            let was_locked = blocking(move || {
                // Unlocking a file that is not there would say "was not locked" of nothing.
                mpc_store::read_info(&path)?;
                Ok(mpc_store::unlock(&path)?)
            })
            .await?;
            let output = json!({"unlocked": was_locked, "share": share});
            print_result(json, &output, |_| {
                if was_locked {
                    "unlocked".to_owned()
                } else {
                    "was not locked".to_owned()
                }
            });
        }
        Command::Health { .. } => {
            let connection = settings.connect().await?;
            let output = HealthView::from(connection.health().await?);
            print_result(json, &output, |_| "ok".to_owned());
        }
        Command::Watch {
            session,
            all,
            seconds,
            ..
        } => {
            let session = match (session, all) {
                (_, true) => None,
                (Some(session), false) => Some(mpc_session::SessionId::parse(&session)?),
                (None, false) => unreachable!("clap requires a session unless --all"),
            };
            watch(&settings, session, seconds).await?
        }
        Command::Broker(BrokerCommand::Info { .. }) => broker_info(&settings, json).await?,
        Command::Send(args) => wallet_ops::send(&settings, json, args).await?,
        Command::Balance {
            share,
            index,
            token,
            ..
        } => wallet_ops::balance(&settings, json, &share, index, token.as_deref()).await?,
        Command::Nonce { share, index, .. } => {
            wallet_ops::nonce(&settings, json, &share, index).await?
        }
        Command::Tx(TxCommand::Status { tx_hash, .. }) => {
            wallet_ops::status(&settings, json, &tx_hash).await?
        }
        Command::Tx(TxCommand::SpeedUp(args)) => {
            wallet_ops::replace(&settings, json, Replacement::SpeedUp, args).await?
        }
        Command::Tx(TxCommand::Cancel(args)) => {
            wallet_ops::replace(&settings, json, Replacement::Cancel, args).await?
        }
        Command::Queue(QueueCommand::Ls { .. }) => wallet_ops::queue_ls(&settings, json).await?,
        Command::Queue(QueueCommand::Drop { tx_hash, .. }) => {
            wallet_ops::queue_drop(&settings, json, &tx_hash).await?
        }
        Command::Completions { shell } => wallet_ops::completions(json, shell),
        Command::Serve {
            listen,
            share,
            accounts,
            ..
        } => crate::http::serve(&settings, key_source, listen, share, accounts, json).await?,
    }
    Ok(())
}

async fn sign(settings: &Settings, json: bool, args: SignArgs) -> Result<(), CliError> {
    let payload = read_payload(&args, settings.chain_id)?;
    let account = Account::from_index(args.index);
    let connection = settings.connect().await?;
    connection.check_chain_for(&payload).await?;
    let wallet = open_wallet(&connection, &args.share).await?;
    let output = SignView::from(&wallet.sign(payload, account).await?);
    if let Some(out) = &args.out {
        write_json(out, &serde_json::to_value(&output).expect("plain JSON"))?;
    }
    print_result(json, &output, |v| {
        let mut lines = vec![format!("from  {}", v["from"].as_str().unwrap_or_default())];
        for key in ["tx_hash", "raw_tx", "signature"] {
            if let Some(value) = v[key].as_str() {
                lines.push(format!("{key:<5} {value}"));
            }
        }
        lines.join("\n")
    });
    Ok(())
}

/// What `mpc sign` was asked to sign, validated before any session opens.
fn read_payload(args: &SignArgs, chain_id: u64) -> Result<SignPayload, CliError> {
    if let Some(tx) = &args.tx {
        let request = TxRequest::from_json(&read_text(tx)?, &TxPolicy::new(chain_id))?;
        return Ok(SignPayload::Transaction(request));
    }
    if let Some(message) = &args.message {
        return Ok(SignPayload::PersonalMessage(
            mpc_client::personal_message_bytes(message).into(),
        ));
    }
    if let Some(typed) = &args.typed_data {
        let value: Value = serde_json::from_str(&read_text(typed)?).map_err(|e| {
            CliError::new(
                "invalid_payload",
                ExitCode::InvalidInput,
                format!("{} is not JSON: {e}", typed.display()),
            )
        })?;
        return Ok(mpc_client::typed_data_payload(value)?);
    }
    if let Some(authorization) = &args.authorization {
        let request = AuthorizationRequest::from_json(&read_text(authorization)?)?;
        request.validate(&TxPolicy::new(chain_id))?;
        return Ok(SignPayload::Authorization(request));
    }
    Err(CliError::new(
        "nothing_to_sign",
        ExitCode::Usage,
        "give one of --tx FILE, --message TEXT, --typed-data FILE or --authorization FILE",
    ))
}

async fn backup(
    settings: &Settings,
    json: bool,
    key_source: Option<&'static str>,
    command: BackupCommand,
) -> Result<(), CliError> {
    match command {
        BackupCommand::Export { share, out, force } => {
            let opened = open_share(&share).await?;
            let backup_passphrase = blocking(|| secrets::backup_passphrase(true)).await?;
            let info = opened
                .backup_export(&out, backup_passphrase, Overwrite::from_force(force))
                .await?;
            let output = json!({"backup": out, "wallet_id": info.wallet_id, "share_version": info.share_version});
            print_result(json, &output, |_| {
                format!("backup written to {}", out.display())
            });
        }
        BackupCommand::Import {
            input,
            out,
            force,
            allow_stale,
            ..
        } => {
            if !force && out.exists() {
                return Err(mpc_store::StoreError::AlreadyExists { path: out }.into());
            }
            let (backup, backup_passphrase) = read_backup(&input).await?;
            let freshness = check_freshness(settings, &backup).await?;
            if let (Some(Freshness::Stale { current_version }), false) = (freshness, allow_stale) {
                return Err(mpc_client::Error::BackupStale {
                    backup_version: backup.info().share_version,
                    current_version,
                }
                .into());
            }
            let (from, to) = (input.clone(), out.clone());
            let info = blocking(move || {
                let target = secrets::key_source_for_new(key_source)?;
                Ok(mpc_store::import_backup(
                    &from,
                    &to,
                    &backup_passphrase,
                    &target,
                    Overwrite::from_force(force),
                )?)
            })
            .await?;
            let output = json!({
                "share": out,
                "wallet_id": info.wallet_id,
                "share_version": info.share_version,
                "current": freshness.map(|f| f == Freshness::Current),
            });
            print_result(json, &output, |_| {
                let note = match freshness {
                    Some(Freshness::Current) => "",
                    Some(Freshness::Stale { .. }) => {
                        "\nwarning: the co-signer says this backup is stale: it cannot sign"
                    }
                    None => "\nnote: the co-signer was not reachable, so whether this backup is current is unchecked",
                };
                format!("share restored to {}{note}", out.display())
            });
        }
        BackupCommand::Verify { input, .. } => {
            let (backup, _) = read_backup(&input).await?;
            let freshness = check_freshness(settings, &backup).await?;
            let info = backup.info();
            if let Some(Freshness::Stale { current_version }) = freshness {
                return Err(mpc_client::Error::BackupStale {
                    backup_version: info.share_version,
                    current_version,
                }
                .into());
            }
            let address = info.address.to_checksum(None);
            let output = json!({
                "valid": true,
                "address": address,
                "wallet_id": info.wallet_id,
                "share_version": info.share_version,
                "current": freshness.map(|_| true),
            });
            print_result(json, &output, |_| match freshness {
                Some(_) => format!(
                    "backup is valid and current; address {address}, share version {}",
                    info.share_version
                ),
                None => format!(
                    "backup is valid; address {address}, share version {}; the co-signer was \
                     not reachable, so whether it is still current is unchecked",
                    info.share_version
                ),
            });
        }
    }
    Ok(())
}

/// Decrypts a backup (asking for its passphrase); returns it with the passphrase.
async fn read_backup(path: &Path) -> Result<(Backup, mpc_store::Passphrase), CliError> {
    let path = path.to_owned();
    blocking(move || {
        let backup_passphrase = secrets::backup_passphrase(false)?;
        let backup = Backup::read(&path, &backup_passphrase)?;
        Ok((backup, backup_passphrase))
    })
    .await
}

/// Whether the co-signer still pairs with the backup's share; `None` when
/// it cannot be asked (offline), which is reported, not an error.
async fn check_freshness(
    settings: &Settings,
    backup: &Backup,
) -> Result<Option<Freshness>, CliError> {
    let asked = async {
        settings
            .connect()
            .await?
            .backup_freshness(backup)
            .await
            .map_err(CliError::from)
    };
    match asked.await {
        Ok(freshness) => Ok(Some(freshness)),
        Err(error) if error.exit == ExitCode::Unreachable => {
            tracing::warn!(error = %error, "could not ask the co-signer whether the backup is current");
            Ok(None)
        }
        Err(error) => Err(error),
    }
}

/// Follows one session, or every session with `None`, one JSON line per message.
async fn watch(
    settings: &Settings,
    session: Option<mpc_session::SessionId>,
    seconds: Option<u64>,
) -> Result<(), CliError> {
    let connection = settings.connect().await?;
    let mut watch = match &session {
        Some(session) => mpc_session::watch(connection.nats(), session).await?,
        None => mpc_session::watch_all(connection.nats()).await?,
    };
    if settings.announce_sessions {
        // Subscribed: what starts from now on is seen.
        eprintln!(
            "watching {}",
            session.as_ref().map_or("every session", |s| s.as_str())
        );
    }
    let deadline = seconds.map(|s| tokio::time::Instant::now() + Duration::from_secs(s));
    loop {
        let next = match deadline {
            Some(deadline) => match tokio::time::timeout_at(deadline, watch.next()).await {
                Ok(next) => next,
                Err(_) => return Ok(()),
            },
            None => watch.next().await,
        };
        let Some(record) = next else { return Ok(()) };
        println!("{}", serde_json::to_string(&record).expect("plain JSON"));
    }
}

/// Opens the share at `path`, asking for its passphrase if it has one.
pub(crate) async fn open_share(path: &Path) -> Result<Share, CliError> {
    let passphrase = passphrase_for(path).await?;
    Ok(Share::open(path, passphrase).await?)
}

/// The wallet of the share at `path`, signing over `connection`.
pub(crate) async fn open_wallet(connection: &Connection, path: &Path) -> Result<Wallet, CliError> {
    Ok(Wallet::new(connection.clone(), open_share(path).await?))
}

async fn passphrase_for(share: &Path) -> Result<Option<mpc_store::Passphrase>, CliError> {
    let path = share.to_owned();
    blocking(move || secrets::passphrase_to_open(&path)).await
}

/// Runs prompts and store work (files, keyring, Argon2id) off the async workers.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, CliError> + Send + 'static,
) -> Result<T, CliError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| CliError::new("internal", ExitCode::Failure, e.to_string()))?
}

fn read_text(path: &Path) -> Result<String, CliError> {
    std::fs::read_to_string(path).map_err(|e| {
        CliError::new(
            "input_unreadable",
            ExitCode::InvalidInput,
            format!("cannot read {}: {e}", path.display()),
        )
    })
}

/// `--raw` takes the 0x-hex itself, a file holding it, or a sig.json. The
/// transaction is decoded here, so bad input fails before any connection.
fn read_raw_tx(raw: &str) -> Result<Vec<u8>, CliError> {
    let bytes = read_raw_tx_hex(raw)?;
    mpc_evm::decode_raw_tx(&bytes)?;
    Ok(bytes)
}

fn read_raw_tx_hex(raw: &str) -> Result<Vec<u8>, CliError> {
    if raw.starts_with("0x") {
        return Ok(mpc_evm::parse_raw_tx_hex(raw)?);
    }
    let text = read_text(&PathBuf::from(raw))?;
    let hex_text = match serde_json::from_str::<Value>(&text) {
        Ok(value) => value["raw_tx"].as_str().map(str::to_owned).ok_or_else(|| {
            CliError::new(
                "invalid_raw_tx",
                ExitCode::InvalidInput,
                format!("{raw} is JSON without a raw_tx field"),
            )
        })?,
        Err(_) => text.trim().to_owned(),
    };
    Ok(mpc_evm::parse_raw_tx_hex(&hex_text)?)
}

/// Writes JSON atomically and owner-only, so a reader never sees half a file.
fn write_json(path: &Path, value: &Value) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value).expect("plain JSON") + "\n";
    Ok(mpc_store::write_private(path, text.as_bytes())?)
}

/// The broker URL; for the embedded broker (started or joined) also the
/// read-only observer's credentials and a ready `nats sub` line.
async fn broker_info(settings: &Settings, json: bool) -> Result<(), CliError> {
    if let Some(url) = &settings.nats_url {
        let output = json!({"url": redact_credentials(url), "embedded": false});
        print_result(json, &output, |_| {
            format!(
                "broker {}\nthe observer's password is the broker operator's (MPC_NATS_OBSERVER_PASSWORD)",
                output["url"].as_str().unwrap_or_default()
            )
        });
        return Ok(());
    }
    let connection = settings.connect().await?;
    let observer = connection
        .observer()
        .expect("the embedded default has an observer");
    let output = json!({
        "url": observer.url,
        "embedded": true,
        "observer": {"user": observer.user, "password": observer.password},
        "nats_sub": observer.nats_sub_command(),
    });
    print_result(json, &output, |_| {
        format!(
            "broker {} (embedded, for MPC_HOME {})\nread-only observer: user {}, password {}\n{}",
            observer.url,
            settings.home.display(),
            observer.user,
            observer.password,
            observer.nats_sub_command()
        )
    });
    Ok(())
}

/// `nats://user:password@host:port,…` without the `user:password@` parts.
fn redact_credentials(urls: &str) -> String {
    urls.split(',')
        .map(|url| match (url.split_once("://"), url.rsplit_once('@')) {
            (Some((scheme, _)), Some((_, host))) => format!("{scheme}://{host}"),
            _ => url.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(",")
}
