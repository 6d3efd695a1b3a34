//! The operator's view of a share's life: wallet locks on either side,
//! backups restored under a new passphrase, rotation, including the crash
//! states between its steps and an old share that must stop working, and
//! the strength check on every new passphrase.

mod support;

use std::path::Path;
use std::time::Duration;

use mpc_api::SignRequest;
use mpc_e2e::{parse_success, Deployment, Role, CLIENT_PASSPHRASE, COSIGNER_PASSPHRASE};
use mpc_protocol::{DerivationPath, Dkls23, SessionContext, ThresholdSigner};
use mpc_session::{Identity, Op, SessionClient, SessionConfig, SessionId};
use mpc_store::{Expect, Passphrase};
use support::{address, assert_error, mode, path_str, sign_args, sign_message};

fn passphrase(text: &str) -> Passphrase {
    Passphrase::new(text.to_owned()).expect("non-empty")
}

#[test]
fn a_locked_wallet_is_refused_on_either_side_until_unlocked() {
    let d = Deployment::start();
    let keygen = d.keygen("client_share.enc");
    let share = d.path("client_share.enc");
    let wallet = address(&keygen, "address");
    let cosigner_share = d.cosigner_share(keygen["wallet_id"].as_str().unwrap());

    // The co-signer locks a wallet as it would after catching the client cheating.
    mpc_store::lock(
        &cosigner_share,
        "the client misbehaved",
        "sign.2 proof failed",
    )
    .unwrap();
    let message = assert_error(d.mpc_err(&sign_args(&share)), 6, "wallet_locked");
    assert!(
        message.contains("sign.2 proof failed"),
        "says why: {message}"
    );
    assert!(mpc_store::unlock(&cosigner_share).unwrap());
    assert_eq!(
        sign_message(&d, &share, "co-signer unlocked", &[]).0,
        wallet
    );

    // The client's own lock: refused before any session, cleared by `mpc unlock`.
    mpc_store::lock(&share, "the co-signer misbehaved", "dkg.3 check failed").unwrap();
    assert_error(d.mpc_err(&sign_args(&share)), 6, "wallet_locked");
    assert_error(
        d.mpc_err(&["rotate", "--share", path_str(&share)]),
        6,
        "wallet_locked",
    );
    let unlocked = d.mpc_ok(&["unlock", "--share", path_str(&share)]);
    assert_eq!(unlocked["unlocked"], true);
    assert_eq!(
        d.mpc_ok(&["unlock", "--share", path_str(&share)])["unlocked"],
        false
    );
    assert_eq!(sign_message(&d, &share, "client unlocked", &[]).0, wallet);
}

#[test]
fn a_backup_restores_under_a_new_passphrase_and_signs() {
    let d = Deployment::start();
    let keygen = d.keygen("client_share.enc");
    let share = d.path("client_share.enc");
    let backup = d.path("client_share.backup");
    let with_backup = |pw: &'static str| [("MPC_BACKUP_PASSPHRASE", pw)];

    let export = [
        "backup",
        "export",
        "--share",
        path_str(&share),
        "--out",
        path_str(&backup),
    ];
    let exported = d.mpc_ok_env(&with_backup("backup words"), &export);
    assert_eq!(exported["wallet_id"], keygen["wallet_id"]);
    assert_eq!(mode(&backup), 0o600);
    // A second export refuses to replace the first.
    let original = std::fs::read(&backup).unwrap();
    assert_error(
        d.mpc_err_env(&with_backup("other"), &export),
        2,
        "share_exists",
    );
    assert_eq!(std::fs::read(&backup).unwrap(), original);

    let verify = ["backup", "verify", "--in", path_str(&backup)];
    let verified = d.mpc_ok_env(&with_backup("backup words"), &verify);
    assert_eq!(verified["valid"], true);
    assert_eq!(address(&verified, "address"), address(&keygen, "address"));
    assert_error(
        d.mpc_err_env(&with_backup("wrong words"), &verify),
        4,
        "wrong_passphrase",
    );

    let restored = d.path("restored.enc");
    let import = [
        "backup",
        "import",
        "--in",
        path_str(&backup),
        "--out",
        path_str(&restored),
    ];
    let new_passphrase = [
        ("MPC_BACKUP_PASSPHRASE", "backup words"),
        ("MPC_PASSPHRASE", "a new machine's passphrase"),
    ];
    d.mpc_ok_env(&new_passphrase, &import);
    assert_eq!(mode(&restored), 0o600);
    assert_error(d.mpc_err_env(&new_passphrase, &import), 2, "share_exists");

    // The restored share opens only under the new passphrase, and signs.
    assert_error(d.mpc_err(&sign_args(&restored)), 4, "wrong_passphrase");
    let mut args = sign_args(&restored);
    args[4] = "restored";
    let signed = d.mpc_ok_env(&new_passphrase, &args);
    let signer = support::recover_personal("restored", signed["signature"].as_str().unwrap());
    assert_eq!(signer, address(&keygen, "address"));
}

fn share_version(path: &Path) -> u32 {
    mpc_store::read_info(path)
        .expect("a share header")
        .share_version
}

/// Signs with `share`'s material but a claimed share version: what a client
/// holding an old share could try. Built from the protocol and session crates
/// directly (a cheating client would not use the wallet's own library).
/// Returns how the attempt failed.
fn sign_claiming_version(d: &Deployment, share: &Path, version: u32) -> String {
    let loaded = mpc_store::load_share(
        share,
        Expect::party(mpc_store::ShareParty::Client),
        Some(&passphrase(CLIENT_PASSPHRASE)),
    )
    .expect("the old share decrypts");
    let secrets: ciborium::Value = ciborium::from_reader(&loaded.plaintext[..]).unwrap();
    let field = |name: &str| {
        secrets
            .as_map()
            .unwrap()
            .iter()
            .find(|(k, _)| k.as_text() == Some(name))
            .and_then(|(_, v)| v.as_bytes().cloned())
            .unwrap()
    };
    let key_share = mpc_protocol::KeyShare::from_cbor(&field("key_share")).unwrap();
    let identity = Identity::from_bytes(&field("identity").try_into().unwrap()).unwrap();
    let cosigner_pub = mpc_store::pairing::pinned_peer(&loaded.info).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let nats = mpc_session::connect(&d.nats.url(Role::Client))
            .await
            .unwrap();
        let config = SessionConfig {
            round_timeout: Duration::from_secs(3),
            ..SessionConfig::default()
        };
        let sessions = SessionClient::new(nats, identity, config);
        let payload = mpc_evm::SignPayload::PersonalMessage(b"doctored".to_vec().into());
        let digest = payload.digest().unwrap();
        let request = SignRequest {
            wallet_id: loaded.info.wallet_id.clone(),
            share_version: version,
            path: "m".to_owned(),
            payload,
        };
        let session = SessionId::random();
        let (mut channel, _) = match sessions
            .open(
                &cosigner_pub,
                &Op::Sign,
                &session,
                &mpc_api::encode(&request),
            )
            .await
        {
            Ok(opened) => opened,
            Err(error) => return format!("refused: {error}"),
        };
        let context = SessionContext::new(session.as_str(), loaded.info.wallet_id.as_str());
        match Dkls23
            .sign(
                &key_share,
                &DerivationPath::master(),
                digest,
                &context,
                &mut channel,
            )
            .await
        {
            Err(error) if error.is_misbehaviour() => format!("peer_misbehaved: {error}"),
            Err(error) => format!("protocol_aborted: {error}"),
            Ok(signature) => {
                let signature = alloy::primitives::Signature::new(
                    alloy::primitives::U256::from_be_bytes(signature.r),
                    alloy::primitives::U256::from_be_bytes(signature.s),
                    signature.y_parity,
                );
                let expected: alloy::primitives::Address = key_share.address().parse().unwrap();
                match mpc_evm::verify_signer(&digest, &signature, expected) {
                    Ok(()) => panic!("an old share produced a valid signature"),
                    Err(error) => format!("signature_invalid: {error}"),
                }
            }
        }
    })
}

#[test]
fn rotation_keeps_the_address_and_retires_the_old_share() {
    let d = Deployment::start();
    let keygen = d.keygen("client_share.enc");
    let wallet = address(&keygen, "address");
    let share = d.path("client_share.enc");
    let old = d.path("old_share.enc");
    std::fs::copy(&share, &old).unwrap();
    let cosigner_share = d.cosigner_share(keygen["wallet_id"].as_str().unwrap());

    let rotated = d.mpc_ok(&["rotate", "--share", path_str(&share)]);
    assert_eq!(address(&rotated, "address"), wallet);
    assert_eq!(rotated["share_version"], 1);
    assert_eq!(share_version(&share), 1);
    assert_eq!(share_version(&cosigner_share), 1);
    for file in [&share, &cosigner_share] {
        assert!(!mpc_store::next_path(file).exists(), "nothing left staged");
    }
    assert_eq!(sign_message(&d, &share, "rotated", &[]).0, wallet);

    // The old share is retired: refused by version, and with its version
    // doctored in memory, it still yields no signature.
    assert_error(d.mpc_err(&sign_args(&old)), 9, "client_share_outdated");
    let doctored = sign_claiming_version(&d, &old, 1);
    // DKLs23 aborts on the mismatched shares; at worst the check of the
    // result against the address catches it.
    assert!(
        ["protocol_aborted", "peer_misbehaved", "signature_invalid"]
            .iter()
            .any(|code| doctored.starts_with(code)),
        "{doctored}"
    );
    // The share file's header is authenticated: editing its version breaks it.
    let mut bytes = std::fs::read(&old).unwrap();
    let header_len = u32::from_be_bytes(bytes[10..14].try_into().unwrap()) as usize;
    let header = 14..14 + header_len;
    let at = bytes[header.clone()]
        .windows(13)
        .position(|w| w == b"share_version")
        .expect("the header names share_version")
        + header.start
        + 13;
    assert_eq!(bytes[at], 0x00, "CBOR unsigned 0");
    bytes[at] = 0x01;
    let edited = d.path("edited_share.enc");
    std::fs::write(&edited, bytes).unwrap();
    assert_error(d.mpc_err(&sign_args(&edited)), 4, "share_tampered");

    // The right share keeps signing afterwards.
    assert_eq!(sign_message(&d, &share, "still fine", &[]).0, wallet);

    // `rotate --backup-out` says earlier backups died and writes the one
    // that lives: after the share file is lost, it restores a signing wallet.
    let backup = d.path("after_rotation.backup");
    let words = [("MPC_BACKUP_PASSPHRASE", "backup words after the rotation")];
    let rotate = [
        "rotate",
        "--share",
        path_str(&share),
        "--backup-out",
        path_str(&backup),
    ];
    let rotated = d.mpc_ok_env(&words, &rotate);
    assert_eq!(rotated["earlier_backups_stale"], true);
    assert_eq!(rotated["share_version"], 2);
    assert_eq!(rotated["backup"], path_str(&backup));
    // An existing --backup-out is refused before the shares change.
    assert_error(d.mpc_err_env(&words, &rotate), 2, "share_exists");
    assert_eq!(share_version(&share), 2);
    std::fs::remove_file(&share).unwrap();
    d.mpc_ok_env(
        &words,
        &[
            "backup",
            "import",
            "--in",
            path_str(&backup),
            "--out",
            path_str(&share),
        ],
    );
    assert_eq!(share_version(&share), 2);
    assert_eq!(sign_message(&d, &share, "restored", &[]).0, wallet);
}

#[test]
fn a_backup_taken_before_a_rotation_is_reported_stale_and_not_restored() {
    let d = Deployment::start();
    let keygen = d.keygen("client_share.enc");
    let share = d.path("client_share.enc");
    let backup = d.path("before_rotation.backup");
    let words = [("MPC_BACKUP_PASSPHRASE", "words before the rotation")];
    let export = ["backup", "export", "--share", path_str(&share)];
    d.mpc_ok_env(
        &words,
        &[&export[..], &["--out", path_str(&backup)]].concat(),
    );
    let verify = ["backup", "verify", "--in", path_str(&backup)];
    let current = d.mpc_ok_env(&words, &verify);
    assert_eq!(
        (
            current["current"].as_bool(),
            current["share_version"].as_u64()
        ),
        (Some(true), Some(0))
    );

    d.mpc_ok(&["rotate", "--share", path_str(&share)]);
    // The co-signer answers, inside a session authenticated with the
    // backup's own identity, that it moved on: exit 9, and nothing restored.
    let message = assert_error(d.mpc_err_env(&words, &verify), 9, "backup_stale");
    assert!(message.contains("rotated to share version 1"), "{message}");
    let restored = d.path("restored.enc");
    let import = [
        "backup",
        "import",
        "--in",
        path_str(&backup),
        "--out",
        path_str(&restored),
    ];
    assert_error(d.mpc_err_env(&words, &import), 9, "backup_stale");
    assert!(!restored.exists(), "a refused import writes nothing");
    // Forced, it restores with the warning in its output; the share cannot sign.
    let forced = d.mpc_ok_env(&words, &[&import[..], &["--allow-stale"]].concat());
    assert_eq!(forced["current"], false);
    assert_error(d.mpc_err(&sign_args(&restored)), 9, "client_share_outdated");

    // Offline, verify still checks the backup itself and says it could not ask.
    let offline = [(
        "MPC_NATS_URL",
        format!("nats://127.0.0.1:{}", mpc_testkit::free_port()),
    )];
    let offline: Vec<(&str, &str)> = words
        .iter()
        .copied()
        .chain(offline.iter().map(|(k, v)| (*k, v.as_str())))
        .collect();
    let unchecked = d.mpc_ok_env(&offline, &verify);
    assert_eq!(
        (unchecked["valid"].as_bool(), unchecked["current"].as_null()),
        (Some(true), Some(()))
    );
    assert_eq!(unchecked["address"], keygen["address"]);
}

#[test]
fn signing_settles_a_rotation_interrupted_on_either_side() {
    let d = Deployment::start();
    let keygen = d.keygen("client_share.enc");
    let wallet = address(&keygen, "address");
    let share = d.path("client_share.enc");
    let before = std::fs::read(&share).unwrap();
    d.mpc_ok(&["rotate", "--share", path_str(&share)]);

    // The client died after the co-signer promoted, before its own promote:
    // old share current, new one staged. Signing promotes it and succeeds.
    let after = std::fs::read(&share).unwrap();
    std::fs::write(mpc_store::next_path(&share), &after).unwrap();
    std::fs::write(&share, &before).unwrap();
    assert_eq!(
        sign_message(&d, &share, "promoted on the way", &[]).0,
        wallet
    );
    assert_eq!(share_version(&share), 1);
    assert!(!mpc_store::next_path(&share).exists());

    // A staged share the co-signer never promoted, on the client: discarded,
    // the current share signs.
    let current = mpc_store::load_share(
        &share,
        Expect::default(),
        Some(&passphrase(CLIENT_PASSPHRASE)),
    )
    .unwrap();
    mpc_store::stage_next(
        &share,
        &current.plaintext,
        2,
        Some(&passphrase(CLIENT_PASSPHRASE)),
    )
    .unwrap();
    assert_eq!(
        sign_message(&d, &share, "stale client stage", &[]).0,
        wallet
    );
    assert_eq!(share_version(&share), 1);
    assert!(
        !mpc_store::next_path(&share).exists(),
        "stale stage discarded"
    );

    // The same on the co-signer's side.
    let cosigner_share = d.cosigner_share(keygen["wallet_id"].as_str().unwrap());
    let cosigner_pw = passphrase(COSIGNER_PASSPHRASE);
    let current =
        mpc_store::load_share(&cosigner_share, Expect::default(), Some(&cosigner_pw)).unwrap();
    mpc_store::stage_next(&cosigner_share, &current.plaintext, 2, Some(&cosigner_pw)).unwrap();
    assert_eq!(
        sign_message(&d, &share, "stale co-signer stage", &[]).0,
        wallet
    );
    assert_eq!(share_version(&cosigner_share), 1);
    // The co-signer settles once its side of the session completed, which
    // may be just after the client has its signature.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while mpc_store::next_path(&cosigner_share).exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(
        !mpc_store::next_path(&cosigner_share).exists(),
        "stale stage discarded"
    );
}

/// Runs `mpc-cosigner --data-dir <its data> <args>` as the operator would.
fn cosigner_admin(d: &Deployment, args: &[&str], backup_passphrase: &str) -> std::process::Output {
    std::process::Command::new(mpc_e2e::binary("mpc-cosigner"))
        .arg("--data-dir")
        .arg(d.cosigner_data())
        .args(args)
        .env_clear()
        .env("MPC_KEY_SOURCE", "passphrase")
        .env("MPC_PASSPHRASE", COSIGNER_PASSPHRASE)
        .env("MPC_BACKUP_PASSPHRASE", backup_passphrase)
        .output()
        .expect("run mpc-cosigner")
}

#[test]
fn a_cosigner_share_restored_from_its_backup_signs_again() {
    let d = Deployment::start();
    let keygen = d.keygen("client_share.enc");
    let share = d.path("client_share.enc");
    let wallet_id = keygen["wallet_id"].as_str().unwrap();
    let cosigner_share = d.cosigner_share(wallet_id);
    let backup = d.path("cosigner.backup");
    let backup_arg = path_str(&backup);

    let exported = cosigner_admin(
        &d,
        &[
            "backup", "export", "--wallet", wallet_id, "--out", backup_arg,
        ],
        "co-signer backup pw",
    );
    assert!(
        exported.status.success(),
        "{}",
        String::from_utf8_lossy(&exported.stderr)
    );
    assert_eq!(mode(&backup), 0o600);

    let wrong = cosigner_admin(&d, &["backup", "verify", "--in", backup_arg], "not it");
    assert!(!wrong.status.success());
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("wrong passphrase"));
    let verified = cosigner_admin(
        &d,
        &["backup", "verify", "--in", backup_arg],
        "co-signer backup pw",
    );
    let verified: serde_json::Value = serde_json::from_slice(&verified.stdout).expect("JSON");
    assert_eq!(verified["valid"], true);
    assert_eq!(verified["wallet_id"], wallet_id);

    // The co-signer loses its share: the wallet cannot sign...
    std::fs::remove_file(&cosigner_share).unwrap();
    let (_, error, _) = d.mpc_err(&sign_args(&share));
    assert_eq!(error["error"]["code"], "unknown_wallet");
    // ...until the operator restores the backup.
    let imported = cosigner_admin(
        &d,
        &["backup", "import", "--in", backup_arg],
        "co-signer backup pw",
    );
    assert!(
        imported.status.success(),
        "{}",
        String::from_utf8_lossy(&imported.stderr)
    );
    let (signer, _) = sign_message(&d, &share, "after restore", &[]);
    assert_eq!(signer, address(&keygen, "address"));
    // After a rotation the co-signer's backup is stale too: verify and
    // import say so with exit 9, and import needs --allow-stale.
    d.mpc_ok(&["rotate", "--share", path_str(&share)]);
    let stale = cosigner_admin(
        &d,
        &["backup", "verify", "--in", backup_arg],
        "co-signer backup pw",
    );
    assert_eq!(stale.status.code(), Some(9));
    assert!(String::from_utf8_lossy(&stale.stderr).contains("rotated to share version 1"));
    let refused = cosigner_admin(
        &d,
        &["backup", "import", "--in", backup_arg, "--force"],
        "co-signer backup pw",
    );
    assert_eq!(refused.status.code(), Some(9));
    assert_eq!(share_version(&cosigner_share), 1, "the current share stays");
    // A client backup is not a co-signer backup.
    let client_backup = d.path("client.backup");
    d.mpc_ok_env(
        &[("MPC_BACKUP_PASSPHRASE", "client pw")],
        &[
            "backup",
            "export",
            "--share",
            path_str(&share),
            "--out",
            path_str(&client_backup),
        ],
    );
    let mixed = cosigner_admin(
        &d,
        &[
            "backup",
            "import",
            "--in",
            path_str(&client_backup),
            "--force",
        ],
        "client pw",
    );
    assert!(!mixed.status.success());
    assert!(String::from_utf8_lossy(&mixed.stderr).contains("not a co-signer"));
}

/// A new share or backup passphrase that zxcvbn scores weak: at a prompt it
/// is refused with zxcvbn's advice and asked again; from the environment it
/// is used with one warning line (scripts keep working); opening an existing
/// share never warns.
#[test]
fn weak_new_passphrases_are_asked_again_at_a_prompt_and_warned_about_from_the_environment() {
    let d = Deployment::start();
    let weak = "abc";
    let strong = "tangerine orbit velvet quarry";

    // From the environment: used, one warning on stderr, stdout one JSON object.
    let env_share = d.path("weak_env.enc");
    let output = d
        .mpc()
        .env_remove("MPC_LOG")
        .env("MPC_PASSPHRASE", weak)
        .args(["keygen", "--out", path_str(&env_share), "--json"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let keygen: serde_json::Value = serde_json::from_str(&stdout).expect("one JSON object");
    assert_eq!(stdout.trim().lines().count(), 1, "{stdout}");
    assert_eq!(stderr.lines().count(), 1, "one warning line: {stderr}");
    assert!(
        stderr.starts_with("warning: the new share passphrase from MPC_PASSPHRASE")
            && stderr.contains("too weak (strength 0 of 4")
            && stderr.contains("Sequences like abc"),
        "{stderr}"
    );
    let opened = d
        .mpc()
        .env_remove("MPC_LOG")
        .env("MPC_PASSPHRASE", weak)
        .args(["address", "--share", path_str(&env_share), "--json"])
        .output()
        .unwrap();
    assert_eq!(
        parse_success(&["address"], &opened)["address"],
        keygen["address"]
    );
    assert_eq!(
        String::from_utf8_lossy(&opened.stderr),
        "",
        "opening never warns"
    );

    let backup = d.path("weak.backup");
    let exported = d
        .mpc()
        .env_remove("MPC_LOG")
        .env("MPC_PASSPHRASE", weak)
        .env("MPC_BACKUP_PASSPHRASE", "password")
        .args(["backup", "export", "--share", path_str(&env_share)])
        .args(["--out", path_str(&backup), "--json"])
        .output()
        .unwrap();
    parse_success(&["backup", "export"], &exported);
    let stderr = String::from_utf8_lossy(&exported.stderr);
    assert!(
        stderr.starts_with("warning: the new backup passphrase from MPC_BACKUP_PASSPHRASE")
            && stderr.contains("common password"),
        "{stderr}"
    );

    // The co-signer's new backup: the same check, as a log line.
    let cosigner_backup = d.path("cosigner.backup");
    let wallet_id = keygen["wallet_id"].as_str().unwrap();
    let admin = cosigner_admin(
        &d,
        &[
            "backup",
            "export",
            "--wallet",
            wallet_id,
            "--out",
            path_str(&cosigner_backup),
        ],
        "password",
    );
    let stderr = String::from_utf8_lossy(&admin.stderr);
    assert!(admin.status.success(), "{stderr}");
    assert!(
        stderr.contains("backup passphrase (MPC_BACKUP_PASSPHRASE") && stderr.contains("too weak"),
        "{stderr}"
    );

    // At a terminal: "abc" is refused with zxcvbn's advice, then a strong one is taken.
    let prompt = "passphrase for the new share: ";
    let exchanges = serde_json::json!([
        [prompt, weak],
        [prompt, strong],
        ["passphrase for the new share (again): ", strong],
    ]);
    let prompted_share = d.path("prompted.enc");
    let typed = std::process::Command::new(mpc_testkit::tool("python3"))
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/pty_prompt.py"))
        .arg(exchanges.to_string())
        .arg("--")
        .arg(mpc_e2e::binary("mpc"))
        .args(["keygen", "--key-source", "passphrase", "--out"])
        .arg(&prompted_share)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("MPC_NATS_URL", d.nats.url(Role::Client))
        .env("MPC_HOME", d.path("client-home"))
        .output()
        .unwrap();
    let result: serde_json::Value = serde_json::from_slice(&typed.stdout).unwrap_or_else(|e| {
        panic!(
            "pty_prompt.py: {e} {}",
            String::from_utf8_lossy(&typed.stderr)
        )
    });
    let screen = result["screen"].as_str().unwrap();
    assert_eq!(result["exit"], 0, "{screen}");
    assert_eq!(result["unanswered"], serde_json::json!([]), "{screen}");
    assert!(
        screen.contains("That passphrase for the new share is too weak (strength 0 of 4")
            && screen.contains("Sequences like abc")
            && screen.contains("Try another"),
        "{screen}"
    );
    assert!(screen.contains("address    0x"), "{screen}");
    let opened = d.mpc_ok_env(
        &[("MPC_PASSPHRASE", strong)],
        &["address", "--share", path_str(&prompted_share)],
    );
    assert!(opened["address"].is_string());
}
