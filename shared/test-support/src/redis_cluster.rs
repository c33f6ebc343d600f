//! A real three-master Redis Cluster for tests: `redis-server --cluster-enabled yes` ×3 joined
//! by `redis-cli --cluster create`.

use crate::redis::RedisServer;
use std::{
    process::Command,
    time::{Duration, Instant},
};

/// A running Redis Cluster of masters without replicas, killed on drop.
#[derive(Debug)]
pub struct RedisCluster {
    nodes: Vec<RedisServer>,
}

impl RedisCluster {
    /// Starts `masters` cluster-enabled servers on free ports, assigns the slots and waits until
    /// every node reports `cluster_state:ok`.
    ///
    /// # Panics
    /// When `redis-server` / `redis-cli` are missing or the cluster does not form within 30 s.
    pub fn start(masters: usize) -> Self {
        let nodes: Vec<RedisServer> = (0..masters)
            .map(|_| {
                // The cluster bus port defaults to port + 10000, which may not be free (or exist).
                let bus = crate::free_port().to_string();
                RedisServer::start_with(
                    [
                        "--cluster-enabled",
                        "yes",
                        "--cluster-config-file",
                        "nodes.conf",
                        "--cluster-node-timeout",
                        "2000",
                        "--cluster-port",
                        &bus,
                    ]
                    .map(String::from)
                    .to_vec(),
                )
            })
            .collect();
        let addrs: Vec<String> = nodes.iter().map(|n| format!("127.0.0.1:{}", n.port())).collect();
        let output = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addrs)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .expect("redis-cli is installed (scripts/test installs it)");
        assert!(output.status.success(), "redis-cli --cluster create failed: {}", String::from_utf8_lossy(&output.stdout));
        let cluster = Self { nodes };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !cluster.is_ok() {
            assert!(Instant::now() < deadline, "the cluster did not reach cluster_state:ok");
            std::thread::sleep(Duration::from_millis(100));
        }
        cluster
    }

    fn is_ok(&self) -> bool {
        self.nodes.iter().all(|n| {
            Command::new("redis-cli")
                .args(["-p", &n.port().to_string(), "cluster", "info"])
                .output()
                .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("cluster_state:ok"))
        })
    }

    /// `redis-cluster://127.0.0.1:<first>?node=127.0.0.1:<second>&node=...`.
    pub fn url(&self) -> String {
        let mut url = format!("redis-cluster://127.0.0.1:{}", self.nodes[0].port());
        for (i, node) in self.nodes.iter().enumerate().skip(1) {
            url.push(if i == 1 { '?' } else { '&' });
            url.push_str(&format!("node=127.0.0.1:{}", node.port()));
        }
        url
    }

    /// Kills every node (SIGKILL).
    pub fn kill(&mut self) {
        for node in &mut self.nodes {
            node.kill();
        }
    }

    /// Restarts every node on its port with its data and cluster configuration, and waits until
    /// the cluster is whole again.
    ///
    /// # Panics
    /// When the cluster does not recover within 30 s.
    pub fn restart(&mut self) {
        for node in &mut self.nodes {
            node.restart();
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.is_ok() {
            assert!(Instant::now() < deadline, "the cluster did not recover");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
