//! Helpers shared by the benchmark examples: argument lookup, BEIR or synthetic input,
//! throughput measurement and JSON number formatting.
#![allow(dead_code)] // each example uses a different part

use std::path::PathBuf;
use std::time::Instant;

use sop_search::beir::{load_corpus, load_qrels, load_queries, BeirDoc, BeirQuery};
use sop_search::Qrels;

pub type BoxError = Box<dyn std::error::Error>;

/// A benchmark's input: documents, queries and (for real collections) judgements.
pub struct Input {
    pub corpus: Vec<BeirDoc>,
    pub queries: Vec<BeirQuery>,
    pub qrels: Option<Qrels>,
}

/// The value after `flag` in the process arguments.
pub fn arg(flag: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1).cloned())
}

/// `--synthetic N` (N documents, 1,000 queries) or `--corpus DIR [--queries F --qrels F]`
/// (default: `datasets/cranfield`).
pub fn load_input() -> Result<Input, BoxError> {
    if let Some(n) = arg("--synthetic") {
        let n: usize = n
            .parse()
            .map_err(|_| format!("--synthetic: `{n}` is not a count"))?;
        let (corpus, queries) = synthetic(n, 1000);
        return Ok(Input {
            corpus,
            queries,
            qrels: None,
        });
    }
    let dir = arg("--corpus").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../datasets/cranfield"
        ))
    });
    let qf = arg("--queries").map_or_else(|| dir.join("queries.jsonl"), PathBuf::from);
    let rf = arg("--qrels").map_or_else(|| dir.join("qrels.tsv"), PathBuf::from);
    let qrels = if rf.exists() {
        Some(load_qrels(&rf)?)
    } else {
        None
    };
    Ok(Input {
        corpus: load_corpus(&dir.join("corpus.jsonl"))?,
        queries: load_queries(&qf)?,
        qrels,
    })
}

/// `x` rounded to an integer, or `null` when not finite.
pub fn json_int(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.0}")
    } else {
        "null".into()
    }
}

/// `x` with four decimals, or `null` when not finite.
pub fn json_num(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.4}")
    } else {
        "null".into()
    }
}

/// Work per second of wall-clock time and per second of process CPU time.
#[derive(Debug, Clone, Copy)]
pub struct Rate {
    /// Per wall-clock second.
    pub wall: f64,
    /// Per CPU second (NaN where CPU time is unavailable).
    pub cpu: f64,
}

/// Times `work` (which does `units` of work) by wall clock and by process CPU time.
pub fn rate<T>(units: usize, work: impl FnOnce() -> T) -> (T, Rate) {
    let cpu0 = process_cpu_s();
    let start = Instant::now();
    let out = work();
    let wall = start.elapsed().as_secs_f64();
    let cpu = match (cpu0, process_cpu_s()) {
        (Some(a), Some(b)) if b > a => units as f64 / (b - a),
        _ => f64::NAN,
    };
    (
        out,
        Rate {
            wall: units as f64 / wall,
            cpu,
        },
    )
}

/// Runs all queries repeatedly for at least two seconds; returns queries per second.
pub fn measure_qps(queries: &[&str], mut run: impl FnMut(&str) -> usize) -> Rate {
    if queries.is_empty() {
        return Rate {
            wall: 0.0,
            cpu: 0.0,
        };
    }
    let mut sink = 0usize;
    for q in queries.iter().take(50) {
        sink += run(q); // warm-up
    }
    let start = Instant::now();
    let mut done = 0usize;
    let (_, mut r) = rate(1, || {
        while start.elapsed().as_secs_f64() < 2.0 {
            for q in queries {
                sink += run(q);
            }
            done += queries.len();
        }
    });
    std::hint::black_box(sink);
    r.wall *= done as f64;
    r.cpu *= done as f64;
    r
}

/// `n_docs` documents of 20–200 words and `n_queries` queries of 2–6 words over a 50,000-word
/// vocabulary with Zipf(1.0) frequencies; fully determined by the counts.
pub fn synthetic(n_docs: usize, n_queries: usize) -> (Vec<BeirDoc>, Vec<BeirQuery>) {
    const VOCAB: usize = 50_000;
    let words: Vec<String> = (0..VOCAB).map(word).collect();
    let mut cdf = Vec::with_capacity(VOCAB);
    let mut total = 0.0;
    for rank in 1..=VOCAB {
        total += 1.0 / rank as f64;
        cdf.push(total);
    }
    let mut state = 0x5EED_u64;
    let mut next = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let sample = |next: &mut dyn FnMut() -> u64| {
        let u = (next() >> 11) as f64 / (1u64 << 53) as f64 * total;
        cdf.partition_point(|&c| c < u).min(VOCAB - 1)
    };
    let docs = (0..n_docs)
        .map(|i| {
            let len = 20 + (next() % 181) as usize;
            let text: Vec<&str> = (0..len)
                .map(|_| words[sample(&mut next)].as_str())
                .collect();
            BeirDoc {
                id: format!("d{i}"),
                title: String::new(),
                text: text.join(" "),
            }
        })
        .collect();
    let queries = (0..n_queries)
        .map(|i| {
            let len = 2 + (next() % 5) as usize;
            let text: Vec<&str> = (0..len)
                .map(|_| words[sample(&mut next)].as_str())
                .collect();
            BeirQuery {
                id: format!("q{i}"),
                text: text.join(" "),
            }
        })
        .collect();
    (docs, queries)
}

/// A pronounceable, stem-stable word for vocabulary rank `i` (letters only, no stop words).
fn word(i: usize) -> String {
    const SYL: [&str; 16] = [
        "ka", "lo", "mi", "nu", "pe", "ra", "si", "tu", "vo", "xe", "za", "bo", "di", "fu", "gi",
        "hy",
    ];
    let mut s = String::from("q");
    let mut n = i;
    loop {
        s.push_str(SYL[n % 16]);
        n /= 16;
        if n == 0 {
            break;
        }
    }
    s.push('x');
    s
}

/// CPU seconds used by the whole process so far (user + system, all threads), from
/// `/proc/self/stat`; `None` where that is unavailable. On a shared machine, throughput per
/// CPU second is the figure that does not depend on the other load.
pub fn process_cpu_s() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0) // USER_HZ is 100 on Linux
}

/// nDCG@10 and recall@100 of `search` (query text → ranked doc ids, best first).
pub fn quality(
    queries: &[BeirQuery],
    qrels: &Qrels,
    mut search: impl FnMut(&str) -> Result<Vec<String>, BoxError>,
) -> Result<(f64, f64), BoxError> {
    let mut run = std::collections::HashMap::new();
    for q in queries {
        run.insert(q.id.clone(), search(&q.text)?);
    }
    let s = sop_search::evaluate(&run, qrels);
    Ok((s.ndcg_at_10, s.recall_at_100))
}
