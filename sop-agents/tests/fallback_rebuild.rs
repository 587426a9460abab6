//! The fallback-config rebuild ("factory reset kit") on real database folders: a missing
//! folder, a corrupted blob and changed `data[]` each trigger exactly one rebuild; a second
//! start rebuilds nothing; BM25 statistics after rebuilds equal a fresh index's.
//! Assertions use the `StartReport` (counts and reasons), never timings.

mod common;

use std::path::{Path, PathBuf};

use common::{small_doctor, start, TestResult};
use sop_agents::doctor::case::cases_of;
use sop_agents::RebuildReason;
use sop_core::{Database, DatabaseOptions, TransactionMode};
use sop_search::{SearchConfig, SearchIndex};

const CASES: usize = 150;
const DIMS: usize = 256;

/// Node packs and value blob files under `dir`, recursively.
fn blob_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            blob_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "blob" || e == "pack") {
            out.push(path);
        }
    }
    Ok(())
}

#[tokio::test]
async fn missing_folder_is_rebuilt_and_a_second_start_rebuilds_nothing() -> TestResult {
    let (doctor, nurse) = small_doctor(CASES, DIMS)?;
    let dir = tempfile::tempdir()?;
    let folder = dir.path().join("doctor");

    let first = start(&doctor, &nurse, &folder).await?;
    let r = first.start_report().clone();
    assert!(r.rebuilt);
    assert_eq!(
        (r.reason, r.cases, r.embedded),
        (RebuildReason::Missing, CASES, CASES)
    );
    first.close().await?;

    let second = start(&doctor, &nurse, &folder).await?;
    let r2 = second.start_report().clone();
    assert!(!r2.rebuilt, "{r2:?}");
    assert_eq!(
        (r2.reason, r2.cases, r2.embedded),
        (RebuildReason::UpToDate, CASES, 0)
    );
    assert_eq!(r2.fingerprint, r.fingerprint);
    let d = second
        .diagnose("itchy skin with a rash and odd patches")
        .await?;
    assert_eq!(
        d.condition_names().first().copied(),
        Some("Fungal infection")
    );
    second.close().await?;

    std::fs::remove_dir_all(&folder)?;
    let third = start(&doctor, &nurse, &folder).await?;
    assert!(third.start_report().rebuilt);
    assert_eq!(third.start_report().reason, RebuildReason::Missing);
    third.close().await?;
    Ok(())
}

#[tokio::test]
async fn corrupted_blob_is_detected_and_rebuilt() -> TestResult {
    let (doctor, nurse) = small_doctor(CASES, DIMS)?;
    let dir = tempfile::tempdir()?;
    let folder = dir.path().join("doctor");
    start(&doctor, &nurse, &folder).await?.close().await?;

    let mut blobs = Vec::new();
    blob_files(&folder.join("blobs"), &mut blobs)?;
    let largest = blobs
        .iter()
        .max_by_key(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
        .ok_or("no blob files after a build")?;
    let mut bytes = std::fs::read(largest)?;
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x5a;
    std::fs::write(largest, bytes)?;

    let repaired = start(&doctor, &nurse, &folder).await?;
    let r = repaired.start_report().clone();
    assert!(r.rebuilt, "{r:?}");
    assert!(matches!(r.reason, RebuildReason::Corrupt(_)), "{r:?}");
    assert_eq!(r.cases, CASES);
    let d = repaired
        .diagnose("itchy skin with a rash and odd patches")
        .await?;
    assert_eq!(
        d.condition_names().first().copied(),
        Some("Fungal infection")
    );
    repaired.close().await?;

    let again = start(&doctor, &nurse, &folder).await?;
    assert!(!again.start_report().rebuilt);
    again.close().await?;
    Ok(())
}

/// BM25 statistics and scores of a fresh index over `cases` in its own database.
async fn fresh_bm25(
    doctor: &sop_agents::AgentConfig,
    query: &str,
) -> Result<(u64, u64, Vec<(String, f64)>), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let db = Database::open(DatabaseOptions::new(dir.path())).await?;
    let tx = db.begin(TransactionMode::ForWriting).await?;
    let index = SearchIndex::open(&tx, "fresh", SearchConfig::default()).await?;
    let cases = cases_of(&doctor.data);
    let docs: Vec<(&str, &str)> = cases
        .iter()
        .map(|c| (c.id.as_str(), c.search_text()))
        .collect();
    index.add_batch(&docs).await?;
    let stats = index.stats().await?;
    let hits = index.search(query, 20).await?;
    tx.commit().await?;
    db.close().await?;
    let scores = hits.into_iter().map(|h| (h.doc_id, h.score)).collect();
    Ok((stats.docs, stats.total_tokens, scores))
}

#[tokio::test]
async fn changed_data_rebuilds_once_with_exact_bm25_statistics() -> TestResult {
    let (mut doctor, nurse) = small_doctor(CASES, DIMS)?;
    let dir = tempfile::tempdir()?;
    let folder = dir.path().join("doctor");
    start(&doctor, &nurse, &folder).await?.close().await?;

    // Change data[]: drop ten cases, edit one, add one.
    doctor.data.truncate(CASES - 10);
    doctor.data[0].description =
        "Symptoms: itching, skin rash, dischromic patches, sweating".into();
    let mut extra = doctor.data[1].clone();
    extra.id = "extra_case".into();
    doctor.data.push(extra);
    let n = doctor.data.len();

    let changed = start(&doctor, &nurse, &folder).await?;
    let r = changed.start_report().clone();
    assert!(r.rebuilt);
    assert!(
        matches!(r.reason, RebuildReason::FingerprintChanged { .. }),
        "{r:?}"
    );
    assert_eq!(r.cases, n);

    let query = "itching, skin rash, sweating";
    let (docs, tokens, scores) = fresh_bm25(&doctor, query).await?;
    let stats = changed.knowledge_base().bm25_stats().await?;
    assert_eq!((stats.docs, stats.total_tokens), (docs, tokens));
    assert_eq!(docs, n as u64);
    let ours = changed.knowledge_base().bm25_scores(query, 20).await?;
    assert_eq!(ours.len(), scores.len());
    for ((id_a, s_a), (id_b, s_b)) in ours.iter().zip(&scores) {
        assert_eq!(id_a, id_b);
        assert!((s_a - s_b).abs() < 1e-9, "{id_a}: {s_a} vs {s_b}");
    }
    changed.close().await?;

    let unchanged = start(&doctor, &nurse, &folder).await?;
    assert!(!unchanged.start_report().rebuilt, "rebuilt only once");
    assert_eq!(unchanged.start_report().reason, RebuildReason::UpToDate);
    unchanged.close().await?;
    Ok(())
}

#[tokio::test]
async fn a_folder_that_is_not_a_database_is_never_wiped() -> TestResult {
    let (doctor, nurse) = small_doctor(20, 64)?;
    let dir = tempfile::tempdir()?;
    let precious = dir.path().join("notes.txt");
    std::fs::write(&precious, "keep me")?;
    let err = match start(&doctor, &nurse, dir.path()).await {
        Err(e) => e,
        Ok(_) => return Err("a foreign folder was used as the database".into()),
    };
    assert!(err.to_string().contains("storage.path"), "{err}");
    assert_eq!(std::fs::read_dir(dir.path())?.count(), 1, "nothing added");
    assert_eq!(std::fs::read_to_string(&precious)?, "keep me");
    Ok(())
}
