//! The command line, built from [`KEYS`]. Every value is taken as text here and checked in one
//! place ([`super::Settings::resolve`]) so that all problems are reported together.

use super::keys::{KEYS, Key};
use clap::{Arg, ArgAction, Command, parser::ValueSource};
use std::{collections::BTreeMap, ffi::OsString, path::PathBuf};

const ABOUT: &str = "Hypasis Sync node: serves verified Polygon blocks to Bor nodes over devp2p, with a REST API and Prometheus metrics.";
const LONG_ABOUT: &str = "Hypasis Sync node: serves verified Polygon blocks to Bor nodes over devp2p, with a REST API and Prometheus metrics.

Run with no arguments to start in embedded mode: a built-in devnet chain, an in-memory cache, the REST API on 127.0.0.1:8080. Precedence: flags, then environment, then the config file, then defaults.";

/// What the command line and the environment gave: texts by setting name, with their origin.
#[derive(Debug, Clone, Default)]
pub struct Cli {
    /// The YAML config file (`--config` / `HYPASIS_CONFIG`).
    pub config: Option<PathBuf>,
    /// Given values: setting name → (texts, where they came from). Empty values are dropped.
    pub values: BTreeMap<&'static str, (Vec<String>, String)>,
}

/// The `clap` command: `--config` and one flag per key.
pub fn command() -> Command {
    let config = Arg::new("config")
        .long("config")
        .env("HYPASIS_CONFIG")
        .value_name("FILE")
        .help("YAML config file (keys are the setting names below: the flag with `_` for `-`; nested sections join with `_`)");
    KEYS.iter().fold(
        Command::new("hypasis-sync").version(env!("CARGO_PKG_VERSION")).about(ABOUT).long_about(LONG_ABOUT).arg(config),
        |command, key| command.arg(arg(key)),
    )
}

fn arg(key: &Key) -> Arg {
    let help = match key.default_text() {
        Some(default) => format!("{} [default: {default}]", key.help),
        None => key.help.to_owned(),
    };
    let mut arg = Arg::new(key.name).long(key.flag).value_name(key.value_name).help(help).hide_env_values(key.secret);
    if let Some(env) = key.env {
        arg = arg.env(env);
    }
    if key.list { arg.action(ArgAction::Append) } else { arg.action(ArgAction::Set) }
}

impl Cli {
    /// Parses the process's arguments and environment.
    ///
    /// # Errors
    /// A clap error (also for `--help` and `--version`, which it prints).
    pub fn try_parse() -> Result<Self, clap::Error> {
        Self::try_parse_from(std::env::args_os())
    }

    /// Parses `args` (the first is the program name) and the environment.
    ///
    /// # Errors
    /// A clap error for an unknown flag or a missing value.
    pub fn try_parse_from<I, T>(args: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let matches = command().try_get_matches_from(args)?;
        let config = matches.get_one::<String>("config").filter(|v| !v.is_empty()).map(PathBuf::from);
        let mut values = BTreeMap::new();
        for key in KEYS {
            // An empty environment variable (common in compose files) means "not set".
            let texts: Vec<String> =
                matches.get_many::<String>(key.name).map(|v| v.filter(|s| !s.is_empty()).cloned().collect()).unwrap_or_default();
            if texts.is_empty() {
                continue;
            }
            let origin = match matches.value_source(key.name) {
                Some(ValueSource::EnvVariable) => key.env.map_or_else(|| key.origin(), str::to_owned),
                _ => format!("--{}", key.flag),
            };
            values.insert(key.name, (texts, origin));
        }
        Ok(Self { config, values })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_is_well_formed() {
        command().debug_assert();
    }

    #[test]
    fn help_shows_defaults_from_the_libraries() {
        let help = command().render_long_help().to_string();
        assert!(help.contains(&format!("[default: {}]", hypasis_upstream::DEFAULT_REQUESTS_PER_SECOND)), "{help}");
        assert!(help.contains("--leader-lease-ms"), "{help}");
    }
}
