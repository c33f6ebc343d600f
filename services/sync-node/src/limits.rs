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
