//! Engine-free IVF preview on generated data: trains k = √n centroids on a ≤ 50,000 sample,
//! buckets every vector in packed slabs, and reports recall@10 / single-thread QPS per nprobe
//! against exact ground truth. A yardstick for the B-tree-backed store.
//!
//! `cargo run --release -p sop-vector --example ivf_preview -- [N] [DIM] [ITERS]`

use std::time::Instant;

use sop_vector::ground_truth::{exact_top_k, recall_at_k};
use sop_vector::kmeans::{train, KMeansConfig};
use sop_vector::packed::{self, PackedSlab, BLOCK};
use sop_vector::synthetic::{generate, ClusteredSpec};
use sop_vector::{Metric, TopK};

fn arg(i: usize, default: usize) -> usize {
    std::env::args()
        .nth(i)
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (n, dim, iters) = (arg(1, 200_000), arg(2, 128), arg(3, 10));
    let k = ((n as f64).sqrt() as usize).max(1);
    let t = Instant::now();
    let data = generate(&ClusteredSpec::new(n, dim))?;
    let gen_s = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let truth = exact_top_k(&data.base, &data.queries, 10, Metric::Cosine, 2)?;
    let gt_s = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let step = (n / 50_000).max(1);
    let sample: Vec<usize> = (0..n).step_by(step).collect();
    let sample = data.base.gather(&sample);
    let cfg = KMeansConfig::new(k).max_iterations(iters).seed(7);
    let model = train(sample.as_slice(), dim, &cfg)?;
    let train_s = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let asg = model.centroids.assign(data.base.as_slice(), 2);
    let mut members: Vec<Vec<u32>> = vec![Vec::new(); k];
    for (i, &l) in asg.labels.iter().enumerate() {
        members[l as usize].push(i as u32);
    }
    let mut buckets = Vec::with_capacity(k);
    for m in &members {
        let idx: Vec<usize> = m.iter().map(|&i| i as usize).collect();
        buckets.push(PackedSlab::from_rows(
            dim,
            data.base.gather(&idx).as_slice(),
        )?);
    }
    let build_s = t.elapsed().as_secs_f64();

    for nprobe in [4usize, 8, 16, 32, 64] {
        let t = Instant::now();
        let mut found = Vec::with_capacity(data.queries.len());
        for q in data.queries.rows() {
            let mut top = TopK::new(10);
            for probe in model.centroids.nearest_n(q, nprobe) {
                let (slab, ids) = (&buckets[probe.id as usize], &members[probe.id as usize]);
                for b in 0..slab.blocks() {
                    let s = packed::dot_block(q, slab.block(b));
                    for (j, &v) in s.iter().enumerate() {
                        if let Some(&id) = ids.get(b * BLOCK + j) {
                            top.push(v, id);
                        }
                    }
                }
            }
            found.push(top.into_sorted_vec().into_iter().map(|e| e.id).collect());
        }
        let qps = data.queries.len() as f64 / t.elapsed().as_secs_f64();
        let recall = recall_at_k(&truth, &found, 10)?;
        println!(
            "{{\"n\":{n},\"dim\":{dim},\"k\":{k},\"nprobe\":{nprobe},\"qps\":{qps:.0},\"recall@10\":{recall:.4},\"generate_s\":{gen_s:.2},\"ground_truth_s\":{gt_s:.2},\"train_s\":{train_s:.2},\"assign_pack_s\":{build_s:.2},\"iterations\":{}}}",
            model.iterations
        );
    }
    Ok(())
}
