//! The read path: search, document lookup and statistics.
//!
//! A query analyses its text, resolves the snapshot it reads (the shared [`IndexCache`] of
//! the committed state when the transaction left the index unchanged, else a private one),
//! takes each term's decoded postings from the cache (loading missing ones from the B-trees
//! once) and runs the exact MaxScore [`top_k`]. Invariant: scores depend only on the index
//! content and the query — never on the cache, doc numbers or insertion order (ties are
//! broken by external id).

use std::pin::pin;
use std::sync::Arc;

use futures::StreamExt;
use sop_core::Direction;

use crate::bm25::{idf, Bm25Weight};
use crate::collector::ByExternalId;
use crate::error::Result;
use crate::memory_index::SearchHit;
use crate::postings::Posting;
use crate::query::query_terms;
use crate::topk::{top_k, QueryTerm};

use super::cache::{CacheKey, DocTable, IndexCache, TermData};
use super::records::{DocRecord, PostingBlock};
use super::{InIndex, IndexStats, IndexedDoc, SearchIndex};

impl SearchIndex {
    /// The best `k` documents for `query` (BM25, OR semantics), best first; equal scores are
    /// ordered by external id.
    pub async fn search(&self, query: &str, k: usize) -> Result<Vec<SearchHit>> {
        let terms = query_terms(&self.analyzer, query, self.config.weighting);
        if terms.is_empty() || k == 0 {
            return Ok(Vec::new());
        }
        let snapshot = self.snapshot().await?;
        let mut loaded: Vec<(Arc<TermData>, f64)> = Vec::with_capacity(terms.len());
        for (term, boost) in terms {
            if let Some(data) = self.term_data(&snapshot, &term).await? {
                loaded.push((data, boost));
            }
        }
        if loaded.is_empty() {
            return Ok(Vec::new());
        }
        let docs = self.doc_table(&snapshot).await?;
        let g = &snapshot.globals;
        let stats = IndexStats {
            docs: g.docs,
            total_tokens: g.total_tokens,
        };
        let query_terms: Vec<QueryTerm<'_>> = loaded
            .iter()
            .map(|(data, boost)| {
                let idf = idf(u64::from(data.df), stats.docs);
                let weight =
                    Bm25Weight::new(self.config.params, idf, stats.average_doc_len(), *boost);
                QueryTerm::with_frontier(&data.postings, weight, &data.frontier)
            })
            .collect();
        let top = top_k(&query_terms, &docs.lengths, k, &ByExternalId(&docs.ids));
        Ok(top
            .into_iter()
            .filter_map(|d| {
                docs.ids.get(d.doc as usize).map(|id| SearchHit {
                    doc_id: id.clone(),
                    score: d.score,
                })
            })
            .collect())
    }

    /// What the index holds about `doc_id`, if it is indexed.
    pub async fn get(&self, doc_id: &str) -> Result<Option<IndexedDoc>> {
        let Some(rec) = self.doc_record(doc_id).await? else {
            return Ok(None);
        };
        let terms = rec
            .terms()
            .ok_or_else(|| self.corrupt(format!("doc `{doc_id}`: unreadable term list")))?;
        Ok(Some(IndexedDoc {
            doc_id: doc_id.to_owned(),
            length: rec.len,
            terms,
        }))
    }

    /// Whether `doc_id` is indexed.
    pub async fn contains(&self, doc_id: &str) -> Result<bool> {
        Ok(self.doc_record(doc_id).await?.is_some())
    }

    /// The stored record of `doc_id`, if it is indexed.
    pub(super) async fn doc_record(&self, doc_id: &str) -> Result<Option<DocRecord>> {
        self.stores
            .docs
            .get(&doc_id.to_owned())
            .await
            .in_index(&self.name)
    }

    /// Number of live documents and their total length.
    pub async fn stats(&self) -> Result<IndexStats> {
        let g = self.load_globals().await?;
        Ok(IndexStats {
            docs: g.docs,
            total_tokens: g.total_tokens,
        })
    }

    /// Number of documents containing the (already analysed) `term`.
    pub async fn doc_freq(&self, term: &str) -> Result<u64> {
        let stats = self
            .stores
            .terms
            .get(&term.to_owned())
            .await
            .in_index(&self.name)?;
        Ok(stats.map_or(0, |s| u64::from(s.df)))
    }

    /// The snapshot this transaction reads: shared when the transaction has not changed the
    /// index. Reading the globals here also records them for commit-time validation, so a
    /// concurrent change of the index (which always rewrites them) is detected even when the
    /// postings come from the cache.
    async fn snapshot(&self) -> Result<Arc<IndexCache>> {
        let globals = self.load_globals().await?;
        Ok(match self.stores.snapshot_versions() {
            Some(versions) => {
                let key = CacheKey { versions };
                IndexCache::shared(&self.name, key, globals)
            }
            None => IndexCache::private(&self.name, globals),
        })
    }

    /// The `blocks` posting blocks of `term` in the `postings` store, in order (one range
    /// scan); fewer or more than `blocks` is corruption.
    pub(super) async fn term_blocks(&self, term: &str, blocks: u32) -> Result<Vec<PostingBlock>> {
        let mut out = Vec::with_capacity(blocks as usize);
        if blocks == 0 {
            return Ok(out);
        }
        let range = (term.to_owned(), 0)..=(term.to_owned(), u32::MAX);
        let mut stream = pin!(self.stores.postings.range(range, Direction::Forward));
        while let Some(item) = stream.next().await {
            out.push(item.in_index(&self.name)?.1);
        }
        if out.len() != blocks as usize {
            return Err(self.corrupt(format!(
                "term `{term}`: {} posting blocks, {} counted",
                out.len(),
                blocks
            )));
        }
        Ok(out)
    }

    async fn doc_table(&self, snapshot: &IndexCache) -> Result<Arc<DocTable>> {
        if let Some(table) = snapshot.docs() {
            return Ok(table);
        }
        let size = snapshot.globals.next_doc as usize;
        let mut table = DocTable {
            lengths: vec![0; size],
            ids: vec![String::new(); size],
        };
        let mut stream = pin!(self.stores.numbers.range(.., Direction::Forward));
        while let Some(item) = stream.next().await {
            let (_, block) = item.in_index(&self.name)?;
            for ((doc, len), id) in block.docs.into_iter().zip(block.lens).zip(block.ids) {
                let slot = doc as usize;
                if slot >= size {
                    return Err(self.corrupt(format!(
                        "doc `{id}` has number {doc}, not below next_doc {size}"
                    )));
                }
                table.lengths[slot] = len;
                table.ids[slot] = id;
            }
        }
        Ok(snapshot.set_docs(table))
    }

    async fn term_data(&self, snapshot: &IndexCache, term: &str) -> Result<Option<Arc<TermData>>> {
        if let Some(hit) = snapshot.term(term) {
            return Ok(hit);
        }
        let data = match self
            .stores
            .terms
            .get(&term.to_owned())
            .await
            .in_index(&self.name)?
        {
            None => None,
            Some(entry) => {
                let mut postings: Vec<Posting> = Vec::with_capacity(entry.df as usize);
                let blocks = self.term_blocks(term, entry.blocks).await?;
                for block in blocks.iter().chain([&entry.tail]) {
                    if !block.push_postings(&mut postings) {
                        return Err(
                            self.corrupt(format!("term `{term}`: unreadable posting block"))
                        );
                    }
                }
                if postings.len() != entry.df as usize {
                    return Err(self.corrupt(format!(
                        "term `{term}`: df {} but {} postings",
                        entry.df,
                        postings.len()
                    )));
                }
                Some(Arc::new(TermData {
                    postings,
                    df: entry.df,
                    frontier: entry.frontier(),
                }))
            }
        };
        snapshot.set_term(term, data.clone());
        Ok(data)
    }
}
