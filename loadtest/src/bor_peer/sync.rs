//! Downloading a range as Bor's downloader does: a header, a body and a receipt request in flight
//! at once (its three fetchers), headers fetched ahead of bodies, and every answer verified off the
//! request path (Bor's queue and importer verify in other goroutines while the fetchers ask on).

use super::{BorPeer, MAX_BLOCK_FETCH, MAX_HEADER_FETCH, PeerError, REQUEST_TIMEOUT, SyncReport};
use alloy_rlp::{Decodable, Header};
use bytes::Bytes;
use hypasis_chain::{BlockBody, SealedHeader, receipt};
use hypasis_eth_wire::eth::{
    id,
    messages::{self, BlockId, GetBlockHeaders, HashRequest},
};
use std::{
    collections::{HashMap, VecDeque},
    sync::atomic::Ordering,
    time::Instant,
};
use tokio::task::JoinSet;

/// Headers held ahead of their bodies before the next header request (the skeleton's lead).
const HEADER_LEAD: usize = 2 * MAX_HEADER_FETCH as usize;

/// What a request in flight asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Asked {
    Headers,
    Bodies,
    Receipts,
}

impl Asked {
    const fn answer_id(self) -> u8 {
        match self {
            Self::Headers => id::BLOCK_HEADERS,
            Self::Bodies => id::BLOCK_BODIES,
            Self::Receipts => id::RECEIPTS,
        }
    }

    const fn name(self) -> &'static str {
        match self {
            Self::Headers => "GetBlockHeaders",
            Self::Bodies => "GetBlockBodies",
            Self::Receipts => "GetReceipts",
        }
    }
}

/// A request in flight: what it asked for, how many items, when it was sent.
#[derive(Debug, Clone, Copy)]
struct InFlight {
    asked: Asked,
    items: usize,
    sent: Instant,
}

impl BorPeer {
    /// Downloads and verifies blocks `parent.number + 1 ..= to`: headers must link from
    /// `parent`, bodies must match their headers.
    ///
    /// # Errors
    /// When the peer fails or sends data that does not verify.
    pub async fn sync(&mut self, parent: &SealedHeader, to: u64) -> Result<SyncReport, PeerError> {
        self.sync_with(parent, to, false).await
    }

    /// As [`BorPeer::sync`], and with `receipts` the receipts too, checked against their
    /// headers' roots (as Bor's snap and fast modes fetch them). Headers are linked as they
    /// arrive; bodies and receipts are verified in other tasks while the next requests are out,
    /// and the sync fails with the first of their errors.
    ///
    /// # Errors
    /// When the peer fails or sends data that does not verify.
    pub async fn sync_with(&mut self, parent: &SealedHeader, to: u64, receipts: bool) -> Result<SyncReport, PeerError> {
        let started = Instant::now();
        let eth69 = self.conn.version() >= 69;
        let (mut previous, mut blocks, mut requests) = (parent.clone(), 0u64, 0u64);
        let mut need_bodies: VecDeque<SealedHeader> = VecDeque::new();
        let mut need_receipts: VecDeque<SealedHeader> = VecDeque::new();
        let mut in_flight: HashMap<u64, InFlight> = HashMap::new();
        let mut checks: JoinSet<Result<(), PeerError>> = JoinSet::new();
        loop {
            let busy = |asked| in_flight.values().any(|r: &InFlight| r.asked == asked);
            let ask_headers = previous.number() < to && need_bodies.len() < HEADER_LEAD && !busy(Asked::Headers);
            let ask_bodies = !need_bodies.is_empty() && !busy(Asked::Bodies);
            let ask_receipts = receipts && !need_receipts.is_empty() && !busy(Asked::Receipts);
            if ask_headers {
                let (request_id, start) = (self.take_id(), previous.number() + 1);
                let limit = (to - start + 1).min(MAX_HEADER_FETCH);
                let req = GetBlockHeaders { request_id, start: BlockId::Number(start), limit, skip: 0, reverse: false };
                let sent = self.send_request(id::GET_BLOCK_HEADERS, &req.encode(), Asked::Headers.name()).await?;
                in_flight.insert(request_id, InFlight { asked: Asked::Headers, items: limit as usize, sent });
            }
            if ask_bodies {
                self.ask_by_hash(&need_bodies, Asked::Bodies, id::GET_BLOCK_BODIES, &mut in_flight).await?;
            }
            if ask_receipts {
                self.ask_by_hash(&need_receipts, Asked::Receipts, id::GET_RECEIPTS, &mut in_flight).await?;
            }
            if in_flight.is_empty() {
                break;
            }
            while let Some(done) = checks.try_join_next() {
                done.map_err(|e| PeerError::BadData(format!("verification task: {e}")))??;
            }
            let (request_id, msg) = match self.next_answer(&in_flight).await {
                Ok(answer) => answer,
                Err(e) => {
                    if let Some(stats) = &self.stats {
                        let oldest = in_flight.values().min_by_key(|r| r.sent).map_or("a request", |r| r.asked.name());
                        stats.failed(oldest);
                    }
                    // A verification failure found already says more than what followed it.
                    while let Some(done) = checks.try_join_next() {
                        done.map_err(|e| PeerError::BadData(format!("verification task: {e}")))??;
                    }
                    return Err(e);
                }
            };
            let request = in_flight.remove(&request_id).expect("next_answer returns a request in flight");
            if let Some(stats) = &self.stats {
                stats.answered(request.asked.name(), msg.data.len(), request.sent.elapsed());
                stats.keep(&msg.data);
            }
            requests += 1;
            match request.asked {
                Asked::Headers => {
                    let (_, headers) = messages::decode_response(&msg.data, "BlockHeaders", SealedHeader::decode)?;
                    if headers.is_empty() || headers.len() > request.items {
                        let count = headers.len();
                        return Err(PeerError::BadData(format!(
                            "{count} headers from {} for {} asked",
                            previous.number() + 1,
                            request.items
                        )));
                    }
                    for header in headers {
                        if header.parent_hash() != previous.hash() || header.number() != previous.number() + 1 {
                            return Err(PeerError::BadData(format!("header {} does not link", header.number())));
                        }
                        if receipts {
                            need_receipts.push_back(header.clone());
                        }
                        need_bodies.push_back(header.clone());
                        previous = header;
                    }
                }
                Asked::Bodies => {
                    let delivered = delivered(&msg.data, request.items, &need_bodies)?;
                    let headers: Vec<SealedHeader> = need_bodies.drain(..delivered).collect();
                    blocks += delivered as u64;
                    if let Some(stats) = &self.stats {
                        stats.blocks.fetch_add(delivered as u64, Ordering::Relaxed);
                    }
                    checks.spawn(async move { verify_bodies(&msg.data, &headers) });
                }
                Asked::Receipts => {
                    let delivered = delivered(&msg.data, request.items, &need_receipts)?;
                    let headers: Vec<SealedHeader> = need_receipts.drain(..delivered).collect();
                    checks.spawn(async move { verify_receipts(&msg.data, &headers, eth69) });
                }
            }
        }
        while let Some(done) = checks.join_next().await {
            done.map_err(|e| PeerError::BadData(format!("verification task: {e}")))??;
        }
        Ok(SyncReport { blocks, head: previous.hash(), elapsed: started.elapsed(), requests })
    }

    /// Asks for the bodies or receipts of the first [`MAX_BLOCK_FETCH`] headers of `queue`.
    async fn ask_by_hash(
        &mut self,
        queue: &VecDeque<SealedHeader>,
        asked: Asked,
        message: u8,
        in_flight: &mut HashMap<u64, InFlight>,
    ) -> Result<(), PeerError> {
        let hashes: Vec<_> = queue.iter().take(MAX_BLOCK_FETCH).map(SealedHeader::hash).collect();
        let (request_id, items) = (self.take_id(), hashes.len());
        let payload = HashRequest { request_id, hashes }.encode();
        let sent = self.send_request(message, &payload, asked.name()).await?;
        in_flight.insert(request_id, InFlight { asked, items, sent });
        Ok(())
    }

    /// The next answer to one of the requests in flight, by its request id; announcements and
    /// answers to nothing asked are skipped. Each request has [`REQUEST_TIMEOUT`].
    async fn next_answer(&mut self, in_flight: &HashMap<u64, InFlight>) -> Result<(u64, hypasis_eth_wire::conn::EthMessage), PeerError> {
        if let Some(request_id) = in_flight.keys().copied().find(|id| self.early.contains_key(id)) {
            return Ok((request_id, self.early.remove(&request_id).expect("just found")));
        }
        loop {
            let (oldest, first) = in_flight.values().map(|r| (r.sent, r.asked)).min_by_key(|(sent, _)| *sent).expect("a request in flight");
            let left = (oldest + REQUEST_TIMEOUT).saturating_duration_since(Instant::now());
            let msg = tokio::time::timeout(left, self.conn.recv()).await.map_err(|_| PeerError::Timeout(first.name()))??;
            let mut p = msg.data.as_ref();
            let request_id = Header::decode(&mut p).ok().and_then(|_| u64::decode(&mut p).ok());
            if let Some(request_id) = request_id
                && in_flight.get(&request_id).is_some_and(|r| r.asked.answer_id() == msg.id)
            {
                return Ok((request_id, msg));
            }
        }
    }
}

/// How many of the `asked` items an answer delivers (counted without decoding them; the node may
/// stop early at its response size limit, never return more); none is an error.
fn delivered(data: &[u8], asked: usize, queue: &VecDeque<SealedHeader>) -> Result<usize, PeerError> {
    let count = answer_items(data).ok_or_else(|| PeerError::BadData("malformed answer".into()))?;
    match count {
        0 => Err(PeerError::BadData(format!("nothing for block {}", queue.front().map_or(0, SealedHeader::number)))),
        n if n > asked => Err(PeerError::BadData(format!("{n} items for {asked} asked"))),
        n => Ok(n),
    }
}

/// The number of items in an answer `[request-id, [item, …]]`.
fn answer_items(data: &[u8]) -> Option<usize> {
    let mut p = data;
    if !Header::decode(&mut p).ok()?.list {
        return None;
    }
    u64::decode(&mut p).ok()?;
    let list = Header::decode(&mut p).ok()?;
    if !list.list || list.payload_length > p.len() {
        return None;
    }
    let (mut items, mut count) = (&p[..list.payload_length], 0);
    while !items.is_empty() {
        let item = Header::decode(&mut items).ok()?;
        items = items.get(item.payload_length..)?;
        count += 1;
    }
    Some(count)
}

fn verify_bodies(data: &Bytes, headers: &[SealedHeader]) -> Result<(), PeerError> {
    let (_, bodies) = messages::decode_response(data, "BlockBodies", BlockBody::decode)?;
    for (body, header) in bodies.iter().zip(headers) {
        body.verify(header).map_err(|e| PeerError::BadData(format!("body {}: {e}", header.number())))?;
    }
    Ok(())
}

fn verify_receipts(data: &Bytes, headers: &[SealedHeader], eth69: bool) -> Result<(), PeerError> {
    for (list, header) in super::decode_receipts(data, eth69)?.iter().zip(headers) {
        // eth/69 lists may end with Bor's state-sync receipt, outside the receipts root.
        let consensus = match list.split_last() {
            Some((last, rest)) if receipt::is_state_sync_receipt(last) => rest,
            _ => list.as_slice(),
        };
        receipt::verify_receipts(header.header(), consensus)
            .map_err(|e| PeerError::BadData(format!("receipts {}: {e}", header.number())))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::answer_items;
    use alloy_rlp::Encodable;

    #[test]
    fn counts_the_items_of_an_answer_without_decoding_them() {
        let items: Vec<Vec<u8>> = vec![vec![], vec![0x01], vec![0xff; 70]];
        let mut payload = Vec::new();
        7u64.encode(&mut payload);
        items.encode(&mut payload);
        let mut out = Vec::new();
        alloy_rlp::Header { list: true, payload_length: payload.len() }.encode(&mut out);
        out.extend_from_slice(&payload);
        assert_eq!(answer_items(&out), Some(3));
        out.truncate(out.len() - 1);
        assert_eq!(answer_items(&out), None, "an item cut short");
        assert_eq!(answer_items(&[0x80]), None, "not a list");
    }
}
