//! The `hypasis_upstream_banned` gauge follows the ban: 1 while banned, back to 0 when the ban
//! expires. (Its own test binary: it installs the process-wide metrics recorder.)

use hypasis_upstream::{PoolConfig, UpstreamPool};
use std::time::Duration;

fn banned_gauge(rendered: &str) -> Option<f64> {
    rendered.lines().find(|l| l.starts_with("hypasis_upstream_banned{")).and_then(|l| l.rsplit(' ').next()).and_then(|v| v.parse().ok())
}

#[test]
fn the_banned_gauge_returns_to_zero_when_the_ban_expires() {
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder).expect("recorder");
    let config = PoolConfig { ban_period: Duration::from_millis(200), ..PoolConfig::default() };
    let pool = UpstreamPool::new(&["http://127.0.0.1:9".parse().expect("url")], config).expect("pool");
    let endpoint = &pool.endpoints()[0];
    assert_eq!(banned_gauge(&handle.render()), Some(0.0), "registered at 0");
    pool.ban(endpoint, "test");
    assert_eq!(banned_gauge(&handle.render()), Some(1.0));
    assert!(!endpoint.usable());
    std::thread::sleep(Duration::from_millis(300));
    assert!(endpoint.usable(), "the ban is over");
    assert_eq!(banned_gauge(&handle.render()), Some(0.0));
    assert_eq!(endpoint.status().state, "ok");
}
