//! Every metric in docs/ARCHITECTURE.md's metrics table is exported right after start, before
//! any peer or upstream activity, described (`# HELP`), and histograms come with `_bucket`
//! series so `histogram_quantile` works across instances.

mod support;

use support::Node;

/// The metric names of the docs' metrics table (first column of each row).
fn documented() -> Vec<String> {
    let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/ARCHITECTURE.md")).expect("docs");
    let table = docs.split("## Metrics").nth(1).expect("a Metrics section").split("\n## ").next().unwrap_or_default();
    let mut names = Vec::new();
    for row in table.lines().filter(|l| l.starts_with("| `hypasis_")) {
        let first = row.split(" | ").next().unwrap_or_default();
        names.extend(first.split('`').filter(|part| part.starts_with("hypasis_")).map(str::to_owned));
    }
    names
}

#[test]
fn every_documented_metric_is_exported_at_start_with_help_and_histogram_buckets() {
    let names = documented();
    assert!(names.len() > 50, "the docs table was read: {names:?}");
    let node = Node::start(&["--devnet-block-time", "3600"]);
    let (status, body) = node.get("/metrics");
    assert_eq!(status, 200);
    let missing: Vec<&String> = names.iter().filter(|n| !body.contains(&format!("# TYPE {n} "))).collect();
    assert!(missing.is_empty(), "documented but not exported at start: {missing:?}");
    let undescribed: Vec<&String> = names.iter().filter(|n| !body.contains(&format!("# HELP {n} "))).collect();
    assert!(undescribed.is_empty(), "exported without help: {undescribed:?}");
    for histogram in names.iter().filter(|n| body.contains(&format!("# TYPE {n} histogram"))) {
        assert!(body.contains(&format!("{histogram}_bucket{{")), "{histogram} has no buckets");
    }
    for name in ["hypasis_p2p_serve_seconds", "hypasis_upstream_request_seconds", "hypasis_upstream_budget_wait_seconds"] {
        assert!(body.contains(&format!("# TYPE {name} histogram")), "{name} is a histogram, not a summary");
    }
    // And nothing exported is missing from the docs.
    let undocumented: Vec<&str> = body
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with("hypasis_") && !names.iter().any(|d| d == n))
        .collect();
    assert!(undocumented.is_empty(), "exported but not documented: {undocumented:?}");
}

/// The alert rules only use metrics the node exports (the docs table is checked against the
/// exporter above), so no alert silently watches a series that never exists.
#[test]
fn every_alert_uses_documented_metrics() {
    let documented = documented();
    let rules = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../prometheus/alerts.yml")).expect("alert rules");
    let mut used: Vec<String> = rules
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("hypasis_") && w.len() > "hypasis_".len())
        .map(|w| w.strip_suffix("_bucket").unwrap_or(w).to_owned())
        .collect();
    used.sort();
    used.dedup();
    assert!(used.len() > 10, "the rules were read: {used:?}");
    let unknown: Vec<&String> = used.iter().filter(|m| !documented.contains(m)).collect();
    assert!(unknown.is_empty(), "alerts use metrics the node does not export: {unknown:?}");
}
