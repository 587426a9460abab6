//! Criterion benches of the node encode/decode hot path.
#![allow(missing_docs)] // criterion_group! generates undocumented items

use std::path::Path;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use sop_core::btree::item::{decode_node, encode_node, Item, Leaf, Node, ValueCell};
use sop_core::Uuid;

fn leaf(n: usize) -> Node<[u8; 16], Vec<u8>> {
    Node::Leaf(Leaf::from_items(
        (0..n)
            .map(|i| {
                Arc::new(Item {
                    key: [i as u8; 16],
                    id: Uuid::now_v7(),
                    version: i as u64,
                    value: ValueCell::Inline(vec![7u8; 100]),
                })
            })
            .collect(),
    ))
}

fn bench(c: &mut Criterion) {
    let node = leaf(128);
    c.bench_function("encode_leaf_128x(16B key,100B value)", |b| {
        b.iter(|| encode_node("bench", &node))
    });
    let bytes = encode_node("bench", &node).expect("encode");
    c.bench_function("decode_leaf_128x(16B key,100B value)", |b| {
        b.iter(|| decode_node::<[u8; 16], Vec<u8>>("bench", Path::new("b"), &bytes))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
