//! Bad input to sop-search (BM25 parameters, unknown indexes, BEIR files with
//! invalid UTF-8 or JSON) and sop-models (empty and oversized names, unknown
//! versions and aliases, duplicates, wrong body types, unknown registries);
//! and the valid edge cases `k = 0`, empty and stop-word-only queries, empty
//! and huge documents, an empty document id.

use sop_core::{Database, DatabaseOptions, TransactionMode};
use sop_models::ModelRegistry;
use sop_search::{beir, Bm25Params, SearchConfig, SearchIndex};

use super::Tried;

type Error = Box<dyn std::error::Error>;

async fn search_cases(t: &Tried, db: &Database) -> Result<(), Error> {
    let tx = db.begin(TransactionMode::ForWriting).await?;
    for (k1, b, name) in [
        (-1.0, 0.75, "k1"),
        (f64::NAN, 0.75, "k1"),
        (1.2, 2.0, "b"),
        (1.2, f64::INFINITY, "b"),
    ] {
        let config = SearchConfig::with_params(Bm25Params { k1, b });
        t.refused(
            "bad BM25 parameters",
            SearchIndex::open(&tx, "docs", config).await.map(|_| ()),
            &[name],
        );
    }
    let index = SearchIndex::open(&tx, "docs", SearchConfig::default()).await?;
    index.add("fox", "The quick brown fox").await?;
    t.refused(
        "bad query-time parameters",
        SearchIndex::open(&tx, "docs", SearchConfig::default())
            .await?
            .with_params(Bm25Params { k1: 1.2, b: -0.5 })
            .map(|_| ()),
        &["b"],
    );
    assert!(t.accepted("k = 0", index.search("fox", 0).await).is_empty());
    assert!(t
        .accepted("empty query", index.search("", 10).await)
        .is_empty());
    assert!(t
        .accepted("stop words only", index.search("the and of", 10).await)
        .is_empty());
    t.accepted("empty document", index.add("empty", "").await);
    t.accepted("empty document id", index.add("", "a den of foxes").await);
    let huge = "lorem ipsum dolor sit amet ".repeat(80_000);
    t.accepted("2 MiB document", index.add("huge", &huge).await);
    assert!(!t.accepted(
        "delete of an unknown document",
        index.delete("never-there").await
    ));
    tx.commit().await?;
    let tx = db.begin(TransactionMode::ForReading).await?;
    t.refused(
        "unknown index in a read transaction",
        SearchIndex::open(&tx, "no-such-index", SearchConfig::default())
            .await
            .map(|_| ()),
        &["no-such-index"],
    );
    let _ = tx.rollback().await;
    // Invalid UTF-8 and JSON in BEIR files.
    let dir = tempfile::tempdir()?;
    let cases: [(&str, &[u8], &str); 4] = [
        (
            "invalid UTF-8",
            b"{\"_id\":\"1\",\"text\":\"ok\"}\n{\"_id\":\"2\",\"text\":\"\xff\xfe\"}\n",
            ":2",
        ),
        (
            "broken JSON",
            b"{\"_id\":\"1\",\"text\":\"ok\"}\n{\"_id\": \n",
            ":2",
        ),
        ("missing id", b"{\"text\":\"no id\"}\n", "_id"),
        (
            "duplicate id",
            b"{\"_id\":\"1\",\"text\":\"a\"}\n{\"_id\":\"1\",\"text\":\"b\"}\n",
            "duplicate",
        ),
    ];
    for (i, (what, bytes, names)) in cases.iter().enumerate() {
        let path = dir.path().join(format!("corpus{i}.jsonl"));
        std::fs::write(&path, bytes)?;
        t.refused(
            what,
            beir::load_corpus(&path),
            &[&format!("corpus{i}.jsonl"), names],
        );
    }
    t.refused(
        "missing corpus file",
        beir::load_corpus(&dir.path().join("absent.jsonl")),
        &["absent.jsonl"],
    );
    Ok(())
}

async fn model_cases(t: &Tried, db: &Database) -> Result<(), Error> {
    let tx = db.begin(TransactionMode::ForWriting).await?;
    let models = ModelRegistry::open(&tx, "registry").await?;
    models
        .save("vision", "resnet", "1.0.0", &vec![1.0f32, 2.0])
        .await?;
    let long = "n".repeat(300);
    for (c, n, v, field) in [
        ("", "resnet", "1.0.0", "category"),
        ("vision", "", "1.0.0", "name"),
        ("vision", "resnet", "", "version"),
        ("vision", long.as_str(), "1.0.0", "name"),
    ] {
        t.refused("bad model id", models.save(c, n, v, &1u8).await, &[field]);
    }
    t.refused(
        "duplicate version",
        models.save("vision", "resnet", "1.0.0", &0u8).await,
        &["vision/resnet@1.0.0"],
    );
    t.refused(
        "unknown version",
        models.get::<Vec<f32>>("vision", "resnet", "9.9.9").await,
        &["vision/resnet@9.9.9"],
    );
    t.refused(
        "wrong body type",
        models.get::<String>("vision", "resnet", "1.0.0").await,
        &["vision/resnet@1.0.0"],
    );
    t.refused(
        "no versions",
        models.get_latest::<u8>("vision", "vgg").await,
        &["vision/vgg"],
    );
    t.refused(
        "alias to an unknown version",
        models.set_alias("vision", "resnet", "prod", "2.0.0").await,
        &["vision/resnet@2.0.0"],
    );
    t.refused(
        "unknown alias",
        models
            .get_by_alias::<u8>("vision", "resnet", "staging")
            .await,
        &["staging"],
    );
    t.refused(
        "empty alias",
        models.set_alias("vision", "resnet", "", "1.0.0").await,
        &["alias"],
    );
    assert!(!t.accepted(
        "delete of an unknown version",
        models.delete("vision", "resnet", "7.0.0").await
    ));
    tx.commit().await?;
    let tx = db.begin(TransactionMode::ForReading).await?;
    t.refused(
        "unknown registry in a read transaction",
        ModelRegistry::open(&tx, "no-registry").await.map(|_| ()),
        &["no-registry"],
    );
    let _ = tx.rollback().await;
    Ok(())
}

/// Runs the sop-search and sop-models cases.
pub async fn run(t: &Tried) -> Result<(), Error> {
    let dir = tempfile::tempdir()?;
    let db = Database::open(DatabaseOptions::new(dir.path())).await?;
    search_cases(t, &db).await?;
    model_cases(t, &db).await?;
    db.close().await?;
    let db = Database::open(DatabaseOptions::new(dir.path())).await?;
    let tx = db.begin(TransactionMode::ForReading).await?;
    let index = SearchIndex::open(&tx, "docs", SearchConfig::default()).await?;
    assert_eq!(
        index.stats().await?.docs,
        4,
        "fox, empty, \"\" and huge only"
    );
    let hits: Vec<String> = index
        .search("fox", 10)
        .await?
        .into_iter()
        .map(|h| h.doc_id)
        .collect();
    assert_eq!(hits.len(), 2);
    assert!(hits.contains(&String::new()) && hits.contains(&"fox".to_string()));
    let models = ModelRegistry::open(&tx, "registry").await?;
    assert_eq!(models.list("vision").await?, vec!["resnet".to_string()]);
    assert_eq!(
        models.versions("vision", "resnet").await?,
        vec!["1.0.0".to_string()]
    );
    assert_eq!(
        models.get::<Vec<f32>>("vision", "resnet", "1.0.0").await?,
        vec![1.0, 2.0]
    );
    assert!(models.aliases("vision", "resnet").await?.is_empty());
    tx.commit().await?;
    let names = db.store_names();
    assert!(
        !names.iter().any(|n| n.starts_with("no-")),
        "no store of a refused index or registry: {names:?}"
    );
    Ok(())
}
