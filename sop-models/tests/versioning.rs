//! Versioning: `latest` and `versions` follow semver (1.10.0 > 1.9.0,
//! pre-releases below their release, non-semver below semver), aliases move
//! atomically with the transaction, saving an existing version without
//! `overwrite` is a clear error, and metadata round-trips.

use serde_json::json;
use sop_core::{Database, DatabaseOptions, TransactionMode};
use sop_models::{ModelError, ModelMetadata, ModelRegistry, SaveOptions};

type R = Result<(), Box<dyn std::error::Error>>;

async fn fresh() -> Result<(tempfile::TempDir, Database), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let db = Database::open(DatabaseOptions::new(dir.path())).await?;
    Ok((dir, db))
}

#[tokio::test]
async fn latest_and_versions_follow_semver() -> R {
    let (_dir, db) = fresh().await?;
    let tx = db.begin(TransactionMode::ForWriting).await?;
    let reg = ModelRegistry::open(&tx, "models").await?;
    for v in [
        "1.9.0",
        "1.10.0-rc.1",
        "draft",
        "1.2.0",
        "1.10.0",
        "0.9.1",
        "baseline",
    ] {
        reg.save("vision", "resnet", v, &format!("weights of {v}"))
            .await?;
    }
    // Lexical order would put 1.9.0 last; semver puts 1.10.0 last.
    assert_eq!(
        reg.versions("vision", "resnet").await?,
        vec![
            "baseline",
            "draft",
            "0.9.1",
            "1.2.0",
            "1.9.0",
            "1.10.0-rc.1",
            "1.10.0"
        ]
    );
    let latest = reg
        .latest("vision", "resnet")
        .await?
        .expect("versions exist");
    assert_eq!(latest.id.version, "1.10.0");
    let (info, body): (_, String) = reg.get_latest("vision", "resnet").await?;
    assert_eq!(
        (info.id.version.as_str(), body.as_str()),
        ("1.10.0", "weights of 1.10.0")
    );

    // A model whose versions are not semver orders them lexically.
    for v in ["2024-03-01", "2024-11-15", "2024-02-28"] {
        reg.save("vision", "dated", v, &v).await?;
    }
    let latest = reg
        .latest("vision", "dated")
        .await?
        .expect("versions exist");
    assert_eq!(latest.id.version, "2024-11-15");
    // A model name that is a prefix of another does not see its versions.
    reg.save("vision", "res", "5.0.0", &"other").await?;
    assert_eq!(reg.versions("vision", "resnet").await?.len(), 7);
    assert!(reg.latest("vision", "nothing").await?.is_none());
    let err = reg
        .get_latest::<String>("vision", "nothing")
        .await
        .expect_err("no versions");
    assert!(matches!(err, ModelError::NoVersions { .. }), "{err}");
    tx.commit().await?;
    Ok(())
}

#[tokio::test]
async fn saving_an_existing_version_needs_overwrite() -> R {
    let (_dir, db) = fresh().await?;
    let tx = db.begin(TransactionMode::ForWriting).await?;
    let reg = ModelRegistry::open(&tx, "models").await?;
    let first = reg.save("nlp", "bert", "1.0.0", &vec![1u8, 2, 3]).await?;
    reg.set_alias("nlp", "bert", "production", "1.0.0").await?;
    tx.commit().await?;

    let tx = db.begin(TransactionMode::ForWriting).await?;
    let reg = ModelRegistry::open(&tx, "models").await?;
    let err = reg
        .save("nlp", "bert", "1.0.0", &vec![9u8])
        .await
        .expect_err("the version exists");
    assert!(matches!(err, ModelError::AlreadyExists { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("nlp/bert@1.0.0") && msg.contains("overwrite"),
        "{msg}"
    );
    // The registry's own errors leave the transaction usable; the body is intact.
    assert!(tx.is_active());
    assert_eq!(
        reg.get::<Vec<u8>>("nlp", "bert", "1.0.0").await?,
        vec![1, 2, 3]
    );

    let again = reg
        .save_with(
            "nlp",
            "bert",
            "1.0.0",
            &vec![9u8],
            SaveOptions::new().overwrite(true),
        )
        .await?;
    assert_eq!(again.summary.created_ms, first.summary.created_ms);
    assert_eq!(again.summary.aliases, vec!["production"]);
    tx.commit().await?;

    let tx = db.begin(TransactionMode::ForReading).await?;
    let reg = ModelRegistry::open(&tx, "models").await?;
    assert_eq!(
        reg.get_by_alias::<Vec<u8>>("nlp", "bert", "production")
            .await?,
        vec![9]
    );
    tx.commit().await?;

    // Invalid identifiers are refused with the field named.
    let tx = db.begin(TransactionMode::ForWriting).await?;
    let reg = ModelRegistry::open(&tx, "models").await?;
    let err = reg
        .save("nlp", "", "1.0.0", &1u8)
        .await
        .expect_err("empty name");
    assert!(
        matches!(err, ModelError::InvalidArgument { field: "name", .. }),
        "{err}"
    );
    tx.rollback().await?;
    Ok(())
}

#[tokio::test]
async fn aliases_move_atomically() -> R {
    let (_dir, db) = fresh().await?;
    let tx = db.begin(TransactionMode::ForWriting).await?;
    let reg = ModelRegistry::open(&tx, "models").await?;
    reg.save("fraud", "xgb", "1.0.0", &"v1").await?;
    reg.save("fraud", "xgb", "2.0.0", &"v2").await?;
    assert_eq!(
        reg.set_alias("fraud", "xgb", "production", "1.0.0").await?,
        None
    );
    reg.set_alias("fraud", "xgb", "staging", "2.0.0").await?;
    let err = reg
        .set_alias("fraud", "xgb", "canary", "3.0.0")
        .await
        .expect_err("the target version must exist");
    assert!(matches!(err, ModelError::NotFound { .. }), "{err}");
    tx.commit().await?;

    // Move production to 2.0.0, observe it inside the transaction, roll back.
    let tx = db.begin(TransactionMode::ForWriting).await?;
    let reg = ModelRegistry::open(&tx, "models").await?;
    let prev = reg.set_alias("fraud", "xgb", "production", "2.0.0").await?;
    assert_eq!(prev.as_deref(), Some("1.0.0"));
    assert_eq!(
        reg.get_by_alias::<String>("fraud", "xgb", "production")
            .await?,
        "v2"
    );
    assert!(aliases_of(&reg, "1.0.0").await?.is_empty());
    assert_eq!(
        aliases_of(&reg, "2.0.0").await?,
        vec!["production", "staging"]
    );
    tx.rollback().await?;

    let tx = db.begin(TransactionMode::ForWriting).await?;
    let reg = ModelRegistry::open(&tx, "models").await?;
    assert_eq!(
        reg.get_by_alias::<String>("fraud", "xgb", "production")
            .await?,
        "v1"
    );
    assert_eq!(aliases_of(&reg, "1.0.0").await?, vec!["production"]);
    assert_eq!(aliases_of(&reg, "2.0.0").await?, vec!["staging"]);
    // Now move it for real.
    reg.set_alias("fraud", "xgb", "production", "2.0.0").await?;
    tx.commit().await?;

    let tx = db.begin(TransactionMode::ForWriting).await?;
    let reg = ModelRegistry::open(&tx, "models").await?;
    assert_eq!(
        reg.get_by_alias::<String>("fraud", "xgb", "production")
            .await?,
        "v2"
    );
    assert_eq!(
        reg.aliases("fraud", "xgb").await?,
        vec![
            ("production".to_string(), "2.0.0".to_string()),
            ("staging".to_string(), "2.0.0".to_string())
        ]
    );
    // Deleting a version removes the aliases pointing at it.
    assert!(reg.delete("fraud", "xgb", "2.0.0").await?);
    let err = reg
        .get_by_alias::<String>("fraud", "xgb", "production")
        .await
        .expect_err("alias went with its version");
    assert!(matches!(err, ModelError::AliasNotFound { .. }), "{err}");
    assert!(reg.aliases("fraud", "xgb").await?.is_empty());
    assert!(!reg.remove_alias("fraud", "xgb", "staging").await?);
    tx.commit().await?;
    Ok(())
}

async fn aliases_of(reg: &ModelRegistry, version: &str) -> Result<Vec<String>, ModelError> {
    Ok(reg
        .info("fraud", "xgb", version)
        .await?
        .map(|i| i.summary.aliases)
        .unwrap_or_default())
}

#[tokio::test]
async fn metadata_round_trips_and_can_be_replaced() -> R {
    let (_dir, db) = fresh().await?;
    let tx = db.begin(TransactionMode::ForWriting).await?;
    let reg = ModelRegistry::open(&tx, "models").await?;
    let meta = ModelMetadata::new()
        .description("baseline classifier")
        .param("learning_rate", json!(0.1 + 0.2))
        .param("optimizer", json!({"name": "adam", "betas": [0.9, 0.999]}))
        .metric("accuracy", 0.9137)
        .tag("baseline")
        .tag("cpu");
    let saved = reg
        .save_with(
            "tabular",
            "gbm",
            "0.1.0",
            &[1.5f32, -2.25],
            SaveOptions::new().metadata(meta.clone()),
        )
        .await?;
    assert!(saved.summary.created_ms > 0);
    tx.commit().await?;

    let tx = db.begin(TransactionMode::ForWriting).await?;
    let reg = ModelRegistry::open(&tx, "models").await?;
    assert_eq!(reg.metadata("tabular", "gbm", "0.1.0").await?, meta);
    let updated = meta.clone().metric("f1", 0.88);
    reg.set_metadata("tabular", "gbm", "0.1.0", updated.clone())
        .await?;
    assert_eq!(reg.metadata("tabular", "gbm", "0.1.0").await?, updated);
    assert_eq!(
        reg.get::<Vec<f32>>("tabular", "gbm", "0.1.0").await?,
        vec![1.5, -2.25]
    );
    let info = reg.info("tabular", "gbm", "0.1.0").await?.expect("exists");
    assert_eq!(info.summary.created_ms, saved.summary.created_ms);
    assert!(info.summary.updated_ms >= saved.summary.updated_ms);
    // Decoding into an incompatible type is a codec error naming the model.
    let err = reg
        .get::<String>("tabular", "gbm", "0.1.0")
        .await
        .expect_err("wrong type");
    assert!(
        matches!(err, ModelError::Codec { .. }) && err.to_string().contains("tabular/gbm@0.1.0"),
        "{err}"
    );
    tx.commit().await?;
    Ok(())
}
