//! Applying one term's share of a change: its postings removed and added.
//!
//! The term's entry, read by the caller with the batch's other terms, is written once (an
//! insert for a new term). Removals edit
//! the tail in place and the sealed blocks that hold them (found by a cursor walk); additions
//! go to the tail, which is sealed into a `postings` block whenever it is full and more
//! postings come. Invariants: see `records` — in particular blocks stay below the tail, `df`
//! and `blocks` stay exact, and the frontier stays an exact Pareto frontier (rebuilt from the
//! postings when a removal may have taken one of its points).

use crate::error::Result;
use crate::postings::ScoreFrontier;

use super::grouping::TermDelta;
use super::records::{frontier_of, Entry, PostingBlock, TermEntry, POSTINGS_PER_BLOCK};
use super::{InIndex, SearchIndex};

impl SearchIndex {
    /// Applies `delta` (removed and added postings, each sorted by doc) to `term`, whose
    /// entry is `found` (`None`: not indexed yet).
    pub(super) async fn apply_term(
        &self,
        term: &str,
        found: Option<TermEntry>,
        delta: TermDelta,
    ) -> Result<()> {
        let key = term.to_owned();
        let terms = &self.stores.terms;
        let existed = found.is_some();
        let mut entry = found.unwrap_or_default();
        let stale = self
            .remove_postings(term, &mut entry, &delta.removed)
            .await?;
        self.append_postings(term, &mut entry, &delta.added).await?;
        let removed = u32::try_from(delta.removed.len()).unwrap_or(u32::MAX);
        let added = u32::try_from(delta.added.len()).unwrap_or(u32::MAX);
        entry.df = entry
            .df
            .checked_sub(removed)
            .and_then(|df| df.checked_add(added))
            .ok_or_else(|| {
                self.corrupt(format!("term `{term}`: document frequency out of range"))
            })?;
        if entry.df == 0 {
            if entry.blocks != 0 || !entry.tail.is_empty() {
                return Err(self.corrupt(format!("term `{term}`: df 0 but postings remain")));
            }
            if existed {
                terms.remove(&key).await.in_index(&self.name)?;
            }
            return Ok(());
        }
        let mut frontier = if stale {
            self.rebuild_frontier(term, &entry).await?
        } else {
            entry.frontier()
        };
        for e in &delta.added {
            frontier.insert(e.tf, e.len);
        }
        entry.frontier = frontier.points().to_vec();
        if existed {
            terms.upsert(key, entry).await.in_index(&self.name)
        } else if terms.add(key, entry).await.in_index(&self.name)? {
            Ok(())
        } else {
            Err(self.corrupt(format!("term `{term}` appeared while being added")))
        }
    }

    /// Removes `removed` from the tail and the blocks; returns whether the frontier may
    /// have lost a point.
    async fn remove_postings(
        &self,
        term: &str,
        entry: &mut TermEntry,
        removed: &[Entry],
    ) -> Result<bool> {
        if removed.is_empty() {
            return Ok(false);
        }
        let missing = |doc: u32| self.corrupt(format!("term `{term}`: doc {doc} has no posting"));
        let in_blocks = match entry.tail.first_doc() {
            Some(first) => removed.partition_point(|e| e.doc < first),
            None => removed.len(),
        };
        let (from_blocks, from_tail) = removed.split_at(in_blocks);
        if !from_tail.is_empty() {
            let docs: Vec<u32> = from_tail.iter().map(|e| e.doc).collect();
            if self.remove_from(term, &mut entry.tail, &docs)? != docs.len() {
                return Err(missing(docs[0]));
            }
        }
        let postings = &self.stores.postings;
        let mut i = 0;
        while i < from_blocks.len() {
            let doc = from_blocks[i].doc;
            let (block_key, mut block) = self
                .block_at_or_before(term, doc)
                .await?
                .ok_or_else(|| missing(doc))?;
            let last = block.last_doc();
            let end = i + from_blocks[i..].partition_point(|e| e.doc <= last);
            let docs: Vec<u32> = from_blocks[i..end].iter().map(|e| e.doc).collect();
            if docs.is_empty() || self.remove_from(term, &mut block, &docs)? != docs.len() {
                return Err(missing(doc));
            }
            if block.is_empty() {
                postings.remove(&block_key).await.in_index(&self.name)?;
                entry.blocks = entry.blocks.checked_sub(1).ok_or_else(|| {
                    self.corrupt(format!("term `{term}`: more blocks than counted"))
                })?;
            } else {
                postings
                    .upsert(block_key, block)
                    .await
                    .in_index(&self.name)?;
            }
            i = end;
        }
        Ok(removed
            .iter()
            .any(|e| entry.frontier.contains(&(e.tf, e.len))))
    }

    /// Removes `docs` from `block`; returns how many it held.
    fn remove_from(&self, term: &str, block: &mut PostingBlock, docs: &[u32]) -> Result<usize> {
        block
            .remove(docs)
            .ok_or_else(|| self.corrupt(format!("term `{term}`: unreadable posting block")))
    }

    /// Appends `added` (docs above all existing ones) to the tail, sealing the tail into a
    /// block of `postings` whenever it is full and more postings come.
    async fn append_postings(
        &self,
        term: &str,
        entry: &mut TermEntry,
        added: &[Entry],
    ) -> Result<()> {
        let mut rest = added;
        while !rest.is_empty() {
            if entry.tail.len() >= POSTINGS_PER_BLOCK {
                let sealed = std::mem::take(&mut entry.tail);
                let first = sealed.first_doc().ok_or_else(|| {
                    self.corrupt(format!("term `{term}`: unreadable posting block"))
                })?;
                let key = (term.to_owned(), first);
                if !self
                    .stores
                    .postings
                    .add(key, sealed)
                    .await
                    .in_index(&self.name)?
                {
                    return Err(self.corrupt(format!("term `{term}`: block {first} exists")));
                }
                entry.blocks += 1;
            }
            let take = (POSTINGS_PER_BLOCK - entry.tail.len()).min(rest.len());
            entry.tail.reserve(take);
            for &e in &rest[..take] {
                entry.tail.push(e);
            }
            rest = &rest[take..];
        }
        Ok(())
    }

    /// The block of `term` with the largest first doc `<= doc` (a cursor walk).
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

    /// The exact frontier of `term` from its postings (blocks as stored, tail as in
    /// `entry`).
    async fn rebuild_frontier(&self, term: &str, entry: &TermEntry) -> Result<ScoreFrontier> {
        let mut points = Vec::new();
        for block in self
            .term_blocks(term, entry.blocks)
            .await?
            .iter()
            .chain([&entry.tail])
        {
            if !block.for_each(|e| points.push((e.tf, e.len))) {
                return Err(self.corrupt(format!("term `{term}`: unreadable posting block")));
            }
        }
        Ok(frontier_of(points))
    }
}
