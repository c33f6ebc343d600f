//! Leader election, fencing and membership against a real `redis-server` and a real
//! three-master Redis Cluster.

use alloy_primitives::{B256, U256};
use fred::prelude::{Builder, ClientLike, Config};
use hypasis_cluster::{Election, ElectionConfig, Leadership, Member, Membership};
use hypasis_store::{BlockStore, ChainHead, HeadUpdate, RedisStore, RedisStoreConfig};
use hypasis_test_support::AnyRedis;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

const TTL: Duration = Duration::from_millis(1500);
const CHAIN: u64 = 1337;

async fn client(server: &AnyRedis) -> fred::prelude::Client {
    client_with_timeout(server, Duration::from_millis(500)).await
}

async fn client_with_timeout(server: &AnyRedis, timeout: Duration) -> fred::prelude::Client {
    let client = Builder::from_config(Config::from_url(&server.url()).expect("url"))
        .with_performance_config(|p| p.default_command_timeout = timeout)
        .set_policy(fred::types::config::ReconnectPolicy::new_constant(0, 100))
        .build()
        .expect("client");
    client.init().await.expect("connect");
    client
}

struct Contender {
    rx: watch::Receiver<Leadership>,
    cancel: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

async fn contender(server: &AnyRedis, id: &str) -> Contender {
    let election = Election::new(ElectionConfig { chain_id: CHAIN, instance_id: id.into(), ttl: TTL }, client(server).await);
    let (tx, rx) = watch::channel(Leadership::Follower);
    let cancel = CancellationToken::new();
    let task = tokio::spawn(election.run(tx, None, cancel.clone()));
    Contender { rx, cancel, task }
}

fn leaders(contenders: &[&Contender]) -> Vec<u64> {
    contenders
        .iter()
        .filter_map(|c| match *c.rx.borrow() {
            Leadership::Leader { token } => Some(token),
            Leadership::Follower => None,
        })
        .collect()
}

async fn wait_for_one_leader(contenders: &[&Contender], within: Duration) -> u64 {
    let deadline = Instant::now() + within;
    loop {
        let l = leaders(contenders);
        assert!(l.len() <= 1, "two leaders at once: {l:?}");
        if let [token] = l[..] {
            return token;
        }
        assert!(Instant::now() < deadline, "no leader within {within:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_leader_a_crash_hands_over_and_the_stale_leader_is_fenced() {
    one_leader_a_crash_hands_over_and_the_stale_leader_is_fenced_body(AnyRedis::single()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_leader_a_crash_hands_over_and_the_stale_leader_is_fenced_on_a_cluster() {
    one_leader_a_crash_hands_over_and_the_stale_leader_is_fenced_body(AnyRedis::cluster()).await;
}

async fn one_leader_a_crash_hands_over_and_the_stale_leader_is_fenced_body(server: AnyRedis) {
    let (a, b, c) = (contender(&server, "a").await, contender(&server, "b").await, contender(&server, "c").await);
    let first = wait_for_one_leader(&[&a, &b, &c], TTL * 2).await;
    // Watch for a while: never two leaders.
    let until = Instant::now() + TTL * 2;
    while Instant::now() < until {
        assert!(leaders(&[&a, &b, &c]).len() <= 1);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // "Crash" the leader: its task stops without releasing the lease (like kill -9).
    let (leader, others): (Vec<&Contender>, Vec<&Contender>) =
        [&a, &b, &c].into_iter().partition(|c| matches!(*c.rx.borrow(), Leadership::Leader { .. }));
    leader[0].task.abort();
    let crashed_at = Instant::now();
    let second = wait_for_one_leader(&others, TTL * 3).await;
    assert!(crashed_at.elapsed() < TTL * 2, "handover took {:?}", crashed_at.elapsed());
    assert!(second > first, "fencing token grows: {first} then {second}");

    // The stale leader's head write, carrying the old token, is refused by Redis.
    let store = RedisStore::connect(RedisStoreConfig {
        target: hypasis_store::RedisTarget::new(server.url()),
        pool_size: 1,
        chain_id: CHAIN,
        command_timeout: Duration::from_secs(2),
    })
    .await
    .expect("store");
    let head = |n: u64| ChainHead { number: n, hash: B256::with_last_byte(n as u8), total_difficulty: U256::from(n), timestamp: n };
    assert_eq!(store.advance_head_fenced(head(5), second).await.expect("write"), HeadUpdate::Advanced);
    assert_eq!(store.advance_head_fenced(head(6), first).await.expect("write"), HeadUpdate::Fenced);
    assert_eq!(store.head().await.expect("head").map(|h| h.number), Some(5));
    for c in others {
        c.cancel.cancel();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_that_loses_redis_steps_down_before_its_lease_could_expire() {
    a_leader_that_loses_redis_steps_down_before_its_lease_could_expire_body(AnyRedis::single()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_that_loses_redis_steps_down_before_its_lease_could_expire_on_a_cluster() {
    a_leader_that_loses_redis_steps_down_before_its_lease_could_expire_body(AnyRedis::cluster()).await;
}

async fn a_leader_that_loses_redis_steps_down_before_its_lease_could_expire_body(mut server: AnyRedis) {
    let a = contender(&server, "solo").await;
    wait_for_one_leader(&[&a], TTL * 2).await;
    // Make sure a renewal just happened, then cut Redis off.
    let mut rx = a.rx.clone();
    let _ = tokio::time::timeout(TTL, rx.changed()).await;
    let cut = Instant::now();
    server.kill();
    let deadline = cut + TTL;
    loop {
        if matches!(*a.rx.borrow(), Leadership::Follower) {
            break;
        }
        assert!(Instant::now() < deadline, "still leading {:?} after Redis went away (lease {TTL:?})", cut.elapsed());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    a.cancel.cancel();
}

#[tokio::test]
async fn members_come_and_go_with_their_heartbeats() {
    members_come_and_go_with_their_heartbeats_body(AnyRedis::single()).await;
}

#[tokio::test]
async fn members_come_and_go_with_their_heartbeats_on_a_cluster() {
    members_come_and_go_with_their_heartbeats_body(AnyRedis::cluster()).await;
}

async fn members_come_and_go_with_their_heartbeats_body(server: AnyRedis) {
    // A 2 s member TTL with 1.2 s steps: margins of 0.8 s either way, for a loaded machine (with
    // 0.8 s and 0.5 s steps a slow heartbeat let "y" expire too).
    // Commands may take up to the step margin: on a loaded machine a three-master cluster has
    // answered a heartbeat in more than the 0.5 s the leader tests allow.
    let membership = Membership::new(client_with_timeout(&server, Duration::from_millis(800)).await, CHAIN, Duration::from_millis(2_000));
    let member = |id: &str| Member {
        instance_id: id.into(),
        region: "test".into(),
        enodes: vec![format!("enode://{id}")],
        head: 1,
        peers: 0,
        leader: false,
        last_seen_ms: 0,
    };
    membership.heartbeat(member("x")).await.expect("beat");
    membership.heartbeat(member("y")).await.expect("beat");
    let ids: Vec<String> = membership.live().await.expect("live").into_iter().map(|m| m.instance_id).collect();
    assert_eq!(ids.len(), 2);
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    membership.heartbeat(member("y")).await.expect("beat");
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let ids: Vec<String> = membership.live().await.expect("live").into_iter().map(|m| m.instance_id).collect();
    assert_eq!(ids, vec!["y".to_string()]);
}

#[tokio::test]
async fn events_reach_every_instance() {
    events_body(AnyRedis::single()).await;
}

#[tokio::test]
async fn events_reach_every_instance_on_a_cluster() {
    events_body(AnyRedis::cluster()).await;
}

async fn events_body(server: AnyRedis) {
    use hypasis_cluster::{Event, Events};
    let cancel = CancellationToken::new();
    let start = |id: &'static str| {
        let (url, cancel) = (server.url(), cancel.clone());
        async move {
            let target = hypasis_store::RedisTarget::new(url);
            let publisher = hypasis_cluster::connect(&target).await.expect("connect");
            Events::start(&target, publisher, CHAIN, id.into(), cancel).await.expect("events")
        }
    };
    let (a, b) = (start("a").await, start("b").await);
    let mut heard_by_b = b.subscribe();
    let mut heard_by_a = a.subscribe();
    let head = Event::Head { number: 42, hash: format!("{:#x}", B256::repeat_byte(7)) };
    // (PUBLISH's receiver count is per node on a cluster, so delivery is what is checked.)
    a.publish(head.clone()).await.expect("publish");
    for heard in [&mut heard_by_b, &mut heard_by_a] {
        let envelope = tokio::time::timeout(Duration::from_secs(2), heard.recv()).await.expect("in time").expect("event");
        assert_eq!((envelope.from.as_str(), &envelope.event), ("a", &head));
    }
    cancel.cancel();
}
