//! SOP's model-store behaviours on real files: 5 categories × 20 models are
//! listed in order and load back equal (also after a re-open), an unknown
//! category lists empty, and `get` after `delete` in the same transaction
//! fails while a rollback of the delete keeps the model.

use serde::{Deserialize, Serialize};
use sop_core::{Database, DatabaseOptions, TransactionMode};
use sop_models::{ModelError, ModelRegistry};

type R = Result<(), Box<dyn std::error::Error>>;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Model {
    category: String,
    name: String,
    layers: u32,
    weights: Vec<f64>,
}

fn model(c: usize, m: usize) -> Model {
    Model {
        category: format!("cat{c}"),
        name: format!("model{m:02}"),
        layers: (c * 20 + m) as u32,
        weights: (0..8)
            .map(|i| (c * 1000 + m * 10 + i) as f64 / 7.0)
            .collect(),
    }
}

async fn check_all(db: &Database) -> R {
    let tx = db.begin(TransactionMode::ForReading).await?;
    let reg = ModelRegistry::open(&tx, "models").await?;
    for c in 0..5 {
        let names = reg.list(&format!("cat{c}")).await?;
        let expected: Vec<String> = (0..20).map(|m| format!("model{m:02}")).collect();
        assert_eq!(names, expected, "category cat{c} lists 20 names in order");
        for m in 0..20 {
            let want = model(c, m);
            let got: Model = reg.get(&want.category, &want.name, "1.0.0").await?;
            assert_eq!(got, want);
        }
    }
    assert!(reg.list("no-such-category").await?.is_empty());
    assert!(
        reg.list("cat").await?.is_empty(),
        "a prefix is not a category"
    );
    tx.commit().await?;
    Ok(())
}

#[tokio::test]
async fn five_categories_of_twenty_models_list_in_order_and_load_back() -> R {
    let dir = tempfile::tempdir()?;
    let db = Database::open(DatabaseOptions::new(dir.path())).await?;
    let tx = db.begin(TransactionMode::ForWriting).await?;
    let reg = ModelRegistry::open(&tx, "models").await?;
    // Scrambled insertion order across categories and names.
    for i in 0..100usize {
        let j = (i * 37) % 100;
        let m = model(j / 20, j % 20);
        let info = reg.save(&m.category, &m.name, "1.0.0", &m).await?;
        assert_eq!(
            info.id.to_string(),
            format!("{}/{}@1.0.0", m.category, m.name)
        );
        assert!(info.summary.body_bytes > 0);
    }
    // Listing inside the writing transaction sees its own saves.
    assert_eq!(reg.list("cat3").await?.len(), 20);
    tx.commit().await?;

    check_all(&db).await?;
    db.close().await?;
    let db = Database::open(DatabaseOptions::new(dir.path())).await?;
    check_all(&db).await?;
    Ok(())
}

#[tokio::test]
async fn get_after_delete_in_the_same_transaction_fails() -> R {
    let dir = tempfile::tempdir()?;
    let db = Database::open(DatabaseOptions::new(dir.path())).await?;
    let tx = db.begin(TransactionMode::ForWriting).await?;
    let reg = ModelRegistry::open(&tx, "models").await?;
    reg.save("nlp", "bert", "1.0.0", &model(0, 1)).await?;
    reg.save("nlp", "bert", "1.1.0", &model(0, 2)).await?;
    tx.commit().await?;

    // Delete then roll back: the model survives.
    let tx = db.begin(TransactionMode::ForWriting).await?;
    let reg = ModelRegistry::open(&tx, "models").await?;
    assert!(reg.delete("nlp", "bert", "1.0.0").await?);
    let err = reg
        .get::<Model>("nlp", "bert", "1.0.0")
        .await
        .expect_err("deleted in this transaction");
    assert!(matches!(err, ModelError::NotFound { .. }), "{err}");
    assert!(err.to_string().contains("nlp/bert@1.0.0"), "{err}");
    assert!(reg.info("nlp", "bert", "1.0.0").await?.is_none());
    assert_eq!(reg.versions("nlp", "bert").await?, vec!["1.1.0"]);
    assert!(
        !reg.delete("nlp", "bert", "1.0.0").await?,
        "second delete is a no-op"
    );
    // Not-found errors leave the transaction usable.
    assert!(tx.is_active());
    tx.rollback().await?;

    let tx = db.begin(TransactionMode::ForWriting).await?;
    let reg = ModelRegistry::open(&tx, "models").await?;
    assert_eq!(reg.get::<Model>("nlp", "bert", "1.0.0").await?, model(0, 1));
    assert!(reg.delete("nlp", "bert", "1.0.0").await?);
    tx.commit().await?;

    let tx = db.begin(TransactionMode::ForReading).await?;
    let reg = ModelRegistry::open(&tx, "models").await?;
    assert!(reg.get::<Model>("nlp", "bert", "1.0.0").await.is_err());
    assert_eq!(reg.versions("nlp", "bert").await?, vec!["1.1.0"]);
    assert_eq!(reg.list("nlp").await?, vec!["bert"]);
    tx.commit().await?;
    Ok(())
}
