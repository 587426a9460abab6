//! The crash harness's checks: a reopened database holds exactly the
//! [`Expected`] content in every store kind, and each index agrees with its
//! content store — vector `data` keys and `vecs` entries match one to one,
//! bucket counts equal a recount, every document's terms are searchable and
//! the BM25 statistics equal a recount from the documents.

use std::collections::{BTreeMap, BTreeSet};

use futures::StreamExt;
use serde_json::Value;
use sop_core::{Btree, Database, Direction, Transaction, TransactionMode};
use sop_models::ModelRegistry;
use sop_search::{SearchConfig, SearchIndex};
use sop_vector::schema::{CentroidRecord, DataKey, DomainConfig, StoreNames, VecKey};
use sop_vector::stored::StoredVector;
use sop_vector::{prepare_vector, Metric, VectorConfig, VectorStore};

use super::workload::{payload, Body, Expected, CATEGORY, DIM, MODELS, TEXT, VECTORS};

type Error = Box<dyn std::error::Error>;

/// What one check looked at.
#[derive(Debug, Default, Clone, Copy)]
pub struct Checked {
    /// Items, vectors, documents and model versions compared.
    pub records: u64,
    /// Search queries run.
    pub queries: u64,
}

/// The last committed transaction number (0 before the first commit).
pub async fn last_committed(db: &Database) -> Result<u64, Error> {
    let tx = db.begin(TransactionMode::ForReading).await?;
    let last = if tx.has_btree("meta") {
        let meta = tx.open_btree::<String, u64>("meta").await?;
        meta.get(&"last".to_string()).await?.unwrap_or(0)
    } else {
        0
    };
    tx.commit().await?;
    Ok(last)
}

async fn all<K, V>(tree: &Btree<K, V>) -> Result<Vec<(K, V)>, Error>
where
    K: sop_core::Key + Ord,
    V: sop_core::Value,
{
    let mut out = Vec::new();
    let mut rows = std::pin::pin!(tree.range(.., Direction::Forward));
    while let Some(r) = rows.next().await {
        out.push(r?);
    }
    Ok(out)
}

/// Checks everything against `exp` in one read transaction.
pub async fn check(db: &Database, exp: &Expected) -> Result<Checked, Error> {
    let tx = db.begin(TransactionMode::ForReading).await?;
    let mut seen = Checked::default();
    if exp.last == 0 {
        for name in [
            "meta",
            "items",
            "vec/sys_config",
            "text/docs",
            "models.models",
        ] {
            assert!(!tx.has_btree(name), "store {name} exists before any commit");
        }
        tx.commit().await?;
        return Ok(seen);
    }
    let items = tx.open_btree::<u64, String>("items").await?;
    let got: BTreeMap<u64, String> = all(&items).await?.into_iter().collect();
    assert_eq!(got, exp.items, "items after transaction {}", exp.last);
    assert_eq!(items.count().await?, exp.items.len() as u64, "items count");
    seen.records += got.len() as u64;
    seen.records += check_vectors(&tx, exp).await?;
    let (docs, queries) = check_text(&tx, exp).await?;
    seen.records += docs;
    seen.queries += queries;
    seen.records += check_models(&tx, exp).await?;
    tx.commit().await?;
    Ok(seen)
}

async fn check_vectors(tx: &Transaction, exp: &Expected) -> Result<u64, Error> {
    let store = VectorStore::open(tx, VECTORS, VectorConfig::new(DIM)).await?;
    for (id, (raw, n)) in &exp.vectors {
        let rec = store
            .get(id)
            .await?
            .ok_or_else(|| format!("vector {id} (tx {n}) is missing"))?;
        let want = prepare_vector(VECTORS, "vector", raw, DIM, Metric::Cosine)?;
        assert_eq!(rec.vector, want, "vector {id}");
        assert_eq!(rec.payload, payload(*n, id), "payload of vector {id}");
    }
    assert_eq!(
        store.count().await?,
        exp.vectors.len() as u64,
        "live vectors"
    );
    // The index (vecs_vN, bucket counts) agrees with the content store (data).
    let names = StoreNames::new(VECTORS);
    let sys: Btree<String, DomainConfig> = tx.open_btree(&names.sys_config()).await?;
    let version = sys
        .get(&VECTORS.to_string())
        .await?
        .ok_or("vector domain record missing")?
        .active_version;
    let data: Btree<DataKey, Value> = tx.open_btree(&names.data()).await?;
    let vecs: Btree<VecKey, StoredVector> = tx.open_btree(&names.vecs(version)).await?;
    let centroids: Btree<u32, CentroidRecord> = tx.open_btree(&names.centroids(version)).await?;
    let mut by_id: BTreeMap<String, VecKey> = BTreeMap::new();
    for (k, _) in all(&vecs).await? {
        let id = k.id.to_string();
        assert!(
            by_id.insert(id.clone(), k).is_none(),
            "vector {id} twice in vecs"
        );
    }
    let mut live = BTreeSet::new();
    let mut recount: BTreeMap<u32, (u64, u64)> = BTreeMap::new();
    let data_rows = all(&data).await?;
    assert_eq!(data_rows.len(), by_id.len(), "data and vecs entries");
    for (key, _) in data_rows {
        let loc = key
            .location(version)
            .ok_or_else(|| format!("vector {} has no location in v{version}", key.id))?;
        let entry = by_id
            .get(key.id.as_str())
            .ok_or_else(|| format!("vector {} is in data but not in vecs", key.id))?;
        assert_eq!(
            entry,
            &loc.key(&key.id, key.deleted),
            "vecs key of {}",
            key.id
        );
        assert_eq!(entry.deleted, key.deleted, "tombstones of {} agree", key.id);
        let c = recount.entry(loc.centroid).or_default();
        if key.deleted {
            c.1 += 1;
        } else {
            c.0 += 1;
            live.insert(key.id.to_string());
        }
    }
    let expected_ids: BTreeSet<String> = exp.vectors.keys().cloned().collect();
    assert_eq!(live, expected_ids, "live vector ids");
    for (c, rec) in all(&centroids).await? {
        let (n_live, n_dead) = recount.remove(&c).unwrap_or((0, 0));
        assert_eq!(
            (rec.count, rec.deleted),
            (n_live, n_dead),
            "counts of bucket {c}"
        );
    }
    assert!(
        recount.is_empty(),
        "entries in unknown buckets: {recount:?}"
    );
    Ok(exp.vectors.len() as u64)
}

async fn check_text(tx: &Transaction, exp: &Expected) -> Result<(u64, u64), Error> {
    let index = SearchIndex::open(tx, TEXT, SearchConfig::default()).await?;
    let analyzer = index.analyzer();
    let mut total = 0u64;
    let mut by_term: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (id, text) in &exp.docs {
        let tf = analyzer.term_frequencies(text);
        let doc = index
            .get(id)
            .await?
            .ok_or_else(|| format!("document {id} is missing"))?;
        assert_eq!(doc.length, tf.length, "length of document {id}");
        assert_eq!(doc.terms, tf.terms, "terms of document {id}");
        total += u64::from(tf.length);
        for (term, _) in tf.terms {
            by_term.entry(term).or_default().insert(id.clone());
        }
    }
    let stats = index.stats().await?;
    assert_eq!(stats.docs, exp.docs.len() as u64, "document count");
    assert_eq!(stats.total_tokens, total, "total tokens");
    let mut queries = 0;
    for (term, ids) in &by_term {
        assert_eq!(
            index.doc_freq(term).await?,
            ids.len() as u64,
            "df of {term}"
        );
        let hits = index.search(term, 1000).await?;
        queries += 1;
        let found: BTreeSet<String> = hits.into_iter().map(|h| h.doc_id).collect();
        assert_eq!(&found, ids, "documents found for {term}");
    }
    Ok((exp.docs.len() as u64, queries))
}

async fn check_models(tx: &Transaction, exp: &Expected) -> Result<u64, Error> {
    let models = ModelRegistry::open(tx, MODELS).await?;
    let mut by_name: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for ((name, version), body) in &exp.models {
        let got: Body = models.get(CATEGORY, name, version).await?;
        assert_eq!(&got, body, "model {name}@{version}");
        by_name.entry(name).or_default().insert(version.clone());
    }
    for name in models.list(CATEGORY).await? {
        let versions: BTreeSet<String> = models
            .versions(CATEGORY, &name)
            .await?
            .into_iter()
            .collect();
        let want = by_name.remove(name.as_str()).unwrap_or_default();
        assert_eq!(versions, want, "versions of model {name}");
    }
    assert!(by_name.is_empty(), "models not listed: {by_name:?}");
    Ok(exp.models.len() as u64)
}
