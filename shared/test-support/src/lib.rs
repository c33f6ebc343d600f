//! Helpers for tests that need real services on loopback.
//!
//! - [`redis`]: a real `redis-server` on a free port, which a test can kill and restart.

pub mod redis;

/// A TCP port that was free a moment ago.
///
/// # Panics
/// When no port can be bound on loopback.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free loopback port")
}
