//! HTTPS on the REST API and JSON-RPC ports with certificates made in the test: rustls on both
//! sides, TLS 1.2 and 1.3, plain HTTP refused, a renewed certificate served after SIGHUP while a
//! connection opened before it keeps working, and unusable files refused at start (exit 64).

mod support;

use hypasis_test_support::tls::{TestCerts, make_certs};
use rustls::{
    ClientConfig, ClientConnection, RootCertStore, StreamOwned,
    pki_types::{CertificateDer, ServerName, pem::PemObject},
};
use std::{
    io::{BufRead, BufReader, Read, Write},
    net::{SocketAddr, TcpStream},
    path::Path,
    process::Command,
    sync::Arc,
    time::{Duration, Instant},
};
use support::Node;

type Tls = StreamOwned<ClientConnection, TcpStream>;

fn client(cas: &[&Path], versions: &[&'static rustls::SupportedProtocolVersion]) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for ca in cas {
        for cert in CertificateDer::pem_file_iter(ca).expect("ca file") {
            roots.add(cert.expect("ca pem")).expect("add ca");
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

fn connect(addr: SocketAddr, config: &Arc<ClientConfig>) -> std::io::Result<Tls> {
    let tcp = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    tcp.set_read_timeout(Some(Duration::from_secs(10)))?;
    let name = ServerName::try_from("localhost").expect("name");
    let connection = ClientConnection::new(config.clone(), name).map_err(std::io::Error::other)?;
    let mut tls = StreamOwned::new(connection, tcp);
    while tls.conn.is_handshaking() {
        tls.conn.complete_io(&mut tls.sock)?;
    }
    Ok(tls)
}

/// One keep-alive HTTP/1.1 GET on an open connection → (status, body).
fn get(tls: &mut Tls, path: &str) -> (u16, String) {
    write!(tls, "GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").expect("write");
    tls.flush().expect("flush");
    let mut reader = BufReader::new(tls);
    let mut status = String::new();
    reader.read_line(&mut status).expect("status line");
    let mut length = 0;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).expect("header");
        if line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().expect("length");
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).expect("body");
    (status.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("status"), String::from_utf8(body).expect("utf-8"))
}

fn leaf(tls: &Tls) -> Vec<u8> {
    tls.conn.peer_certificates().expect("server certificate")[0].to_vec()
}

fn der(certs: &TestCerts) -> Vec<u8> {
    CertificateDer::from_pem_file(&certs.cert).expect("cert").to_vec()
}

#[test]
fn https_serves_the_certificate_and_a_renewed_one_after_sighup() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (first_dir, second_dir) = (dir.path().join("first"), dir.path().join("second"));
    std::fs::create_dir_all(&first_dir).expect("dir");
    std::fs::create_dir_all(&second_dir).expect("dir");
    let (first, second) = (make_certs(&first_dir), make_certs(&second_dir));
    let (cert, key) = (dir.path().join("tls.pem"), dir.path().join("tls.key"));
    std::fs::copy(&first.cert, &cert).expect("copy");
    std::fs::copy(&first.key, &key).expect("copy");
    let node = Node::start(&["--tls-cert", cert.to_str().expect("utf-8"), "--tls-key", key.to_str().expect("utf-8")]);

    let both = client(&[&first.ca, &second.ca], rustls::DEFAULT_VERSIONS);
    let mut open = connect(node.api, &both).expect("TLS handshake");
    assert_eq!(leaf(&open), der(&first));
    assert_eq!(get(&mut open, "/health/live").0, 200);
    for version in [&rustls::version::TLS12, &rustls::version::TLS13] {
        let mut tls = connect(node.rpc, &client(&[&first.ca], &[version])).expect("TLS 1.2 and 1.3 both");
        assert_eq!(tls.conn.protocol_version(), Some(version.version));
        let (status, body) = get(&mut tls, "/health");
        assert!(status == 200 || status == 405 || status == 404, "{status}: {body}");
    }
    // Plain HTTP on an HTTPS port gets no HTTP answer.
    let mut plain = TcpStream::connect(node.api).expect("connect");
    plain.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    write!(plain, "GET /health/live HTTP/1.0\r\n\r\n").expect("write");
    let mut answer = Vec::new();
    let _ = plain.read_to_end(&mut answer);
    assert!(!answer.starts_with(b"HTTP/"), "plain HTTP answered on the HTTPS port");

    // Renew: new files, SIGHUP; new handshakes get the new certificate, the open connection
    // keeps working.
    std::fs::copy(&second.cert, &cert).expect("copy");
    std::fs::copy(&second.key, &key).expect("copy");
    let pid = node.child.id().to_string();
    assert!(Command::new("kill").args(["-HUP", &pid]).status().expect("kill").success());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let tls = connect(node.api, &both).expect("TLS handshake");
        if leaf(&tls) == der(&second) {
            break;
        }
        assert!(Instant::now() < deadline, "the renewed certificate is not served 5 s after SIGHUP");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(connect(node.rpc, &client(&[&second.ca], rustls::DEFAULT_VERSIONS)).is_ok(), "the RPC port renewed too");
    assert_eq!(get(&mut open, "/health/live").0, 200, "a connection opened before the reload is not dropped");

    // A broken file on SIGHUP keeps the certificate in force.
    std::fs::write(&key, "not a key").expect("write");
    assert!(Command::new("kill").args(["-HUP", &pid]).status().expect("kill").success());
    std::thread::sleep(Duration::from_millis(300));
    let tls = connect(node.api, &both).expect("still serving");
    assert_eq!(leaf(&tls), der(&second));
    let (_, metrics) = node_metrics(&both, node.api);
    assert!(metrics.contains("hypasis_tls_reloads_total{result=\"error\"} 1"), "{metrics}");
}

fn node_metrics(config: &Arc<ClientConfig>, api: SocketAddr) -> (u16, String) {
    get(&mut connect(api, config).expect("connect"), "/metrics")
}

#[test]
fn unusable_certificate_files_are_refused_at_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    std::fs::create_dir_all(&a).expect("dir");
    std::fs::create_dir_all(&b).expect("dir");
    let (one, other) = (make_certs(&a), make_certs(&b));
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "hello").expect("write");
    let binary = env!("CARGO_BIN_EXE_hypasis-sync");
    for (args, needle) in [
        (vec!["--tls-cert", one.cert.to_str().unwrap()], "tls_key"),
        (vec!["--tls-cert", garbage.to_str().unwrap(), "--tls-key", one.key.to_str().unwrap()], "no usable PEM certificate"),
        (vec!["--tls-cert", one.cert.to_str().unwrap(), "--tls-key", garbage.to_str().unwrap()], "no usable PEM private key"),
        (vec!["--tls-cert", one.cert.to_str().unwrap(), "--tls-key", other.key.to_str().unwrap()], "does not go with"),
    ] {
        let key = dir.path().join("node.key");
        let out = Command::new(binary)
            .args(&args)
            .args(["--api-port", "0", "--rpc-port", "0", "--p2p-port", "0", "--node-key-file", key.to_str().unwrap()])
            .env_remove("REDIS_URL")
            .output()
            .expect("run");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(64), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
}
