//! Docker is not available here, so compose.yaml is checked structurally:
//! every service the wallet needs is there, and every flag and environment
//! variable it passes to our binaries is one those binaries actually read
//! (as their own `--help` says), so the file cannot drift from the code.

use std::collections::BTreeSet;
use std::process::Command;

use mpc_e2e::binary;
use serde_yaml::Value;

fn root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

fn compose() -> Value {
    let text = std::fs::read_to_string(root().join("compose.yaml")).expect("read compose.yaml");
    serde_yaml::from_str(&text).expect("compose.yaml is YAML")
}

fn service<'a>(compose: &'a Value, name: &str) -> &'a Value {
    let service = &compose["services"][name];
    assert!(service.is_mapping(), "compose.yaml has no service {name:?}");
    service
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_sequence()
        .map(|items| {
            items
                .iter()
                .map(|item| item.as_str().expect("a string").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn environment_names(service: &Value) -> BTreeSet<String> {
    service["environment"]
        .as_mapping()
        .expect("environment is a map")
        .keys()
        .map(|key| key.as_str().expect("string keys").to_owned())
        .collect()
}

fn help(program: &str) -> String {
    let output = Command::new(binary(program))
        .arg("--help")
        .output()
        .expect("run --help");
    assert!(output.status.success(), "{program} --help failed");
    String::from_utf8(output.stdout).expect("UTF-8 help")
}

/// Checks a service that runs one of our binaries against that binary's help.
fn check_worker(compose: &Value, name: &str, program: &str) {
    let service = service(compose, name);
    let command = strings(&service["command"]);
    assert_eq!(
        command.first().map(String::as_str),
        Some(program),
        "{name} runs {program}"
    );
    let help = help(program);
    for flag in command.iter().filter(|arg| arg.starts_with("--")) {
        assert!(
            help.contains(flag.as_str()),
            "{program} has no flag {flag} (compose service {name})"
        );
    }
    for variable in environment_names(service) {
        // MPC_LOG is read by the shared logging setup of every binary.
        assert!(
            variable == "MPC_LOG" || help.contains(&variable),
            "{program} does not read {variable} (compose service {name})"
        );
    }
    let image = service["image"].as_str().unwrap_or_default();
    assert!(
        image.starts_with("mpc-wallet"),
        "{name} uses the image built from this repository"
    );
}

#[test]
fn compose_services_match_the_binaries_flags_and_environment() {
    let compose = compose();
    check_worker(&compose, "cosigner", "mpc-cosigner");
    check_worker(&compose, "broadcaster", "mpc-broadcaster");
    assert_eq!(
        service(&compose, "cosigner")["build"].as_str(),
        Some("."),
        "the co-signer image is built from the workspace Dockerfile"
    );
}

#[test]
fn the_fleet_profile_is_a_cluster_of_three_with_replicated_cosigners_and_broadcasters() {
    let compose = compose();
    let in_fleet = |name: &str| {
        let service = service(&compose, name);
        assert_eq!(
            strings(&service["profiles"]),
            ["fleet"],
            "{name} is in the fleet profile"
        );
        service
    };
    let names: BTreeSet<String> = (1..=3)
        .map(|i| {
            let node = in_fleet(&format!("nats-{i}"));
            let command = strings(&node["command"]);
            assert!(command
                .windows(2)
                .any(|w| w == ["-c", "/etc/nats/cluster.conf"]));
            let env = &node["environment"];
            for route in ["MPC_NATS_ROUTE_1", "MPC_NATS_ROUTE_2"] {
                let peer = env[route].as_str().unwrap();
                assert!(
                    peer.starts_with("nats-route://nats-") && !peer.contains(&format!("nats-{i}:")),
                    "nats-{i} routes to another node: {peer}"
                );
            }
            env["MPC_NATS_SERVER_NAME"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(names.len(), 3, "every node has its own name");
    let cluster = std::fs::read_to_string(root().join("nats/cluster.conf")).unwrap();
    for variable in [
        "MPC_NATS_SERVER_NAME",
        "MPC_NATS_CLUSTER_LISTEN",
        "MPC_NATS_ROUTE_1",
    ] {
        assert!(
            cluster.contains(&format!("${variable}")),
            "cluster.conf reads {variable}"
        );
    }
    for i in 1..=2 {
        let name = format!("cosigner-{i}");
        in_fleet(&name);
        check_worker(&compose, &name, "mpc-cosigner");
        let command = strings(&service(&compose, &name)["command"]);
        assert!(command.windows(2).any(|w| w == ["--store", "jetstream"]));
        check_worker(&compose, &format!("broadcaster-{i}"), "mpc-broadcaster");
        for worker in [name, format!("broadcaster-{i}")] {
            let url = service(&compose, &worker)["environment"]["MPC_NATS_URL"]
                .as_str()
                .unwrap()
                .to_owned();
            assert_eq!(url.split(',').count(), 3, "{worker} knows every node");
        }
    }
}

#[test]
fn the_broker_runs_the_repository_config_with_every_role_password() {
    let compose = compose();
    let nats = service(&compose, "nats");
    assert!(nats["image"]
        .as_str()
        .unwrap_or_default()
        .starts_with("nats:"));
    let command = strings(&nats["command"]);
    assert!(command
        .windows(2)
        .any(|w| w == ["-c", "/etc/nats/server.conf"]));
    assert!(command.iter().any(|arg| arg == "-js"), "JetStream is on");
    assert!(strings(&nats["volumes"])
        .iter()
        .any(|v| v.starts_with("./nats:/etc/nats")));

    let users = std::fs::read_to_string(root().join("nats/users.conf")).expect("users.conf");
    let referenced: BTreeSet<String> = users
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '$'))
        .filter_map(|token| token.strip_prefix('$'))
        .filter(|name| name.starts_with("MPC_"))
        .map(str::to_owned)
        .collect();
    assert_eq!(referenced.len(), 4, "one password per role in users.conf");
    assert_eq!(environment_names(nats), referenced);
}

#[test]
fn volumes_secrets_and_tools_are_declared() {
    let compose = compose();
    let declared = |section: &str| -> BTreeSet<String> {
        compose[section]
            .as_mapping()
            .map(|m| m.keys().map(|k| k.as_str().unwrap().to_owned()).collect())
            .unwrap_or_default()
    };
    let volumes = declared("volumes");
    let secrets = declared("secrets");
    for (name, service) in compose["services"].as_mapping().expect("services") {
        for volume in strings(&service["volumes"]) {
            let source = volume.split(':').next().unwrap();
            if !source.starts_with('.') {
                assert!(
                    volumes.contains(source),
                    "volume {source} of {name:?} is declared"
                );
            }
        }
        for secret in strings(&service["secrets"]) {
            assert!(
                secrets.contains(&secret),
                "secret {secret} of {name:?} is declared"
            );
        }
    }
    assert!(service(&compose, "nats-box")["image"]
        .as_str()
        .unwrap_or_default()
        .starts_with("natsio/nats-box"));
    let dockerfile = std::fs::read_to_string(root().join("Dockerfile")).expect("Dockerfile");
    for program in ["mpc", "mpc-cosigner", "mpc-broadcaster"] {
        assert!(
            dockerfile.contains(&format!("target/release/{program} ")),
            "the image ships {program}"
        );
    }
}
