//! Who may seal blocks by Heimdall's spans (Polygon networks: the selected producers of each
//! span, polled from `/bor/spans/latest`). Chains with a known anchor are checked by Bor's full
//! snapshot rules instead ([`crate::snapshots`]).
//!
//! A tip block is accepted only when its Bor seal recovers to a producer of the span covering
//! it. A block beyond every known span is let through (our span view may lag the chain by a
//! poll); it must still hash-link to the stored chain, and milestones catch a fabricated branch.

use alloy_primitives::Address;
use hypasis_upstream::heimdall::Span;
use parking_lot::RwLock;

/// Spans remembered (the current one and a few before it, for blocks near a rotation).
const KEPT_SPANS: usize = 4;

/// The sealers of the chain by Heimdall's spans, newest last.
#[derive(Debug, Default)]
pub struct Validators {
    spans: RwLock<Vec<Span>>,
}

impl Validators {
    /// Spans, none known yet.
    pub fn spans() -> Self {
        Self::default()
    }

    /// Records a span (ignored when already known).
    pub fn add_span(&self, span: Span) {
        let mut spans = self.spans.write();
        if spans.iter().any(|s| s.id == span.id) {
            return;
        }
        spans.push(span);
        spans.sort_by_key(|s| s.start);
        let excess = spans.len().saturating_sub(KEPT_SPANS);
        spans.drain(..excess);
    }

    /// Whether `signer` may seal block `number`: `Some(true/false)` when the span covering that
    /// block is known, `None` when it is not.
    pub fn allows(&self, number: u64, signer: &Address) -> Option<bool> {
        let spans = self.spans.read();
        let span = spans.iter().rev().find(|s| s.start <= number && number <= s.end)?;
        Some(span.producers.contains(signer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_decide_by_block_number() {
        let (a, b) = (Address::repeat_byte(1), Address::repeat_byte(2));
        let v = Validators::spans();
        assert_eq!(v.allows(10, &a), None, "nothing known yet");
        v.add_span(Span { id: 1, start: 0, end: 99, producers: vec![a] });
        v.add_span(Span { id: 2, start: 100, end: 199, producers: vec![b] });
        assert_eq!(v.allows(50, &a), Some(true));
        assert_eq!(v.allows(50, &b), Some(false));
        assert_eq!(v.allows(150, &b), Some(true));
        assert_eq!(v.allows(500, &a), None, "beyond the known spans");
        for id in 3..10 {
            v.add_span(Span { id, start: id * 100, end: id * 100 + 99, producers: vec![a] });
        }
        assert_eq!(v.allows(50, &a), None, "old spans are forgotten");
    }
}
