//! Grouping a change's postings by term: the first step of applying a change.
//!
//! Owns [`TermDelta`] and [`group_by_term`]. An added document carries its terms as
//! `Arc<str>` interned by the analyzer's memo, so one term analysed through one memo is one
//! allocation. Postings of added documents are therefore grouped by that allocation's
//! address (one integer hash per posting, no string hashing or comparing), counted, and
//! gathered into vectors of exact size; only the groups (a few per distinct term) are then
//! sorted by term, and groups of equal terms — interned by different memos of a parallel
//! analysis, or read back from the records of removed documents — are merged.
//!
//! Invariants: the result holds one entry per distinct term of the change, in byte order of
//! the terms; every posting of the change is in exactly one entry; within an entry
//! `removed` and `added` are each sorted by document number.

use std::collections::HashMap;
use std::sync::Arc;

use foldhash::fast::RandomState;

use super::records::{DocRecord, Entry};

/// Postings of one term removed and added by a change, each sorted by doc.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct TermDelta {
    pub removed: Vec<Entry>,
    pub added: Vec<Entry>,
}

/// A document added by a change, as grouping sees it.
pub(super) struct AddedPostings<'a> {
    /// The document's number.
    pub doc_no: u32,
    /// The document's length (BM25).
    pub len: u32,
    /// Distinct terms with their frequencies.
    pub terms: &'a [(Arc<str>, u32)],
}
/// The first 8 bytes of `term`, zero-padded, big-endian: ordering by it, then by the whole
/// term, is the byte order of the terms.
pub(super) fn sort_prefix(term: &str) -> u64 {
    let mut b = [0u8; 8];
    let n = term.len().min(8);
    b[..n].copy_from_slice(&term.as_bytes()[..n]);
    u64::from_be_bytes(b)
}

/// The postings of `removed` (old records, with the id naming each) and `added`, grouped
/// by term in byte order of the terms (see the module docs). `Err` names the removed
/// document whose term list cannot be read.
pub(super) fn group_by_term<'r>(
    removed: impl IntoIterator<Item = (&'r str, &'r DocRecord)>,
    added: &[AddedPostings<'_>],
) -> Result<Vec<(Arc<str>, TermDelta)>, String> {
    // Pass 1: a provisional group per term allocation (added documents) or per term
    // (removed records), the group of every added posting, and each group's size.
    let postings: usize = added.iter().map(|d| d.terms.len()).sum();
    // Text has several postings per distinct term: a guess that rarely regrows.
    let distinct_guess = postings / 8 + 16;
    let mut by_address: HashMap<usize, usize, RandomState> =
        HashMap::with_capacity_and_hasher(distinct_guess, RandomState::default());
    let mut terms: Vec<Arc<str>> = Vec::with_capacity(distinct_guess);
    let mut sizes: Vec<usize> = Vec::with_capacity(distinct_guess);
    let mut slots: Vec<usize> = Vec::with_capacity(postings);
    for doc in added {
        for (term, _) in doc.terms {
            let address = Arc::as_ptr(term).cast::<u8>() as usize;
            let slot = *by_address.entry(address).or_insert_with(|| {
                terms.push(term.clone());
                sizes.push(0);
                terms.len() - 1
            });
            sizes[slot] += 1;
            slots.push(slot);
        }
    }
    let mut by_name: HashMap<Arc<str>, usize, RandomState> = HashMap::default();
    let mut old: Vec<(usize, Entry)> = Vec::new();
    for (id, rec) in removed {
        let ok = rec.for_each_term(|term, tf| {
            let slot = match by_name.get(term) {
                Some(&slot) => slot,
                None => {
                    let term: Arc<str> = term.into();
                    terms.push(term.clone());
                    sizes.push(0);
                    by_name.insert(term, terms.len() - 1);
                    terms.len() - 1
                }
            };
            let doc = rec.doc_no;
            old.push((
                slot,
                Entry {
                    doc,
                    tf,
                    len: rec.len,
                },
            ));
        });
        if !ok {
            return Err(id.to_owned());
        }
    }
    // Groups of equal terms share one output entry.
    let (order, entry_of) = entries_in_term_order(&terms);
    let mut out: Vec<(Arc<str>, TermDelta)> = order
        .iter()
        .map(|&g| (terms[g].clone(), TermDelta::default()))
        .collect();
    // Groups per entry: an entry fed by more than one group is merged.
    let mut groups = vec![0u32; out.len()];
    for (g, &e) in entry_of.iter().enumerate() {
        out[e].1.added.reserve_exact(sizes[g]);
        groups[e] += 1;
    }
    // Pass 2: every posting into its entry.
    let mut slot = slots.into_iter();
    for doc in added {
        for ((_, tf), g) in doc.terms.iter().zip(slot.by_ref()) {
            out[entry_of[g]].1.added.push(Entry {
                doc: doc.doc_no,
                tf: *tf,
                len: doc.len,
            });
        }
    }
    for (g, e) in old {
        out[entry_of[g]].1.removed.push(e);
    }
    // Documents normally come in doc order, which keeps every unmerged list sorted.
    let in_doc_order = added.windows(2).all(|w| w[0].doc_no < w[1].doc_no);
    for ((_, delta), groups) in out.iter_mut().zip(groups) {
        if groups > 1 || !in_doc_order {
            delta.added.sort_unstable();
        }
        if delta.removed.len() > 1 {
            delta.removed.sort_unstable();
        }
    }
    Ok(out)
}

/// The groups of `terms` in byte order of the terms (the first of each run of equal
/// terms), and for every group the index of its entry in that order.
fn entries_in_term_order(terms: &[Arc<str>]) -> (Vec<usize>, Vec<usize>) {
    // Sort small (prefix, index) pairs; only runs of equal prefixes need whole terms.
    let mut order: Vec<(u64, usize)> = terms
        .iter()
        .enumerate()
        .map(|(i, t)| (sort_prefix(t), i))
        .collect();
    order.sort_unstable_by_key(|&(prefix, _)| prefix);
    for run in order.chunk_by_mut(|a, b| a.0 == b.0) {
        if run.len() > 1 {
            run.sort_unstable_by(|a, b| terms[a.1].cmp(&terms[b.1]));
        }
    }
    let mut entry_of = vec![0; terms.len()];
    let mut firsts: Vec<usize> = Vec::with_capacity(terms.len());
    for (k, &(_, g)) in order.iter().enumerate() {
        let same = k > 0 && terms[order[k - 1].1] == terms[g];
        if !same {
            firsts.push(g);
        }
        entry_of[g] = firsts.len() - 1;
    }
    (firsts, entry_of)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(list: &[(&Arc<str>, u32)]) -> Vec<(Arc<str>, u32)> {
        list.iter().map(|(t, n)| (Arc::clone(t), *n)).collect()
    }

    #[test]
    fn prefix_then_term_order_is_byte_order() {
        let mut terms = vec![
            "fox",
            "foxes",
            "fo",
            "",
            "aerodynam",
            "aerodynamic",
            "aerodyn",
            "zz",
            "a\u{0}b",
            "a",
            "éclair",
            "eclair",
            "aerodynamics",
        ];
        let mut by_prefix = terms.clone();
        by_prefix.sort_by(|a, b| sort_prefix(a).cmp(&sort_prefix(b)).then_with(|| a.cmp(b)));
        terms.sort();
        assert_eq!(by_prefix, terms);
    }

    /// Groups built the obvious way: a string-keyed ordered map.
    fn reference(
        removed: &[(&str, &DocRecord)],
        added: &[AddedPostings<'_>],
    ) -> Vec<(Arc<str>, TermDelta)> {
        let mut map: std::collections::BTreeMap<String, TermDelta> = Default::default();
        for (_, rec) in removed {
            rec.for_each_term(|t, tf| {
                map.entry(t.to_owned()).or_default().removed.push(Entry {
                    doc: rec.doc_no,
                    tf,
                    len: rec.len,
                })
            });
        }
        for d in added {
            for (t, tf) in d.terms {
                map.entry(t.to_string()).or_default().added.push(Entry {
                    doc: d.doc_no,
                    tf: *tf,
                    len: d.len,
                });
            }
        }
        map.into_iter()
            .map(|(t, mut d)| {
                d.removed.sort_unstable();
                d.added.sort_unstable();
                (Arc::from(t), d)
            })
            .collect()
    }

    #[test]
    fn groups_equal_terms_from_different_allocations_and_removed_records() {
        // "fox" interned by two memos (two allocations), "den" by one.
        let fox_a: Arc<str> = Arc::from("fox");
        let fox_b: Arc<str> = Arc::from("fox");
        let den: Arc<str> = Arc::from("den");
        let cat: Arc<str> = Arc::from("cat");
        let d0 = terms(&[(&fox_a, 2), (&den, 1)]);
        let d1 = terms(&[(&cat, 1)]);
        let d2 = terms(&[(&fox_b, 1), (&cat, 3)]);
        let d3 = terms(&[(&fox_a, 5)]);
        // Doc numbers out of order, to check every list comes out sorted.
        let added = [
            AddedPostings {
                doc_no: 7,
                len: 3,
                terms: &d0,
            },
            AddedPostings {
                doc_no: 8,
                len: 1,
                terms: &d1,
            },
            AddedPostings {
                doc_no: 5,
                len: 4,
                terms: &d2,
            },
            AddedPostings {
                doc_no: 9,
                len: 5,
                terms: &d3,
            },
        ];
        let old = DocRecord::new(2, 6, &terms(&[(&fox_a, 4), (&Arc::from("owl"), 2)]));
        let removed = [("old", &old)];
        let got = group_by_term(removed.iter().copied(), &added).expect("readable records");
        assert_eq!(got, reference(&removed, &added));
        let names: Vec<&str> = got.iter().map(|(t, _)| &**t).collect();
        assert_eq!(names, ["cat", "den", "fox", "owl"]);
        let fox = &got[2].1;
        assert_eq!(
            fox.added.iter().map(|e| e.doc).collect::<Vec<_>>(),
            [5, 7, 9]
        );
        assert_eq!(fox.removed.len(), 1);
    }

    #[test]
    fn random_batches_match_the_string_keyed_reference() {
        let vocab: Vec<Arc<str>> = (0..40)
            .map(|i| Arc::from(format!("t{}", i * 7 % 23)))
            .collect();
        // A 64-bit LCG (Knuth's MMIX constants); the high bits are the random ones.
        let mut state = 0x2545_F491_4F6C_DD1D_u64;
        let mut next = move |n: u64| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) % n
        };
        for _ in 0..200 {
            let mut docs: Vec<Vec<(Arc<str>, u32)>> = Vec::new();
            for _ in 0..next(12) {
                let mut seen = std::collections::HashSet::new();
                let mut doc = Vec::new();
                for _ in 0..next(8) {
                    let t = &vocab[next(40) as usize];
                    if seen.insert(t.to_string()) {
                        doc.push((t.clone(), 1 + next(4) as u32));
                    }
                }
                docs.push(doc);
            }
            let added: Vec<AddedPostings<'_>> = docs
                .iter()
                .enumerate()
                .map(|(i, t)| AddedPostings {
                    doc_no: 100 + i as u32,
                    len: 10,
                    terms: t,
                })
                .collect();
            let olds: Vec<DocRecord> = (0..next(3))
                .map(|i| DocRecord::new(i as u32, 4, &terms(&[(&vocab[next(40) as usize], 2)])))
                .collect();
            let removed: Vec<(&str, &DocRecord)> = olds.iter().map(|r| ("old", r)).collect();
            let got = group_by_term(removed.iter().copied(), &added).expect("readable");
            assert_eq!(got, reference(&removed, &added));
        }
    }
}
