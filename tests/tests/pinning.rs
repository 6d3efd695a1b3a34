//! Out-of-band pinning across real processes: `mpc-cosigner identity` prints
//! the key and fingerprint the operator hands out, `mpc keygen
//! --cosigner-key` (or `MPC_COSIGNER_KEY`) accepts the co-signer that has it
//! and refuses an impostor answering on the same broker, writing nothing.

mod support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use k256::sha2::{Digest, Sha256};
use mpc_e2e::{binary, Deployment, Role, COSIGNER_PASSPHRASE};
use serde_json::Value;
use support::{assert_error, path_str};

/// `mpc-cosigner --data-dir DIR identity --json`.
fn identity(data_dir: &Path) -> (String, String) {
    let output = Command::new(binary("mpc-cosigner"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(["identity", "--json"])
        .env_clear()
        .output()
        .expect("run mpc-cosigner identity");
    assert!(output.status.success(), "{output:?}");
    let json: Value = serde_json::from_slice(&output.stdout).expect("one JSON object");
    let field = |name: &str| json[name].as_str().expect(name).to_owned();
    (field("public_key"), field("fingerprint"))
}

/// The documented fingerprint, computed here: SHA-256 of the raw key, first
/// 16 bytes, hex in groups of four.
fn fingerprint_of(public_key_hex: &str) -> String {
    let digest = Sha256::digest(hex::decode(public_key_hex).expect("hex key"));
    let digits = hex::encode(&digest[..16]);
    let groups: Vec<&str> = (0..8).map(|i| &digits[i * 4..i * 4 + 4]).collect();
    groups.join(":")
}

/// A second co-signer with its own data dir (so its own identity) on the
/// same broker; killed when dropped.
struct Impostor(Child);

impl Impostor {
    fn start(d: &Deployment, data_dir: &Path) -> Impostor {
        let child = Command::new(binary("mpc-cosigner"))
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--open-enrollment")
            .env_clear()
            .env("MPC_NATS_URL", d.nats.url(Role::Cosigner))
            .env("MPC_KEY_SOURCE", "passphrase")
            .env("MPC_PASSPHRASE", COSIGNER_PASSPHRASE)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn the impostor co-signer");
        let impostor = Impostor(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while !d
            .mpc()
            .args(["health", "--json"])
            .output()
            .unwrap()
            .status
            .success()
        {
            assert!(Instant::now() < deadline, "the impostor never answered");
            std::thread::sleep(Duration::from_millis(100));
        }
        impostor
    }
}

impl Drop for Impostor {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn keygen_pins_the_given_cosigner_key_and_refuses_an_impostor() {
    let mut d = Deployment::start();
    let (public_key, fingerprint) = identity(&d.cosigner_data());
    assert_eq!(public_key.len(), 64, "{public_key}");
    assert_eq!(fingerprint, fingerprint_of(&public_key));
    assert_eq!(
        identity(&d.cosigner_data()).0,
        public_key,
        "the same key each time"
    );

    // The whole key as a flag.
    let by_key = d.mpc_ok(&[
        "keygen",
        "--out",
        path_str(&d.path("by_key.enc")),
        "--cosigner-key",
        &public_key,
    ]);
    assert_eq!(by_key["cosigner_fingerprint"], fingerprint.as_str());

    // The fingerprint from the environment, upper case; text output shows it.
    let text = d
        .mpc()
        .env("MPC_COSIGNER_KEY", fingerprint.to_uppercase())
        .args(["keygen", "--out", path_str(&d.path("by_fingerprint.enc"))])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert!(text.status.success(), "{stdout} {:?}", text.stderr);
    assert!(
        stdout.contains(&format!("co-signer  {fingerprint}")),
        "{stdout}"
    );
    assert!(d.path("by_fingerprint.enc").is_file());

    let malformed = d.mpc_err(&["keygen", "--out", "x.enc", "--cosigner-key", "abcd"]);
    let message = assert_error(malformed, 2, "usage");
    assert!(message.contains("fingerprint"), "{message}");

    // The real co-signer is gone; another one answers `hello` on its subjects.
    d.cosigner.kill();
    let impostor_dir = d.path("impostor");
    let _impostor = Impostor::start(&d, &impostor_dir);
    let (_, impostor_fingerprint) = identity(&impostor_dir);
    assert_ne!(impostor_fingerprint, fingerprint);

    let out = d.path("impostor.enc");
    for pinned in [public_key.as_str(), fingerprint.as_str()] {
        let refused = d.mpc_err(&["keygen", "--out", path_str(&out), "--cosigner-key", pinned]);
        let message = assert_error(refused, 1, "cosigner_key_mismatch");
        assert!(
            message.contains(&fingerprint) && message.contains(&impostor_fingerprint),
            "names both keys: {message}"
        );
        assert!(!out.exists(), "no share written");
    }
    let impostor_wallets = impostor_dir.join("wallets");
    let kept = std::fs::read_dir(&impostor_wallets).map_or(0, |dir| dir.count());
    assert_eq!(kept, 0, "the impostor never saw a keygen");

    // Without the key, keygen trusts whoever answers, and says whom.
    let trusting = d.mpc_ok(&["keygen", "--out", path_str(&out)]);
    assert_eq!(
        trusting["cosigner_fingerprint"],
        impostor_fingerprint.as_str()
    );
}
