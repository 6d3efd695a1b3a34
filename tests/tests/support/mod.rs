//! Checks shared by the wallet end-to-end tests: signatures are recovered
//! here with k256, independently of the wallet's own verification.

#![allow(dead_code)] // each test file uses a different subset

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use alloy::primitives::{eip191_hash_message, keccak256, Address};
use k256::ecdsa::{RecoveryId, Signature, VerifyingKey};
use mpc_e2e::Deployment;
use serde_json::Value;

/// The address that signed `message` (EIP-191 personal_sign) with the
/// 65-byte `r ‖ s ‖ v` signature; asserts that s is low (EIP-2).
pub fn recover_personal(message: &str, signature_hex: &str) -> Address {
    let bytes = hex::decode(signature_hex.trim_start_matches("0x")).expect("hex signature");
    assert_eq!(bytes.len(), 65, "personal_sign signatures are 65 bytes");
    let signature = Signature::from_slice(&bytes[..64]).expect("r and s are valid scalars");
    assert_eq!(
        signature.normalize_s(),
        signature,
        "s must be in the lower half of the curve order"
    );
    let v = bytes[64];
    assert!(v == 27 || v == 28, "personal_sign v is 27 or 28, got {v}");
    let recovery = RecoveryId::new(v == 28, false);
    let digest = eip191_hash_message(message.as_bytes());
    let key = VerifyingKey::recover_from_prehash(digest.as_slice(), &signature, recovery)
        .expect("the signature recovers to a key");
    let point = key.to_sec1_point(false);
    Address::from_slice(&keccak256(&point.as_bytes()[1..])[12..])
}

/// Signs `message` with `mpc sign` and returns the recovered signer and the JSON.
pub fn sign_message(
    d: &Deployment,
    share: &Path,
    message: &str,
    extra: &[&str],
) -> (Address, Value) {
    let mut args = vec!["sign", "--share", path_str(share), "--message", message];
    args.extend_from_slice(extra);
    let signed = d.mpc_ok(&args);
    let signer = recover_personal(message, signed["signature"].as_str().expect("signature"));
    (signer, signed)
}

/// The address field of a JSON result, parsed.
pub fn address(json: &Value, field: &str) -> Address {
    json[field]
        .as_str()
        .unwrap_or_else(|| panic!("no {field} in {json}"))
        .parse()
        .expect("an address")
}

/// `mpc sign` of a short message with a short timeout, for failure checks.
pub fn sign_args(share: &Path) -> Vec<&str> {
    vec![
        "sign",
        "--share",
        path_str(share),
        "--message",
        "x",
        "--timeout",
        "3",
    ]
}

pub fn path_str(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

pub fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// Asserts a CLI failure's exit code and `error.code`, returning the message.
pub fn assert_error(result: (i32, Value, String), exit: i32, code: &str) -> String {
    let (status, json, stderr) = result;
    assert_eq!(
        json["error"]["code"], code,
        "expected code {code}, got {json} (stderr: {stderr})"
    );
    assert_eq!(status, exit, "exit code for {code}: {json}");
    let message = json["error"]["message"].as_str().expect("a message");
    assert!(!message.is_empty(), "an error says what failed");
    message.to_owned()
}
