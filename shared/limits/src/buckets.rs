//! The token buckets. An operator's devp2p and HTTP requests draw on one bucket; anonymous
//! clients get one bucket per IP address; the instance as a whole has a global bucket.
//!
//! Across the cluster each instance enforces its share of every quota (rate and burst divided
//! by the live instances, from the membership heartbeats): an operator whose Bor nodes and
//! scripts spread over three instances gets its quota once, not three times. The share is
//! exact when the operator's traffic spreads evenly (the load balancer's job) and errs towards
//! fewer requests when it does not; a Redis bucket would be exact always but put a Redis round
//! trip on every request (docs/OPERATORS.md).
//!
//! HTTP asks [`FairUse::check`] (limited: 429 with `Retry-After`); devp2p asks
//! [`FairUse::wait`], which delays the answer (backpressure) and gives up, for a Disconnect,
//! only when the wait would pass a flooding threshold.

use crate::registry::{Limits, Operator, Registry};
use governor::{
    DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter,
    clock::{Clock, DefaultClock},
};
use parking_lot::RwLock;
use std::{
    collections::HashMap,
    net::IpAddr,
    num::NonZeroU32,
    sync::{
        Arc,
        atomic::{AtomicU32, Ordering},
    },
    time::Duration,
};

/// The metric label of clients no operator claims.
pub const ANONYMOUS: &str = "anonymous";

/// Which side a request came in on (the `protocol` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// JSON-RPC or the REST API.
    Http,
    /// devp2p eth requests.
    P2p,
}

impl Protocol {
    fn label(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::P2p => "p2p",
        }
    }
}

/// Who is asking.
#[derive(Debug, Clone)]
pub struct Client {
    /// The operator, when the client identified itself (API key or node id).
    pub operator: Option<Arc<Operator>>,
    /// The client's address (the anonymous bucket's key).
    pub ip: IpAddr,
}

impl Client {
    /// The metrics label: the operator's name or `anonymous`.
    pub fn label(&self) -> String {
        self.operator.as_ref().map_or_else(|| ANONYMOUS.to_owned(), |o| o.name.clone())
    }
}

/// What [`FairUse::check`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Go ahead.
    Allowed,
    /// Over budget: try again after this long.
    Limited {
        /// When the request would fit.
        retry_after: Duration,
    },
}

struct Buckets {
    registry: Registry,
    share: u32,
    operators: HashMap<String, DefaultDirectRateLimiter>,
    anonymous: Option<DefaultKeyedRateLimiter<IpAddr>>,
    global: Option<DefaultDirectRateLimiter>,
}

impl std::fmt::Debug for Buckets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Buckets").field("operators", &self.operators.len()).field("share", &self.share).finish()
    }
}

fn quota(limits: Limits, share: u32) -> Quota {
    let share = share.max(1);
    let rate = NonZeroU32::new(limits.requests_per_second.div_ceil(share).max(1)).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(limits.burst().div_ceil(share).max(1)).unwrap_or(NonZeroU32::MIN);
    Quota::per_second(rate).allow_burst(burst)
}

impl Buckets {
    fn new(registry: Registry, share: u32) -> Self {
        let operators =
            registry.operators().filter(|o| !o.trusted).map(|o| (o.name.clone(), RateLimiter::direct(quota(o.limits, share)))).collect();
        let anonymous = registry.anonymous.map(|l| RateLimiter::keyed(quota(l, share)));
        let global = registry.global.map(|l| RateLimiter::direct(quota(l, share)));
        Self { registry, share, operators, anonymous, global }
    }
}

/// The fair-use service: identify a client, then check or wait for its budget. Cheap to share.
#[derive(Debug)]
pub struct FairUse {
    buckets: RwLock<Arc<Buckets>>,
    members: AtomicU32,
    clock: DefaultClock,
}

impl FairUse {
    /// Budgets from `registry`, for one instance.
    pub fn new(registry: Registry) -> Self {
        Self { buckets: RwLock::new(Arc::new(Buckets::new(registry, 1))), members: AtomicU32::new(1), clock: DefaultClock::default() }
    }

    /// Replaces the registry (a reloaded file); buckets start full.
    pub fn reload(&self, registry: Registry) {
        let share = self.members.load(Ordering::SeqCst);
        *self.buckets.write() = Arc::new(Buckets::new(registry, share));
        metrics::counter!("hypasis_limits_reloads_total").increment(1);
    }

    /// Each instance enforces `1 / members` of every quota.
    pub fn set_members(&self, members: u32) {
        let members = members.max(1);
        if self.members.swap(members, Ordering::SeqCst) != members {
            let registry = self.buckets.read().registry.clone();
            *self.buckets.write() = Arc::new(Buckets::new(registry, members));
            metrics::gauge!("hypasis_limits_share_members").set(f64::from(members));
        }
    }

    /// The client an HTTP request comes from: its API key's operator, else anonymous.
    pub fn identify_key(&self, api_key: Option<&str>, ip: IpAddr) -> Client {
        let operator = api_key.and_then(|key| self.buckets.read().registry.by_api_key(key));
        Client { operator, ip }
    }

    /// The client a peer is: its node id's operator, else anonymous.
    pub fn identify_node(&self, node_id: &[u8; 64], ip: IpAddr) -> Client {
        Client { operator: self.buckets.read().registry.by_node_id(node_id), ip }
    }

    /// Takes `cost` from the client's bucket (and the global one) if it fits now.
    pub fn check(&self, client: &Client, cost: u32, protocol: Protocol) -> Verdict {
        let verdict = self.try_take(client, cost);
        let result = if verdict == Verdict::Allowed { "allowed" } else { "limited" };
        metrics::counter!("hypasis_limits_requests_total", "operator" => client.label(), "protocol" => protocol.label(), "result" => result)
            .increment(1);
        verdict
    }

    /// Waits until `cost` fits, at most `max_wait`; `Err(wait)` when it would take longer (the
    /// client floods). Returns how long it waited.
    ///
    /// # Errors
    /// The wait that would have been needed.
    pub async fn wait(&self, client: &Client, cost: u32, protocol: Protocol, max_wait: Duration) -> Result<Duration, Duration> {
        let mut waited = Duration::ZERO;
        loop {
            match self.try_take(client, cost) {
                Verdict::Allowed => {
                    let result = if waited.is_zero() { "allowed" } else { "delayed" };
                    metrics::counter!("hypasis_limits_requests_total", "operator" => client.label(), "protocol" => protocol.label(), "result" => result)
                        .increment(1);
                    return Ok(waited);
                }
                Verdict::Limited { retry_after } => {
                    if waited + retry_after > max_wait {
                        metrics::counter!("hypasis_limits_requests_total", "operator" => client.label(), "protocol" => protocol.label(), "result" => "limited")
                            .increment(1);
                        return Err(waited + retry_after);
                    }
                    tokio::time::sleep(retry_after).await;
                    waited += retry_after;
                }
            }
        }
    }

    fn try_take(&self, client: &Client, cost: u32) -> Verdict {
        let buckets = self.buckets.read().clone();
        if client.operator.as_ref().is_some_and(|o| o.trusted) {
            return Verdict::Allowed;
        }
        let n = NonZeroU32::new(cost.max(1)).unwrap_or(NonZeroU32::MIN);
        let now = self.clock.now();
        let limited = |wait: Duration| Verdict::Limited { retry_after: wait.max(Duration::from_millis(1)) };
        let outcome = match &client.operator {
            Some(operator) => buckets.operators.get(&operator.name).map(|b| b.check_n(n)),
            None => buckets.anonymous.as_ref().map(|b| b.check_key_n(&client.ip, n)),
        };
        match outcome {
            Some(Ok(Err(not_until))) => return limited(not_until.wait_time_from(now)),
            // More than the whole burst at once: it can never fit; wait a full refill.
            Some(Err(_)) => return limited(Duration::from_secs(1)),
            _ => {}
        }
        if let Some(global) = &buckets.global {
            match global.check_n(n) {
                Ok(Ok(())) => {}
                Ok(Err(not_until)) => return limited(not_until.wait_time_from(now)),
                Err(_) => return limited(Duration::from_secs(1)),
            }
        }
        Verdict::Allowed
    }

    /// Forgets anonymous buckets that are full again (run periodically).
    pub fn forget_idle(&self) {
        if let Some(anonymous) = &self.buckets.read().anonymous {
            anonymous.retain_recent();
            anonymous.shrink_to_fit();
            metrics::gauge!("hypasis_limits_anonymous_clients").set(anonymous.len() as f64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry() -> Registry {
        Registry::parse(
            "anonymous: {requests_per_second: 5, burst: 5}\noperators:\n  - {name: a, limits: {requests_per_second: 10, burst: 10}, api_key_sha256: [2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b]}\n  - {name: t, limits: {requests_per_second: 1}, trusted: true, api_key_sha256: [03ac674216f3e15c761ee1a5e255f067953623c8b388b4459e13f978d7c846f4]}",
            "test",
        )
        .unwrap()
    }

    #[test]
    fn operators_have_their_own_bucket_and_anonymous_ips_theirs() {
        let fair = FairUse::new(registry());
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let a = fair.identify_key(Some("secret"), ip);
        assert_eq!(a.label(), "a");
        assert!((0..10).all(|_| fair.check(&a, 1, Protocol::Http) == Verdict::Allowed));
        assert!(matches!(fair.check(&a, 1, Protocol::Http), Verdict::Limited { .. }));
        // The same address without a key is anonymous, with its own bucket.
        let anon = fair.identify_key(None, ip);
        assert_eq!(fair.check(&anon, 5, Protocol::Http), Verdict::Allowed);
        assert!(matches!(fair.check(&anon, 1, Protocol::Http), Verdict::Limited { .. }));
        let other = fair.identify_key(Some("wrong"), "192.0.2.2".parse().unwrap());
        assert_eq!(fair.check(&other, 1, Protocol::Http), Verdict::Allowed, "another IP, another bucket");
        let trusted = fair.identify_key(Some("1234"), ip);
        assert!((0..100).all(|_| fair.check(&trusted, 1, Protocol::Http) == Verdict::Allowed));
    }

    #[test]
    fn the_quota_is_shared_among_live_instances() {
        let fair = FairUse::new(registry());
        fair.set_members(2);
        let a = fair.identify_key(Some("secret"), "192.0.2.1".parse().unwrap());
        assert!((0..5).all(|_| fair.check(&a, 1, Protocol::Http) == Verdict::Allowed));
        assert!(matches!(fair.check(&a, 1, Protocol::Http), Verdict::Limited { .. }), "half the burst on each of two");
    }

    #[tokio::test]
    async fn p2p_waits_then_gives_up_when_flooding() {
        let fair = FairUse::new(registry());
        let a = fair.identify_key(Some("secret"), "192.0.2.1".parse().unwrap());
        for _ in 0..10 {
            assert_eq!(fair.wait(&a, 1, Protocol::P2p, Duration::from_secs(1)).await, Ok(Duration::ZERO));
        }
        let waited = fair.wait(&a, 1, Protocol::P2p, Duration::from_secs(1)).await.expect("a short delay");
        assert!(waited > Duration::ZERO && waited <= Duration::from_millis(150), "{waited:?}");
        assert!(fair.wait(&a, 20, Protocol::P2p, Duration::from_millis(100)).await.is_err(), "too much at once: flooding");
    }
}
