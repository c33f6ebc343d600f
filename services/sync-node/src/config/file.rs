//! The YAML config file: a mapping of setting names to values. Sections may nest: `redis:
//! {url: …, pool_size: …}` is the same as `redis_url: …` and `redis_pool_size: …`.

use super::{
    ConfigError,
    keys::KEYS,
    parse::{Check, Refused},
};
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
    flatten(map, "", &origin, &mut out, errors);
    out
}

/// Adds the settings of `map` (names prefixed with `prefix`) to `out`; nested mappings are
/// sections whose names join with `_`.
fn flatten(map: serde_yaml_ng::Mapping, prefix: &str, origin: &str, out: &mut BTreeMap<String, FileValue>, errors: &mut Vec<ConfigError>) {
    for (k, v) in map {
        let Some(name) = k.as_str() else {
            errors.push(ConfigError::new("config", origin, format!("setting names must be strings, found {k:?}")));
            continue;
        };
        let key = format!("{prefix}{name}");
        if let Value::Mapping(section) = v {
            flatten(section, &format!("{key}_"), origin, out, errors);
            continue;
        }
        if !KEYS.iter().any(|k| k.name == key) {
            let hint = closest(&key).map(|k| format!("; did you mean `{k}`?")).unwrap_or_default();
            let known: Vec<&str> = KEYS.iter().map(|k| k.name).collect();
            errors.push(ConfigError::new(&key, origin, format!("unknown setting `{key}`{hint} (known: {})", known.join(", "))));
            continue;
        }
        match scalar_or_list(&v) {
            Ok(Some(value)) => {
                out.insert(key, value);
            }
            Ok(None) => {}
            Err(refused) => errors.push(ConfigError::new(&key, origin, refused.0)),
        }
    }
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn scalar_or_list(v: &Value) -> Check<Option<FileValue>> {
    match v {
        Value::Null => Ok(None),
        Value::Sequence(items) => items
            .iter()
            .map(|i| scalar(i).ok_or_else(|| Refused(format!("list items must be plain values, found {i:?}"))))
            .collect::<Result<Vec<_>, _>>()
            .map(|l| Some(FileValue::List(l))),
        other => {
            scalar(other).map(|s| Some(FileValue::Scalar(s))).ok_or_else(|| Refused(format!("expected a plain value, found {other:?}")))
        }
    }
}

/// The known key nearest to `key` by edit distance, if it is close.
fn closest(key: &str) -> Option<&'static str> {
    KEYS.iter().map(|k| (levenshtein(key, k.name), k.name)).filter(|(d, _)| *d <= 3).min().map(|(_, k)| k)
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

    #[test]
    fn sections_nest() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.yaml");
        std::fs::write(&path, "redis:\n  url: redis://r:6379\n  pool_size: 4\nupstream:\n  max_batch: 50\nnested:\n  wrong: 1\n")
            .expect("write");
        let mut errors = Vec::new();
        let values = read(&path, &mut errors);
        assert_eq!(values.get("redis_url"), Some(&FileValue::Scalar("redis://r:6379".into())));
        assert_eq!(values.get("redis_pool_size"), Some(&FileValue::Scalar("4".into())));
        assert_eq!(values.get("upstream_max_batch"), Some(&FileValue::Scalar("50".into())));
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].key, "nested_wrong");
    }
}
