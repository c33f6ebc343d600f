//! `hypasis-sync token`: mints an admin token for the team (printed on stdout).

use crate::admin::{ADMIN_ROLE, TokenKey, parse_ttl};
use crate::config::MIN_JWT_SECRET;
use clap::{Arg, Command};
use std::{ffi::OsString, process::ExitCode};

/// Whether the command line asks for this command (`hypasis-sync token …`).
pub fn requested(args: &[OsString]) -> bool {
    args.get(1).is_some_and(|a| a == "token")
}

fn command() -> Command {
    Command::new("hypasis-sync token")
        .about("Mints an admin token (HS256 JWT) for the REST API's admin endpoints, signed with the node's --jwt-secret")
        .arg(
            Arg::new("jwt_secret")
                .long("jwt-secret")
                .env("JWT_SECRET")
                .hide_env_values(true)
                .value_name("SECRET")
                .help("The node's --jwt-secret"),
        )
        .arg(
            Arg::new("ttl")
                .long("ttl")
                .value_name("LIFETIME")
                .default_value("1h")
                .help("How long the token is valid: 90s, 30m, 1h, 7d (at most 30d)"),
        )
        .arg(
            Arg::new("subject")
                .long("subject")
                .value_name("NAME")
                .default_value("hypasis-team")
                .help("Who the token is for (shown in the node's logs)"),
        )
}

/// Runs the command with `args` (program name, `token`, flags).
pub fn run(args: Vec<OsString>) -> ExitCode {
    let matches = match command().try_get_matches_from(args.into_iter().skip(1)) {
        Ok(m) => m,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { ExitCode::from(64) } else { ExitCode::SUCCESS };
        }
    };
    let Some(secret) = matches.get_one::<String>("jwt_secret").filter(|s| s.len() >= MIN_JWT_SECRET) else {
        eprintln!("hypasis-sync token: give the node's secret with --jwt-secret or JWT_SECRET (at least {MIN_JWT_SECRET} characters)");
        return ExitCode::from(64);
    };
    let ttl = match parse_ttl(matches.get_one::<String>("ttl").map_or("1h", String::as_str)) {
        Ok(ttl) => ttl,
        Err(e) => {
            eprintln!("hypasis-sync token: --ttl: {e}");
            return ExitCode::from(64);
        }
    };
    let subject = matches.get_one::<String>("subject").map_or("hypasis-team", String::as_str);
    match TokenKey::new(secret).mint(subject, ADMIN_ROLE, ttl) {
        Ok(token) => {
            println!("{token}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("hypasis-sync token: {e}");
            ExitCode::from(1)
        }
    }
}
