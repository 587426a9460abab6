//! Times k-means training on generated clustered data.
//!
//! `cargo run --release -p sop-vector --example kmeans_timing -- [N] [DIM] [K] [ITERS] [THREADS]`
//! (defaults: 50000 128 1000 20 2). Prints one JSON line.

use std::time::Instant;

use sop_vector::kmeans::{train, KMeansConfig};
use sop_vector::synthetic::{generate, ClusteredSpec};
use sop_vector::Metric;

fn arg(i: usize, default: usize) -> usize {
    std::env::args()
        .nth(i)
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (n, dim, k, iters, threads) = (
        arg(1, 50_000),
        arg(2, 128),
        arg(3, 1000),
        arg(4, 20),
        arg(5, 2),
    );
    let mut spec = ClusteredSpec::new(n, dim);
    spec.clusters = 100;
    spec.queries = 0;
    let t = Instant::now();
    let data = generate(&spec)?;
    let gen_s = t.elapsed().as_secs_f64();
    let config = KMeansConfig::new(k)
        .metric(Metric::Cosine)
        .max_iterations(iters)
        .threads(threads)
        .seed(1);
    let t = Instant::now();
    let model = train(data.base.as_slice(), dim, &config)?;
    let train_s = t.elapsed().as_secs_f64();
    let max = model.sizes.iter().max().copied().unwrap_or(0);
    let empty = model.sizes.iter().filter(|&&s| s == 0).count();
    println!(
        "{{\"n\":{n},\"dim\":{dim},\"k\":{k},\"threads\":{threads},\"generate_s\":{gen_s:.3},\"train_s\":{train_s:.3},\"iterations\":{},\"converged\":{},\"objective\":{:.3},\"max_bucket\":{max},\"empty\":{empty}}}",
        model.iterations, model.converged, model.objective
    );
    Ok(())
}
