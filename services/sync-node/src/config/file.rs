//! The YAML config file: a flat mapping of setting names to values.

use super::{ConfigError, KEYS};
use serde_yaml_ng::Value;
use std::{collections::BTreeMap, path::Path};

/// A value read from the file: a scalar as text, or a list of texts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum FileValue {
    /// A scalar (string, number or boolean) as text.
    Scalar(String),
    /// A list of scalars.
    List(Vec<String>),
}

/// Reads the file; problems are appended to `errors` and the readable part is returned.
pub(super) fn read(path: &Path, errors: &mut Vec<ConfigError>) -> BTreeMap<String, FileValue> {
    let origin = format!("config file {}", path.display());
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            errors.push(ConfigError::new(
                "config",
                "--config",
                format!("cannot read {}: {e}; check the path given to --config", path.display()),
            ));
            return BTreeMap::new();
        }
    };
    let doc: Value = match serde_yaml_ng::from_str(&text) {
        Ok(v) => v,
        Err(e) => {
            errors.push(ConfigError::new("config", &origin, format!("not valid YAML: {e}")));
            return BTreeMap::new();
        }
    };
    let map = match doc {
        Value::Mapping(m) => m,
        Value::Null => return BTreeMap::new(),
        _ => {
            errors.push(ConfigError::new("config", &origin, "must be a mapping of setting names to values".into()));
            return BTreeMap::new();
        }
    };
    let mut out = BTreeMap::new();
    for (k, v) in map {
        let Some(key) = k.as_str().map(str::to_owned) else {
            errors.push(ConfigError::new("config", &origin, format!("setting names must be strings, found {k:?}")));
            continue;
        };
        if !KEYS.contains(&key.as_str()) {
            let hint = closest(&key).map(|k| format!("; did you mean `{k}`?")).unwrap_or_default();
            errors.push(ConfigError::new(&key, &origin, format!("unknown setting `{key}`{hint} (known: {})", KEYS.join(", "))));
            continue;
        }
        match scalar_or_list(&v) {
            Ok(Some(value)) => {
                out.insert(key, value);
            }
            Ok(None) => {}
            Err(msg) => errors.push(ConfigError::new(&key, &origin, msg)),
        }
    }
    out
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn scalar_or_list(v: &Value) -> Result<Option<FileValue>, String> {
    match v {
        Value::Null => Ok(None),
        Value::Sequence(items) => items
            .iter()
            .map(|i| scalar(i).ok_or_else(|| format!("list items must be plain values, found {i:?}")))
            .collect::<Result<Vec<_>, _>>()
            .map(|l| Some(FileValue::List(l))),
        other => scalar(other).map(|s| Some(FileValue::Scalar(s))).ok_or_else(|| format!("expected a plain value, found {other:?}")),
    }
}

/// The known key nearest to `key` by edit distance, if it is close.
fn closest(key: &str) -> Option<&'static str> {
    KEYS.iter().map(|k| (levenshtein(key, k), *k)).filter(|(d, _)| *d <= 3).min().map(|(_, k)| k)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_near_keys() {
        assert_eq!(closest("api_prot"), Some("api_port"));
        assert_eq!(closest("completely_else"), None);
    }
}
