//! Artifacts on real files: a multi-chunk artifact round-trips through the
//! `AsyncRead`, the chunk stream and `copy_artifact`; replacing, removing and
//! overwriting behave; and a byte flipped in one chunk's blob file on disk is
//! reported as a CRC error naming the model and the chunk.

use std::path::{Path, PathBuf};

use futures::StreamExt;
use sop_core::{Database, DatabaseOptions, TransactionMode};
use sop_models::{ArtifactReader, ModelError, ModelRegistry, SaveOptions};
use tokio::io::AsyncReadExt;

type R = Result<(), Box<dyn std::error::Error>>;

const CHUNK: usize = 64 * 1024;

fn artifact_bytes(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 7) as u8)
        .collect()
}

async fn setup(dir: &Path, len: usize) -> Result<Database, Box<dyn std::error::Error>> {
    let db = Database::open(DatabaseOptions::new(dir)).await?;
    let tx = db.begin(TransactionMode::ForWriting).await?;
    let reg = ModelRegistry::open(&tx, "models")
        .await?
        .with_chunk_size(CHUNK);
    reg.save("vision", "resnet", "1.0.0", &"resnet body")
        .await?;
    let data = artifact_bytes(len);
    let info = reg
        .put_artifact("vision", "resnet", "1.0.0", &data[..])
        .await?;
    assert_eq!(
        (info.size, info.chunks),
        (len as u64, len.div_ceil(CHUNK) as u64)
    );
    tx.commit().await?;
    Ok(db)
}

#[tokio::test]
async fn artifact_round_trips_through_reader_stream_and_writer() -> R {
    let dir = tempfile::tempdir()?;
    let len = 5 * CHUNK + 100;
    let db = setup(dir.path(), len).await?;
    let want = artifact_bytes(len);

    let tx = db.begin(TransactionMode::ForReading).await?;
    let reg = ModelRegistry::open(&tx, "models").await?;
    let info = reg.artifact_info("vision", "resnet", "1.0.0").await?;
    assert_eq!((info.chunks, info.chunk_size), (6, CHUNK as u64));
    let listed = reg.list_infos("vision").await?;
    assert_eq!(
        listed[0].summary.artifact,
        Some(info),
        "listings show the artifact"
    );

    let mut got = Vec::new();
    reg.open_artifact("vision", "resnet", "1.0.0")
        .await?
        .read_to_end(&mut got)
        .await?;
    assert!(got == want, "AsyncRead returns the bytes written");

    let mut stream = std::pin::pin!(reg.artifact_chunks("vision", "resnet", "1.0.0").await?);
    let mut sizes = Vec::new();
    let mut joined = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        sizes.push(chunk.len());
        joined.extend_from_slice(&chunk);
    }
    assert_eq!(sizes, vec![CHUNK, CHUNK, CHUNK, CHUNK, CHUNK, 100]);
    assert!(joined == want);

    let mut sink = Vec::new();
    assert_eq!(
        reg.copy_artifact("vision", "resnet", "1.0.0", &mut sink)
            .await?,
        len as u64
    );
    assert!(sink == want);
    tx.commit().await?;

    // Replace with an empty artifact, then remove; overwrite drops it.
    let tx = db.begin(TransactionMode::ForWriting).await?;
    let reg = ModelRegistry::open(&tx, "models").await?;
    let empty = reg
        .put_artifact("vision", "resnet", "1.0.0", &b""[..])
        .await?;
    assert_eq!((empty.size, empty.chunks), (0, 0));
    let mut got = Vec::new();
    reg.open_artifact("vision", "resnet", "1.0.0")
        .await?
        .read_to_end(&mut got)
        .await?;
    assert!(got.is_empty());
    assert!(reg.remove_artifact("vision", "resnet", "1.0.0").await?);
    let err = reg
        .open_artifact("vision", "resnet", "1.0.0")
        .await
        .err()
        .expect("no artifact");
    assert!(matches!(err, ModelError::NoArtifact { .. }), "{err}");
    reg.put_artifact("vision", "resnet", "1.0.0", &b"abc"[..])
        .await?;
    reg.save_with(
        "vision",
        "resnet",
        "1.0.0",
        &"v2",
        SaveOptions::new().overwrite(true),
    )
    .await?;
    assert!(reg
        .artifact_info("vision", "resnet", "1.0.0")
        .await
        .is_err());
    let err = reg
        .put_artifact("vision", "ghost", "1.0.0", &b"x"[..])
        .await
        .expect_err("no such model");
    assert!(matches!(err, ModelError::NotFound { .. }), "{err}");
    tx.commit().await?;
    Ok(())
}

fn blob_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            blob_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "blob") {
            out.push(path);
        }
    }
    Ok(())
}

#[tokio::test]
async fn a_flipped_byte_in_a_chunk_is_a_crc_error_naming_the_model() -> R {
    let dir = tempfile::tempdir()?;
    let len = 4 * CHUNK;
    let db = setup(dir.path(), len).await?;

    // Full chunks are the only blobs larger than the chunk size.
    let mut files = Vec::new();
    blob_files(&dir.path().join("blobs"), &mut files)?;
    let chunks: Vec<PathBuf> = files
        .into_iter()
        .filter(|p| {
            std::fs::metadata(p)
                .map(|m| m.len() > CHUNK as u64)
                .unwrap_or(false)
        })
        .collect();
    assert_eq!(chunks.len(), 4, "one blob file per chunk");
    let victim = &chunks[chunks.len() / 2];
    let mut bytes = std::fs::read(victim)?;
    let at = bytes.len() / 2;
    bytes[at] ^= 0x01;
    std::fs::write(victim, &bytes)?;

    // Through the chunk stream: the typed error.
    let tx = db.begin(TransactionMode::ForReading).await?;
    let reg = ModelRegistry::open(&tx, "models").await?;
    let mut stream = std::pin::pin!(reg.artifact_chunks("vision", "resnet", "1.0.0").await?);
    let mut err = None;
    while let Some(chunk) = stream.next().await {
        if let Err(e) = chunk {
            err = Some(e);
            break;
        }
    }
    let err = err.expect("the damaged chunk is reported");
    assert!(
        matches!(err, ModelError::CorruptArtifact { chunk, .. } if chunk < 4),
        "{err}"
    );
    assert!(err.is_corruption());
    let msg = err.to_string();
    assert!(
        msg.contains("vision/resnet@1.0.0") && msg.contains("CRC"),
        "{msg}"
    );
    assert!(
        msg.contains(&victim.display().to_string()),
        "names the file: {msg}"
    );
    assert!(!tx.is_active(), "sop-core rolled the transaction back");

    // Through the AsyncRead: an io::Error carrying the same ModelError.
    let tx = db.begin(TransactionMode::ForReading).await?;
    let reg = ModelRegistry::open(&tx, "models").await?;
    let mut reader = reg.open_artifact("vision", "resnet", "1.0.0").await?;
    let io_err = reader
        .read_to_end(&mut Vec::new())
        .await
        .expect_err("damaged");
    let inner = ArtifactReader::model_error(&io_err).expect("a ModelError inside");
    assert!(
        matches!(inner, ModelError::CorruptArtifact { .. }),
        "{inner}"
    );
    assert!(
        io_err.to_string().contains("vision/resnet@1.0.0"),
        "{io_err}"
    );
    // The model body itself is still readable in a fresh transaction.
    let tx = db.begin(TransactionMode::ForReading).await?;
    let reg = ModelRegistry::open(&tx, "models").await?;
    assert_eq!(
        reg.get::<String>("vision", "resnet", "1.0.0").await?,
        "resnet body"
    );
    tx.commit().await?;
    Ok(())
}
