//! mpc-store full load (`load_share`, Argon2id, key check, AES-GCM) with the
//! right passphrase, on edits of a valid passphrase share file, or on a whole
//! file when the input starts with the magic. Argon2id costs ~40 ms a run:
//! run it with few iterations; `share_header` covers the parser at speed.
//! Invariant: a changed file never loads; an unchanged one loads intact.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mpc_fuzz::{mutate, scratch_path, share_passphrase, SHARE_PLAINTEXT, VALID_SHARE};
use mpc_store::{load_share, Expect};

fuzz_target!(|data: &[u8]| {
    let file = if data.starts_with(b"MPCSHARE") {
        data.to_vec()
    } else {
        mutate(&VALID_SHARE, data)
    };
    let path = scratch_path("share");
    std::fs::write(&path, &file).expect("write scratch file");
    match load_share(&path, Expect::default(), Some(&share_passphrase())) {
        Ok(loaded) => {
            assert_eq!(file, *VALID_SHARE, "a modified file loaded");
            assert_eq!(&loaded.plaintext[..], SHARE_PLAINTEXT);
        }
        Err(_) => assert_ne!(file, *VALID_SHARE, "the valid file failed to load"),
    }
});
