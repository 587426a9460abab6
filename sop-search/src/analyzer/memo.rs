//! The analyzer's memo: raw token → interned analysed term.
//!
//! Owns [`TokenMemo`] and [`MemoState`]. Filters are pure, so the outcome of the whole filter
//! chain (lowercasing, stop words, Snowball stemming, ...) is a function of the raw token;
//! the memo runs the chain once per distinct raw token and interns each distinct term once,
//! so every raw token that analyses to the same term shares one id and one `Arc<str>`. This
//! is the only memo of the pipeline (the stemmer itself keeps none).
//!
//! Invariants: `terms[id]` is the term with id `id` and `ids[terms[id]] == id`; a `raw`
//! entry is `Some(id)` exactly when the chain keeps the token (as `terms[id]`, never empty);
//! `counts` (scratch for counting one text's terms) is all zeros between analyses. Ids are
//! only meaningful while the memo's lock is held: the memo is emptied (between two analyses,
//! never during one) once it knows [`TOKEN_MEMO_ENTRIES`] raw tokens, and also when a
//! panic poisoned its lock mid-analysis.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use foldhash::fast::RandomState;

/// Raw tokens whose analysis an analyzer remembers before it forgets them all.
pub const TOKEN_MEMO_ENTRIES: usize = 1 << 18;

/// The memo's maps (see the module docs).
#[derive(Default)]
pub(crate) struct MemoState {
    raw: HashMap<Box<str>, Option<u32>, RandomState>,
    ids: HashMap<Arc<str>, u32, RandomState>,
    terms: Vec<Arc<str>>,
    counts: Vec<u32>,
}

impl MemoState {
    /// Forgets everything once the memo is full (call before an analysis, not during one).
    pub fn make_room(&mut self) {
        if self.raw.len() >= TOKEN_MEMO_ENTRIES {
            *self = Self::default();
        }
    }

    /// Counts one more occurrence of term `id` in the text being analysed; returns its
    /// count so far.
    #[inline]
    pub fn bump(&mut self, id: u32) -> u32 {
        let i = id as usize;
        if i >= self.counts.len() {
            self.counts.resize(self.terms.len().max(i + 1), 0);
        }
        self.counts[i] += 1;
        self.counts[i]
    }

    /// The count of term `id` in the text being analysed, resetting it to zero.
    #[inline]
    pub fn take_count(&mut self, id: u32) -> u32 {
        self.counts.get_mut(id as usize).map_or(0, std::mem::take)
    }

    /// The id of the term `raw` analyses to (`None`: the chain drops it); `chain` runs on
    /// a copy of `raw` the first time it is seen.
    #[inline]
    pub fn lookup(&mut self, raw: &str, chain: impl FnOnce(&mut String) -> bool) -> Option<u32> {
        if let Some(&known) = self.raw.get(raw) {
            return known;
        }
        let mut token = raw.to_owned();
        let id = (chain(&mut token) && !token.is_empty()).then(|| self.intern(token));
        self.raw.insert(raw.into(), id);
        id
    }

    fn intern(&mut self, term: String) -> u32 {
        if let Some(&id) = self.ids.get(term.as_str()) {
            return id;
        }
        // The memo is emptied long before ids could overflow (see `make_room`).
        let id = u32::try_from(self.terms.len()).unwrap_or(u32::MAX);
        let term: Arc<str> = term.into();
        self.terms.push(term.clone());
        self.ids.insert(term, id);
        id
    }

    /// The term with id `id` (an id returned by [`Self::lookup`] under the same lock).
    #[inline]
    pub fn term(&self, id: u32) -> &Arc<str> {
        &self.terms[id as usize]
    }
}

/// A [`MemoState`] shared by the clones of an analyzer.
#[derive(Default)]
pub(crate) struct TokenMemo(Mutex<MemoState>);

impl TokenMemo {
    /// Locks the memo, emptied first if full.
    pub fn lock(&self) -> MutexGuard<'_, MemoState> {
        let mut state = self.0.lock().unwrap_or_else(|poisoned| {
            // A panic mid-analysis may have left counts behind: start afresh.
            self.0.clear_poison();
            let mut state = poisoned.into_inner();
            *state = MemoState::default();
            state
        });
        state.make_room();
        state
    }
}

impl std::fmt::Debug for TokenMemo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.0.lock().map_or(0, |m| m.raw.len());
        write!(f, "TokenMemo({n} raw tokens)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_tokens_with_the_same_term_share_one_id() {
        let mut m = MemoState::default();
        let lower = |t: &mut String| {
            t.make_ascii_lowercase();
            t != "the"
        };
        let a = m.lookup("Fox", lower).expect("kept");
        let b = m.lookup("fox", lower).expect("kept");
        assert_eq!(a, b);
        assert!(Arc::ptr_eq(m.term(a), m.term(b)));
        assert_eq!(&**m.term(a), "fox");
        assert_eq!(m.lookup("The", lower), None);
        // Known tokens do not run the chain again.
        assert_eq!(m.lookup("Fox", |_| panic!("memoised")), Some(a));
        assert_eq!(m.lookup("The", |_| panic!("memoised")), None);
    }

    #[test]
    fn a_full_memo_is_emptied_before_the_next_analysis() {
        let mut m = MemoState::default();
        for i in 0..TOKEN_MEMO_ENTRIES {
            m.lookup(&format!("t{i}"), |_| true);
        }
        m.make_room();
        assert!(m.raw.is_empty() && m.ids.is_empty() && m.terms.is_empty());
        assert_eq!(m.lookup("x", |_| true), Some(0));
    }

    #[test]
    fn counts_are_taken_back_to_zero() {
        let mut m = MemoState::default();
        let a = m.lookup("a", |_| true).expect("kept");
        let b = m.lookup("b", |_| true).expect("kept");
        assert_eq!((m.bump(a), m.bump(b), m.bump(a)), (1, 1, 2));
        assert_eq!((m.take_count(a), m.take_count(b)), (2, 1));
        assert_eq!(m.take_count(a), 0);
        assert!(m.counts.iter().all(|&c| c == 0));
    }

    #[test]
    fn a_panic_mid_analysis_resets_the_memo() {
        let memo = TokenMemo::default();
        {
            let mut m = memo.lock();
            let a = m.lookup("a", |_| true).expect("kept");
            m.bump(a);
        }
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut m = memo.lock();
            let a = m.lookup("a", |_| true).expect("kept");
            m.bump(a);
            panic!("a filter panicked");
        }));
        assert!(result.is_err());
        let mut m = memo.lock();
        assert!(m.raw.is_empty() && m.counts.iter().all(|&c| c == 0));
        assert_eq!(m.lookup("a", |_| true), Some(0));
    }
}
