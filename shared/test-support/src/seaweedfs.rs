//! A real S3-compatible object store for tests: SeaweedFS (`weed server -s3`: master, volume
//! server, filer and S3 gateway in one process) on free loopback ports, with its data in a
//! temporary folder, killed on drop.
//!
//! The binary comes from `HYPASIS_WEED_BIN`, else from `scripts/install-seaweedfs` (which builds it
//! from the Go module proxy into `.cache/tools/` on first use). The gateway runs without
//! identities, so any credentials are accepted.

use crate::free_port;
use std::{
    net::TcpStream,
    path::PathBuf,
    process::{Child, Command},
    sync::OnceLock,
    time::{Duration, Instant},
};

/// How long a started server gets to answer S3 requests.
const START_DEADLINE: Duration = Duration::from_secs(60);

/// Path of the `weed` binary (built once per test process when `HYPASIS_WEED_BIN` is not set).
///
/// # Panics
/// When the binary cannot be found or built.
pub fn binary() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| crate::installed_tool("HYPASIS_WEED_BIN", "install-seaweedfs")).clone()
}

/// A running SeaweedFS with its S3 gateway.
#[derive(Debug)]
pub struct SeaweedS3 {
    child: Child,
    dir: tempfile::TempDir,
    /// The S3 endpoint, `http://127.0.0.1:PORT`.
    pub endpoint: String,
}

/// A port whose gRPC companion (SeaweedFS's default: port + 10000) is free too.
fn pair() -> (u16, u16) {
    loop {
        let port = free_port();
        if port < 55_000
            && let Ok(grpc) = std::net::TcpListener::bind(("127.0.0.1", port + 10_000))
        {
            drop(grpc);
            return (port, port + 10_000);
        }
    }
}

impl SeaweedS3 {
    /// Starts a server and waits until its S3 gateway answers; `buckets` are created.
    ///
    /// # Panics
    /// When it does not start in time.
    pub fn start(buckets: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let (master, master_grpc) = pair();
        let (volume, volume_grpc) = pair();
        let (filer, filer_grpc) = pair();
        let (s3, s3_grpc) = pair();
        let log = std::fs::File::create(dir.path().join("weed.log")).expect("log file");
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).expect("data dir");
        let child = Command::new(binary())
            .arg("server")
            .arg(format!("-dir={}", data.display()))
            .args(["-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-filer", "-s3", "-master.volumeSizeLimitMB=64", "-volume.max=50"])
            .args(["-s3.port.iceberg=0", "-s3.port.lance=0", "-metricsPort=0"])
            .arg(format!("-master.port={master}"))
            .arg(format!("-master.port.grpc={master_grpc}"))
            .arg(format!("-volume.port={volume}"))
            .arg(format!("-volume.port.grpc={volume_grpc}"))
            .arg(format!("-filer.port={filer}"))
            .arg(format!("-filer.port.grpc={filer_grpc}"))
            .arg(format!("-s3.port={s3}"))
            .arg(format!("-s3.port.grpc={s3_grpc}"))
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start weed");
        let server = Self { child, dir, endpoint: format!("http://127.0.0.1:{s3}") };
        let deadline = Instant::now() + START_DEADLINE;
        for bucket in buckets {
            loop {
                if server.request("PUT", &format!("/{bucket}")).is_some_and(|status| status == 200) {
                    break;
                }
                assert!(Instant::now() < deadline, "SeaweedFS did not start; log:\n{}", server.log());
                std::thread::sleep(Duration::from_millis(200));
            }
        }
        server
    }

    /// S3 client settings for this server (object_store's `AmazonS3ConfigKey` names): its
    /// endpoint over plain HTTP, and placeholder credentials (the gateway has no identities).
    pub fn s3_options(&self) -> [(&'static str, &str); 5] {
        [
            ("aws_endpoint", self.endpoint.as_str()),
            ("aws_allow_http", "true"),
            ("aws_region", "us-east-1"),
            ("aws_access_key_id", "test"),
            ("aws_secret_access_key", "test"),
        ]
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("weed.log")).unwrap_or_default()
    }

    /// Sends a bodyless request; the HTTP status, or `None` when nothing answers.
    fn request(&self, method: &str, path: &str) -> Option<u16> {
        use std::io::{Read, Write};
        let addr = self.endpoint.trim_start_matches("http://");
        let mut stream = TcpStream::connect(addr).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        write!(stream, "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").ok()?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer).ok()?;
        answer.split_whitespace().nth(1)?.parse().ok()
    }
}

impl Drop for SeaweedS3 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
