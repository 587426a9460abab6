//! Property-style randomized tests: MaxScore top-k equals exhaustive scoring exactly (same
//! documents, same order, bit-identical scores), across random collections, queries, k and
//! tie-break orders — including heavy ties.

use sop_search::collector::{ByDocNumber, ByExternalId, ScoredDoc, TieBreak};
use sop_search::topk::{top_k, top_k_exhaustive, top_k_with_stats, QueryTerm};
use sop_search::{idf, Bm25Params, Bm25Weight, Posting, ScoreFrontier};

/// SplitMix64: a tiny deterministic PRNG so failures reproduce from the printed seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }

    fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
}

struct Case {
    lengths: Vec<u32>,
    lists: Vec<Vec<Posting>>,
    boosts: Vec<f64>,
    params: Bm25Params,
}

fn random_case(rng: &mut Rng) -> Case {
    let n_docs = 1 + rng.below(400) as u32;
    // Few distinct lengths and tfs in some cases so that many scores tie exactly.
    let tie_heavy = rng.chance(0.3);
    let lengths: Vec<u32> = (0..n_docs)
        .map(|_| {
            if tie_heavy {
                5 + rng.below(2) as u32
            } else {
                1 + rng.below(200) as u32
            }
        })
        .collect();
    let n_terms = 1 + rng.below(8) as usize;
    let mut lists = Vec::new();
    let mut boosts = Vec::new();
    for _ in 0..n_terms {
        let density = match rng.below(4) {
            0 => 0.005,
            1 => 0.05,
            2 => 0.3,
            _ => 0.9,
        };
        let mut list = Vec::new();
        for doc in 0..n_docs {
            if rng.chance(density) {
                let tf = if tie_heavy {
                    1 + rng.below(2) as u32
                } else {
                    1 + rng.below(12) as u32
                };
                list.push(Posting::new(doc, tf));
            }
        }
        lists.push(list);
        boosts.push(if rng.chance(0.2) { 2.0 } else { 1.0 });
    }
    let params = match rng.below(3) {
        0 => Bm25Params::default(),
        1 => Bm25Params { k1: 2.0, b: 0.0 },
        _ => Bm25Params { k1: 0.5, b: 1.0 },
    };
    Case {
        lengths,
        lists,
        boosts,
        params,
    }
}

fn terms<'a>(case: &'a Case, use_frontier: bool) -> Vec<QueryTerm<'a>> {
    let n = case.lengths.len() as u64;
    let avgdl = case.lengths.iter().map(|&l| f64::from(l)).sum::<f64>() / n as f64;
    case.lists
        .iter()
        .zip(&case.boosts)
        .map(|(list, &boost)| {
            let w = Bm25Weight::new(case.params, idf(list.len() as u64, n), avgdl, boost);
            if use_frontier {
                let f = ScoreFrontier::from_postings(list, &case.lengths);
                QueryTerm::with_frontier(list, w, &f)
            } else {
                QueryTerm::with_scan(list, w, &case.lengths)
            }
        })
        .collect()
}

fn assert_same(seed: u64, fast: &[ScoredDoc], slow: &[ScoredDoc]) {
    assert_eq!(fast.len(), slow.len(), "seed {seed}: lengths differ");
    for (i, (a, b)) in fast.iter().zip(slow).enumerate() {
        assert_eq!(a.doc, b.doc, "seed {seed}: rank {i} doc differs");
        assert_eq!(
            a.score.to_bits(),
            b.score.to_bits(),
            "seed {seed}: rank {i} score differs"
        );
    }
}

fn check<T: TieBreak>(seed: u64, terms: &[QueryTerm<'_>], lengths: &[u32], k: usize, tie: &T) {
    let fast = top_k(terms, lengths, k, tie);
    let slow = top_k_exhaustive(terms, lengths, k, tie);
    assert_same(seed, &fast, &slow);
}

#[test]
fn maxscore_equals_brute_force_on_random_collections() {
    for seed in 0..1500u64 {
        let mut rng = Rng(seed);
        let case = random_case(&mut rng);
        let k = match rng.below(4) {
            0 => 1,
            1 => 1 + rng.below(10) as usize,
            2 => 1 + rng.below(100) as usize,
            _ => 1000,
        };
        let ids: Vec<String> = (0..case.lengths.len())
            .map(|_| format!("id{:03}", rng.below(1000)))
            .collect();
        for use_frontier in [true, false] {
            let t = terms(&case, use_frontier);
            check(seed, &t, &case.lengths, k, &ByDocNumber);
            check(seed, &t, &case.lengths, k, &ByExternalId(&ids));
        }
    }
}

#[test]
fn pruning_actually_skips_documents_in_random_cases() {
    let (mut scored, mut matching) = (0usize, 0usize);
    for seed in 20_000..20_300u64 {
        let mut rng = Rng(seed);
        let case = random_case(&mut rng);
        let t = terms(&case, true);
        let (_, stats) = top_k_with_stats(&t, &case.lengths, 5, &ByDocNumber);
        scored += stats.fully_scored;
        matching += top_k_exhaustive(&t, &case.lengths, usize::MAX, &ByDocNumber).len();
    }
    assert!(
        scored * 2 < matching,
        "fully scored {scored} of {matching} matching docs"
    );
}

#[test]
fn query_term_order_does_not_change_the_documents_returned() {
    for seed in 10_000..10_200u64 {
        let mut rng = Rng(seed);
        let case = random_case(&mut rng);
        let t = terms(&case, true);
        let mut rev = t.clone();
        rev.reverse();
        let a = top_k(&t, &case.lengths, 10, &ByDocNumber);
        let b = top_k(&rev, &case.lengths, 10, &ByDocNumber);
        assert_eq!(a.len(), b.len(), "seed {seed}");
        for (x, y) in a.iter().zip(&b) {
            assert!(
                (x.score - y.score).abs() <= 1e-9 * x.score.abs().max(1.0),
                "seed {seed}"
            );
        }
    }
}
