//! Throughput of erasure-coded blobs (4 data + 2 parity folders) against the
//! plain one-file-per-blob backend: writes (including one fsync of every blob
//! at the end, reported with and without it), reads, and reads with two shard folders gone (reconstruction).
//!
//! Prints one JSON line with MB/s per workload and the EC / plain ratios.
//! Run: `cargo run --release -p sop-core --example bench_erasure [-- --quick]`.

use std::path::Path;
use std::time::Instant;

use rand::{Rng, SeedableRng};
use serde_json::json;
use sop_core::storage::blob_store::{BlobBackend, FileBlobBackend};
use sop_core::storage::erasure::{ErasureBlobBackend, ErasureConfig};
use sop_core::Uuid;

type AnyResult<T> = Result<T, Box<dyn std::error::Error>>;

fn mbps(bytes: usize, secs: f64) -> f64 {
    (bytes as f64 / 1e6 / secs.max(1e-9) * 10.0).round() / 10.0
}

/// Writes every blob then fsyncs them all; returns MB/s of the writes alone
/// and of writes + fsync.
fn write_all(b: &dyn BlobBackend, blobs: &[(Uuid, Vec<u8>)]) -> AnyResult<(f64, f64)> {
    let total = blobs.iter().map(|(_, v)| v.len()).sum();
    let t = Instant::now();
    for (id, bytes) in blobs {
        b.write(*id, bytes)?;
    }
    let written = t.elapsed().as_secs_f64();
    let ids: Vec<Uuid> = blobs.iter().map(|(id, _)| *id).collect();
    b.sync(&ids)?;
    Ok((mbps(total, written), mbps(total, t.elapsed().as_secs_f64())))
}

/// Reads every blob back (checking it); returns MB/s.
fn read_all(b: &dyn BlobBackend, blobs: &[(Uuid, Vec<u8>)]) -> AnyResult<f64> {
    let t = Instant::now();
    for (id, bytes) in blobs {
        let got = b.read(*id)?;
        if got != *bytes {
            return Err(format!("blob {id} read back different").into());
        }
    }
    Ok(mbps(
        blobs.iter().map(|(_, v)| v.len()).sum(),
        t.elapsed().as_secs_f64(),
    ))
}

fn workload(root: &Path, count: usize, size: usize) -> AnyResult<serde_json::Value> {
    let mut rng = rand::rngs::SmallRng::seed_from_u64(size as u64);
    let blobs: Vec<(Uuid, Vec<u8>)> = (0..count)
        .map(|_| {
            let mut v = vec![0u8; size];
            rng.fill(&mut v[..]);
            (Uuid::new_v4(), v)
        })
        .collect();

    let plain_dir = root.join(format!("plain-{size}"));
    let plain = FileBlobBackend::new(&plain_dir);
    let plain_write = write_all(&plain, &blobs)?;
    let plain_read = read_all(&plain, &blobs)?;

    let folders: Vec<_> = (0..6)
        .map(|i| root.join(format!("ec-{size}-drive{i}")))
        .collect();
    let ec = ErasureBlobBackend::new(ErasureConfig::new(4, 2, folders.clone()))?;
    let ec_write = write_all(&ec, &blobs)?;
    let ec_read = read_all(&ec, &blobs)?;
    std::fs::remove_dir_all(&folders[0])?;
    std::fs::remove_dir_all(&folders[2])?;
    let ec_degraded_read = read_all(&ec, &blobs)?;

    let ratio = |a: f64, b: f64| (a / b.max(1e-9) * 100.0).round() / 100.0;
    Ok(json!({
        "blobs": count,
        "blob_bytes": size,
        "plain_write_mbps": plain_write.0,
        "ec_write_mbps": ec_write.0,
        "write_ratio_ec_over_plain": ratio(ec_write.0, plain_write.0),
        "plain_write_fsync_mbps": plain_write.1,
        "ec_write_fsync_mbps": ec_write.1,
        "write_fsync_ratio_ec_over_plain": ratio(ec_write.1, plain_write.1),
        "plain_read_mbps": plain_read,
        "ec_read_mbps": ec_read,
        "read_ratio_ec_over_plain": ratio(ec_read, plain_read),
        "ec_read_two_drives_lost_mbps": ec_degraded_read,
        "degraded_read_ratio_ec_over_plain": ratio(ec_degraded_read, plain_read),
    }))
}

fn main() -> AnyResult<()> {
    let quick = std::env::args().any(|a| a == "--quick");
    let scale = if quick { 10 } else { 1 };
    let dir = tempfile::tempdir()?;
    let results = vec![
        workload(dir.path(), 2_000 / scale, 64 << 10)?,
        workload(dir.path(), 200 / scale, 1 << 20)?,
    ];
    println!(
        "{}",
        json!({ "bench": "erasure_4_plus_2_vs_plain", "workloads": results })
    );
    Ok(())
}
