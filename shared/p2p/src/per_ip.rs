//! Per-address accounting: counts capped per remote IP address (handshakes in flight, connected
//! peers), so one host cannot take every slot however many node keys it makes, and temporary
//! bans for addresses that keep breaking the protocol.
//!
//! The address is the client's: behind a trusted load balancer, the one its PROXY header names.
//! An IPv6 client is counted by its /64 (one host usually holds a whole /64), an IPv4-mapped
//! IPv6 address as the IPv4 address.

use parking_lot::Mutex;
use std::{
    collections::HashMap,
    net::IpAddr,
    sync::Arc,
    time::{Duration, Instant},
};

/// Most addresses the ban list tracks; past it, new offenders are not tracked until old entries
/// expire (`hypasis_p2p_bans_untracked_total`).
pub const MAX_TRACKED_OFFENDERS: usize = 65_536;

/// The key an address is counted under: IPv4 as it is, IPv6 by its /64.
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(std::net::Ipv6Addr::from(u128::from(v6) & !((1u128 << 64) - 1))),
        },
    }
}

/// A count per address, each at most `limit`.
#[derive(Debug)]
pub struct IpCounts {
    limit: usize,
    counts: Mutex<HashMap<IpAddr, usize>>,
}

impl IpCounts {
    /// Counts of at most `limit` per address.
    pub fn new(limit: usize) -> Arc<Self> {
        Arc::new(Self { limit, counts: Mutex::new(HashMap::new()) })
    }

    /// One more for `ip`, held until the ticket drops; `None` when `ip` already has `limit`.
    pub fn take(self: &Arc<Self>, ip: IpAddr) -> Option<IpTicket> {
        let ip = client_key(ip);
        let mut counts = self.counts.lock();
        let count = counts.entry(ip).or_insert(0);
        if *count >= self.limit {
            if *count == 0 {
                counts.remove(&ip);
            }
            return None;
        }
        *count += 1;
        Some(IpTicket { counts: self.clone(), ip })
    }

    /// The count for `ip` now.
    #[cfg(test)]
    fn of(&self, ip: IpAddr) -> usize {
        self.counts.lock().get(&client_key(ip)).copied().unwrap_or(0)
    }
}

/// One unit of an address's count, given back on drop.
#[derive(Debug)]
pub struct IpTicket {
    counts: Arc<IpCounts>,
    ip: IpAddr,
}

impl Drop for IpTicket {
    fn drop(&mut self) {
        let mut counts = self.counts.counts.lock();
        if let Some(count) = counts.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.ip);
            }
        }
    }
}

/// When an address is banned: `breaches` protocol breaches within `period` ban it for `period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BanPolicy {
    /// Breaches that ban (0: never ban).
    pub breaches: u32,
    /// The counting window and the ban's length.
    pub period: Duration,
}

#[derive(Debug, Clone, Copy)]
struct Offender {
    window_start: Instant,
    breaches: u32,
    banned_until: Option<Instant>,
}

/// Addresses that broke the protocol, and those banned for it.
#[derive(Debug)]
pub(crate) struct Bans {
    policy: BanPolicy,
    offenders: Mutex<Offenders>,
}

#[derive(Debug)]
struct Offenders {
    by_ip: HashMap<IpAddr, Offender>,
    pruned: Instant,
}

/// A full offender list is pruned at most this often (pruning walks all of it).
const PRUNE_EVERY: Duration = Duration::from_secs(1);

impl Bans {
    pub(crate) fn new(policy: BanPolicy) -> Self {
        Self { policy, offenders: Mutex::new(Offenders { by_ip: HashMap::new(), pruned: Instant::now() }) }
    }

    /// Whether `ip` is banned now.
    pub(crate) fn is_banned(&self, ip: IpAddr) -> bool {
        if self.policy.breaches == 0 {
            return false;
        }
        self.offenders.lock().by_ip.get(&client_key(ip)).and_then(|o| o.banned_until).is_some_and(|until| Instant::now() < until)
    }

    /// Counts a breach by `ip`; true when it got `ip` banned.
    pub(crate) fn breach(&self, ip: IpAddr) -> bool {
        if self.policy.breaches == 0 {
            return false;
        }
        let (ip, now) = (client_key(ip), Instant::now());
        let mut offenders = self.offenders.lock();
        if offenders.by_ip.len() >= MAX_TRACKED_OFFENDERS && !offenders.by_ip.contains_key(&ip) {
            if now.duration_since(offenders.pruned) >= PRUNE_EVERY {
                let period = self.policy.period;
                offenders.by_ip.retain(|_, o| now < o.window_start + period || o.banned_until.is_some_and(|u| now < u));
                offenders.pruned = now;
            }
            if offenders.by_ip.len() >= MAX_TRACKED_OFFENDERS {
                metrics::counter!("hypasis_p2p_bans_untracked_total").increment(1);
                return false;
            }
        }
        let offender = offenders.by_ip.entry(ip).or_insert(Offender { window_start: now, breaches: 0, banned_until: None });
        if now >= offender.window_start + self.policy.period {
            *offender = Offender { window_start: now, breaches: 0, banned_until: offender.banned_until.filter(|u| now < *u) };
        }
        offender.breaches += 1;
        if offender.breaches < self.policy.breaches {
            return false;
        }
        *offender = Offender { window_start: now, breaches: 0, banned_until: Some(now + self.policy.period) };
        metrics::counter!("hypasis_p2p_bans_total").increment(1);
        true
    }
}

/// Whether an error of this kind ([`WireError::kind`](hypasis_eth_wire::WireError::kind)) is a
/// protocol breach that counts toward a ban: malformed or oversized messages and frames, bad
/// MACs. Timeouts, I/O errors, refusals and ECIES failures (a peer dialing a stale node id) are
/// not.
pub fn is_breach(kind: &str) -> bool {
    matches!(kind, "bad_rlp" | "breach" | "too_large" | "frame_too_large" | "bad_mac" | "malformed")
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2));

    #[test]
    fn counts_are_capped_per_address_and_given_back_on_drop() {
        let counts = IpCounts::new(2);
        let (one, two) = (counts.take(A).expect("1"), counts.take(A).expect("2"));
        assert!(counts.take(A).is_none(), "a third from A");
        let other = counts.take(B).expect("B has its own share");
        drop(one);
        assert_eq!(counts.of(A), 1);
        let again = counts.take(A).expect("a place came back");
        drop((two, again, other));
        assert!(counts.counts.lock().is_empty(), "no entry left behind");
    }

    #[test]
    fn a_zero_limit_admits_nobody_and_keeps_no_entry() {
        let counts = IpCounts::new(0);
        assert!(counts.take(A).is_none());
        assert!(counts.counts.lock().is_empty());
    }

    #[test]
    fn enough_breaches_within_the_period_ban_and_the_ban_expires() {
        let bans = Bans::new(BanPolicy { breaches: 3, period: Duration::from_millis(300) });
        assert!(!bans.breach(A) && !bans.breach(A));
        assert!(!bans.is_banned(A));
        assert!(bans.breach(A), "the third breach bans");
        assert!(bans.is_banned(A) && !bans.is_banned(B));
        std::thread::sleep(Duration::from_millis(350));
        assert!(!bans.is_banned(A), "expired");
    }

    #[test]
    fn breaches_spread_over_more_than_the_period_do_not_ban() {
        let bans = Bans::new(BanPolicy { breaches: 2, period: Duration::from_millis(100) });
        assert!(!bans.breach(A));
        std::thread::sleep(Duration::from_millis(150));
        assert!(!bans.breach(A), "a new window");
        assert!(!bans.is_banned(A));
    }

    #[test]
    fn a_zero_policy_never_bans() {
        let bans = Bans::new(BanPolicy { breaches: 0, period: Duration::from_secs(60) });
        for _ in 0..100 {
            assert!(!bans.breach(A));
        }
        assert!(!bans.is_banned(A));
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_slash_64() {
        let counts = IpCounts::new(1);
        let a: IpAddr = "2001:db8:1:2::1".parse().expect("ip");
        let same_64: IpAddr = "2001:db8:1:2:ffff::9".parse().expect("ip");
        let other_64: IpAddr = "2001:db8:1:3::1".parse().expect("ip");
        let _one = counts.take(a).expect("first");
        assert!(counts.take(same_64).is_none(), "another address of the same /64 shares the count");
        assert!(counts.take(other_64).is_some(), "another /64 has its own");
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().expect("ip");
        assert_eq!(client_key(mapped), A, "an IPv4-mapped address is its IPv4 address");
    }

    #[test]
    fn only_protocol_breaches_count() {
        assert!(is_breach("bad_rlp") && is_breach("bad_mac") && is_breach("frame_too_large"));
        assert!(!is_breach("timeout") && !is_breach("io") && !is_breach("ecies") && !is_breach("remote_disconnect"));
    }
}
