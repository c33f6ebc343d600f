//! A real `nginx` (installed by `scripts/test`) passing TCP through to backends, as the
//! deployment's `stream` block does: one listen address in front of several instances, the next
//! backend tried when one refuses the connection.

use std::{
    net::{SocketAddr, TcpStream},
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// Where Debian's libnginx-mod-stream puts the stream module.
const STREAM_MODULE: &str = "/usr/lib/nginx/modules/ngx_stream_module.so";

/// A running nginx, stopped on drop.
#[derive(Debug)]
pub struct Nginx {
    child: Child,
    /// The address it listens on.
    pub listen: SocketAddr,
    dir: tempfile::TempDir,
}

impl Nginx {
    /// nginx on a free loopback port passing TCP through to `backends` (round robin; a backend
    /// that refuses the connection is skipped for 30 s after one failure).
    ///
    /// # Panics
    /// When `nginx` is missing or does not listen within 10 s.
    pub fn tcp_passthrough(backends: &[SocketAddr]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let listen = SocketAddr::from(([127, 0, 0, 1], crate::free_port()));
        let servers: String = backends.iter().map(|b| format!("    server {b} max_fails=1 fail_timeout=30s;\n")).collect();
        // Debian builds the stream module as a dynamic module (package libnginx-mod-stream).
        let module = if Path::new(STREAM_MODULE).exists() { format!("load_module {STREAM_MODULE};\n") } else { String::new() };
        let config = format!(
            "{module}daemon off;\nworker_processes 1;\npid {pid};\nerror_log {log} info;\nevents {{ worker_connections 1024; }}\n\
             stream {{\n  upstream instances {{\n{servers}  }}\n  server {{\n    listen {listen};\n    proxy_pass instances;\n    \
             proxy_connect_timeout 2s;\n    proxy_timeout 10m;\n  }}\n}}\n",
            pid = dir.path().join("nginx.pid").display(),
            log = dir.path().join("error.log").display(),
        );
        let conf = dir.path().join("nginx.conf");
        std::fs::write(&conf, config).expect("nginx.conf");
        let child = Command::new("nginx")
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("nginx is installed (scripts/test installs it)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect_timeout(&listen, Duration::from_millis(200)).is_err() {
            assert!(
                Instant::now() < deadline,
                "nginx did not listen on {listen}: {}",
                std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { child, listen, dir }
    }

    /// Its error log (connections, upstream failures).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
