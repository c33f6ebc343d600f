//! Checks of single values: each returns the parsed value or [`Refused`], a message saying what
//! to change.

use super::ChainChoice;
use hypasis_chain::{ChainSpec, genesis::GenesisDoc};
use hypasis_devnet::DevnetConfig;
use std::{path::PathBuf, str::FromStr};
use url::Url;

/// A value refused, with what to change (shown to the operator next to the setting's name).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub(super) struct Refused(pub(super) String);

impl From<String> for Refused {
    fn from(message: String) -> Self {
        Self(message)
    }
}

/// The result of a check.
pub(super) type Check<T> = Result<T, Refused>;

/// A key file path: an existing file, or one whose directory can be created.
pub(super) fn key_file(v: &str) -> Check<PathBuf> {
    let path = PathBuf::from(v);
    if path.is_dir() {
        return Err(Refused(format!("{v} is a directory; give a file path (it is created with mode 0600 when absent)")));
    }
    Ok(path)
}

/// A node id from an enode URL or 128 hex characters.
pub(super) fn node_id(v: &str) -> Check<hypasis_rlpx::NodeId> {
    let hex_id = v.strip_prefix("enode://").map_or(v, |rest| rest.split('@').next().unwrap_or_default());
    let hex_id = hex_id.strip_prefix("0x").unwrap_or(hex_id);
    let bytes = hex::decode(hex_id).map_err(|_| format!("{v:?} is not an enode URL or a 128-hex-character node id"))?;
    if bytes.len() != 64 {
        return Err(Refused(format!("{v:?} has a {}-byte node id; node ids are 64 bytes (128 hex characters)", bytes.len())));
    }
    Ok(hypasis_rlpx::NodeId::from_slice(&bytes))
}

/// A validator as `ADDRESS:POWER` (power a positive integer).
pub(super) fn validator(v: &str) -> Check<hypasis_chain::bor::Validator> {
    let (address, power) =
        v.split_once(':').ok_or_else(|| format!("{v:?} is not ADDRESS:POWER (e.g. 0x71562b71999873DB5b286dF957af199Ec94617F7:10)"))?;
    let address = address.trim().parse().map_err(|_| format!("{address:?} is not a 20-byte hex address"))?;
    let power = power
        .trim()
        .parse::<u64>()
        .ok()
        .filter(|p| (1..=hypasis_chain::bor_producers::MAX_TOTAL_POWER as u64).contains(p))
        .ok_or_else(|| format!("{power:?} is not a voting power (a positive integer)"))?;
    Ok(hypasis_chain::bor::Validator { address, power })
}

/// A discv4 node to bond with at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bootnode {
    /// Its node id.
    pub id: hypasis_rlpx::NodeId,
    /// Its IP address.
    pub ip: std::net::IpAddr,
    /// RLPx TCP port.
    pub tcp: u16,
    /// discv4 UDP port.
    pub udp: u16,
}

/// `enode://<id>@<ip>:<port>[?discport=<udp>]`.
pub(super) fn enode(v: &str) -> Check<Bootnode> {
    let rest = v.strip_prefix("enode://").ok_or_else(|| format!("{v:?} is not an enode URL (enode://<id>@<ip>:<port>)"))?;
    let (_, address) = rest.split_once('@').ok_or_else(|| format!("{v:?} has no @<ip>:<port>"))?;
    let id = node_id(v)?;
    let (address, query) = address.split_once('?').map_or((address, None), |(a, q)| (a, Some(q)));
    let socket: std::net::SocketAddr =
        address.parse().map_err(|_| format!("{v:?}: {address:?} is not <ip>:<port> (bootnodes need an IP address, not a name)"))?;
    let udp = match query.and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("discport="))) {
        Some(port) => port.parse().map_err(|_| format!("{v:?}: discport {port:?} is not a port"))?,
        None => socket.port(),
    };
    Ok(Bootnode { id, ip: socket.ip(), tcp: socket.port(), udp })
}

pub(super) fn default_instance_id() -> String {
    std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty() && h.len() <= 64).unwrap_or_else(|| "hypasis-local".into())
}

pub(super) fn port(v: &str, zero_ok: bool) -> Check<u16> {
    let min = u16::from(!zero_ok);
    match v.parse::<u64>() {
        Ok(p) if p >= u64::from(min) && p <= 65_535 => Ok(p as u16),
        Ok(p) => Err(Refused(format!("{p} is out of range; use a port from {min} to 65535"))),
        Err(_) => Err(Refused(format!("{v:?} is not a port number; use a port from {min} to 65535"))),
    }
}

pub(super) fn number(v: &str, min: u64, max: u64) -> Check<u64> {
    match u64::from_str(v) {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        Ok(n) => Err(Refused(format!("{n} is out of range; use a value from {min} to {max}"))),
        Err(_) => Err(Refused(format!("{v:?} is not a whole number; use a value from {min} to {max}"))),
    }
}

pub(super) fn url(v: &str, schemes: &[&str]) -> Check<Url> {
    let parsed = Url::parse(v).map_err(|e| format!("{v:?} is not a valid URL ({e}); use e.g. {}://host:port", schemes[0]))?;
    if !schemes.contains(&parsed.scheme()) {
        return Err(Refused(format!("URL scheme {:?} is not supported here; use one of {}", parsed.scheme(), schemes.join(", "))));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(Refused(format!("{v:?} has no host")));
    }
    Ok(parsed)
}

pub(super) fn chain(v: &str, devnet: DevnetConfig) -> Check<ChainChoice> {
    if v == "devnet" {
        return Ok(ChainChoice::Devnet(devnet));
    }
    if let Some(spec) = ChainSpec::builtin(v) {
        return Ok(ChainChoice::Spec(Box::new(spec)));
    }
    let path = PathBuf::from(v);
    if !path.exists() {
        return Err(Refused(format!(
            "{v:?} is neither a known chain (devnet, polygon-mainnet, polygon-amoy) nor an existing genesis file"
        )));
    }
    let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read genesis file {v}: {e}"))?;
    let doc = GenesisDoc::parse(&text).map_err(|e| format!("genesis file {v}: {e}"))?;
    let name = path.file_stem().map_or_else(|| v.to_owned(), |s| s.to_string_lossy().into_owned());
    let spec = ChainSpec::from_genesis(name, doc).map_err(|e| format!("genesis file {v}: {e}"))?;
    Ok(ChainChoice::Spec(Box::new(spec)))
}

/// The history object store: `off`, an `s3://bucket/prefix` or `file:///dir` URL, or a local
/// folder (made absolute). `Some(None)` is off.
pub(super) fn history_url(v: &str) -> Check<Option<Option<Url>>> {
    if matches!(v, "off" | "none") {
        return Ok(Some(None));
    }
    if v.contains("://") {
        let parsed = Url::parse(v).map_err(|e| format!("{v:?} is not a valid URL ({e}); use s3://bucket/prefix or file:///dir"))?;
        return match parsed.scheme() {
            "s3" if parsed.host_str().is_some_and(|h| !h.is_empty()) => Ok(Some(Some(parsed))),
            "s3" => Err(Refused(format!("{v:?} names no bucket; use s3://bucket/prefix"))),
            "file" if parsed.to_file_path().is_ok() => Ok(Some(Some(parsed))),
            "file" => Err(Refused(format!("{v:?} is not an absolute local path; use file:///dir or a plain path"))),
            other => Err(Refused(format!("URL scheme {other:?} is not supported here; use s3://, file:// or a local path"))),
        };
    }
    local_dir_url(v).map(|url| Some(Some(url)))
}

/// `file://` URL of local folder `v` (relative to the working directory).
pub(super) fn local_dir_url(v: &str) -> Check<Url> {
    let path = std::path::Path::new(v);
    let absolute = if path.is_absolute() {
        path.to_owned()
    } else {
        std::env::current_dir().map_err(|e| format!("cannot resolve {v:?}: {e}"))?.join(path)
    };
    Url::from_directory_path(&absolute).map_err(|()| Refused(format!("{v:?} is not a usable folder path")))
}
