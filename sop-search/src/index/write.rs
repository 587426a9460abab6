//! The write path: adding, replacing and deleting documents.
//!
//! Every public operation is one [`Change`]: the old records of documents removed or
//! replaced, and the documents added (analysed, with fresh doc numbers). Doc records are
//! written as the change is built (an insert, one B-tree descent, for a new id); the change's
//! postings are then grouped by term (see `grouping`) and applied term by term (see
//! `term_update`: each touched term's entry is read and written once, whatever the number
//! of documents), then the doc number table and the globals are written. Invariants: see `records`; in particular a batch touches every term
//! once, and everything happens inside the caller's transaction.

use std::collections::HashMap;
use std::sync::Arc;

use foldhash::fast::RandomState;

use crate::error::{Result, SearchError};

use super::grouping::{group_by_term, AddedPostings};
use super::records::{DocRecord, Globals, TermEntry, DOCS_PER_BLOCK};
use super::{InIndex, SearchIndex, SINGLE};

/// A document added by a change.
struct NewDoc<'a> {
    id: &'a str,
    doc_no: u32,
    len: u32,
    terms: Vec<(Arc<str>, u32)>,
}

/// Documents removed (or replaced: their old records) and added by one operation.
#[derive(Default)]
struct Change<'a> {
    removed: Vec<(String, DocRecord)>,
    added: Vec<NewDoc<'a>>,
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
        let mut last: HashMap<&str, usize, RandomState> =
            HashMap::with_capacity_and_hasher(docs.len(), RandomState::default());
        for (i, (id, _)) in docs.iter().enumerate() {
            last.insert(id.as_ref(), i);
        }
        let kept: Vec<(&str, &str)> = docs
            .iter()
            .enumerate()
            .filter(|(i, (id, _))| last.get(id.as_ref()) == Some(i))
            .map(|(_, (id, text))| (id.as_ref(), text.as_ref()))
            .collect();
        let texts: Vec<&str> = kept.iter().map(|(_, text)| *text).collect();
        let analysed = self.analyzer.term_counts_batch(&texts);
        let mut globals = self.load_globals().await?;
        let mut change = Change::default();
        for ((id, _), counts) in kept.into_iter().zip(analysed) {
            let doc_no = globals.next_doc;
            if doc_no == u32::MAX {
                return Err(SearchError::Document {
                    doc_id: id.to_owned(),
                    message: "the index has used every document number".into(),
                });
            }
            globals.next_doc = doc_no + 1;
            let rec = DocRecord::new(doc_no, counts.length, &counts.terms);
            if let Some(old) = self.put_doc(id, rec).await? {
                change.removed.push((id.to_owned(), old));
            }
            change.added.push(NewDoc {
                id,
                doc_no,
                len: counts.length,
                terms: counts.terms,
            });
        }
        self.apply(change, globals).await
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
        let Some(old) = self.doc_record(doc_id).await? else {
            return Ok(false);
        };
        let key = doc_id.to_owned();
        self.stores.docs.remove(&key).await.in_index(&self.name)?;
        let change = Change {
            removed: vec![(key, old)],
            added: Vec::new(),
        };
        let globals = self.load_globals().await?;
        self.apply(change, globals).await?;
        Ok(true)
    }

    /// Stores `rec` under `id`; returns the record it replaced, if any. A new id costs one
    /// insert.
    async fn put_doc(&self, id: &str, rec: DocRecord) -> Result<Option<DocRecord>> {
        let docs = &self.stores.docs;
        let key = id.to_owned();
        if docs
            .add(key.clone(), rec.clone())
            .await
            .in_index(&self.name)?
        {
            return Ok(None);
        }
        let old = self
            .doc_record(id)
            .await?
            .ok_or_else(|| self.corrupt(format!("doc `{id}` exists but cannot be read")))?;
        docs.upsert(key, rec).await.in_index(&self.name)?;
        Ok(Some(old))
    }

    async fn apply(&self, change: Change<'_>, mut globals: Globals) -> Result<()> {
        let added: Vec<AddedPostings<'_>> = change
            .added
            .iter()
            .map(|d| AddedPostings {
                doc_no: d.doc_no,
                len: d.len,
                terms: &d.terms,
            })
            .collect();
        let removed = change.removed.iter().map(|(id, rec)| (id.as_str(), rec));
        let deltas = group_by_term(removed, &added)
            .map_err(|id| self.corrupt(format!("doc `{id}`: unreadable term list")))?;
        let sorted: Vec<&str> = deltas.iter().map(|(t, _)| &**t).collect();
        let entries = self.load_terms(&sorted).await?;
        for ((term, delta), found) in deltas.into_iter().zip(entries) {
            self.apply_term(&term, found, delta).await?;
        }
        self.write_numbers(&change).await?;
        self.count_change(&change, &mut globals)?;
        self.stores
            .globals
            .upsert(SINGLE, globals)
            .await
            .in_index(&self.name)
    }

    /// The entries of the `sorted` terms (`None`: not indexed), one lookup each; none for
    /// a store without terms (a new index). A range scan would not be cheaper: in a writing
    /// transaction sop-core records every scanned item as read, at about the cost of a
    /// lookup, and it reads the untouched terms in between too.
    async fn load_terms(&self, sorted: &[&str]) -> Result<Vec<Option<TermEntry>>> {
        let terms = &self.stores.terms;
        let mut out: Vec<Option<TermEntry>> = vec![None; sorted.len()];
        if sorted.is_empty() || terms.count().await.in_index(&self.name)? == 0 {
            return Ok(out);
        }
        for (slot, term) in out.iter_mut().zip(sorted) {
            *slot = terms.get(&(*term).to_owned()).await.in_index(&self.name)?;
        }
        Ok(out)
    }

    async fn write_numbers(&self, change: &Change<'_>) -> Result<()> {
        type Edit<'a> = (Vec<u32>, Vec<(u32, u32, &'a str)>);
        let mut blocks: std::collections::BTreeMap<u32, Edit<'_>> = Default::default();
        for (_, rec) in &change.removed {
            let b = blocks.entry(rec.doc_no / DOCS_PER_BLOCK).or_default();
            b.0.push(rec.doc_no);
        }
        for doc in &change.added {
            let b = blocks.entry(doc.doc_no / DOCS_PER_BLOCK).or_default();
            b.1.push((doc.doc_no, doc.len, doc.id));
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

    /// Applies the change's document counts and lengths to `g`.
    fn count_change(&self, change: &Change<'_>, g: &mut Globals) -> Result<()> {
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
        for doc in &change.added {
            g.docs += 1;
            g.total_tokens += u64::from(doc.len);
        }
        Ok(())
    }
}
