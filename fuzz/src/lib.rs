//! Helpers shared by the fuzz targets.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::LazyLock;

use mpc_store::{save_share, KeySource, Overwrite, Passphrase, ShareMeta, ShareParty};

/// Applies `edits` to a copy of `valid`, so a target can explore the
/// neighbourhood of a well-formed input however libFuzzer mutates `edits`:
/// every 3 bytes are `offset (u16, big-endian, modulo the length), xor`;
/// a trailing single byte cuts the file at `byte/256` of its length, two
/// trailing bytes are appended.
pub fn mutate(valid: &[u8], edits: &[u8]) -> Vec<u8> {
    let mut out = valid.to_vec();
    let mut chunks = edits.chunks_exact(3);
    for edit in &mut chunks {
        if out.is_empty() {
            break;
        }
        let offset = usize::from(u16::from_be_bytes([edit[0], edit[1]])) % out.len();
        out[offset] ^= edit[2];
    }
    match chunks.remainder() {
        [cut] => out.truncate(out.len() * usize::from(*cut) / 256),
        tail => out.extend_from_slice(tail),
    }
    out
}

/// A private directory for targets that must go through a file path; removed
/// when the process ends normally (libFuzzer exits through `exit`, so a
/// crashed run may leave it behind in the system temp directory).
pub static SCRATCH: LazyLock<tempfile::TempDir> = LazyLock::new(|| {
    tempfile::Builder::new()
        .prefix("mpc-fuzz-")
        .tempdir()
        .expect("create a temp directory")
});

/// `name` inside [`SCRATCH`].
pub fn scratch_path(name: &str) -> PathBuf {
    SCRATCH.path().join(name)
}

/// The plaintext inside [`VALID_SHARE`].
pub const SHARE_PLAINTEXT: &[u8] = b"fuzz share plaintext";
const SHARE_PASSPHRASE: &str = "fuzz passphrase";

/// The passphrase of [`VALID_SHARE`].
pub fn share_passphrase() -> Passphrase {
    Passphrase::new(SHARE_PASSPHRASE.to_string()).expect("valid passphrase")
}

/// A valid passphrase share file (Argon2id, ~40 ms to make).
pub static VALID_SHARE: LazyLock<Vec<u8>> = LazyLock::new(|| {
    let path = scratch_path("valid");
    let meta = ShareMeta {
        wallet_id: "fuzz-wallet".into(),
        party: ShareParty::Client,
        share_version: 1,
        public_key: format!("02{}", "11".repeat(32)),
        metadata: BTreeMap::from([("protocol".into(), "dkls23".into())]),
    };
    let source = KeySource::Passphrase(share_passphrase());
    save_share(&path, &meta, SHARE_PLAINTEXT, &source, Overwrite::Replace)
        .expect("save a valid share");
    std::fs::read(&path).expect("read it back")
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutate_flips_cuts_and_appends() {
        assert_eq!(mutate(b"abcd", &[0, 1, 0x20]), b"aBcd");
        assert_eq!(mutate(b"abcd", &[0, 5, 0x20]), b"aBcd", "offset wraps");
        assert_eq!(mutate(b"abcd", &[128]), b"ab");
        assert_eq!(mutate(b"abcd", b"xy"), b"abcdxy");
        assert_eq!(mutate(b"", &[0, 0, 1]), b"");
    }
}
