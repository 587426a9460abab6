//! The bodies of the fuzz targets, shared by the cargo-fuzz binaries
//! (`fuzz_targets/*.rs`) and the bounded `fuzz_smoke` test of the workspace
//! (`examples/tests/fuzz_smoke.rs` includes this file), plus valid seed
//! inputs for each target.
//!
//! Every body must not panic on any input, and checks a property whenever the
//! input is accepted: decoders re-encode what they accepted to an image that
//! decodes to the same thing (canonical round trip), parsers name what they
//! reject, and the BM25 top-k with MaxScore pruning returns exactly the
//! exhaustive top-k. A violated property panics, which both libFuzzer and the
//! smoke test report.

use std::path::Path;

use sop_core::btree::item::{decode_node, encode_node, Node};
use sop_core::btree::leaf::{CellRef, LeafBuilder};
use sop_core::storage::erasure::shard::{self, ShardHeader, SHARD_HEADER};
use sop_core::storage::frame::{self, FrameKind};
use sop_core::storage::registry::{decode_block, encode_block, Handle, HANDLES_PER_BLOCK};
use sop_core::Uuid;

/// A target: its name, its body and its valid seed inputs.
pub struct Target {
    /// The cargo-fuzz target name.
    pub name: &'static str,
    /// Runs one input.
    pub run: fn(&[u8]),
    /// Valid inputs to start from.
    pub seeds: fn() -> Vec<Vec<u8>>,
}

/// Every target.
pub const TARGETS: [Target; 5] = [
    Target {
        name: "node_decode",
        run: node_decode,
        seeds: node_seeds,
    },
    Target {
        name: "registry_block",
        run: registry_block,
        seeds: registry_seeds,
    },
    Target {
        name: "shard_header",
        run: shard_header,
        seeds: shard_seeds,
    },
    Target {
        name: "agent_config",
        run: agent_config,
        seeds: agent_config_seeds,
    },
    Target {
        name: "bm25_query",
        run: bm25_query,
        seeds: bm25_seeds,
    },
];

fn uuid_from(data: &[u8], at: usize) -> Uuid {
    let mut b = [0u8; 16];
    for (i, x) in b.iter_mut().enumerate() {
        *x = data.get(at + i).copied().unwrap_or(i as u8);
    }
    Uuid::from_bytes(b)
}

/// Node payloads (B-tree leaves and internal nodes) and whole node frames.
pub fn node_decode(data: &[u8]) {
    let path = Path::new("fuzz-node");
    if let Ok(payload) = frame::open(path, FrameKind::Node, data) {
        assert_eq!(
            frame::seal(FrameKind::Node, payload),
            data[..frame::FRAME_HEADER + payload.len()]
        );
    }
    round_trip_node::<String, Vec<u8>>(data);
    round_trip_node::<u64, String>(data);
    round_trip_node::<serde_json::Value, serde_json::Value>(data);
}

fn round_trip_node<K, V>(data: &[u8])
where
    K: serde::Serialize + serde::de::DeserializeOwned + Clone + 'static,
    V: serde::Serialize + serde::de::DeserializeOwned,
{
    let path = Path::new("fuzz-node");
    let Ok(node) = decode_node::<K, V>("fuzz", path, data) else {
        return;
    };
    let again = encode_node("fuzz", &node).expect("an accepted node re-encodes");
    let back = decode_node::<K, V>("fuzz", path, &again).expect("a re-encoded node decodes");
    let third = encode_node("fuzz", &back).expect("re-encodes again");
    assert_eq!(
        again, third,
        "node encoding is not canonical after one round trip"
    );
    assert_eq!(
        node.len(),
        back.len(),
        "entry count changed in a round trip"
    );
}

/// Leaves and internal nodes as the engine writes them.
pub fn node_seeds() -> Vec<Vec<u8>> {
    // Inline values are MessagePack: `Vec<u8>` of small numbers is a
    // fixarray of positive fixints, a short `String` a fixstr.
    let mut leaf = LeafBuilder::with_capacity(5);
    for i in 0..5u8 {
        let msgpack: Vec<u8> = std::iter::once(0x90 | (i + 1))
            .chain(std::iter::repeat_n(i, usize::from(i) + 1))
            .collect();
        let value = if i % 2 == 0 {
            CellRef::Inline(&msgpack)
        } else {
            CellRef::Blob(uuid_from(&[i ^ 0x5A; 16], 0))
        };
        leaf.push(
            format!("key-{i}"),
            uuid_from(&[i; 16], 0),
            u64::from(i) * 3,
            value,
        );
    }
    let leaf: Node<String, Vec<u8>> = Node::leaf(leaf.finish());
    let internal: Node<String, Vec<u8>> = Node::Internal {
        seps: vec![("m".into(), uuid_from(b"separator-uuid-1", 0))],
        children: vec![7, 9],
    };
    let mut one = LeafBuilder::with_capacity(1);
    one.push(
        42u64,
        uuid_from(b"another-item-id!", 0),
        1,
        CellRef::Inline(b"\xa9forty-two"),
    );
    let numbers: Node<u64, String> = Node::leaf(one.finish());
    let mut out = Vec::new();
    for bytes in [
        encode_node("seed", &leaf),
        encode_node("seed", &internal),
        encode_node("seed", &numbers),
    ] {
        let bytes = bytes.expect("seed node encodes");
        out.push(frame::seal(FrameKind::Node, &bytes));
        out.push(bytes);
    }
    out
}

/// Registry block images: as read (CRC-checked), and with the CRC and block
/// number patched in so the fuzzer reaches the handle slots.
pub fn registry_block(data: &[u8]) {
    let block_no = u64::from(data.first().copied().unwrap_or(0) % 8);
    check_block_image(data, block_no);
    if data.len() >= sop_core::storage::registry::BLOCK_SIZE {
        let mut img = data[..sop_core::storage::registry::BLOCK_SIZE].to_vec();
        img[0..4].copy_from_slice(b"SOPR");
        img[8..12].copy_from_slice(&(block_no as u32).to_le_bytes());
        let mut h = crc32fast::Hasher::new();
        h.update(&img[0..12]);
        h.update(&img[16..]);
        let crc = h.finalize();
        img[12..16].copy_from_slice(&crc.to_le_bytes());
        let handles = decode_block(&img, block_no).expect("a block with a valid CRC decodes");
        assert!(handles.len() as u64 <= HANDLES_PER_BLOCK);
        check_block_image(&img, block_no);
    }
}

fn check_block_image(img: &[u8], block_no: u64) {
    let Ok(handles) = decode_block(img, block_no) else {
        return;
    };
    assert!(
        handles.len() as u64 <= HANDLES_PER_BLOCK,
        "more handles than slots"
    );
    for h in &handles {
        assert_ne!(h.node_id, 0, "an empty slot decoded as a handle");
        assert!(h.active <= 1, "active side out of range");
    }
    // Handles that sit in their own slot survive a re-encode unchanged.
    let placed: Vec<Handle> = handles
        .iter()
        .filter(|h| h.node_id / HANDLES_PER_BLOCK == block_no)
        .copied()
        .collect();
    let mut unique = placed.clone();
    unique.sort_by_key(|h| h.node_id % HANDLES_PER_BLOCK);
    unique.dedup_by_key(|h| h.node_id % HANDLES_PER_BLOCK);
    if unique.len() == placed.len() && !placed.is_empty() {
        let again = decode_block(&encode_block(block_no, &placed), block_no)
            .expect("a re-encoded block decodes");
        let mut want = placed;
        want.sort_by_key(|h| h.node_id);
        let mut got = again;
        got.sort_by_key(|h| h.node_id);
        assert_eq!(got, want, "handles changed in a round trip");
    }
}

/// Blocks as a checkpoint writes them.
pub fn registry_seeds() -> Vec<Vec<u8>> {
    let handles = |block: u64, n: u64| -> Vec<Handle> {
        (0..n)
            .map(|i| {
                let id = block * HANDLES_PER_BLOCK + i * 5 + 1;
                let mut h = Handle::new(id, 3, uuid_from(&id.to_le_bytes(), 0));
                if i % 2 == 1 {
                    h.flip_to(uuid_from(b"flipped-physical", 0));
                }
                h
            })
            .collect()
    };
    vec![
        encode_block(0, &handles(0, 4)),
        encode_block(1, &handles(1, 12)),
        encode_block(2, &[]),
    ]
}

/// Erasure shard files: as read (both CRCs checked), and with both CRCs
/// patched in so the fuzzer reaches the geometry checks.
pub fn shard_header(data: &[u8]) {
    check_shard(data);
    if data.len() >= SHARD_HEADER {
        let mut img = data.to_vec();
        img[0..4].copy_from_slice(b"SOPS");
        img[4..6].copy_from_slice(&(sop_core::FORMAT_VERSION as u16).to_le_bytes());
        let payload_crc = crc32fast::hash(&img[SHARD_HEADER..]);
        img[40..44].copy_from_slice(&payload_crc.to_le_bytes());
        let header_crc = crc32fast::hash(&img[..44]);
        img[44..48].copy_from_slice(&header_crc.to_le_bytes());
        check_shard(&img);
    }
}

fn check_shard(img: &[u8]) {
    let path = Path::new("fuzz-shard");
    match shard::parse(path, img) {
        Ok((h, payload)) => {
            assert_eq!(payload.len(), h.shard_len as usize, "payload length");
            assert!(h.data_shards > 0, "zero data shards accepted");
            let capacity = u64::from(h.data_shards) * u64::from(h.shard_len);
            assert_eq!(h.padding(), capacity - h.original_len);
            let mut canonical = img.to_vec();
            canonical[9..12].fill(0);
            let header_crc = crc32fast::hash(&canonical[..44]);
            canonical[44..48].copy_from_slice(&header_crc.to_le_bytes());
            assert_eq!(
                h.to_file_bytes(payload),
                canonical,
                "shard image round trip"
            );
        }
        Err(e) => assert!(
            e.to_string().contains("fuzz-shard"),
            "a rejected shard is named: {e}"
        ),
    }
}

/// Shards as the erasure backend writes them.
pub fn shard_seeds() -> Vec<Vec<u8>> {
    [
        (b"shard payload!".to_vec(), 0u8, 4u8, 2u8, 50u64),
        (vec![7u8; 64], 5, 3, 3, 190),
    ]
    .into_iter()
    .map(
        |(payload, index, data_shards, parity_shards, original_len)| {
            ShardHeader {
                index,
                data_shards,
                parity_shards,
                blob: uuid_from(b"blob-uuid-for-fz", 0),
                original_len,
                shard_len: payload.len() as u32,
                payload_crc: crc32fast::hash(&payload),
            }
            .to_file_bytes(&payload)
        },
    )
    .collect()
}

/// Agent JSON configs: accepted ones validate and survive a JSON round trip;
/// rejected ones name the source or the field.
pub fn agent_config(data: &[u8]) {
    use sop_agents::config::AgentConfig;
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match AgentConfig::from_json_str(text, "fuzz.json") {
        Ok(config) => {
            config.validate().expect("an accepted config validates");
            let json = serde_json::to_string(&config).expect("a config serializes");
            let back = AgentConfig::from_json_str(&json, "round trip").expect("re-parses");
            assert_eq!(back, config, "config changed in a JSON round trip");
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(!msg.is_empty(), "an empty error message");
        }
    }
}

/// A minimal and a full config.
pub fn agent_config_seeds() -> Vec<Vec<u8>> {
    vec![
        br#"{"id":"nurse","name":"Nurse"}"#.to_vec(),
        br#"{"id":"doctor","name":"Doctor","description":"d","system_prompt":"be kind",
"synonyms":{"tummy":"abdomen"},"embedder":{"kind":"simple","dims":64},
"generator":{"kind":"none"},"storage":{"path":"data/doctor"},
"policies":{"top_k":5,"nprobe":4,"max_results":3,"max_cases_per_condition":2},
"pipeline":[{"agent":"nurse"}],
"data":[{"id":"flu","text":"Influenza","description":"Symptoms: fever, cough"}]}"#
            .to_vec(),
    ]
}

/// BM25 queries (any bytes, read as lossy UTF-8): the analyzer's and
/// `query_terms`' invariants, and MaxScore top-k equal to the exhaustive one.
pub fn bm25_query(data: &[u8]) {
    use sop_search::{query_terms, Analyzer, QueryTermWeighting};
    let text = String::from_utf8_lossy(data);
    let analyzer = Analyzer::english();
    let tokens = analyzer.analyze(&text);
    assert!(tokens.iter().all(|t| !t.is_empty()), "an empty token");
    let unique = query_terms(&analyzer, &text, QueryTermWeighting::Unique);
    let counted = query_terms(&analyzer, &text, QueryTermWeighting::Count);
    assert_eq!(unique.len(), counted.len());
    let mut names: Vec<&String> = unique.iter().map(|(t, _)| t).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), unique.len(), "duplicate query terms");
    assert!(unique.iter().all(|(_, b)| *b == 1.0));
    let total: f64 = counted.iter().map(|(_, b)| *b).sum();
    assert_eq!(
        total as usize,
        tokens.len(),
        "Count boosts sum to the token count"
    );
    let index = corpus();
    for k in [0usize, 1, 3, 50] {
        let fast = index.search(&text, k);
        let slow = index.search_exhaustive(&text, k);
        assert!(fast.len() <= k);
        assert_eq!(
            fast, slow,
            "MaxScore top-{k} differs from exhaustive for {text:?}"
        );
        assert!(fast.iter().all(|h| h.score.is_finite() && h.score > 0.0));
    }
}

fn corpus() -> &'static sop_search::MemoryIndex {
    static INDEX: std::sync::OnceLock<sop_search::MemoryIndex> = std::sync::OnceLock::new();
    INDEX.get_or_init(|| {
        let mut index = sop_search::MemoryIndex::english();
        let docs = [
            "The quick brown fox jumps over the lazy dog",
            "A fox den under the old oak tree",
            "Cats and dogs living together in the house",
            "Boundary layer flow over a flat plate at high speed",
            "Heat transfer in laminar boundary layers",
            "Supersonic flow past a cone; shock waves and pressure",
            "Naïve café résumé: Unicode words in the index",
            "dog dog dog dog dog",
        ];
        for (i, d) in docs.iter().enumerate() {
            index.add(&format!("doc{i}"), d).expect("corpus document");
        }
        index
    })
}

/// A few queries.
pub fn bm25_seeds() -> Vec<Vec<u8>> {
    [
        "quick fox",
        "boundary layer flow",
        "dogs and cats",
        "café naïve",
        "the of and",
    ]
    .iter()
    .map(|q| q.as_bytes().to_vec())
    .collect()
}
