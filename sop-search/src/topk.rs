//! Top-k BM25 retrieval over posting lists with MaxScore dynamic pruning.
//!
//! Owns [`QueryTerm`], [`top_k`] (MaxScore, Turtle & Flood 1995, in windowed form) and
//! [`top_k_exhaustive`] (the reference that scores every matching document).
//!
//! Semantics: OR — every document in at least one posting list is a candidate. A document's
//! score is the sum of its term scores taken in query-term order (`0.0` for absent terms), so
//! both functions compute bit-identical scores. Ranking is score descending, then the
//! [`TieBreak`] ascending.
//!
//! Invariants / exactness: [`top_k`] returns exactly what [`top_k_exhaustive`] returns,
//! provided every `QueryTerm::max_score` is an upper bound of its term's scores. Pruning only
//! skips a document when an upper bound of its score is *strictly* below a threshold that is
//! at most the final k-th score (so a document that could tie and win the tie-break is always
//! scored), and bounds are inflated by a relative [`PRUNING_SLACK`] so that floating-point
//! reassociation can never prune a document whose canonical score would qualify.
//!
//! The threshold starts from a *primed* value: the k-th best canonical score among the
//! documents of the rarest list (scored completely up front when that list is short). It is
//! the k-th score of a subset, so never above the final k-th score, and it lets the common
//! terms become non-essential from the first window instead of after thousands of
//! documents.

use crate::bm25::Bm25Weight;
use crate::collector::{rank_order, ScoredDoc, TieBreak, TopKCollector};
use crate::postings::{DocLengths, Posting, ScoreFrontier};

/// Relative inflation of upper bounds before comparing them with the threshold.
pub const PRUNING_SLACK: f64 = 1e-9;

/// The rarest list is scored up front to prime the threshold only when it holds at most
/// this many documents (and at least k).
const PRIME_DOCS: usize = 1024;

/// Documents per window: essential lists are scored term-at-a-time over windows of this many
/// consecutive doc numbers (as Lucene's MaxScore bulk scorer), which avoids a branchy
/// per-document merge; candidates are then completed document-at-a-time.
const WINDOW: usize = 512;

/// One query term: its posting list, scorer and an upper bound of its scores.
#[derive(Debug, Clone, Copy)]
pub struct QueryTerm<'a> {
    /// Postings sorted by increasing doc, tf > 0 (see [`crate::postings::validate_postings`]).
    pub postings: &'a [Posting],
    /// The term's BM25 scorer (idf, boost, normalisation).
    pub weight: Bm25Weight,
    /// An upper bound of `weight.score(tf, len)` over the postings.
    pub max_score: f64,
}

impl<'a> QueryTerm<'a> {
    /// A term with a caller-supplied upper bound (it must really be one).
    pub fn new(postings: &'a [Posting], weight: Bm25Weight, max_score: f64) -> Self {
        Self {
            postings,
            weight,
            max_score,
        }
    }

    /// A term whose bound comes from its [`ScoreFrontier`] (cheap and exact).
    pub fn with_frontier(
        postings: &'a [Posting],
        weight: Bm25Weight,
        frontier: &ScoreFrontier,
    ) -> Self {
        let max_score = weight.max_score(frontier.points().iter().copied());
        Self::new(postings, weight, max_score)
    }

    /// A term whose bound is computed by scanning all its postings (exact, O(postings)).
    pub fn with_scan<L: DocLengths + ?Sized>(
        postings: &'a [Posting],
        weight: Bm25Weight,
        lengths: &L,
    ) -> Self {
        let max_score = weight.max_score(postings.iter().map(|p| (p.tf, lengths.doc_len(p.doc))));
        Self::new(postings, weight, max_score)
    }
}

/// Work counters of one [`top_k_with_stats`] call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TopKStats {
    /// Documents reached through an essential list.
    pub candidates: usize,
    /// Candidates scored completely and offered to the collector.
    pub fully_scored: usize,
}

/// The best `k` documents for `terms` (OR semantics), best first, using MaxScore pruning.
pub fn top_k<L, T>(terms: &[QueryTerm<'_>], lengths: &L, k: usize, tie: &T) -> Vec<ScoredDoc>
where
    L: DocLengths + ?Sized,
    T: TieBreak + ?Sized,
{
    top_k_with_stats(terms, lengths, k, tie).0
}

/// [`top_k`], also returning how much work pruning saved.
pub fn top_k_with_stats<L, T>(
    terms: &[QueryTerm<'_>],
    lengths: &L,
    k: usize,
    tie: &T,
) -> (Vec<ScoredDoc>, TopKStats)
where
    L: DocLengths + ?Sized,
    T: TieBreak + ?Sized,
{
    let mut stats = TopKStats::default();
    if k == 0 {
        return (Vec::new(), stats);
    }
    // Terms by increasing upper bound; the cheapest ones become non-essential first.
    let mut order: Vec<usize> = (0..terms.len())
        .filter(|&i| !terms[i].postings.is_empty())
        .collect();
    order.sort_by(|&a, &b| {
        terms[a]
            .max_score
            .total_cmp(&terms[b].max_score)
            .then(a.cmp(&b))
    });
    // prefix[j] = sum of the bounds of order[0..=j].
    let mut prefix = Vec::with_capacity(order.len());
    let mut running = 0.0;
    for &t in &order {
        running += terms[t].max_score;
        prefix.push(running);
    }

    let n = terms.len();
    let mut pos = vec![0usize; n];
    // contrib[slot * n + t]: term t's score for doc `base + slot` (0.0 when absent); one
    // contiguous row per document so completing and resetting a candidate is cache-friendly.
    // Every row is reset after its candidate, so the buffer is all zeros again at the end.
    let mut contrib = ZeroScratch::take(n * WINDOW);
    let mut partial = [0.0f64; WINDOW];
    let mut touched = [0u64; WINDOW / 64];
    let mut collector = TopKCollector::new(k, tie);
    let mut threshold = primed_threshold(terms, lengths, k);
    let essential_from = |threshold: f64, from: usize| {
        let mut first = from;
        while first < order.len() && prefix[first] * (1.0 + PRUNING_SLACK) < threshold {
            first += 1;
        }
        first
    };
    let mut first_essential = essential_from(threshold, 0);

    loop {
        // The next window starts at the smallest current doc among the essential lists.
        let mut base = u32::MAX;
        let mut found = false;
        for &t in &order[first_essential..] {
            if let Some(p) = terms[t].postings.get(pos[t]) {
                if !found || p.doc < base {
                    base = p.doc;
                    found = true;
                }
            }
        }
        if !found {
            break;
        }
        let end = u64::from(base) + WINDOW as u64;

        // Essential lists, term at a time over the window.
        for &t in &order[first_essential..] {
            let term = &terms[t];
            let mut i = pos[t];
            while let Some(p) = term.postings.get(i) {
                if u64::from(p.doc) >= end {
                    break;
                }
                let slot = (p.doc - base) as usize;
                let c = term.weight.score(p.tf, lengths.doc_len(p.doc));
                debug_assert!(c <= term.max_score * (1.0 + PRUNING_SLACK) + f64::EPSILON);
                contrib[slot * n + t] = c;
                partial[slot] += c;
                touched[slot >> 6] |= 1u64 << (slot & 63);
                i += 1;
            }
            pos[t] = i;
        }

        // Candidates of the window in doc order: complete them from the non-essential lists
        // while they can still qualify, then score canonically.
        for (word, bits_ref) in touched.iter_mut().enumerate() {
            let mut bits = std::mem::take(bits_ref);
            while bits != 0 {
                let slot = word * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let doc = base + slot as u32;
                stats.candidates += 1;
                let mut part = std::mem::take(&mut partial[slot]);
                let mut pruned = false;
                if first_essential > 0 {
                    let len = lengths.doc_len(doc);
                    for j in (0..first_essential).rev() {
                        if (part + prefix[j]) * (1.0 + PRUNING_SLACK) < threshold {
                            pruned = true;
                            break;
                        }
                        let t = order[j];
                        let term = &terms[t];
                        pos[t] = seek(term.postings, pos[t], doc);
                        if let Some(p) = term.postings.get(pos[t]) {
                            if p.doc == doc {
                                let c = term.weight.score(p.tf, len);
                                contrib[slot * n + t] = c;
                                part += c;
                                pos[t] += 1;
                            }
                        }
                    }
                }
                if !pruned {
                    stats.fully_scored += 1;
                    let row = &contrib[slot * n..(slot + 1) * n];
                    let score = row.iter().fold(0.0, |acc, c| acc + c);
                    if collector.offer(doc, score) {
                        let new_threshold = collector.threshold();
                        if new_threshold > threshold {
                            threshold = new_threshold;
                            first_essential = essential_from(threshold, first_essential);
                        }
                    }
                }
                contrib[slot * n..(slot + 1) * n].fill(0.0);
            }
        }
    }
    contrib.give_back();
    (collector.into_sorted(), stats)
}

thread_local! {
    /// The zeroed `contrib` buffer of this thread's last query, kept to save allocating and
    /// zeroing one per query.
    static SCRATCH: std::cell::RefCell<Vec<f64>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// An all-zero buffer lent by the thread's [`SCRATCH`]; the borrower must zero what it
/// writes before [`ZeroScratch::give_back`] (a buffer never given back, e.g. after a panic,
/// is simply dropped).
struct ZeroScratch(Vec<f64>);

impl ZeroScratch {
    fn take(len: usize) -> Self {
        let mut v = SCRATCH.with(|s| std::mem::take(&mut *s.borrow_mut()));
        if v.len() < len {
            v.resize(len, 0.0);
        }
        Self(v)
    }

    fn give_back(self) {
        debug_assert!(self.0.iter().all(|&c| c == 0.0));
        SCRATCH.with(|s| *s.borrow_mut() = self.0);
    }
}

impl std::ops::Deref for ZeroScratch {
    type Target = [f64];
    fn deref(&self) -> &[f64] {
        &self.0
    }
}

impl std::ops::DerefMut for ZeroScratch {
    fn deref_mut(&mut self) -> &mut [f64] {
        &mut self.0
    }
}

/// A lower bound of the final k-th score: the k-th best canonical score among the documents
/// of the rarest list, or `-inf` when that list is too short (fewer than `k`), too long
/// ([`PRIME_DOCS`]) or the only one. Scores are summed exactly as the main pass sums them
/// (every term in query order, `0.0` when absent), so each equals the document's score.
fn primed_threshold<L: DocLengths + ?Sized>(terms: &[QueryTerm<'_>], lengths: &L, k: usize) -> f64 {
    let non_empty = terms.iter().filter(|t| !t.postings.is_empty()).count();
    let rarest = terms
        .iter()
        .filter(|t| !t.postings.is_empty())
        .min_by_key(|t| t.postings.len());
    let Some(rarest) = rarest else {
        return f64::NEG_INFINITY;
    };
    if non_empty < 2 || rarest.postings.len() < k || rarest.postings.len() > PRIME_DOCS {
        return f64::NEG_INFINITY;
    }
    let mut pos = vec![0usize; terms.len()];
    let mut scores: Vec<f64> = rarest
        .postings
        .iter()
        .map(|p| {
            let len = lengths.doc_len(p.doc);
            let mut score = 0.0;
            for (t, term) in terms.iter().enumerate() {
                pos[t] = seek(term.postings, pos[t], p.doc);
                let c = match term.postings.get(pos[t]) {
                    Some(q) if q.doc == p.doc => term.weight.score(q.tf, len),
                    _ => 0.0,
                };
                score += c;
            }
            score
        })
        .collect();
    let (_, kth, _) = scores.select_nth_unstable_by(k - 1, |a, b| b.total_cmp(a));
    *kth
}

/// Reference implementation: scores every matching document, sorts, truncates to `k`.
pub fn top_k_exhaustive<L, T>(
    terms: &[QueryTerm<'_>],
    lengths: &L,
    k: usize,
    tie: &T,
) -> Vec<ScoredDoc>
where
    L: DocLengths + ?Sized,
    T: TieBreak + ?Sized,
{
    let mut scores: std::collections::BTreeMap<u32, f64> = std::collections::BTreeMap::new();
    // Outer loop over terms in query order keeps the summation order canonical.
    for term in terms {
        for p in term.postings {
            let c = term.weight.score(p.tf, lengths.doc_len(p.doc));
            *scores.entry(p.doc).or_insert(0.0) += c;
        }
    }
    let mut all: Vec<ScoredDoc> = scores
        .into_iter()
        .map(|(doc, score)| ScoredDoc { doc, score })
        .collect();
    all.sort_by(|a, b| rank_order(tie, a, b));
    all.truncate(k);
    all
}

/// First index `>= from` whose doc is `>= target` (galloping, then binary search).
#[inline]
fn seek(postings: &[Posting], from: usize, target: u32) -> usize {
    let n = postings.len();
    if from >= n || postings[from].doc >= target {
        return from;
    }
    let mut step = 1usize;
    let mut lo = from; // postings[lo].doc < target
    let mut hi = from + 1;
    while hi < n && postings[hi].doc < target {
        lo = hi;
        step *= 2;
        hi = (hi + step).min(n);
    }
    lo + 1 + postings[lo + 1..hi].partition_point(|p| p.doc < target)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bm25::{idf, Bm25Params};
    use crate::collector::ByDocNumber;

    fn p(doc: u32, tf: u32) -> Posting {
        Posting::new(doc, tf)
    }

    #[test]
    fn seek_finds_the_first_doc_at_or_after_target() {
        let list: Vec<Posting> = (0..100).map(|i| p(i * 3, 1)).collect();
        for target in 0..310 {
            let expect = list.partition_point(|x| x.doc < target);
            for from in [0, 1, 5, expect.saturating_sub(1)] {
                if from <= expect {
                    assert_eq!(
                        seek(&list, from, target),
                        expect,
                        "target {target} from {from}"
                    );
                }
            }
        }
    }

    #[test]
    fn pruning_skips_work_but_not_results() {
        let lengths = vec![10u32; 1000];
        let rare: Vec<Posting> = vec![p(3, 2), p(10, 1), p(998, 3)];
        let common: Vec<Posting> = (0..1000).map(|d| p(d, 1 + d % 2)).collect();
        let params = Bm25Params::default();
        let w_rare = Bm25Weight::new(params, idf(3, 1000), 10.0, 1.0);
        let w_common = Bm25Weight::new(params, idf(1000, 1000), 10.0, 1.0);
        let terms = [
            QueryTerm::with_scan(&common, w_common, &lengths),
            QueryTerm::with_scan(&rare, w_rare, &lengths),
        ];
        let (fast, stats) = top_k_with_stats(&terms, &lengths, 2, &ByDocNumber);
        assert_eq!(fast, top_k_exhaustive(&terms, &lengths, 2, &ByDocNumber));
        assert_eq!(fast.iter().map(|d| d.doc).collect::<Vec<_>>(), vec![998, 3]);
        assert!(stats.fully_scored < 20, "scored {stats:?}");
    }

    #[test]
    fn empty_inputs_give_empty_results() {
        let lengths: Vec<u32> = Vec::new();
        assert!(top_k(&[], &lengths, 10, &ByDocNumber).is_empty());
        let w = Bm25Weight::new(Bm25Params::default(), 1.0, 1.0, 1.0);
        let terms = [QueryTerm::new(&[], w, 0.0)];
        assert!(top_k(&terms, &lengths, 10, &ByDocNumber).is_empty());
        let one = [p(0, 1)];
        let terms = [QueryTerm::new(&one, w, 10.0)];
        assert!(top_k(&terms, &vec![1u32], 0, &ByDocNumber).is_empty());
    }
}
