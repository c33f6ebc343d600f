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
//! only when the wait would pass a flooding threshold. devp2p answers also draw on the
//! operator's bytes budget ([`FairUse::wait_bytes`], counted in KiB), and a peer takes one of
//! the operator's peer places for its session ([`FairUse::join`]).

use crate::{
    registry::{Limits, Operator, Registry},
    stats::{Counters, OperatorStats, Stats},
};
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

/// Which of an operator's buckets a request draws on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bucket {
    Requests,
    Kib,
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

/// An operator's buckets on this instance.
struct OperatorBuckets {
    requests: DefaultDirectRateLimiter,
    /// KiB of devp2p answers.
    kib: Option<DefaultDirectRateLimiter>,
    /// Its share of peer places.
    max_peers: Option<u64>,
}

struct Buckets {
    registry: Registry,
    share: u32,
    operators: HashMap<String, OperatorBuckets>,
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

/// A bytes budget in KiB per second, a second's worth of burst, this instance's share.
fn kib_quota(bytes_per_second: u64, share: u32) -> Quota {
    let kib = bytes_per_second.div_ceil(1024).div_ceil(u64::from(share.max(1))).max(1);
    let kib = NonZeroU32::new(u32::try_from(kib).unwrap_or(u32::MAX)).unwrap_or(NonZeroU32::MIN);
    Quota::per_second(kib).allow_burst(kib)
}

impl Buckets {
    fn new(registry: Registry, share: u32) -> Self {
        let operators = registry
            .operators()
            .filter(|o| !o.trusted)
            .map(|o| {
                let buckets = OperatorBuckets {
                    requests: RateLimiter::direct(quota(o.limits, share)),
                    kib: o.limits.bytes_per_second.map(|b| RateLimiter::direct(kib_quota(b, share))),
                    max_peers: o.limits.max_peers.map(|m| u64::from(m).div_ceil(u64::from(share.max(1))).max(1)),
                };
                (o.name.clone(), buckets)
            })
            .collect();
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
    /// Counters by operator name (registered names and `anonymous`).
    stats: RwLock<HashMap<String, Arc<Stats>>>,
}

/// An operator's devp2p peer place, given back when dropped (the session ended).
#[derive(Debug)]
pub struct PeerPlace {
    stats: Option<Arc<Stats>>,
}

impl Drop for PeerPlace {
    fn drop(&mut self) {
        if let Some(stats) = &self.stats {
            stats.peers.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

impl FairUse {
    /// Budgets from `registry`, for one instance.
    pub fn new(registry: Registry) -> Self {
        Self {
            buckets: RwLock::new(Arc::new(Buckets::new(registry, 1))),
            members: AtomicU32::new(1),
            clock: DefaultClock::default(),
            stats: RwLock::default(),
        }
    }

    /// The registry in force.
    pub fn registry(&self) -> Registry {
        self.buckets.read().registry.clone()
    }

    /// The counters of `label` (an operator's name or `anonymous`), made on first use.
    fn stats_of(&self, label: &str) -> Arc<Stats> {
        if let Some(stats) = self.stats.read().get(label) {
            return stats.clone();
        }
        self.stats.write().entry(label.to_owned()).or_default().clone()
    }

    fn counters(stats: &Stats, protocol: Protocol) -> &Counters {
        match protocol {
            Protocol::Http => &stats.http,
            Protocol::P2p => &stats.p2p,
        }
    }

    /// What `name` (a registered operator or `anonymous`) did on this instance; `None` for
    /// names the registry does not know.
    pub fn stats(&self, name: &str) -> Option<OperatorStats> {
        if name != ANONYMOUS && self.buckets.read().registry.by_name(name).is_none() {
            return None;
        }
        Some(
            self.stats
                .read()
                .get(name)
                .map_or_else(|| OperatorStats { operator: name.to_owned(), ..OperatorStats::default() }, |s| s.read(name)),
        )
    }

    /// Counts `bytes` answered to `client` (JSON-RPC responses; devp2p answers are counted by
    /// [`FairUse::wait_bytes`]).
    pub fn record_bytes(&self, client: &Client, protocol: Protocol, bytes: usize) {
        let stats = self.stats_of(&client.label());
        Self::counters(&stats, protocol).bytes.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// Takes one of the operator's devp2p peer places for a session, or says why not (its
    /// `max_peers` share on this instance is taken: refuse with `TooManyPeers`).
    ///
    /// # Errors
    /// The reason, for the Disconnect.
    pub fn join(&self, client: &Client) -> Result<PeerPlace, String> {
        let label = client.label();
        let stats = self.stats_of(&label);
        let cap = client
            .operator
            .as_ref()
            .filter(|o| !o.trusted)
            .and_then(|o| self.buckets.read().operators.get(&o.name).and_then(|b| b.max_peers));
        let now = stats.peers.fetch_add(1, Ordering::SeqCst) + 1;
        if let Some(cap) = cap
            && now > cap
        {
            stats.peers.fetch_sub(1, Ordering::SeqCst);
            metrics::counter!("hypasis_limits_peers_refused_total", "operator" => label.clone()).increment(1);
            return Err(format!("{label} has {cap} peers on this instance, its share of max_peers"));
        }
        Ok(PeerPlace { stats: Some(stats) })
    }

    /// Replaces the registry (a reloaded file); buckets start full.
    pub fn reload(&self, registry: Registry) {
        // Rebuilt under the write lock, with the member count read under it: a concurrent
        // `set_members` cannot put the previous registry back.
        let mut buckets = self.buckets.write();
        *buckets = Arc::new(Buckets::new(registry, self.members.load(Ordering::SeqCst)));
        metrics::counter!("hypasis_limits_reloads_total").increment(1);
    }

    /// Each instance enforces `1 / members` of every quota.
    pub fn set_members(&self, members: u32) {
        let members = members.max(1);
        let mut buckets = self.buckets.write();
        if self.members.swap(members, Ordering::SeqCst) != members {
            let registry = buckets.registry.clone();
            *buckets = Arc::new(Buckets::new(registry, members));
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
        let verdict = self.try_take(client, cost, Bucket::Requests);
        let result = if verdict == Verdict::Allowed { "allowed" } else { "limited" };
        self.count(client, protocol, result);
        metrics::counter!("hypasis_limits_requests_total", "operator" => client.label(), "protocol" => protocol.label(), "result" => result)
            .increment(1);
        verdict
    }

    fn count(&self, client: &Client, protocol: Protocol, result: &str) {
        let stats = self.stats_of(&client.label());
        let counters = Self::counters(&stats, protocol);
        let counter = match result {
            "limited" => &counters.limited,
            "delayed" => {
                counters.requests.fetch_add(1, Ordering::Relaxed);
                &counters.delayed
            }
            _ => &counters.requests,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Waits until `cost` fits, at most `max_wait`; `Err(wait)` when it would take longer (the
    /// client floods). Returns how long it waited.
    ///
    /// # Errors
    /// The wait that would have been needed.
    pub async fn wait(&self, client: &Client, cost: u32, protocol: Protocol, max_wait: Duration) -> Result<Duration, Duration> {
        let waited = self.wait_for(client, cost, Bucket::Requests, max_wait).await;
        let result = match waited {
            Ok(waited) if waited.is_zero() => "allowed",
            Ok(_) => "delayed",
            Err(_) => "limited",
        };
        metrics::counter!("hypasis_limits_requests_total", "operator" => client.label(), "protocol" => protocol.label(), "result" => result)
            .increment(1);
        self.count(client, protocol, result);
        waited
    }

    /// Waits until a devp2p answer of `bytes` fits the operator's bytes budget, at most
    /// `max_wait`, and counts the bytes; `Err(wait)` when it would take longer.
    ///
    /// # Errors
    /// The wait that would have been needed.
    pub async fn wait_bytes(&self, client: &Client, bytes: usize, max_wait: Duration) -> Result<Duration, Duration> {
        let kib = u32::try_from(bytes.div_ceil(1024)).unwrap_or(u32::MAX);
        let waited = self.wait_for(client, kib, Bucket::Kib, max_wait).await;
        if let Ok(waited) = waited {
            let stats = self.stats_of(&client.label());
            stats.p2p.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
            if !waited.is_zero() {
                metrics::counter!("hypasis_limits_bytes_delayed_total", "operator" => client.label()).increment(1);
            }
        }
        waited
    }

    async fn wait_for(&self, client: &Client, cost: u32, bucket: Bucket, max_wait: Duration) -> Result<Duration, Duration> {
        let mut waited = Duration::ZERO;
        loop {
            match self.try_take(client, cost, bucket) {
                Verdict::Allowed => return Ok(waited),
                Verdict::Limited { retry_after } => {
                    if waited + retry_after > max_wait {
                        return Err(waited + retry_after);
                    }
                    tokio::time::sleep(retry_after).await;
                    waited += retry_after;
                }
            }
        }
    }

    fn try_take(&self, client: &Client, cost: u32, bucket: Bucket) -> Verdict {
        let buckets = self.buckets.read().clone();
        if client.operator.as_ref().is_some_and(|o| o.trusted) {
            return Verdict::Allowed;
        }
        let n = NonZeroU32::new(cost.max(1)).unwrap_or(NonZeroU32::MIN);
        let now = self.clock.now();
        let limited = |wait: Duration| Verdict::Limited { retry_after: wait.max(Duration::from_millis(1)) };
        let outcome = match (&client.operator, bucket) {
            (Some(operator), Bucket::Requests) => buckets.operators.get(&operator.name).map(|b| b.requests.check_n(n)),
            (Some(operator), Bucket::Kib) => {
                // An answer bigger than a second's worth takes the whole budget rather than
                // never fitting.
                buckets.operators.get(&operator.name).and_then(|b| b.kib.as_ref()).map(|kib| match kib.check_n(n) {
                    Err(governor::InsufficientCapacity(cap)) => kib.check_n(NonZeroU32::new(cap).unwrap_or(NonZeroU32::MIN)),
                    other => other,
                })
            }
            (None, Bucket::Requests) => buckets.anonymous.as_ref().map(|b| b.check_key_n(&client.ip, n)),
            (None, Bucket::Kib) => None,
        };
        if bucket == Bucket::Kib {
            return match outcome {
                Some(Ok(Err(not_until))) => limited(not_until.wait_time_from(now)),
                _ => Verdict::Allowed,
            };
        }
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
    async fn bytes_peers_and_stats() {
        let registry = Registry::parse(
            "operators:\n  - {name: b, limits: {requests_per_second: 100, bytes_per_second: 102400, max_peers: 2}, node_ids: [\"aa000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000\"]}",
            "test",
        )
        .unwrap();
        let fair = Arc::new(FairUse::new(registry));
        let mut id = [0u8; 64];
        id[0] = 0xaa;
        let b = fair.identify_node(&id, "192.0.2.1".parse().unwrap());
        assert_eq!(b.label(), "b");
        // 100 KiB/s: a second's worth at once, then answers wait.
        assert_eq!(fair.wait_bytes(&b, 100 * 1024, Duration::from_secs(1)).await, Ok(Duration::ZERO));
        let waited = fair.wait_bytes(&b, 10 * 1024, Duration::from_secs(1)).await.expect("waits for 10 KiB");
        assert!(waited >= Duration::from_millis(50) && waited <= Duration::from_millis(150), "{waited:?}");
        assert!(fair.wait_bytes(&b, 100 * 1024, Duration::from_millis(100)).await.is_err(), "a second's worth would wait too long");
        // An answer bigger than the whole budget still goes out (after a full refill).
        assert!(fair.wait_bytes(&b, 1 << 20, Duration::from_secs(2)).await.is_ok());
        // Two peer places, the third refused; a place comes back when its session ends.
        let one = fair.join(&b).expect("first");
        let _two = fair.join(&b).expect("second");
        assert!(fair.join(&b).unwrap_err().contains("max_peers"));
        assert_eq!(fair.stats("b").map(|s| s.peers), Some(2));
        drop(one);
        let _three = fair.join(&b).expect("a place again");
        // Anonymous peers have no cap of their own.
        let anon = fair.identify_node(&[1; 64], "192.0.2.2".parse().unwrap());
        let _places: Vec<_> = (0..10).map(|_| fair.join(&anon).expect("anonymous")).collect();
        fair.wait(&b, 1, Protocol::P2p, Duration::from_secs(1)).await.expect("fits");
        fair.record_bytes(&anon, Protocol::Http, 7);
        let stats = fair.stats("b").expect("registered");
        assert_eq!((stats.p2p.requests, stats.p2p.bytes, stats.peers), (1, (100 + 10 + 1024) * 1024, 2));
        assert_eq!(fair.stats(ANONYMOUS).map(|s| (s.http.bytes, s.peers)), Some((7, 10)));
        assert!(fair.stats("nobody").is_none());
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
