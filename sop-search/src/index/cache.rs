//! Decoded, in-memory views of committed index states, so queries run at memory speed.
//!
//! Owns [`IndexCache`] and the process-wide registry of them. A cache describes exactly one
//! committed state, named by a [`CacheKey`]: the index name and the `snapshot_version` of
//! each store the cache reads. sop-core never repeats a store's version — every commit that
//! changes a store gives it a new one, and each opening of a store in the process starts
//! from a random base — so the key also tells apart different databases holding an index
//! of the same name, and one database across re-opens; and a query whose stores were opened
//! across a concurrent commit never shares a cache with consistent readers.
//!
//! Invariants: a cache is only shared when every store of the transaction is unchanged by it
//! (all `snapshot_version`s are `Some`); a transaction that changed the index gets a private
//! cache used for a single query; entries are filled lazily from the B-trees of a
//! transaction whose key equals the cache's key, so they never mix states. The registry keeps
//! at most [`REGISTRY_ENTRIES`] caches (most recently used first).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::postings::{Posting, ScoreFrontier};

use super::records::Globals;

/// Caches kept by the registry.
pub(crate) const REGISTRY_ENTRIES: usize = 8;
/// Term entries kept by one cache before it forgets them (bounds unknown-term churn).
const MAX_TERMS: usize = 1 << 20;

/// Names one committed state of one index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CacheKey {
    pub versions: [u64; 4],
}

/// Lengths and external ids by doc number (deleted numbers: length 0, empty id).
#[derive(Debug, Default)]
pub(crate) struct DocTable {
    pub lengths: Vec<u32>,
    pub ids: Vec<String>,
}

/// A decoded posting list with its statistics.
#[derive(Debug)]
pub(crate) struct TermData {
    pub postings: Vec<Posting>,
    pub df: u32,
    pub frontier: ScoreFrontier,
}

/// The decoded parts of one committed state, filled on demand.
#[derive(Debug)]
pub(crate) struct IndexCache {
    name: String,
    key: Option<CacheKey>,
    /// The globals of the state.
    pub globals: Globals,
    docs: Mutex<Option<Arc<DocTable>>>,
    terms: Mutex<HashMap<String, Option<Arc<TermData>>>>,
}

static REGISTRY: Mutex<Vec<Arc<IndexCache>>> = Mutex::new(Vec::new());

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The guarded maps are always left consistent: poisoning carries no meaning here.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl IndexCache {
    /// The shared cache of state `key` of index `name`, created if needed.
    pub fn shared(name: &str, key: CacheKey, globals: Globals) -> Arc<Self> {
        let mut reg = lock(&REGISTRY);
        if let Some(i) = reg
            .iter()
            .position(|c| c.key == Some(key) && c.name == name)
        {
            let hit = reg.remove(i);
            reg.insert(0, hit.clone());
            return hit;
        }
        let fresh = Arc::new(Self::new(name, Some(key), globals));
        reg.insert(0, fresh.clone());
        reg.truncate(REGISTRY_ENTRIES);
        fresh
    }

    /// A cache for one query of a transaction that changed the index.
    pub fn private(name: &str, globals: Globals) -> Arc<Self> {
        Arc::new(Self::new(name, None, globals))
    }

    fn new(name: &str, key: Option<CacheKey>, globals: Globals) -> Self {
        Self {
            name: name.to_owned(),
            key,
            globals,
            docs: Mutex::new(None),
            terms: Mutex::new(HashMap::new()),
        }
    }

    /// The doc table, if loaded.
    pub fn docs(&self) -> Option<Arc<DocTable>> {
        lock(&self.docs).clone()
    }

    /// Stores the loaded doc table (first loader wins) and returns the one kept.
    pub fn set_docs(&self, table: DocTable) -> Arc<DocTable> {
        lock(&self.docs)
            .get_or_insert_with(|| Arc::new(table))
            .clone()
    }

    /// `Some(entry)` if the term was loaded (`entry` is `None` for a term not in the index).
    pub fn term(&self, term: &str) -> Option<Option<Arc<TermData>>> {
        lock(&self.terms).get(term).cloned()
    }

    /// Remembers a loaded term.
    pub fn set_term(&self, term: &str, data: Option<Arc<TermData>>) {
        let mut terms = lock(&self.terms);
        if terms.len() >= MAX_TERMS {
            terms.clear();
        }
        terms.insert(term.to_owned(), data);
    }
}
