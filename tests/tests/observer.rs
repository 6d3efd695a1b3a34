//! Traffic anyone can inspect: `mpc broker info` hands out the read-only
//! `observer` user of the embedded broker, and an independent client
//! (nats-py, tests/fixtures/observer.py) sees a sign's session headers as
//! it runs, and is refused when it tries to publish.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::Stdio;

use mpc_e2e::{embedded_mpc, embedded_serve, parse_success};
use serde_json::Value;

fn mpc(home: &Path, args: &[&str]) -> Value {
    let output = embedded_mpc(home, &[], args)
        .arg("--json")
        .output()
        .unwrap();
    parse_success(args, &output)
}

#[test]
fn the_observer_sees_every_session_and_publishes_nothing() {
    let home_dir = tempfile::tempdir().unwrap();
    let home = home_dir.path();
    // Keeps the embedded instance up between the commands below.
    let server = embedded_serve(home, &[]);
    mpc(home, &["keygen", "--out", "a.enc"]);

    let info = mpc(home, &["broker", "info"]);
    let (url, password) = (
        info["url"].as_str().unwrap(),
        info["observer"]["password"].as_str().unwrap(),
    );
    assert_eq!(info["observer"]["user"], "observer");
    assert_eq!(
        info["nats_sub"],
        format!("nats --server {url} --user observer --password {password} sub 'mpc.>'")
    );
    let text = embedded_mpc(home, &[], &["broker", "info"])
        .output()
        .unwrap();
    assert!(text.status.success());
    assert!(
        String::from_utf8(text.stdout)
            .unwrap()
            .lines()
            .any(|line| line == info["nats_sub"]),
        "the text output carries the ready line"
    );

    // Not from the workspace root: its nats/ folder would shadow the package.
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/observer.py");
    // Through the venv's own path (one link down, not to the base
    // interpreter): only there does Python find the venv and nats-py.
    let tool = mpc_testkit::tool("python3");
    let python = std::fs::read_link(&tool).unwrap_or(tool);
    let mut observer = std::process::Command::new(python)
        .arg(&script)
        .args([url, password])
        .current_dir(home)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(observer.stdout.take().unwrap());
    let mut ready = String::new();
    lines.read_line(&mut ready).unwrap();
    if ready.trim() != r#"{"ready": true}"# {
        let mut stderr = String::new();
        let _ = std::io::Read::read_to_string(&mut observer.stderr.take().unwrap(), &mut stderr);
        panic!("observer.py did not subscribe: {ready:?} {stderr}");
    }

    // Text mode: the session id comes first, on stderr.
    let signed = embedded_mpc(
        home,
        &[],
        &["sign", "--share", "a.enc", "--message", "seen"],
    )
    .output()
    .unwrap();
    assert!(
        signed.status.success(),
        "{}",
        String::from_utf8_lossy(&signed.stderr)
    );
    let stderr = String::from_utf8(signed.stderr).unwrap();
    let session = stderr
        .lines()
        .next()
        .and_then(|line| line.strip_prefix("session "))
        .unwrap_or_else(|| panic!("no session line first on stderr: {stderr:?}"))
        .to_owned();

    let mut stdin = observer.stdin.take().unwrap();
    writeln!(stdin, "{session}").unwrap();
    let mut report = String::new();
    lines.read_line(&mut report).unwrap();
    let report: Value = serde_json::from_str(&report).unwrap_or_else(|e| {
        let mut stderr = String::new();
        let _ = std::io::Read::read_to_string(&mut observer.stderr.take().unwrap(), &mut stderr);
        panic!("observer.py printed no report ({e}): {report:?} {stderr}")
    });
    assert!(observer.wait().unwrap().success());

    let messages = report["messages"].as_array().unwrap();
    assert!(!messages.is_empty(), "the observer saw the sign: {report}");
    let mut rounds: Vec<&str> = messages
        .iter()
        .map(|m| {
            assert_eq!(m["headers"]["Mpc-Session"], session.as_str(), "{m}");
            m["headers"]["Mpc-Round"].as_str().unwrap()
        })
        .collect();
    rounds.dedup();
    assert!(
        rounds.len() > 1 && rounds.iter().all(|r| r.starts_with("sign.")),
        "the sign's round names: {rounds:?}"
    );

    let errors: Vec<&str> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    for probe in report["probes"].as_array().unwrap() {
        let probe = probe.as_str().unwrap();
        assert!(
            errors
                .iter()
                .any(|e| e.contains("permissions violation for publish") && e.contains(probe)),
            "publishing to {probe} was refused: {errors:?}"
        );
    }
    assert_eq!(
        report["echoed"],
        serde_json::json!([]),
        "no probe reached anyone"
    );

    // --json: stdout one object, stderr clean, the session id in the result.
    let output = embedded_mpc(
        home,
        &[],
        &["sign", "--share", "a.enc", "--message", "quiet", "--json"],
    )
    .output()
    .unwrap();
    let quiet = parse_success(&["sign"], &output);
    assert!(quiet["session_id"].is_string());
    assert_eq!(String::from_utf8_lossy(&output.stderr), "");

    server.terminate();
}

#[test]
fn broker_info_for_a_broker_url_names_no_credentials() {
    let home = tempfile::tempdir().unwrap();
    let info = parse_success(
        &["broker", "info"],
        &embedded_mpc(
            home.path(),
            &[(
                "MPC_NATS_URL",
                "nats://client:secret@10.0.0.1:4222,nats://client:secret@10.0.0.2:4222",
            )],
            &["broker", "info", "--json"],
        )
        .output()
        .unwrap(),
    );
    assert_eq!(info["url"], "nats://10.0.0.1:4222,nats://10.0.0.2:4222");
    assert_eq!(info["embedded"], false);
    assert!(info.get("observer").is_none());
}
