//! Erasure coding (4 data + 2 parity shard folders) over real temporary
//! folders: reads survive one and two lost drives, three lost drives make
//! reads report the lost shards and writes roll back leaving nothing, and
//! corrupt shards are caught by their CRC and repaired only when repair is on.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sop_core::storage::blob_store::{BlobBackend, BlobStore};
use sop_core::storage::erasure::shard;
use sop_core::storage::erasure::{ErasureBlobBackend, ErasureConfig, ShardFaultKind};
use sop_core::storage::frame::FrameKind;
use sop_core::{SopError, Uuid};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn folders(root: &Path, n: usize) -> Vec<PathBuf> {
    (0..n).map(|i| root.join(format!("drive{i}"))).collect()
}

fn backend(root: &Path, repair: bool) -> Result<ErasureBlobBackend, SopError> {
    ErasureBlobBackend::new(ErasureConfig::new(4, 2, folders(root, 6)).with_repair(repair))
}

/// Blobs of awkward sizes: empty, odd, one byte past a shard boundary, large.
fn sample_blobs() -> Vec<(Uuid, Vec<u8>)> {
    let sizes = [0usize, 1, 7, 8, 9, 16, 17, 100, 4095, 4096, 65_537, 300_001];
    sizes
        .iter()
        .enumerate()
        .map(|(k, &n)| {
            let bytes = (0..n).map(|i| ((i * 31 + k * 7) % 251) as u8).collect();
            (Uuid::new_v4(), bytes)
        })
        .collect()
}

fn write_all(b: &ErasureBlobBackend, blobs: &[(Uuid, Vec<u8>)]) -> TestResult {
    for (id, bytes) in blobs {
        b.write(*id, bytes)?;
    }
    let ids: Vec<Uuid> = blobs.iter().map(|(id, _)| *id).collect();
    b.sync(&ids)?;
    Ok(())
}

fn assert_all_read(b: &ErasureBlobBackend, blobs: &[(Uuid, Vec<u8>)]) -> TestResult {
    for (id, bytes) in blobs {
        let got = b.read(*id)?;
        assert!(
            got == *bytes,
            "blob {id} ({} bytes) read back different",
            bytes.len()
        );
    }
    Ok(())
}

fn shard_files_of(root: &Path, id: Uuid) -> Vec<PathBuf> {
    let hex = id.simple().to_string();
    folders(root, 6)
        .iter()
        .flat_map(|f| {
            let dir = f.join("blobs").join(&hex[..2]);
            let hex = hex.clone();
            (0..6).map(move |i| dir.join(format!("{hex}.s{i}")))
        })
        .filter(|p| p.exists())
        .collect()
}

#[test]
fn config_is_validated_and_serializable() -> TestResult {
    let dir = tempfile::tempdir()?;
    let ok = ErasureConfig::new(4, 2, folders(dir.path(), 6)).with_repair(true);
    ok.validate()?;
    let json = serde_json::to_string(&ok)?;
    assert_eq!(serde_json::from_str::<ErasureConfig>(&json)?, ok);
    let bad = [
        ErasureConfig::new(4, 2, folders(dir.path(), 5)),
        ErasureConfig::new(0, 2, folders(dir.path(), 2)),
        ErasureConfig::new(
            2,
            1,
            vec![
                dir.path().join("a"),
                dir.path().join("a"),
                dir.path().join("b"),
            ],
        ),
        ErasureConfig::new(200, 100, folders(dir.path(), 300)),
    ];
    for cfg in bad {
        let err = cfg.validate().err().ok_or("invalid config accepted")?;
        assert!(matches!(err, SopError::InvalidArgument { .. }), "{err}");
        assert!(ErasureBlobBackend::new(cfg).is_err());
    }
    // Parity 0 is plain striping: valid.
    ErasureConfig::new(3, 0, folders(dir.path(), 3)).validate()?;
    Ok(())
}

#[test]
fn reads_survive_one_then_two_lost_folders() -> TestResult {
    let dir = tempfile::tempdir()?;
    let b = backend(dir.path(), false)?;
    let blobs = sample_blobs();
    write_all(&b, &blobs)?;
    assert_all_read(&b, &blobs)?;
    assert_eq!(b.stats().degraded_reads, 0);

    // One data drive gone.
    std::fs::remove_dir_all(dir.path().join("drive1"))?;
    assert_all_read(&b, &blobs)?;
    // A second data drive gone: two data shards are rebuilt from parity.
    std::fs::remove_dir_all(dir.path().join("drive3"))?;
    assert_all_read(&b, &blobs)?;
    assert_eq!(b.stats().degraded_reads, 2 * blobs.len() as u64);

    // Writes still succeed with two drives gone, and read back.
    let more: Vec<(Uuid, Vec<u8>)> = sample_blobs();
    write_all(&b, &more)?;
    assert_all_read(&b, &more)?;
    assert_eq!(b.stats().degraded_writes, more.len() as u64);
    // The vanished drives were not recreated by the writes.
    assert!(!dir.path().join("drive1").exists() && !dir.path().join("drive3").exists());
    Ok(())
}

#[test]
fn every_pair_of_lost_shards_is_recovered() -> TestResult {
    let dir = tempfile::tempdir()?;
    let b = backend(dir.path(), false)?;
    let id = Uuid::new_v4();
    let bytes: Vec<u8> = (0..10_001u32).map(|i| (i % 253) as u8).collect();
    b.write(id, &bytes)?;
    for x in 0..6 {
        for y in x + 1..6 {
            let saved: Vec<(PathBuf, Vec<u8>)> = [x, y]
                .iter()
                .map(|&i| {
                    let p = b.shard_path(id, i);
                    std::fs::read(&p).map(|c| (p, c))
                })
                .collect::<Result<_, _>>()?;
            for (p, _) in &saved {
                std::fs::remove_file(p)?;
            }
            assert!(b.read(id)? == bytes, "lost shards {x} and {y}");
            for (p, c) in saved {
                std::fs::write(p, c)?;
            }
        }
    }
    Ok(())
}

#[test]
fn three_lost_folders_fail_reads_and_roll_back_writes() -> TestResult {
    let dir = tempfile::tempdir()?;
    let b = backend(dir.path(), true)?;
    let blobs = sample_blobs();
    write_all(&b, &blobs)?;
    for d in ["drive0", "drive2", "drive5"] {
        std::fs::remove_dir_all(dir.path().join(d))?;
    }

    let (id, _) = &blobs[3];
    match b.read(*id) {
        Err(SopError::ShardsLost {
            blob,
            needed,
            available,
            lost,
        }) => {
            assert_eq!((blob, needed, available), (*id, 4, 3));
            let idx: Vec<usize> = lost.iter().map(|f| f.index).collect();
            assert_eq!(idx, vec![0, 2, 5]);
            assert!(lost.iter().all(|f| f.kind == ShardFaultKind::Missing));
        }
        other => return Err(format!("expected ShardsLost, got {other:?}").into()),
    }
    let msg = b.read(*id).err().ok_or("read succeeded")?.to_string();
    assert!(msg.contains(&id.to_string()), "{msg}");
    for d in ["drive0", "drive2", "drive5"] {
        assert!(
            msg.contains(&dir.path().join(d).display().to_string()),
            "{msg}"
        );
    }

    // A write now fails, clearly, and leaves no shard file anywhere.
    let fresh = Uuid::new_v4();
    let err = b
        .write(fresh, &vec![7u8; 50_000])
        .err()
        .ok_or("write succeeded")?;
    match &err {
        SopError::ShardWriteFailed {
            blob,
            op,
            parity,
            failed,
            rolled_back,
        } => {
            assert_eq!(
                (*blob, *op, *parity, *rolled_back),
                (fresh, "write", 2, true)
            );
            assert_eq!(
                failed.iter().map(|f| f.index).collect::<Vec<_>>(),
                vec![0, 2, 5]
            );
        }
        other => return Err(format!("expected ShardWriteFailed, got {other:?}").into()),
    }
    let msg = err.to_string();
    assert!(
        msg.contains(&fresh.to_string()) && msg.contains("rolled back"),
        "{msg}"
    );
    assert!(
        shard_files_of(dir.path(), fresh).is_empty(),
        "half-written shards left behind"
    );
    assert!(b.read(fresh).is_err());
    // Nothing was "repaired" onto the vanished drives.
    assert!(!dir.path().join("drive0").exists());
    Ok(())
}

fn flip(path: &Path, at: usize) -> TestResult {
    let mut bytes = std::fs::read(path)?;
    bytes[at] ^= 0x5a;
    std::fs::write(path, bytes)?;
    Ok(())
}

#[test]
fn corrupt_shards_are_detected_and_repaired_when_repair_is_on() -> TestResult {
    let dir = tempfile::tempdir()?;
    let b = backend(dir.path(), true)?;
    let blobs = sample_blobs();
    write_all(&b, &blobs)?;
    let (id, bytes) = &blobs[10];
    // Payload damage in a data shard, header damage in a parity shard.
    let s1 = b.shard_path(*id, 1);
    let s4 = b.shard_path(*id, 4);
    let good1 = std::fs::read(&s1)?;
    let good4 = std::fs::read(&s4)?;
    flip(&s1, shard::SHARD_HEADER + 100)?;
    flip(&s4, 30)?;
    assert!(shard::parse(&s1, &std::fs::read(&s1)?).is_err());

    let health = b.inspect(*id);
    assert_eq!(health.intact, 4);
    assert!(health.readable);
    assert_eq!(
        health.faults.iter().map(|f| f.index).collect::<Vec<_>>(),
        vec![1, 4]
    );
    assert!(health
        .faults
        .iter()
        .all(|f| f.kind == ShardFaultKind::Corrupt));

    assert!(b.read(*id)? == *bytes);
    assert_eq!(b.stats().repaired_shards, 2);
    // Rewritten: the shard files check again and are byte-identical to the originals.
    for (p, good) in [(&s1, &good1), (&s4, &good4)] {
        let now = std::fs::read(p)?;
        assert!(
            shard::parse(p, &now).is_ok(),
            "{} still damaged",
            p.display()
        );
        assert!(now == *good);
    }
    assert!(b.inspect(*id).faults.is_empty());

    // A deleted shard file is recreated too.
    std::fs::remove_file(b.shard_path(*id, 0))?;
    assert!(b.read(*id)? == *bytes);
    assert!(b.shard_path(*id, 0).exists());
    assert_eq!(b.stats().repaired_shards, 3);
    assert_all_read(&b, &blobs)?;
    Ok(())
}

#[test]
fn corrupt_shards_are_left_alone_when_repair_is_off() -> TestResult {
    let dir = tempfile::tempdir()?;
    let b = backend(dir.path(), false)?;
    let blobs = sample_blobs();
    write_all(&b, &blobs)?;
    let (id, bytes) = &blobs[11];
    let s2 = b.shard_path(*id, 2);
    flip(&s2, shard::SHARD_HEADER + 7)?;
    let damaged = std::fs::read(&s2)?;
    assert!(b.read(*id)? == *bytes);
    assert!(
        std::fs::read(&s2)? == damaged,
        "shard rewritten with repair off"
    );
    assert_eq!(b.stats().repaired_shards, 0);
    assert_eq!(b.inspect(*id).faults.len(), 1);
    // An explicit repair fixes it regardless of the flag.
    let outcome = b.repair(*id)?;
    assert_eq!(outcome.rewritten, vec![2]);
    assert!(b.inspect(*id).faults.is_empty());
    Ok(())
}

#[test]
fn plain_striping_with_no_parity() -> TestResult {
    let dir = tempfile::tempdir()?;
    let b = ErasureBlobBackend::new(ErasureConfig::new(3, 0, folders(dir.path(), 3)))?;
    let blobs = sample_blobs();
    write_all(&b, &blobs)?;
    assert_all_read(&b, &blobs)?;
    std::fs::remove_dir_all(dir.path().join("drive1"))?;
    let err = b.read(blobs[5].0).err().ok_or("read succeeded")?;
    assert!(
        matches!(
            err,
            SopError::ShardsLost {
                needed: 3,
                available: 2,
                ..
            }
        ),
        "{err}"
    );
    let fresh = Uuid::new_v4();
    assert!(b.write(fresh, b"abc").is_err());
    assert!(shard_files_of(dir.path(), fresh).is_empty());
    Ok(())
}

#[test]
fn remove_deletes_every_shard_and_tolerates_lost_drives() -> TestResult {
    let dir = tempfile::tempdir()?;
    let b = backend(dir.path(), false)?;
    let blobs = sample_blobs();
    write_all(&b, &blobs)?;
    b.remove(blobs[0].0)?;
    assert!(shard_files_of(dir.path(), blobs[0].0).is_empty());
    std::fs::remove_dir_all(dir.path().join("drive4"))?;
    b.remove(blobs[1].0)?;
    assert!(shard_files_of(dir.path(), blobs[1].0).is_empty());
    b.remove(Uuid::new_v4())?;
    Ok(())
}

#[test]
fn blob_store_frames_over_erasure_coding() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = BlobStore::new(Arc::new(backend(dir.path(), false)?));
    let ids: Vec<Uuid> = (0..50).map(|_| Uuid::new_v4()).collect();
    for (k, id) in ids.iter().enumerate() {
        let payload = vec![k as u8; k * 977];
        store.put(*id, FrameKind::Value, &payload)?;
    }
    store.sync(&ids)?;
    std::fs::remove_dir_all(dir.path().join("drive0"))?;
    std::fs::remove_dir_all(dir.path().join("drive5"))?;
    for (k, id) in ids.iter().enumerate() {
        assert_eq!(store.get(*id, FrameKind::Value)?, vec![k as u8; k * 977]);
    }
    let described = store.backend().describe(ids[0]).display().to_string();
    assert!(
        described.contains(&ids[0].simple().to_string()),
        "{described}"
    );
    Ok(())
}
