//! Criterion benches for the distance kernels (128 and 768 dimensions) and the packed
//! one-against-many kernels (per block of 16 rows).

#![allow(missing_docs)]

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use sop_vector::distance;
use sop_vector::packed::{self, PackedSlab, BLOCK};

fn data(n: usize, salt: usize) -> Vec<f32> {
    (0..n)
        .map(|i| (((i * 7919 + salt * 104_729) % 2000) as f32) * 1e-3 - 1.0)
        .collect()
}

fn kernels(c: &mut Criterion) {
    for dim in [128usize, 768] {
        let a = data(dim, 1);
        let b = data(dim, 2);
        let mut g = c.benchmark_group(format!("pair/{dim}"));
        g.throughput(Throughput::Elements(dim as u64));
        g.bench_function("dot", |bch| {
            bch.iter(|| distance::dot(black_box(&a), black_box(&b)))
        });
        g.bench_function("l2_squared", |bch| {
            bch.iter(|| distance::l2_squared(black_box(&a), black_box(&b)))
        });
        g.bench_function("norm", |bch| bch.iter(|| distance::norm(black_box(&a))));
        g.bench_function("cosine", |bch| {
            bch.iter(|| distance::cosine(black_box(&a), black_box(&b)))
        });
        g.finish();

        let rows = data(dim * BLOCK, 3);
        let Ok(p) = PackedSlab::from_rows(dim, &rows) else {
            continue;
        };
        let blk = p.block(0);
        let mut g = c.benchmark_group(format!("packed16/{dim}"));
        g.throughput(Throughput::Elements((dim * BLOCK) as u64));
        g.bench_function("dot_block", |bch| {
            bch.iter(|| packed::dot_block(black_box(&a), black_box(blk)))
        });
        g.bench_function("dot_block2", |bch| {
            bch.iter(|| packed::dot_block2(black_box(&a), black_box(&b), black_box(blk)))
        });
        g.bench_function("l2_block", |bch| {
            bch.iter(|| packed::l2_block(black_box(&a), black_box(blk)))
        });
        g.finish();
    }
}

criterion_group!(benches, kernels);
criterion_main!(benches);
