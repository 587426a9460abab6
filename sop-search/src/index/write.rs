//! The write path: adding, replacing and deleting documents.
//!
//! Every public operation is one [`Change`]: documents to remove (looked up by id) and
//! documents to add (analysed, with fresh doc numbers). A change is applied term by term —
//! each touched term's stats are read once, its removals edit the blocks that hold them and
//! its additions append to its last block and new blocks — then the doc records, the doc
//! number table and the globals (with a new token) are written. Invariants: see `records`;
//! in particular a batch touches every term once, whatever the number of its documents.

use crate::analyzer::TermFrequencies;
use crate::error::{Result, SearchError};
use std::collections::{BTreeMap, HashMap, HashSet};

use super::records::{
    frontier_of, DocRecord, Entry, PostingBlock, DOCS_PER_BLOCK, POSTINGS_PER_BLOCK,
};
use super::{InIndex, SearchIndex, SINGLE};

/// Documents removed and added by one operation.
#[derive(Default)]
struct Change {
    removed: Vec<(String, DocRecord)>,
    added: Vec<(String, DocRecord)>,
}

/// Postings of one term removed and added by a change.
#[derive(Default)]
struct TermDelta {
    removed: Vec<Entry>,
    added: Vec<Entry>,
}

impl SearchIndex {
    /// Indexes `text` under `doc_id`, replacing any document with that id.
    pub async fn add(&self, doc_id: &str, text: &str) -> Result<()> {
        self.add_batch(&[(doc_id, text)]).await
    }

    /// Indexes many documents at once (far faster than one by one: each term is updated
    /// once per batch). Ids already indexed are replaced; an id repeated in the batch keeps
    /// its last text.
    pub async fn add_batch<I, T>(&self, docs: &[(I, T)]) -> Result<()>
    where
        I: AsRef<str>,
        T: AsRef<str>,
    {
        let mut last: HashMap<&str, usize> = HashMap::with_capacity(docs.len());
        for (i, (id, _)) in docs.iter().enumerate() {
            last.insert(id.as_ref(), i);
        }
        let mut fresh = Vec::with_capacity(last.len());
        for (i, (id, text)) in docs.iter().enumerate() {
            if last.get(id.as_ref()) == Some(&i) {
                let tf = self.analyzer.term_frequencies(text.as_ref());
                fresh.push((id.as_ref(), tf));
            }
        }
        let ids: Vec<&str> = fresh.iter().map(|(id, _)| *id).collect();
        let mut change = self.removal_of(&ids).await?;
        let mut next_doc = self.load_globals().await?.next_doc;
        for (id, tf) in fresh {
            change
                .added
                .push((id.to_owned(), self.record(id, next_doc, tf)?));
            next_doc = next_doc
                .checked_add(1)
                .ok_or_else(|| SearchError::Document {
                    doc_id: id.to_owned(),
                    message: "the index has used every document number".into(),
                })?;
        }
        self.apply(change).await
    }

    /// Replaces the text of an indexed document; returns `false` (changing nothing) if
    /// `doc_id` is not indexed.
    pub async fn update(&self, doc_id: &str, text: &str) -> Result<bool> {
        if !self.contains(doc_id).await? {
            return Ok(false);
        }
        self.add(doc_id, text).await?;
        Ok(true)
    }

    /// Removes a document; returns whether it was indexed.
    pub async fn delete(&self, doc_id: &str) -> Result<bool> {
        let change = self.removal_of(&[doc_id]).await?;
        if change.removed.is_empty() {
            return Ok(false);
        }
        self.apply(change).await?;
        Ok(true)
    }

    fn record(&self, id: &str, doc_no: u32, tf: TermFrequencies) -> Result<DocRecord> {
        if doc_no == u32::MAX {
            return Err(SearchError::Document {
                doc_id: id.to_owned(),
                message: "the index has used every document number".into(),
            });
        }
        Ok(DocRecord {
            doc_no,
            len: tf.length,
            terms: tf.terms,
        })
    }

    /// A change removing those of `ids` that are indexed.
    async fn removal_of(&self, ids: &[&str]) -> Result<Change> {
        let mut change = Change::default();
        for id in ids {
            let key = (*id).to_owned();
            if let Some(rec) = self.stores.docs.get(&key).await.in_index(&self.name)? {
                change.removed.push((key, rec));
            }
        }
        Ok(change)
    }

    async fn apply(&self, change: Change) -> Result<()> {
        let mut deltas: HashMap<&str, TermDelta> = HashMap::new();
        for (_, rec) in &change.removed {
            for (term, tf) in &rec.terms {
                let e = Entry {
                    doc: rec.doc_no,
                    tf: *tf,
                    len: rec.len,
                };
                deltas.entry(term).or_default().removed.push(e);
            }
        }
        for (_, rec) in &change.added {
            for (term, tf) in &rec.terms {
                let e = Entry {
                    doc: rec.doc_no,
                    tf: *tf,
                    len: rec.len,
                };
                deltas.entry(term).or_default().added.push(e);
            }
        }
        let mut deltas: Vec<(&str, TermDelta)> = deltas.into_iter().collect();
        deltas.sort_unstable_by(|a, b| a.0.cmp(b.0)); // key order: B-tree locality
        for (term, mut delta) in deltas {
            delta.removed.sort_unstable();
            delta.added.sort_unstable();
            self.apply_term(term, delta).await?;
        }
        self.write_numbers(&change).await?;
        self.write_globals(&change).await?;
        self.write_docs(change).await
    }

    async fn apply_term(&self, term: &str, delta: TermDelta) -> Result<()> {
        let key = term.to_owned();
        let terms = &self.stores.terms;
        let mut stats = terms
            .get(&key)
            .await
            .in_index(&self.name)?
            .unwrap_or_default();
        let mut stale = false;
        let mut i = 0;
        while i < delta.removed.len() {
            let doc = delta.removed[i].doc;
            let (block_key, mut block) =
                self.block_at_or_before(term, doc).await?.ok_or_else(|| {
                    self.corrupt(format!("term `{term}`: no posting block holds doc {doc}"))
                })?;
            let start = i;
            while i < delta.removed.len() && block.remove(delta.removed[i].doc) {
                let e = delta.removed[i];
                stale |= stats.frontier.contains(&(e.tf, e.len));
                i += 1;
            }
            if i == start {
                return Err(self.corrupt(format!("term `{term}`: doc {doc} has no posting")));
            }
            if block.is_empty() {
                self.stores
                    .postings
                    .remove(&block_key)
                    .await
                    .in_index(&self.name)?;
                if block_key.1 == stats.last_block {
                    // The new last block is the one before (if any is left).
                    let before = block_key.1.saturating_sub(1);
                    if let Some((k, _)) = self.block_at_or_before(term, before).await? {
                        stats.last_block = k.1;
                    }
                }
            } else {
                block.refresh_max();
                self.stores
                    .postings
                    .upsert(block_key, block)
                    .await
                    .in_index(&self.name)?;
            }
        }
        let has_blocks = stats.df > delta.removed.len() as u32;
        if let Some(last) = self
            .append_postings(term, has_blocks.then_some(stats.last_block), &delta.added)
            .await?
        {
            stats.last_block = last;
        }
        let removed = u32::try_from(delta.removed.len()).unwrap_or(u32::MAX);
        let added = u32::try_from(delta.added.len()).unwrap_or(u32::MAX);
        stats.df = stats
            .df
            .checked_sub(removed)
            .and_then(|df| df.checked_add(added))
            .ok_or_else(|| {
                self.corrupt(format!("term `{term}`: document frequency out of range"))
            })?;
        if stats.df == 0 {
            terms.remove(&key).await.in_index(&self.name)?;
            return Ok(());
        }
        let mut frontier = if stale {
            self.rebuild_frontier(term, stats.df).await?
        } else {
            stats.frontier()
        };
        for e in &delta.added {
            frontier.insert(e.tf, e.len);
        }
        stats.frontier = frontier.points().to_vec();
        terms.upsert(key, stats).await.in_index(&self.name)
    }

    /// Appends `added` (docs above all existing ones) to the term's last block (keyed
    /// `last_block`, if the term has postings), then to new blocks; returns the key of the
    /// new last block if it changed.
    async fn append_postings(
        &self,
        term: &str,
        last_block: Option<u32>,
        added: &[Entry],
    ) -> Result<Option<u32>> {
        let postings = &self.stores.postings;
        let mut rest = added;
        if let (Some(first), false) = (last_block, rest.is_empty()) {
            let key = (term.to_owned(), first);
            let mut block = postings
                .get(&key)
                .await
                .in_index(&self.name)?
                .ok_or_else(|| {
                    self.corrupt(format!("term `{term}`: last block {first} is missing"))
                })?;
            if block.len() < POSTINGS_PER_BLOCK {
                let take = (POSTINGS_PER_BLOCK - block.len()).min(rest.len());
                block.extend(&rest[..take]);
                rest = &rest[take..];
                postings.upsert(key, block).await.in_index(&self.name)?;
            }
        }
        let mut last = None;
        for chunk in rest.chunks(POSTINGS_PER_BLOCK) {
            let key = (term.to_owned(), chunk[0].doc);
            postings
                .upsert(key, PostingBlock::from_entries(chunk))
                .await
                .in_index(&self.name)?;
            last = Some(chunk[0].doc);
        }
        Ok(last)
    }

    /// The block of `term` with the largest first doc `<= doc` (a cursor walk: a bounded
    /// `range` would read a whole 512-item batch).
    async fn block_at_or_before(
        &self,
        term: &str,
        doc: u32,
    ) -> Result<Option<((String, u32), PostingBlock)>> {
        let postings = &self.stores.postings;
        let target = (term.to_owned(), doc);
        if !postings.find(&target).await.in_index(&self.name)? {
            match postings.current_key().await.in_index(&self.name)? {
                None => return Ok(None),
                Some(k) if k > target => {
                    if !postings.previous().await.in_index(&self.name)? {
                        return Ok(None);
                    }
                }
                Some(_) => {}
            }
        }
        let Some(key) = postings.current_key().await.in_index(&self.name)? else {
            return Ok(None);
        };
        if key.0 != term {
            return Ok(None);
        }
        let block = postings.current_value().await.in_index(&self.name)?;
        Ok(block.map(|b| (key, b)))
    }

    /// The exact frontier of `term` from its blocks' maxima.
    async fn rebuild_frontier(
        &self,
        term: &str,
        df: u32,
    ) -> Result<crate::postings::ScoreFrontier> {
        let mut points = Vec::new();
        for block in self.term_blocks(term, df).await? {
            points.extend(block.max);
        }
        Ok(frontier_of(points))
    }

    async fn write_numbers(&self, change: &Change) -> Result<()> {
        type Edit<'a> = (Vec<u32>, Vec<(u32, u32, &'a str)>);
        let mut blocks: BTreeMap<u32, Edit<'_>> = BTreeMap::new();
        for (_, rec) in &change.removed {
            let b = blocks.entry(rec.doc_no / DOCS_PER_BLOCK).or_default();
            b.0.push(rec.doc_no);
        }
        for (id, rec) in &change.added {
            let b = blocks.entry(rec.doc_no / DOCS_PER_BLOCK).or_default();
            b.1.push((rec.doc_no, rec.len, id));
        }
        let numbers = &self.stores.numbers;
        for (key, (gone, new)) in blocks {
            let mut block = numbers
                .get(&key)
                .await
                .in_index(&self.name)?
                .unwrap_or_default();
            block.remove_all(&gone);
            for (doc, len, id) in new {
                block.push(doc, len, id.to_owned());
            }
            if block.docs.is_empty() {
                numbers.remove(&key).await.in_index(&self.name)?;
            } else {
                numbers.upsert(key, block).await.in_index(&self.name)?;
            }
        }
        Ok(())
    }

    async fn write_docs(&self, change: Change) -> Result<()> {
        let docs = &self.stores.docs;
        let replaced: HashSet<&str> = change.added.iter().map(|(id, _)| id.as_str()).collect();
        for (id, _) in &change.removed {
            if !replaced.contains(id.as_str()) {
                docs.remove(id).await.in_index(&self.name)?;
            }
        }
        for (id, rec) in change.added {
            docs.upsert(id, rec).await.in_index(&self.name)?;
        }
        Ok(())
    }

    async fn write_globals(&self, change: &Change) -> Result<()> {
        let mut g = self.load_globals().await?;
        for (id, rec) in &change.removed {
            g.docs = g.docs.checked_sub(1).ok_or_else(|| {
                self.corrupt(format!(
                    "removing `{id}` from an index counting no documents"
                ))
            })?;
            g.total_tokens = g
                .total_tokens
                .checked_sub(u64::from(rec.len))
                .ok_or_else(|| self.corrupt(format!("removing `{id}`: total length underflow")))?;
        }
        for (_, rec) in &change.added {
            g.docs += 1;
            g.total_tokens += u64::from(rec.len);
            g.next_doc = g.next_doc.max(rec.doc_no + 1);
        }
        g.token = rand::random();
        self.stores
            .globals
            .upsert(SINGLE, g)
            .await
            .in_index(&self.name)
    }
}
