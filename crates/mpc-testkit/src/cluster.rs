//! A 3-node nats-server cluster on loopback (`nats/cluster.conf`): each node
//! has its own JetStream store, so R3 streams and KV buckets are replicated
//! for real, and any node can be killed and started again on its ports.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use crate::{free_port, spawn_listening, stop, tool, workspace_root, Role};

/// Nodes in the cluster: the smallest that survives losing one (R3).
pub const CLUSTER_SIZE: usize = 3;

struct Node {
    name: String,
    port: u16,
    cluster_port: u16,
    monitor_port: u16,
    store: tempfile::TempDir,
    child: Option<Child>,
}

pub struct NatsCluster {
    nodes: Vec<Node>,
    passwords: [String; Role::ALL.len()],
}

impl NatsCluster {
    /// Starts the three nodes and waits until JetStream has a meta leader
    /// and every node reports healthy.
    pub fn start() -> Self {
        let passwords = Role::ALL.map(|_| hex::encode(rand::random::<[u8; 16]>()));
        let nodes = (1..=CLUSTER_SIZE)
            .map(|i| Node {
                name: format!("n{i}"),
                port: free_port(),
                cluster_port: free_port(),
                monitor_port: free_port(),
                store: tempfile::tempdir().expect("temp dir for JetStream"),
                child: None,
            })
            .collect();
        let mut cluster = NatsCluster { nodes, passwords };
        for index in 0..CLUSTER_SIZE {
            cluster.spawn(index);
        }
        for index in 0..CLUSTER_SIZE {
            cluster.wait_healthy(index);
        }
        cluster
    }

    fn spawn(&mut self, index: usize) {
        let routes: Vec<String> = self
            .nodes
            .iter()
            .enumerate()
            .filter(|(other, _)| *other != index)
            .map(|(_, node)| format!("nats-route://127.0.0.1:{}", node.cluster_port))
            .collect();
        // A node killed by pid is reaped here, before its successor starts.
        self.kill(index);
        let node = &self.nodes[index];
        let mut cmd = Command::new(tool("nats-server"));
        cmd.arg("-c")
            .arg(workspace_root().join("nats/cluster.conf"))
            .args(["-a", "127.0.0.1", "-p", &node.port.to_string()])
            .args(["-m", &node.monitor_port.to_string(), "-js", "-sd"])
            .arg(node.store.path())
            .env("MPC_NATS_SERVER_NAME", &node.name)
            .env(
                "MPC_NATS_CLUSTER_LISTEN",
                format!("127.0.0.1:{}", node.cluster_port),
            )
            .env("MPC_NATS_ROUTE_1", &routes[0])
            .env("MPC_NATS_ROUTE_2", &routes[1]);
        for (role, password) in Role::ALL.iter().zip(&self.passwords) {
            cmd.env(role.password_env(), password);
        }
        let (child, _) = spawn_listening(
            &mut cmd,
            "Listening for client connections on ",
            "nats-server (cluster node)",
        );
        self.nodes[index].child = Some(child);
    }

    /// Polls the node's `/healthz` (JetStream included) until it says ok.
    fn wait_healthy(&self, index: usize) {
        let node = &self.nodes[index];
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if healthz(node.monitor_port) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("cluster node {} was not healthy within 30 s", node.name);
    }

    pub fn password(&self, role: Role) -> &str {
        &self.passwords[role as usize]
    }

    /// The client port of node `index` (0-based).
    pub fn port(&self, index: usize) -> u16 {
        self.nodes[index].port
    }

    /// The server name of node `index`, as JetStream names its leaders.
    pub fn name(&self, index: usize) -> &str {
        &self.nodes[index].name
    }

    /// Which node's name is `name`.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|node| node.name == name)
    }

    /// `nats://user:password@127.0.0.1:port` of one node, for a role.
    pub fn node_url(&self, index: usize, role: Role) -> String {
        format!(
            "nats://{}:{}@127.0.0.1:{}",
            role.user(),
            self.password(role),
            self.nodes[index].port
        )
    }

    /// Every node's URL, comma-separated, as `MPC_NATS_URL` takes them.
    pub fn url(&self, role: Role) -> String {
        (0..CLUSTER_SIZE)
            .map(|index| self.node_url(index, role))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The process id of node `index`, to kill it from where the cluster is shared.
    pub fn pid(&self, index: usize) -> u32 {
        self.nodes[index].child.as_ref().expect("node running").id()
    }

    /// `kill -9` of node `index`; its store stays for `start_again`.
    pub fn kill(&mut self, index: usize) {
        if let Some(mut child) = self.nodes[index].child.take() {
            stop(&mut child);
        }
    }

    /// Starts node `index` again on its ports and store, and waits until it
    /// has caught up (healthy).
    pub fn start_again(&mut self, index: usize) {
        self.spawn(index);
        self.wait_healthy(index);
    }

    /// The store directory of node `index`.
    pub fn store(&self, index: usize) -> &Path {
        self.nodes[index].store.path()
    }
}

impl Drop for NatsCluster {
    fn drop(&mut self) {
        for index in 0..CLUSTER_SIZE {
            self.kill(index);
        }
    }
}

/// `GET /healthz` on the monitoring port: 200 once the server, its JetStream
/// meta group and its streams are current.
fn healthz(monitor_port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", monitor_port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream
        .write_all(b"GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response.starts_with("HTTP/1.0 200") || response.starts_with("HTTP/1.1 200")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_nodes_form_a_cluster_and_a_killed_node_rejoins() {
        let mut cluster = NatsCluster::start();
        let url = cluster.url(Role::Client);
        assert_eq!(url.split(',').count(), CLUSTER_SIZE);
        cluster.kill(1);
        assert!(TcpStream::connect(("127.0.0.1", cluster.port(1))).is_err());
        assert!(healthz(cluster.nodes[0].monitor_port));
        cluster.start_again(1);
        assert!(TcpStream::connect(("127.0.0.1", cluster.port(1))).is_ok());
    }
}
