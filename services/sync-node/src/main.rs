//! `hypasis-sync`: the Hypasis Sync node.
//!
//! Order of start-up: command line → config (every error at once, exit 64 before any port is
//! bound) → tracing → metrics → components → wait for SIGINT/SIGTERM → drain.

use hypasis_sync::{
    config::{Cli, LogFormat, Settings},
    metrics, node, shutdown,
};
use std::process::ExitCode;

/// Exit code for a bad command line or config (`EX_USAGE`).
const EXIT_CONFIG: u8 = 64;
/// Exit code for a failure after start-up began.
const EXIT_RUNTIME: u8 = 1;

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if hypasis_sync::token::requested(&args) {
        return hypasis_sync::token::run(args);
    }
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { ExitCode::from(EXIT_CONFIG) } else { ExitCode::SUCCESS };
        }
    };
    let settings = match Settings::resolve(cli) {
        Ok(s) => s,
        Err(errors) => {
            eprint!("{errors}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    init_tracing(settings.log_format);
    let handle = match metrics::install() {
        Ok(h) => h,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(EXIT_RUNTIME);
        }
    };
    hypasis_sync::limits::apply();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_RUNTIME);
        }
    };
    match runtime.block_on(node::run(settings, handle, shutdown::signal())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "hypasis-sync failed");
            eprintln!("error: {e}");
            ExitCode::from(if e.is_config() { EXIT_CONFIG } else { EXIT_RUNTIME })
        }
    }
}

fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
