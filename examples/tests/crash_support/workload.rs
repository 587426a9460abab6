//! The crash harness's workload: transaction `n` is a pure function of `n`
//! ([`Plan::of`]), touching every store kind — B-tree items, vector upserts
//! and deletes, search documents, model versions — and [`Expected`] folds the
//! plans of every committed transaction into the exact content the database
//! must hold. Key spaces are bounded so the database stays small however many
//! transactions run.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sop_core::{StoreOptions, Transaction, ValuePlacement};
use sop_models::ModelRegistry;
use sop_search::{SearchConfig, SearchIndex};
use sop_vector::{NewItem, VectorConfig, VectorStore};

/// Vector dimensions of the domain.
pub const DIM: usize = 8;
/// The vector domain.
pub const VECTORS: &str = "vec";
/// The search index.
pub const TEXT: &str = "text";
/// The model registry.
pub const MODELS: &str = "models";
/// The model category.
pub const CATEGORY: &str = "crash";

const ITEM_KEYS: u64 = 300;
const VECTOR_IDS: u64 = 80;
const DOC_IDS: u64 = 60;
const MODEL_NAMES: u64 = 4;
/// A model version is deleted this many transactions after it was saved.
const MODEL_LIFETIME: u64 = 8;

const WORDS: [&str; 40] = [
    "engine",
    "vector",
    "search",
    "model",
    "crash",
    "durable",
    "commit",
    "rollback",
    "journal",
    "checkpoint",
    "registry",
    "blob",
    "shard",
    "parity",
    "cursor",
    "range",
    "merge",
    "conflict",
    "replica",
    "failover",
    "kernel",
    "socket",
    "packet",
    "router",
    "cluster",
    "latency",
    "memory",
    "thread",
    "signal",
    "buffer",
    "index",
    "query",
    "token",
    "stemmer",
    "ranking",
    "centroid",
    "bucket",
    "tombstone",
    "snapshot",
    "version",
];

/// The body saved as a model version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Body {
    /// The transaction that saved it.
    pub n: u64,
    /// Some weights.
    pub weights: Vec<f32>,
}

impl Body {
    fn of(n: u64) -> Self {
        Body {
            n,
            weights: (0..4).map(|i| (n * 4 + i) as f32 * 0.25).collect(),
        }
    }
}

/// splitmix64: a small deterministic generator.
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    /// The next value.
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// A value below `n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// What transaction `n` does, in order.
pub struct Plan {
    /// The transaction number.
    pub n: u64,
    /// B-tree upserts (`Some`) and removes (`None`).
    pub items: Vec<(u64, Option<String>)>,
    /// Vector upserts (one batch), then one delete.
    pub vec_upserts: Vec<(String, Vec<f32>)>,
    /// The vector deleted after the upserts.
    pub vec_delete: String,
    /// Documents added (or replaced), then one deleted.
    pub doc_upserts: Vec<(String, String)>,
    /// The document deleted after the upserts.
    pub doc_delete: String,
    /// The model version saved: (name, version).
    pub model_save: (String, String),
    /// The model version deleted, if any.
    pub model_delete: Option<(String, String)>,
}

fn model_version(n: u64) -> (String, String) {
    (format!("m{}", n % MODEL_NAMES), format!("1.{n}.0"))
}

impl Plan {
    /// The plan of transaction `n` (`n` ≥ 1).
    pub fn of(n: u64) -> Plan {
        let mut r = Rng::new(n);
        let mut items: Vec<(u64, Option<String>)> = (0..3)
            .map(|i| (r.below(ITEM_KEYS), Some(format!("tx{n}-{i}"))))
            .collect();
        items.push((r.below(ITEM_KEYS), None));
        let vec_upserts = (0..2)
            .map(|_| {
                let id = format!("v{}", r.below(VECTOR_IDS));
                let v = (0..DIM)
                    .map(|_| 0.05 + (r.below(1000) as f32) / 1000.0)
                    .collect();
                (id, v)
            })
            .collect();
        let vec_delete = format!("v{}", r.below(VECTOR_IDS));
        let doc_upserts = (0..2)
            .map(|_| {
                let id = format!("d{}", r.below(DOC_IDS));
                let len = 3 + r.below(6);
                let text: Vec<&str> = (0..len)
                    .map(|_| WORDS[r.below(WORDS.len() as u64) as usize])
                    .collect();
                (id, format!("{} (tx {n})", text.join(" ")))
            })
            .collect();
        let doc_delete = format!("d{}", r.below(DOC_IDS));
        Plan {
            n,
            items,
            vec_upserts,
            vec_delete,
            doc_upserts,
            doc_delete,
            model_save: model_version(n),
            model_delete: (n > MODEL_LIFETIME).then(|| model_version(n - MODEL_LIFETIME)),
        }
    }

    /// Runs the plan in `tx` (which the caller commits or rolls back).
    pub async fn run(&self, tx: &Transaction) -> Result<(), Box<dyn std::error::Error>> {
        // Medium placement: every value is its own blob, collected when replaced.
        let placement = StoreOptions::with_slot_length(16).placement(ValuePlacement::Medium);
        let items = tx.new_btree::<u64, String>("items", placement).await?;
        let meta = tx
            .new_btree::<String, u64>("meta", StoreOptions::default())
            .await?;
        let vectors = VectorStore::open(tx, VECTORS, VectorConfig::new(DIM)).await?;
        let text = SearchIndex::open(tx, TEXT, SearchConfig::default()).await?;
        let models = ModelRegistry::open(tx, MODELS).await?;
        for (k, v) in &self.items {
            match v {
                Some(v) => items.upsert(*k, v.clone()).await?,
                None => {
                    items.remove(k).await?;
                }
            }
        }
        let batch = self
            .vec_upserts
            .iter()
            .map(|(id, v)| NewItem::new(id.clone(), v.clone()).payload(payload(self.n, id)))
            .collect();
        vectors.upsert_batch(batch).await?;
        vectors.delete(&self.vec_delete).await?;
        for (id, body) in &self.doc_upserts {
            text.add(id, body).await?;
        }
        text.delete(&self.doc_delete).await?;
        let (name, version) = &self.model_save;
        models
            .save(CATEGORY, name, version, &Body::of(self.n))
            .await?;
        if let Some((name, version)) = &self.model_delete {
            models.delete(CATEGORY, name, version).await?;
        }
        meta.upsert("last".into(), self.n).await?;
        Ok(())
    }
}

/// The payload stored with a vector.
pub fn payload(n: u64, id: &str) -> serde_json::Value {
    serde_json::json!({ "tx": n, "id": id })
}

/// The content after every transaction up to `last` committed.
#[derive(Debug, Default, Clone)]
pub struct Expected {
    /// The last committed transaction.
    pub last: u64,
    /// `items`.
    pub items: BTreeMap<u64, String>,
    /// Live vectors: id → (raw vector, transaction that wrote it).
    pub vectors: BTreeMap<String, (Vec<f32>, u64)>,
    /// Live documents: id → text.
    pub docs: BTreeMap<String, String>,
    /// Live model versions: (name, version) → body.
    pub models: BTreeMap<(String, String), Body>,
}

impl Expected {
    /// Folds transactions up to `last` in.
    pub fn advance_to(&mut self, last: u64) {
        while self.last < last {
            self.last += 1;
            self.apply(&Plan::of(self.last));
        }
    }

    fn apply(&mut self, p: &Plan) {
        for (k, v) in &p.items {
            match v {
                Some(v) => self.items.insert(*k, v.clone()),
                None => self.items.remove(k),
            };
        }
        for (id, v) in &p.vec_upserts {
            self.vectors.insert(id.clone(), (v.clone(), p.n));
        }
        self.vectors.remove(&p.vec_delete);
        for (id, text) in &p.doc_upserts {
            self.docs.insert(id.clone(), text.clone());
        }
        self.docs.remove(&p.doc_delete);
        self.models.insert(p.model_save.clone(), Body::of(p.n));
        if let Some(key) = &p.model_delete {
            self.models.remove(key);
        }
    }
}
