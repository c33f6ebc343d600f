//! Process limits raised at start: the soft open-files limit (`RLIMIT_NOFILE`, often 1,024)
//! would cap peers plus API connections far below what the node is configured for, and running
//! out takes down every listener at once. It is raised to the hard limit, logged, and exported
//! as `hypasis_process_open_files_limit`.

/// Raises the soft open-files limit to the hard limit; returns `(before, after)`.
///
/// # Errors
/// When the limit cannot be read or set.
pub fn raise_open_files() -> std::io::Result<(u64, u64)> {
    let (before, _) = rlimit::Resource::NOFILE.get()?;
    let after = rlimit::increase_nofile_limit(u64::MAX)?;
    Ok((before, after))
}

/// File descriptors kept aside for everything but peers and HTTP clients (Redis pools, upstream
/// clients, discovery, files, the pre-admission handshakes in flight).
pub const RESERVED_FILES: u64 = 256;

/// The connections each of the two HTTP ports may hold: `wanted`, or less when the open-files
/// limit `nofile` cannot hold both ports' connections beside `max_peers` and [`RESERVED_FILES`].
pub fn http_connection_budget(wanted: usize, max_peers: usize, nofile: u64) -> usize {
    let free = nofile.saturating_sub(max_peers as u64 + RESERVED_FILES) / 2;
    wanted.min(usize::try_from(free).unwrap_or(usize::MAX)).max(16)
}

/// The soft open-files limit in force (after [`apply`]).
pub fn open_files() -> Option<u64> {
    rlimit::Resource::NOFILE.get().ok().map(|(soft, _)| soft)
}

/// Raises the limit at start, logs the outcome and exports the limit in force.
pub fn apply() {
    match raise_open_files() {
        Ok((before, after)) => {
            let hard = rlimit::Resource::NOFILE.get().map_or(after, |(_, hard)| hard);
            tracing::info!(before, after, hard, "open files limit (RLIMIT_NOFILE)");
            metrics::gauge!("hypasis_process_open_files_limit").set(after as f64);
        }
        Err(e) => tracing::warn!(error = %e, "cannot raise the open files limit (RLIMIT_NOFILE); the soft limit stays"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_connections_fit_beside_the_peers() {
        assert_eq!(http_connection_budget(4096, 500, 1 << 20), 4096, "a high limit leaves the setting alone");
        assert_eq!(http_connection_budget(4096, 500, 1024), 134, "(1024 - 500 - 256) / 2");
        assert_eq!(http_connection_budget(4096, 5000, 1024), 16, "never below 16");
    }
}
