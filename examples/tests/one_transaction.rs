//! The workspace's central promise, tested across crates: one transaction
//! saves a model version (`sop-models`), upserts the vectors it was trained on
//! (`sop-vector`) and indexes their documents (`sop-search`). Rolled back,
//! none of it exists; committed, all of it does — also after a re-open.

use serde::{Deserialize, Serialize};
use sop_core::{Database, DatabaseOptions, TransactionMode};
use sop_models::ModelRegistry;
use sop_search::{SearchConfig, SearchIndex};
use sop_vector::{NewItem, VectorConfig, VectorStore};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Classifier {
    weights: Vec<f32>,
    labels: Vec<String>,
}

fn docs() -> Vec<(String, String, Vec<f32>)> {
    (0..40)
        .map(|i| {
            let topic = if i % 2 == 0 {
                "vector search with centroids"
            } else {
                "full text ranking with bm25"
            };
            let mut v = vec![0.0f32; 8];
            v[i % 8] = 1.0;
            v[(i + 3) % 8] = 0.5;
            (format!("doc-{i}"), format!("document {i} about {topic}"), v)
        })
        .collect()
}

async fn write_everything(db: &Database, commit: bool) -> Result<(), Box<dyn std::error::Error>> {
    let tx = db.begin(TransactionMode::ForWriting).await?;
    let models = ModelRegistry::open(&tx, "models").await?;
    let vectors = VectorStore::open(&tx, "kb", VectorConfig::new(8)).await?;
    let index = SearchIndex::open(&tx, "kb_text", SearchConfig::default()).await?;
    let model = Classifier {
        weights: vec![0.5; 8],
        labels: vec!["vector".into(), "text".into()],
    };
    models.save("classifiers", "topic", "1.0.0", &model).await?;
    let docs = docs();
    vectors
        .upsert_batch(
            docs.iter()
                .map(|(id, text, v)| NewItem {
                    id: id.clone(),
                    vector: v.clone(),
                    payload: serde_json::json!({ "text": text }),
                })
                .collect(),
        )
        .await?;
    for (id, text, _) in &docs {
        index.add(id, text).await?;
    }
    if commit {
        tx.commit().await?;
    } else {
        tx.rollback().await?;
    }
    Ok(())
}

async fn count_everything(db: &Database) -> Result<(bool, u64, u64), Box<dyn std::error::Error>> {
    let tx = db.begin(TransactionMode::ForReading).await?;
    let exists = |name: &str| tx.has_btree(name);
    if !exists("models.models") && !exists("kb/sys_config") && !exists("kb_text/globals") {
        return Ok((false, 0, 0));
    }
    let models = ModelRegistry::open(&tx, "models").await?;
    let model: Option<Classifier> = models.get("classifiers", "topic", "1.0.0").await.ok();
    let vectors = VectorStore::open(&tx, "kb", VectorConfig::new(8))
        .await?
        .count()
        .await?;
    let docs = SearchIndex::open(&tx, "kb_text", SearchConfig::default())
        .await?
        .stats()
        .await?
        .docs;
    tx.commit().await?;
    Ok((model.is_some(), vectors, docs))
}

#[tokio::test]
async fn model_vectors_and_documents_commit_or_roll_back_together(
) -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let db = Database::open(DatabaseOptions::new(dir.path())).await?;

    write_everything(&db, false).await?;
    assert_eq!(
        count_everything(&db).await?,
        (false, 0, 0),
        "rolled back: nothing exists"
    );
    assert!(
        db.store_names().is_empty(),
        "no store survives the rollback: {:?}",
        db.store_names()
    );

    write_everything(&db, true).await?;
    assert_eq!(
        count_everything(&db).await?,
        (true, 40, 40),
        "committed: everything exists"
    );
    db.close().await?;

    let db = Database::open(DatabaseOptions::new(dir.path())).await?;
    assert_eq!(
        count_everything(&db).await?,
        (true, 40, 40),
        "and survives a re-open"
    );
    let tx = db.begin(TransactionMode::NoCheck).await?;
    let hits = SearchIndex::open(&tx, "kb_text", SearchConfig::default())
        .await?
        .search("bm25 ranking", 3)
        .await?;
    assert_eq!(hits.len(), 3);
    let vectors = VectorStore::open(&tx, "kb", VectorConfig::new(8)).await?;
    let mut q = vec![0.0f32; 8];
    q[2] = 1.0;
    q[5] = 0.5;
    let found = vectors.query(&q, 1, None, 4).await?;
    // Documents 2, 10, 18, 26 and 34 share this exact vector.
    let i: usize = found[0].id.trim_start_matches("doc-").parse()?;
    assert_eq!(i % 8, 2, "top hit {} is not an exact match", found[0].id);
    assert!(
        found[0].score > 0.99,
        "exact match scores {}",
        found[0].score
    );
    Ok(())
}
