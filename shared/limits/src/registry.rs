//! The operators registry, from YAML:
//!
//! ```yaml
//! anonymous: { requests_per_second: 20, burst: 100 }     # per client IP
//! global: { requests_per_second: 20000 }                 # per instance, everyone together
//! tiers:
//!   standard: { requests_per_second: 200, burst: 1000 }
//! operators:
//!   - name: acme
//!     tier: standard                                     # or `limits: {…}`, which may also
//!                                                        # say bytes_per_second, max_peers
//!     api_key_sha256: [9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08]
//!     node_ids: [a979fb57…]                              # enode public keys (128 hex)
//!     trusted: false                                     # trusted: never limited
//! ```
//!
//! API keys are stored as their SHA-256 (hex), never in clear. The same document, as JSON, is
//! what the cluster keeps in Redis and the admin API shows and edits ([`RegistryDoc`]).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::{
    collections::{BTreeMap, HashMap},
    path::Path,
    sync::Arc,
};

/// Anonymous clients' requests per second per IP when the file says nothing.
pub const DEFAULT_ANONYMOUS_RPS: u32 = 20;
/// Anonymous clients' burst per IP when the file says nothing.
pub const DEFAULT_ANONYMOUS_BURST: u32 = 100;

/// Names an operator cannot have: the label of unknown clients, and an admin API path.
const RESERVED_NAMES: [&str; 2] = [crate::buckets::ANONYMOUS, "reload"];

/// A budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Sustained requests per second (a JSON-RPC call, or an eth request per 100 items).
    pub requests_per_second: u32,
    /// Requests that may come at once after a quiet spell (default: one second's worth).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst: Option<u32>,
    /// Sustained bytes per second of devp2p answers (default: not limited); a second's worth
    /// may come at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_per_second: Option<u64>,
    /// Most devp2p peers connected at once (default: not limited); more are refused with
    /// `TooManyPeers`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_peers: Option<u32>,
}

impl Limits {
    /// Requests per second only.
    pub fn rate(requests_per_second: u32, burst: Option<u32>) -> Self {
        Self { requests_per_second, burst, bytes_per_second: None, max_peers: None }
    }

    /// The burst, defaulted to the rate.
    pub fn burst(&self) -> u32 {
        self.burst.unwrap_or(self.requests_per_second).max(1)
    }
}

/// One operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    /// Its name (the metrics label).
    pub name: String,
    /// Its budget.
    pub limits: Limits,
    /// Never limited.
    pub trusted: bool,
}

/// The registry as written: the operators file (YAML), the document kept in Redis (JSON) and
/// what the admin API shows and edits.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryDoc {
    /// Budget per anonymous client IP (`None`: not limited; a file that says nothing gets the
    /// defaults).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anonymous: Option<Limits>,
    /// Budget of an instance, everyone together.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub global: Option<Limits>,
    /// Named budgets operators can refer to.
    #[serde(default)]
    pub tiers: BTreeMap<String, Limits>,
    /// The operators.
    #[serde(default)]
    pub operators: Vec<OperatorSpec>,
}

/// One operator as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorSpec {
    /// Its name (the metrics label): letters, digits, `-`, `_`, `.`.
    pub name: String,
    /// A tier's budget …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
    /// … or its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<Limits>,
    /// SHA-256 (hex) of its API keys.
    #[serde(default)]
    pub api_key_sha256: Vec<String>,
    /// Node ids (enode public keys, 128 hex) of its Bor nodes.
    #[serde(default)]
    pub node_ids: Vec<String>,
    /// Never limited.
    #[serde(default)]
    pub trusted: bool,
}

impl RegistryDoc {
    /// Gives anonymous clients the default budget when the document names none (as a file or a
    /// whole registry sent to the admin API is read).
    pub fn default_anonymous(&mut self) {
        self.anonymous.get_or_insert(Limits::rate(DEFAULT_ANONYMOUS_RPS, Some(DEFAULT_ANONYMOUS_BURST)));
    }

    /// Adds `spec`, or replaces the operator of that name; whether it replaced one.
    pub fn upsert(&mut self, spec: OperatorSpec) -> bool {
        match self.operators.iter_mut().find(|o| o.name == spec.name) {
            Some(existing) => {
                *existing = spec;
                true
            }
            None => {
                self.operators.push(spec);
                false
            }
        }
    }

    /// Removes the operator `name`; whether there was one.
    pub fn remove(&mut self, name: &str) -> bool {
        let before = self.operators.len();
        self.operators.retain(|o| o.name != name);
        self.operators.len() != before
    }
}

/// Why an operators file was refused (the previous registry stays in force on a reload).
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The YAML is malformed or has unknown keys.
    #[error("{path}: {reason}")]
    Yaml {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// An entry is wrong.
    #[error("{path}: operator {operator:?}: {reason}")]
    Operator {
        /// The file.
        path: String,
        /// Which operator.
        operator: String,
        /// What is wrong.
        reason: String,
    },
}

/// Who is known, and their budgets.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    operators: BTreeMap<String, Arc<Operator>>,
    by_key: HashMap<[u8; 32], Arc<Operator>>,
    by_node: HashMap<[u8; 64], Arc<Operator>>,
    /// Budget per anonymous client IP (`None`: anonymous clients are not limited).
    pub anonymous: Option<Limits>,
    /// Budget of the instance as a whole (`None`: no global limit).
    pub global: Option<Limits>,
    doc: RegistryDoc,
}

/// SHA-256 of an API key, as stored.
pub fn key_hash(api_key: &str) -> [u8; 32] {
    Sha256::digest(api_key.as_bytes()).into()
}

impl Registry {
    /// No operators and no limits (the default without an operators file).
    pub fn open() -> Self {
        Self::default()
    }

    /// Reads an operators file.
    ///
    /// # Errors
    /// [`RegistryError`] naming the file and what is wrong.
    pub fn load(path: &Path) -> Result<Self, RegistryError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| RegistryError::Read { path: name.clone(), source })?;
        Self::parse(&text, &name)
    }

    /// Parses an operators file's text (`path` names it in errors).
    ///
    /// # Errors
    /// [`RegistryError`].
    pub fn parse(text: &str, path: &str) -> Result<Self, RegistryError> {
        let mut doc: RegistryDoc =
            serde_yaml_ng::from_str(text).map_err(|e| RegistryError::Yaml { path: path.to_owned(), reason: e.to_string() })?;
        doc.default_anonymous();
        Self::from_doc(doc, path)
    }

    /// Checks a registry document (`source` names it in errors).
    ///
    /// # Errors
    /// [`RegistryError`].
    pub fn from_doc(doc: RegistryDoc, source: &str) -> Result<Self, RegistryError> {
        let mut registry = Self { anonymous: doc.anonymous, global: doc.global, ..Self::default() };
        for spec in &doc.operators {
            let bad = |reason: String| RegistryError::Operator { path: source.to_owned(), operator: spec.name.clone(), reason };
            if spec.name.is_empty()
                || spec.name.len() > 64
                || RESERVED_NAMES.contains(&spec.name.as_str())
                || !spec.name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            {
                return Err(bad("names are 1-64 letters, digits, '-', '_' or '.', and not \"anonymous\" or \"reload\"".into()));
            }
            let limits = match (&spec.tier, spec.limits) {
                (Some(tier), None) => *doc.tiers.get(tier).ok_or_else(|| bad(format!("unknown tier {tier:?}")))?,
                (None, Some(limits)) => limits,
                _ => return Err(bad("give exactly one of `tier` and `limits`".into())),
            };
            if limits.requests_per_second == 0 {
                return Err(bad("requests_per_second must be at least 1 (use trusted: true for no limit)".into()));
            }
            if limits.bytes_per_second == Some(0) || limits.max_peers == Some(0) {
                return Err(bad("bytes_per_second and max_peers must be at least 1 when given".into()));
            }
            let operator = Arc::new(Operator { name: spec.name.clone(), limits, trusted: spec.trusted });
            if registry.operators.insert(spec.name.clone(), operator.clone()).is_some() {
                return Err(bad("listed twice".into()));
            }
            for hash in &spec.api_key_sha256 {
                let bytes: [u8; 32] = hex::decode(hash)
                    .ok()
                    .and_then(|b| b.try_into().ok())
                    .ok_or_else(|| bad(format!("api_key_sha256 {hash:?} is not 64 hex digits")))?;
                if let Some(other) = registry.by_key.insert(bytes, operator.clone()).filter(|o| o.name != spec.name) {
                    return Err(bad(format!("an API key is also {:?}'s", other.name)));
                }
            }
            for id in &spec.node_ids {
                let id = id.trim_start_matches("enode://").split('@').next().unwrap_or_default();
                let bytes: [u8; 64] = hex::decode(id)
                    .ok()
                    .and_then(|b| b.try_into().ok())
                    .ok_or_else(|| bad(format!("node id {id:?} is not 128 hex digits")))?;
                if let Some(other) = registry.by_node.insert(bytes, operator.clone()).filter(|o| o.name != spec.name) {
                    return Err(bad(format!("a node id is also {:?}'s", other.name)));
                }
            }
        }
        registry.doc = doc;
        Ok(registry)
    }

    /// The document it was made from.
    pub fn doc(&self) -> &RegistryDoc {
        &self.doc
    }

    /// The operator named `name`.
    pub fn by_name(&self, name: &str) -> Option<Arc<Operator>> {
        self.operators.get(name).cloned()
    }

    /// The operator an API key belongs to.
    pub fn by_api_key(&self, api_key: &str) -> Option<Arc<Operator>> {
        self.by_key.get(&key_hash(api_key)).cloned()
    }

    /// The operator a node id belongs to.
    pub fn by_node_id(&self, node_id: &[u8; 64]) -> Option<Arc<Operator>> {
        self.by_node.get(node_id).cloned()
    }

    /// The operators, by name.
    pub fn operators(&self) -> impl Iterator<Item = &Arc<Operator>> {
        self.operators.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "
tiers:
  standard: { requests_per_second: 10, burst: 20 }
operators:
  - name: acme
    tier: standard
    api_key_sha256: [2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b]
    node_ids: [\"enode://aa000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000@1.2.3.4:30303\"]
  - name: big
    limits: { requests_per_second: 1000 }
    trusted: true
";

    #[test]
    fn operators_by_key_and_node() {
        let registry = Registry::parse(FILE, "ops.yaml").unwrap();
        assert_eq!(registry.by_api_key("secret").map(|o| o.name.clone()), Some("acme".into()));
        assert!(registry.by_api_key("guess").is_none());
        let mut node = [0u8; 64];
        node[0] = 0xaa;
        assert_eq!(registry.by_node_id(&node).map(|o| o.limits.requests_per_second), Some(10));
        assert_eq!(registry.anonymous.map(|a| a.requests_per_second), Some(DEFAULT_ANONYMOUS_RPS));
        assert!(registry.operators().any(|o| o.name == "big" && o.trusted));
    }

    #[test]
    fn the_document_round_trips_through_json_and_edits_are_checked() {
        let registry = Registry::parse(FILE, "ops.yaml").unwrap();
        let json = serde_json::to_string(registry.doc()).unwrap();
        let again = Registry::from_doc(serde_json::from_str(&json).unwrap(), "redis").unwrap();
        assert_eq!(again.doc(), registry.doc());
        assert_eq!(again.anonymous, registry.anonymous, "the file's default anonymous budget is written out");
        let mut doc = again.doc().clone();
        let limits = Limits { requests_per_second: 5, burst: None, bytes_per_second: Some(1 << 20), max_peers: Some(2) };
        let spec =
            OperatorSpec { name: "new".into(), tier: None, limits: Some(limits), api_key_sha256: vec![], node_ids: vec![], trusted: false };
        assert!(!doc.upsert(spec.clone()));
        assert!(doc.upsert(spec));
        let edited = Registry::from_doc(doc.clone(), "api").unwrap();
        assert_eq!(edited.by_name("new").map(|o| o.limits), Some(limits));
        assert!(doc.remove("new") && !doc.remove("new"));
        // One API key cannot belong to two operators.
        let mut clash = registry.doc().clone();
        let mut twin = clash.operators[0].clone();
        twin.name = "twin".into();
        clash.operators.push(twin);
        assert!(Registry::from_doc(clash, "api").unwrap_err().to_string().contains("also \"acme\"'s"));
    }

    #[test]
    fn mistakes_are_named() {
        for (text, needle) in [
            ("operators: [{name: a, tier: gold}]", "unknown tier"),
            ("operators: [{name: a}]", "exactly one of"),
            ("operators: [{name: anonymous, limits: {requests_per_second: 1}}]", "not \"anonymous\""),
            ("operators: [{name: reload, limits: {requests_per_second: 1}}]", "\"reload\""),
            ("operators: [{name: a, limits: {requests_per_second: 1}, api_key_sha256: [abc]}]", "64 hex"),
            ("operatorz: []", "unknown field"),
            ("operators: [{name: a, limits: {requests_per_second: 0}}]", "at least 1"),
            ("operators: [{name: a, limits: {requests_per_second: 1, max_peers: 0}}]", "at least 1"),
        ] {
            let err = Registry::parse(text, "ops.yaml").unwrap_err().to_string();
            assert!(err.contains(needle) && err.contains("ops.yaml"), "{text}: {err}");
        }
    }
}
