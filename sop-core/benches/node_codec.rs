//! Criterion benches of the node encode/decode hot path and of a leaf's
//! copy-on-write (the first change of a leaf in a write transaction).
#![allow(missing_docs)] // criterion_group! generates undocumented items

use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion};
use sop_core::btree::item::{decode_node, encode_node, CellRef, LeafBuilder, Node};
use sop_core::Uuid;

fn leaf(n: usize) -> Node<[u8; 16], Vec<u8>> {
    let value = rmp_serde::to_vec(&serde_bytes::ByteBuf::from(vec![7u8; 100])).expect("encode");
    let mut b = LeafBuilder::with_capacity(n);
    for i in 0..n {
        b.push(
            [i as u8; 16],
            Uuid::now_v7(),
            i as u64,
            CellRef::Inline(&value),
        );
    }
    Node::leaf(b.finish())
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
    let value = [0x91u8, 1];
    c.bench_function("cow_leaf_128_insert_one", |b| {
        b.iter(|| {
            let Node::Leaf(mut copy, _) = node.clone() else {
                unreachable!()
            };
            copy.insert(64, [9u8; 16], Uuid::nil(), 1, CellRef::Inline(&value));
            copy
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
