//! The PROXY protocol (v1 text and v2 binary, [HAProxy's spec]) on our TCP listeners: behind
//! nginx (`proxy_protocol on;`) or an AWS NLB every connection arrives from the proxy, which
//! first sends a header naming the real client. From a configured trusted proxy the header's
//! source address becomes the connection's address (limits, logs, `/api/v1/peers`); a
//! connection from the proxy without a header (its own health check) keeps the proxy's address.
//! From anyone else a PROXY header is refused (a client cannot claim another address), and the
//! connection is closed.
//!
//! The header is read byte-exactly (v1 up to its CRLF, v2 by its length field), so nothing the
//! client sends after it is consumed and the plain `TcpStream` goes on to RLPx or HTTP.
//! Parsing is `ppp`'s.
//!
//! [HAProxy's spec]: https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt

use ipnet::IpNet;
use std::{
    net::{IpAddr, SocketAddr},
    time::Duration,
};
use tokio::{io::AsyncReadExt, net::TcpStream};

/// How long a trusted proxy has to send the header unless configured.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(3);
/// How long an untrusted connection's first bytes are waited for to check they are no PROXY
/// header (clients of RLPx and HTTP speak first; a slower one is simply let through).
const UNTRUSTED_PEEK: Duration = Duration::from_millis(200);
/// The v2 signature.
const V2_SIGNATURE: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";
/// Longest v1 header (the spec's 107 bytes).
const V1_MAX: usize = 107;
/// Most address bytes accepted in a v2 header (the IPv6 block plus room for TLVs).
const V2_MAX_PAYLOAD: usize = 512;

/// Proxies whose PROXY headers are believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Trust these networks (a single address is a /32 or /128).
    pub fn new(networks: Vec<IpNet>) -> Self {
        Self(networks)
    }

    /// The trusted networks.
    pub fn networks(&self) -> &[IpNet] {
        &self.0
    }

    /// Whether no proxy is trusted (the PROXY protocol is off).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `ip` is a trusted proxy.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
            v4 => v4,
        };
        self.0.iter().any(|net| net.contains(&ip))
    }
}

/// Why a connection's PROXY header was refused.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// No header within the deadline.
    #[error("no PROXY header within {0:?}")]
    Timeout(Duration),
    /// The bytes are not a PROXY header.
    #[error("malformed PROXY header: {0}")]
    Malformed(String),
    /// A PROXY header from an address that is not a trusted proxy.
    #[error("PROXY header from {0}, which is not a trusted proxy")]
    Untrusted(IpAddr),
    /// The socket failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl ProxyError {
    /// The `reason` label of `hypasis_proxy_protocol_rejected_total`.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Timeout(_) => "timeout",
            Self::Malformed(_) => "malformed",
            Self::Untrusted(_) => "untrusted",
            Self::Io(_) => "io",
        }
    }
}

/// The address a connection speaks for: from a trusted proxy, the client its PROXY header
/// names (the proxy's own address for a `LOCAL` health check or an `UNKNOWN` family); from
/// anyone else, the peer address, after checking it does not send a PROXY header (only while
/// some proxy is trusted: with the PROXY protocol off nothing is read ahead).
///
/// # Errors
/// [`ProxyError`]: the caller closes the connection and counts it (`listener` label).
pub async fn client_addr(
    stream: &mut TcpStream,
    peer: SocketAddr,
    trusted: &TrustedProxies,
    timeout: Duration,
    listener: &'static str,
) -> Result<SocketAddr, ProxyError> {
    let result = if trusted.is_empty() {
        return Ok(peer);
    } else if trusted.contains(peer.ip()) {
        tokio::time::timeout(timeout, read_header(stream, peer)).await.unwrap_or(Err(ProxyError::Timeout(timeout)))
    } else {
        refuse_header(stream, peer).await.map(|()| peer)
    };
    match &result {
        Ok(client) if *client != peer => {
            metrics::counter!("hypasis_proxy_protocol_accepted_total", "listener" => listener).increment(1);
        }
        Ok(_) => {}
        Err(e) => metrics::counter!("hypasis_proxy_protocol_rejected_total", "listener" => listener, "reason" => e.label()).increment(1),
    }
    result
}

/// Peeks at the first bytes: a PROXY header from an untrusted address is refused.
async fn refuse_header(stream: &TcpStream, peer: SocketAddr) -> Result<(), ProxyError> {
    let mut first = [0u8; 12];
    // A peek that times out or sees fewer bytes proves nothing; only a whole prefix counts.
    let peeked = tokio::time::timeout(UNTRUSTED_PEEK, stream.peek(&mut first)).await;
    if let Ok(Ok(n)) = peeked
        && (first[..n].starts_with(b"PROXY ") || (n == 12 && &first == V2_SIGNATURE))
    {
        return Err(ProxyError::Untrusted(peer.ip()));
    }
    Ok(())
}

async fn read_header(stream: &mut TcpStream, peer: SocketAddr) -> Result<SocketAddr, ProxyError> {
    let mut head = [0u8; 16];
    // A connection the proxy makes itself (a health check, Prometheus) carries no header.
    let mut seen = 0;
    while seen < 6 {
        seen = stream.peek(&mut head[..6]).await?;
        if seen == 0 {
            return Err(ProxyError::Io(std::io::ErrorKind::UnexpectedEof.into()));
        }
        if !(b"PROXY ".starts_with(&head[..seen]) || V2_SIGNATURE.starts_with(&head[..seen])) {
            return Ok(peer);
        }
        if seen < 6 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    stream.read_exact(&mut head[..6]).await?;
    let bytes = if &head[..6] == b"PROXY " {
        let mut line = head[..6].to_vec();
        while !line.ends_with(b"\r\n") {
            if line.len() >= V1_MAX {
                return Err(ProxyError::Malformed(format!("v1 header longer than {V1_MAX} bytes")));
            }
            line.push(stream.read_u8().await?);
        }
        line
    } else if head[..6] == V2_SIGNATURE[..6] {
        stream.read_exact(&mut head[6..]).await?;
        if &head[..12] != V2_SIGNATURE {
            return Err(ProxyError::Malformed("bad v2 signature".into()));
        }
        let length = usize::from(u16::from_be_bytes([head[14], head[15]]));
        if length > V2_MAX_PAYLOAD {
            return Err(ProxyError::Malformed(format!("v2 header of {length} bytes (at most {V2_MAX_PAYLOAD})")));
        }
        let mut bytes = head.to_vec();
        bytes.resize(16 + length, 0);
        stream.read_exact(&mut bytes[16..]).await?;
        bytes
    } else {
        return Ok(peer);
    };
    source(&bytes, peer)
}

/// The client address in a whole header (`peer` when the header names none).
///
/// # Errors
/// [`ProxyError::Malformed`] when the bytes are not a valid v1 or v2 header.
pub fn source(bytes: &[u8], peer: SocketAddr) -> Result<SocketAddr, ProxyError> {
    match ppp::HeaderResult::parse(bytes) {
        ppp::HeaderResult::V1(Ok(header)) => Ok(match header.addresses {
            ppp::v1::Addresses::Tcp4(a) => SocketAddr::new(a.source_address.into(), a.source_port),
            ppp::v1::Addresses::Tcp6(a) => SocketAddr::new(a.source_address.into(), a.source_port),
            ppp::v1::Addresses::Unknown => peer,
        }),
        ppp::HeaderResult::V2(Ok(header)) => Ok(match (header.command, header.addresses) {
            (ppp::v2::Command::Local, _) => peer,
            (_, ppp::v2::Addresses::IPv4(a)) => SocketAddr::new(a.source_address.into(), a.source_port),
            (_, ppp::v2::Addresses::IPv6(a)) => SocketAddr::new(a.source_address.into(), a.source_port),
            (_, _) => peer,
        }),
        ppp::HeaderResult::V1(Err(e)) => Err(ProxyError::Malformed(e.to_string())),
        ppp::HeaderResult::V2(Err(e)) => Err(ProxyError::Malformed(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_and_v2_sources() {
        let peer: SocketAddr = "10.0.0.1:5000".parse().unwrap();
        let v1 = b"PROXY TCP4 203.0.113.7 10.0.0.2 41000 30303\r\n";
        assert_eq!(source(v1, peer).unwrap(), "203.0.113.7:41000".parse().unwrap());
        assert_eq!(source(b"PROXY UNKNOWN\r\n", peer).unwrap(), peer);
        let mut v2 = V2_SIGNATURE.to_vec();
        v2.extend([0x21, 0x11, 0, 12, 198, 51, 100, 9, 10, 0, 0, 2, 0x9c, 0x40, 0x76, 0x5f]);
        assert_eq!(source(&v2, peer).unwrap(), "198.51.100.9:40000".parse().unwrap());
        assert!(source(b"PROXY TCP4 nonsense\r\n", peer).is_err());
    }

    #[test]
    fn trusted_networks() {
        let trusted = TrustedProxies::new(vec!["10.0.0.0/8".parse().unwrap(), "127.0.0.1/32".parse().unwrap()]);
        assert!(trusted.contains("10.1.2.3".parse().unwrap()));
        assert!(trusted.contains("::ffff:127.0.0.1".parse().unwrap()), "v4-mapped");
        assert!(!trusted.contains("127.0.0.2".parse().unwrap()));
    }
}
