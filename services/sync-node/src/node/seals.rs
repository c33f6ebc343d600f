//! Which seal check the node runs, and from what anchor (docs/ARCHITECTURE.md, "Seal checks"):
//!
//! - the devnet: Bor's snapshot rules from its genesis set;
//! - a genesis-file Bor chain: the snapshot rules from `--bor-validators`, else from the genesis
//!   validator contract (`getBorValidators(1)` run on the genesis allocation);
//! - Polygon mainnet and Amoy: Heimdall's spans with `--heimdall-url` (the signer must be a
//!   producer of its span); without it, no seal check, said loudly at start.

use super::NodeError;
use crate::config::Settings;
use hypasis_chain::{ChainSpec, bor_snapshot::Snapshot};
use hypasis_devnet::{Devnet, DevnetConfig};
use hypasis_syncer::{SnapshotTracker, anchor::AnchorError};
use serde::Serialize;
use std::sync::Arc;

/// What `/api/v1/status` says about seal checks.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SealStatus {
    /// `snapshot` (Bor's full rules from an anchor), `spans` (Heimdall's producers), both
    /// joined by `+`, or `none`.
    pub mode: String,
    /// Where the validator set comes from, or why nothing is checked.
    pub anchor: String,
}

/// The seal check chosen at start.
#[derive(Debug)]
pub(super) struct SealPlan {
    /// Bor's snapshot rules, when an anchor is known.
    pub tracker: Option<Arc<SnapshotTracker>>,
    /// Heimdall's spans, when `--heimdall-url` is set.
    pub spans: bool,
    /// For status.
    pub status: SealStatus,
}

/// Chooses the seal check for `spec`.
///
/// # Errors
/// [`NodeError::Anchor`] when `--bor-validators` cannot anchor this chain or the genesis
/// validator contract cannot be called.
pub(super) fn plan(settings: &Settings, spec: &ChainSpec, devnet: Option<&DevnetConfig>) -> Result<SealPlan, NodeError> {
    let spans = settings.heimdall_url.is_some();
    let Some(bor) = spec.bor.clone() else {
        let status = SealStatus { mode: "none".into(), anchor: "not a Bor chain: its blocks carry no Bor seal".into() };
        return Ok(SealPlan { tracker: None, spans: false, status });
    };
    let anchored = |validators: Vec<hypasis_chain::bor::Validator>, source: String| -> Result<Arc<SnapshotTracker>, NodeError> {
        let genesis = spec.genesis_header.as_ref().ok_or_else(|| NodeError::Anchor {
            reason: format!("--bor-validators sets the validators at genesis; {} has no genesis file here (use --heimdall-url)", spec.name),
        })?;
        let snapshot = Snapshot::anchor(genesis, &validators).map_err(|e| NodeError::Anchor { reason: format!("{source}: {e}") })?;
        Ok(Arc::new(SnapshotTracker::new(bor.clone(), snapshot, source)))
    };
    let tracker = if let Some(config) = devnet {
        Some(anchored(Devnet::new(config.clone()).genesis_validators(), "devnet genesis".into())?)
    } else if !settings.bor_validators.is_empty() {
        Some(anchored(settings.bor_validators.clone(), "--bor-validators at genesis".into())?)
    } else if let Some(doc) = &spec.genesis {
        match hypasis_syncer::anchor::genesis_validators(doc, bor.validator_contract) {
            Ok(set) => Some(anchored(set, format!("genesis validator contract {:#x}", bor.validator_contract))?),
            Err(AnchorError::NoContract(contract)) => {
                tracing::warn!(%contract, "seal checks: the genesis file has no validator contract code; set --bor-validators ADDRESS:POWER,… to check seals");
                None
            }
            Err(e) => return Err(NodeError::Anchor { reason: e.to_string() }),
        }
    } else {
        None
    };
    let status = match (&tracker, spans) {
        (Some(t), false) => SealStatus { mode: "snapshot".into(), anchor: describe(t) },
        (Some(t), true) => SealStatus { mode: "snapshot+spans".into(), anchor: format!("{}; Heimdall spans", describe(t)) },
        (None, true) => {
            SealStatus { mode: "spans".into(), anchor: "Heimdall spans (--heimdall-url): the signer must be a producer of its span".into() }
        }
        (None, false) => {
            let anchor = format!(
                "none: no validator set is known for {}; set --heimdall-url (or --bor-validators for a genesis-file chain)",
                spec.name
            );
            SealStatus { mode: "none".into(), anchor }
        }
    };
    match status.mode.as_str() {
        "none" if spec.bor.is_some() => tracing::warn!(chain = %spec.name, "seal checks are OFF: {}", status.anchor),
        mode => tracing::info!(chain = %spec.name, mode, anchor = %status.anchor, "seal checks"),
    }
    Ok(SealPlan { tracker, spans, status })
}

fn describe(tracker: &SnapshotTracker) -> String {
    let a = tracker.anchor();
    format!("{} ({} validators at block {})", a.source, a.validators, a.number)
}
