//! [`RedisStore`]: the [`BlockStore`] on Redis (standalone or Cluster) through fred.

use super::{RedisTarget, keys::Keys};
use crate::{BlockStore, ChainHead, HeadUpdate, Parts, RangeSet, StoreError, StoredBlock, metrics::StoreMetrics};
use alloy_primitives::{B256, Bytes, U256};
use alloy_rlp::{Decodable, Encodable, Header as RlpHeader};
use fred::{
    prelude::{Builder, ClientLike, Error as FredError, HashesInterface, KeysInterface, LuaInterface, Pool, SortedSetsInterface},
    types::{Value, config::ReconnectPolicy},
};
use hypasis_chain::{Block, BlockBody, Receipt, SealedHeader};
use std::{sync::Arc, time::Duration};

/// Moves the head only forward (and, given a fencing token in ARGV[5], only for the current
/// leader term kept in KEYS[2]): a lower number, or the same number without more total
/// difficulty (compared as decimal strings: length first, then lexically), is refused.
const ADVANCE_HEAD: &str = r#"
if ARGV[5] ~= '' and tonumber(ARGV[5]) < tonumber(redis.call('GET', KEYS[2]) or '0') then return -1 end
local cur = redis.call('HGET', KEYS[1], 'number')
if cur then
  local c, n = tonumber(cur), tonumber(ARGV[1])
  if n < c then return 0 end
  if n == c then
    local td = redis.call('HGET', KEYS[1], 'td') or ''
    if #ARGV[3] < #td or (#ARGV[3] == #td and ARGV[3] <= td) then return 0 end
  end
end
redis.call('HSET', KEYS[1], 'number', ARGV[1], 'hash', ARGV[2], 'td', ARGV[3], 'timestamp', ARGV[4])
return 1
"#;

/// Adds `ARGV[1]..=ARGV[2]` to the interval set in KEYS[1] (score = start, member =
/// `start:end`), merging overlapping and adjacent intervals; returns how many numbers are new.
/// Intervals are disjoint, so those touching the new one are the run just below `end + 1`.
const ADD_RANGE: &str = r#"
local a, b = tonumber(ARGV[1]), tonumber(ARGV[2])
local lo, hi, already = a, b, 0
while true do
  local top = redis.call('ZREVRANGEBYSCORE', KEYS[1], b + 1, '-inf', 'LIMIT', 0, 1)
  if #top == 0 then break end
  local s, e = string.match(top[1], '^(%d+):(%d+)$')
  s, e = tonumber(s), tonumber(e)
  if e + 1 < a then break end
  redis.call('ZREM', KEYS[1], top[1])
  local overlap = math.min(e, b) + 1 - math.max(s, a)
  if overlap > 0 then already = already + overlap end
  lo, hi = math.min(lo, s), math.max(hi, e)
end
redis.call('ZADD', KEYS[1], lo, string.format('%d:%d', lo, hi))
return (b - a + 1) - already
"#;

/// Removes `ARGV[1]..=ARGV[2]` from the interval set in KEYS[1], splitting intervals that
/// straddle it; returns how many numbers were held.
const REMOVE_RANGE: &str = r#"
local a, b = tonumber(ARGV[1]), tonumber(ARGV[2])
local hit, offset = {}, 0
while true do
  local top = redis.call('ZREVRANGEBYSCORE', KEYS[1], b, '-inf', 'LIMIT', offset, 1)
  if #top == 0 then break end
  local s, e = string.match(top[1], '^(%d+):(%d+)$')
  s, e = tonumber(s), tonumber(e)
  if e < a then break end
  table.insert(hit, {top[1], s, e})
  offset = offset + 1
end
local removed = 0
for _, h in ipairs(hit) do
  redis.call('ZREM', KEYS[1], h[1])
  removed = removed + math.min(h[3], b) - math.max(h[2], a) + 1
  if h[2] < a then redis.call('ZADD', KEYS[1], h[2], string.format('%d:%d', h[2], a - 1)) end
  if h[3] > b then redis.call('ZADD', KEYS[1], b + 1, string.format('%d:%d', b + 1, h[3])) end
end
return removed
"#;

/// How the store connects.
#[derive(Debug, Clone)]
pub struct RedisStoreConfig {
    /// Where Redis is.
    pub target: RedisTarget,
    /// Connections in the pool.
    pub pool_size: usize,
    /// Chain id, part of every key.
    pub chain_id: u64,
    /// Deadline of each command.
    pub command_timeout: Duration,
}

/// The Redis-backed block store.
#[derive(Debug, Clone)]
pub struct RedisStore {
    pool: Pool,
    keys: Keys,
    metrics: Arc<StoreMetrics>,
}

fn unavailable(e: FredError) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

fn corrupt(key: &str, reason: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt { key: key.to_owned(), reason: reason.to_string() }
}

impl RedisStore {
    /// Connects (retrying with backoff in the background when Redis is down).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the URL is invalid or the first connection fails.
    pub async fn connect(config: RedisStoreConfig) -> Result<Self, StoreError> {
        let fred_config = config.target.fred_config().map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let pool = Builder::from_config(fred_config)
            .with_connection_config(|c| {
                c.connection_timeout = Duration::from_secs(5);
                c.internal_command_timeout = config.command_timeout;
            })
            .with_performance_config(|p| p.default_command_timeout = config.command_timeout)
            .set_policy(ReconnectPolicy::new_exponential(0, 100, 5_000, 2))
            .build_pool(config.pool_size.max(1))
            .map_err(unavailable)?;
        pool.init().await.map_err(unavailable)?;
        Ok(Self { pool, keys: Keys::new(config.chain_id), metrics: Arc::new(StoreMetrics::new("redis")) })
    }

    /// Whether Redis answers right now.
    pub async fn ping(&self) -> bool {
        self.pool.next().ping::<String>(None).await.is_ok()
    }

    /// The values of `keys`, in order: one MGET per hash tag (keys sharing a tag share a Cluster
    /// slot, and a block range's header, body and receipt keys share their bucket's tag), all in
    /// one pipelined round trip. One MGET of a 192-header range instead of 192 GETs is what lets
    /// the store read at a useful fraction of Redis's own rate (`cargo bench -p hypasis-store
    /// --bench redis_reads`).
    async fn get_many(&self, keys: Vec<String>) -> Result<Vec<Option<Bytes>>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let groups = by_hash_tag(&keys);
        let pipeline = self.pool.next().pipeline();
        for (_, members) in &groups {
            let group: Vec<&str> = members.iter().map(|&i| keys[i].as_str()).collect();
            let _: () = pipeline.mget(group).await.map_err(unavailable)?;
        }
        // One result per MGET (`all` would unwrap a pipeline of one command).
        let answers: Vec<Result<Value, FredError>> = pipeline.try_all().await;
        if answers.len() != groups.len() {
            return Err(StoreError::Unavailable(format!("{} MGETs answered {} times", groups.len(), answers.len())));
        }
        let mut out = vec![None; keys.len()];
        for ((_, members), answer) in groups.iter().zip(answers) {
            let values = match answer.map_err(unavailable)? {
                Value::Array(values) => values,
                other => return Err(StoreError::Unavailable(format!("MGET answered {other:?}"))),
            };
            if values.len() != members.len() {
                return Err(StoreError::Unavailable(format!("MGET of {} keys answered {} values", members.len(), values.len())));
            }
            for (&i, value) in members.iter().zip(values) {
                out[i] = value.as_bytes().map(Bytes::copy_from_slice);
            }
        }
        Ok(out)
    }

    async fn write_head(&self, head: ChainHead, token: Option<u64>) -> Result<HeadUpdate, StoreError> {
        let args = vec![
            head.number.to_string(),
            format!("{:#x}", head.hash),
            head.total_difficulty.to_string(),
            head.timestamp.to_string(),
            token.map(|t| t.to_string()).unwrap_or_default(),
        ];
        let moved: i64 = self.pool.next().eval(ADVANCE_HEAD, vec![self.keys.head(), self.keys.epoch()], args).await.map_err(unavailable)?;
        match moved {
            1 => return Ok(HeadUpdate::Advanced),
            -1 => {
                metrics::counter!("hypasis_store_fenced_writes_total").increment(1);
                return Ok(HeadUpdate::Fenced);
            }
            _ => {}
        }
        self.metrics.stale_heads.increment(1);
        let current = self.head().await?.ok_or_else(|| corrupt(&self.keys.head(), "refused an update but holds no head"))?;
        Ok(HeadUpdate::Stale(current))
    }

    fn decode_header(&self, n: u64, raw: &[u8]) -> Result<(SealedHeader, U256), StoreError> {
        let key = self.keys.header(n);
        let mut buf = raw;
        let mut payload = RlpHeader::decode_bytes(&mut buf, true).map_err(|e| corrupt(&key, e))?;
        let td = U256::decode(&mut payload).map_err(|e| corrupt(&key, e))?;
        let header = SealedHeader::decode(&mut payload).map_err(|e| corrupt(&key, e))?;
        Ok((header, td))
    }
}

fn encode_header(block: &Block) -> Vec<u8> {
    let mut out = Vec::with_capacity(block.header.rlp_len() + 40);
    RlpHeader { list: true, payload_length: block.total_difficulty.length() + block.header.length() }.encode(&mut out);
    block.total_difficulty.encode(&mut out);
    block.header.encode(&mut out);
    out
}

#[async_trait::async_trait]
impl BlockStore for RedisStore {
    async fn insert(&self, blocks: Vec<Block>) -> Result<(), StoreError> {
        if blocks.is_empty() {
            return Ok(());
        }
        // Replaced blocks (reorgs) lose their hash index entry.
        let previous = self.get_many(blocks.iter().map(|b| self.keys.header(b.number())).collect()).await?;
        let pipeline = self.pool.next().pipeline();
        for (block, old) in blocks.iter().zip(previous) {
            let n = block.number();
            if let Some(old) = old {
                let (old_header, _) = self.decode_header(n, &old)?;
                if old_header.hash() != block.hash() {
                    let _: () = pipeline.del(self.keys.hash(&old_header.hash())).await.map_err(unavailable)?;
                }
            }
            let _: () = pipeline.set(self.keys.header(n), encode_header(block), None, None, false).await.map_err(unavailable)?;
            let _: () = pipeline.set(self.keys.body(n), alloy_rlp::encode(&block.body), None, None, false).await.map_err(unavailable)?;
            match &block.receipts {
                Some(receipts) => {
                    // `rlp(receipts)`, then `rlp(state-sync receipt)` when there is one.
                    let mut value = alloy_rlp::encode(receipts);
                    if let Some(state_sync) = &block.state_sync_receipt {
                        alloy_rlp::Encodable::encode(state_sync, &mut value);
                    }
                    let _: () = pipeline.set(self.keys.receipts(n), value, None, None, false).await.map_err(unavailable)?;
                }
                None => {
                    let _: () = pipeline.del(self.keys.receipts(n)).await.map_err(unavailable)?;
                }
            }
            let _: () = pipeline.set(self.keys.hash(&block.hash()), n.to_string(), None, None, false).await.map_err(unavailable)?;
        }
        let _: Vec<Value> = pipeline.all().await.map_err(unavailable)?;
        // Only once the blocks are written do their ranges count as held: a failure in between
        // leaves blocks that are refetched, never a range without its blocks.
        let mut numbers: Vec<u64> = blocks.iter().map(Block::number).collect();
        numbers.sort_unstable();
        for run in numbers.chunk_by(|a, b| *b <= a + 1) {
            let (start, end) = (run[0], run[run.len() - 1]);
            let new: i64 = self
                .pool
                .next()
                .eval(ADD_RANGE, vec![self.keys.ranges()], vec![start.to_string(), end.to_string()])
                .await
                .map_err(unavailable)?;
            self.metrics.blocks_added.increment(new.max(0) as u64);
        }
        Ok(())
    }

    async fn by_numbers(&self, numbers: &[u64], parts: Parts) -> Result<Vec<Option<StoredBlock>>, StoreError> {
        let per_block = 1 + usize::from(parts.body) + usize::from(parts.receipts);
        let mut keys = Vec::with_capacity(numbers.len() * per_block);
        for &n in numbers {
            keys.push(self.keys.header(n));
            if parts.body {
                keys.push(self.keys.body(n));
            }
            if parts.receipts {
                keys.push(self.keys.receipts(n));
            }
        }
        let mut values = self.get_many(keys).await?.into_iter();
        let mut out = Vec::with_capacity(numbers.len());
        for &n in numbers {
            let header = values.next().flatten();
            let body = if parts.body { values.next().flatten() } else { None };
            let receipts = if parts.receipts { values.next().flatten() } else { None };
            let Some(header) = header else {
                out.push(None);
                continue;
            };
            let (header, total_difficulty) = self.decode_header(n, &header)?;
            let body = match body {
                Some(raw) => Some(Arc::new(BlockBody::decode(&mut raw.as_ref()).map_err(|e| corrupt(&self.keys.body(n), e))?)),
                None => None,
            };
            let (receipts, state_sync_receipt) = match receipts {
                Some(raw) => {
                    let key = || self.keys.receipts(n);
                    let mut buf = raw.as_ref();
                    let list = Vec::<Receipt>::decode(&mut buf).map_err(|e| corrupt(&key(), e))?;
                    let state_sync =
                        if buf.is_empty() { None } else { Some(Arc::new(Receipt::decode(&mut buf).map_err(|e| corrupt(&key(), e))?)) };
                    (Some(Arc::new(list)), state_sync)
                }
                None => (None, None),
            };
            out.push(Some(StoredBlock { header, total_difficulty, body, receipts, state_sync_receipt }));
        }
        let hits = out.iter().filter(|b| b.is_some()).count();
        self.metrics.hits.increment(hits as u64);
        self.metrics.misses.increment((out.len() - hits) as u64);
        Ok(out)
    }

    async fn by_hashes(&self, hashes: &[B256], parts: Parts) -> Result<Vec<Option<StoredBlock>>, StoreError> {
        let numbers = self.get_many(hashes.iter().map(|h| self.keys.hash(h)).collect()).await?;
        let numbers: Vec<Option<u64>> = numbers.into_iter().map(|v| v.and_then(|b| std::str::from_utf8(&b).ok()?.parse().ok())).collect();
        let found: Vec<u64> = numbers.iter().flatten().copied().collect();
        let mut blocks = self.by_numbers(&found, parts).await?.into_iter();
        Ok(numbers
            .into_iter()
            .zip(hashes)
            .map(|(n, hash)| {
                n.and_then(|_| blocks.next().flatten())
                    // A concurrent reorg may have replaced the number's block since the lookup.
                    .filter(|b| b.header.hash() == *hash)
            })
            .collect())
    }

    async fn head(&self) -> Result<Option<ChainHead>, StoreError> {
        let key = self.keys.head();
        let fields: std::collections::HashMap<String, String> = self.pool.next().hgetall(key.as_str()).await.map_err(unavailable)?;
        if fields.is_empty() {
            return Ok(None);
        }
        let get = |f: &str| fields.get(f).ok_or_else(|| corrupt(&key, format!("missing field {f}")));
        Ok(Some(ChainHead {
            number: get("number")?.parse().map_err(|e| corrupt(&key, e))?,
            hash: get("hash")?.parse().map_err(|e| corrupt(&key, e))?,
            total_difficulty: get("td")?.parse().map_err(|e| corrupt(&key, e))?,
            timestamp: get("timestamp")?.parse().map_err(|e| corrupt(&key, e))?,
        }))
    }

    async fn advance_head(&self, head: ChainHead) -> Result<HeadUpdate, StoreError> {
        self.write_head(head, None).await
    }

    async fn advance_head_fenced(&self, head: ChainHead, token: u64) -> Result<HeadUpdate, StoreError> {
        self.write_head(head, Some(token)).await
    }

    async fn held(&self) -> Result<RangeSet, StoreError> {
        let key = self.keys.ranges();
        let members: Vec<String> = self.pool.next().zrange(key.as_str(), 0, -1, None, false, None, false).await.map_err(unavailable)?;
        let mut set = RangeSet::new();
        for member in members {
            let parsed = member.split_once(':').and_then(|(s, e)| Some((s.parse::<u64>().ok()?, e.parse::<u64>().ok()?)));
            let (start, end) = parsed.ok_or_else(|| corrupt(&key, format!("bad interval {member:?}")))?;
            set.insert(start, end);
        }
        Ok(set)
    }

    async fn remove_range(&self, start: u64, end: u64) -> Result<(), StoreError> {
        let removed: i64 = self
            .pool
            .next()
            .eval(REMOVE_RANGE, vec![self.keys.ranges()], vec![start.to_string(), end.to_string()])
            .await
            .map_err(unavailable)?;
        // The range no longer counts as held; now drop its blocks and their hash index.
        for chunk in (start..=end).collect::<Vec<_>>().chunks(1024) {
            let headers = self.get_many(chunk.iter().map(|n| self.keys.header(*n)).collect()).await?;
            let pipeline = self.pool.next().pipeline();
            for (&n, raw) in chunk.iter().zip(headers) {
                if let Some(raw) = raw {
                    let (header, _) = self.decode_header(n, &raw)?;
                    let _: () = pipeline.del(self.keys.hash(&header.hash())).await.map_err(unavailable)?;
                }
                for key in [self.keys.header(n), self.keys.body(n), self.keys.receipts(n)] {
                    let _: () = pipeline.del(key).await.map_err(unavailable)?;
                }
            }
            let _: Vec<Value> = pipeline.all().await.map_err(unavailable)?;
        }
        tracing::info!(target: "store::redis", start, end, removed, "range removed");
        Ok(())
    }
}

/// Positions of `keys` grouped by their hash tag (the text between the first `{` and the next
/// `}`, as Redis Cluster slots them; the whole key when it has none), groups in first-seen order.
fn by_hash_tag(keys: &[String]) -> Vec<(&str, Vec<usize>)> {
    let mut groups: Vec<(&str, Vec<usize>)> = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        let tag = key.split_once('{').and_then(|(_, rest)| rest.split_once('}')).map_or(key.as_str(), |(tag, _)| tag);
        match groups.iter_mut().find(|(t, _)| *t == tag) {
            Some((_, members)) => members.push(i),
            None => groups.push((tag, vec![i])),
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::by_hash_tag;

    #[test]
    fn keys_are_grouped_by_their_hash_tag_in_first_seen_order() {
        let keys: Vec<String> = ["hs:v1:{c1:0}:h:1", "hs:v1:{c1:0}:b:1", "hs:v1:{c1:1}:h:1024", "plain", "hs:v1:{c1:0}:h:2", "plain"]
            .map(String::from)
            .to_vec();
        assert_eq!(by_hash_tag(&keys), vec![("c1:0", vec![0, 1, 4]), ("c1:1", vec![2]), ("plain", vec![3, 5])]);
    }
}
