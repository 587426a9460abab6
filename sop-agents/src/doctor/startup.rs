//! The fallback-config rebuild ("factory reset kit"): on start, the agent's database is
//! checked against the config's `data[]` and rebuilt from it when needed.
//!
//! Decision, in order: folder missing or empty → [`RebuildReason::Missing`]; the database
//! cannot be opened, `verify()` finds a damaged blob, or a read fails with a corruption error,
//! or the store counts disagree with the meta record → [`RebuildReason::Corrupt`]; no meta
//! record → [`RebuildReason::Empty`]; stored fingerprint ≠ current one →
//! [`RebuildReason::FingerprintChanged`]; otherwise [`RebuildReason::UpToDate`] and nothing is
//! written.
//!
//! A rebuild is idempotent: the old database folder is removed (only if it looks like a SOP
//! database or is empty — any other folder is refused), a fresh database is opened, and every
//! store plus the fingerprint is written in ONE transaction. A crash mid-rebuild leaves no
//! meta record, so the next start rebuilds again.

use std::path::Path;
use std::time::Instant;

use sop_core::{Database, DatabaseOptions};

use crate::doctor::case::Case;
use crate::doctor::fingerprint::fingerprint;
use crate::doctor::knowledge::{is_usable, KbMeta, KnowledgeBase};
use crate::doctor::progress::BuildProgress;
use crate::embedder::Embedder;
use crate::error::AgentError;

/// Texts embedded per embedder call during a rebuild.
const EMBED_BATCH: usize = 64;

/// Files the engine writes into every database folder: their presence marks a folder as a
/// SOP database (safe to wipe).
const SOP_MARKERS: &[&str] = &["options.json", "catalog.json"];

/// Why the knowledge base was (or was not) rebuilt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RebuildReason {
    /// The database matched the data: nothing was rebuilt.
    UpToDate,
    /// The database folder did not exist or was empty.
    Missing,
    /// The database held no complete build (no meta record).
    Empty,
    /// The database is damaged; the message says where.
    Corrupt(String),
    /// The data or embedder changed since the last build.
    FingerprintChanged {
        /// The fingerprint stored in the database.
        stored: String,
        /// The fingerprint of the current config.
        current: String,
    },
}

impl std::fmt::Display for RebuildReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RebuildReason::UpToDate => write!(f, "up to date"),
            RebuildReason::Missing => write!(f, "database missing"),
            RebuildReason::Empty => write!(f, "database empty"),
            RebuildReason::Corrupt(m) => write!(f, "database corrupt ({m})"),
            RebuildReason::FingerprintChanged { stored, current } => {
                write!(f, "data changed ({stored} -> {current})")
            }
        }
    }
}

/// What happened at start (timing-free fields are for assertions; `millis` is informative).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartReport {
    /// True when the knowledge base was rebuilt from `data[]`.
    pub rebuilt: bool,
    /// Why.
    pub reason: RebuildReason,
    /// Cases in the knowledge base after start.
    pub cases: usize,
    /// Texts embedded during start (0 when nothing was rebuilt).
    pub embedded: usize,
    /// The knowledge base fingerprint.
    pub fingerprint: String,
    /// Wall-clock milliseconds the start took.
    pub millis: u128,
}

/// What [`open_or_rebuild`] needs.
pub struct StartInputs<'a> {
    /// Agent id (names the stores).
    pub agent: &'a str,
    /// Database folder.
    pub folder: &'a Path,
    /// The cases of `data[]`.
    pub cases: &'a [Case],
    /// The document embedder.
    pub embedder: &'a dyn Embedder,
    /// Buckets probed by vector queries.
    pub nprobe: usize,
    /// Where rebuild progress goes.
    pub progress: &'a BuildProgress,
}

fn io_err(folder: &Path, source: std::io::Error) -> AgentError {
    AgentError::Io {
        path: folder.display().to_string(),
        source,
    }
}

fn is_missing_or_empty(folder: &Path) -> Result<bool, AgentError> {
    match std::fs::read_dir(folder) {
        Ok(mut entries) => Ok(entries.next().is_none()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(true),
        Err(e) => Err(io_err(folder, e)),
    }
}

/// Fails when `folder` is neither missing, empty, nor a SOP database: such a folder is
/// never opened (the engine would add its files) nor wiped.
fn refuse_foreign_folder(agent: &str, folder: &Path) -> Result<(), AgentError> {
    if is_missing_or_empty(folder)? {
        return Ok(());
    }
    if !SOP_MARKERS.iter().any(|m| folder.join(m).exists()) {
        return Err(AgentError::config(
            "storage.path",
            format!(
                "agent {agent}: {} is not a SOP database (no {}); refusing to use it as the \
                 agent's database",
                folder.display(),
                SOP_MARKERS.join(" or ")
            ),
        ));
    }
    Ok(())
}

/// Removes the database folder (checked by [`refuse_foreign_folder`] before it was opened).
fn wipe_folder(folder: &Path) -> Result<(), AgentError> {
    if is_missing_or_empty(folder)? {
        return Ok(());
    }
    std::fs::remove_dir_all(folder).map_err(|e| io_err(folder, e))
}

async fn open_db(agent: &str, folder: &Path) -> Result<Database, AgentError> {
    Database::open(DatabaseOptions::new(folder))
        .await
        .map_err(|e| AgentError::storage(agent, folder.display().to_string(), e))
}

/// Checks an opened database; `Ok(reason)` or a non-corruption error.
async fn diagnose(
    db: &Database,
    kb: &KnowledgeBase,
    current: &str,
    embedder: &str,
) -> Result<RebuildReason, AgentError> {
    let report = db
        .verify()
        .await
        .map_err(|e| AgentError::storage(kb.agent(), "verify", e))?;
    if let Some(problem) = report.problems.first() {
        return Ok(RebuildReason::Corrupt(format!(
            "{} damaged blob(s), first: {problem}",
            report.problems.len()
        )));
    }
    let Some(meta) = kb.read_meta().await? else {
        return Ok(RebuildReason::Empty);
    };
    if meta.fingerprint != current {
        return Ok(RebuildReason::FingerprintChanged {
            stored: meta.fingerprint,
            current: current.to_string(),
        });
    }
    kb.forget_cached_vectors(embedder).await?;
    let counts = kb.counts(embedder).await?;
    if counts.cases != meta.cases
        || counts.vectors != meta.vectors
        || counts.documents != meta.cases
    {
        return Ok(RebuildReason::Corrupt(format!(
            "store counts {counts:?} differ from the meta record {meta:?}"
        )));
    }
    Ok(RebuildReason::UpToDate)
}

/// Opens the agent's knowledge base, rebuilding it from `inputs.cases` when needed (see the
/// module docs).
pub async fn open_or_rebuild(
    inputs: &StartInputs<'_>,
) -> Result<(KnowledgeBase, StartReport), AgentError> {
    let started = Instant::now();
    let embedder = inputs.embedder;
    let dims = embedder.dimensions();
    let current = fingerprint(inputs.cases, embedder.name(), dims);
    let kb_for = |db: Database| KnowledgeBase::new(db, inputs.agent, dims, inputs.nprobe);
    refuse_foreign_folder(inputs.agent, inputs.folder)?;
    let reason = if is_missing_or_empty(inputs.folder)? {
        RebuildReason::Missing
    } else {
        match open_db(inputs.agent, inputs.folder).await {
            Err(e) if e.is_corruption() => RebuildReason::Corrupt(e.to_string()),
            Err(e) => return Err(e),
            Ok(db) => {
                let kb = kb_for(db.clone());
                match diagnose(&db, &kb, &current, embedder.name()).await {
                    Ok(RebuildReason::UpToDate) => {
                        let report = StartReport {
                            rebuilt: false,
                            reason: RebuildReason::UpToDate,
                            cases: inputs.cases.len(),
                            embedded: 0,
                            fingerprint: current,
                            millis: started.elapsed().as_millis(),
                        };
                        return Ok((kb, report));
                    }
                    Ok(reason) => reason,
                    Err(e) if e.is_corruption() => RebuildReason::Corrupt(e.to_string()),
                    Err(e) => return Err(e),
                }
                // `db` (and `kb`) are dropped here, before the folder is wiped.
            }
        }
    };
    wipe_folder(inputs.folder)?;
    let db = open_db(inputs.agent, inputs.folder).await?;
    let kb = kb_for(db);
    let vectors = embed_all(inputs.cases, embedder, inputs.progress).await?;
    let meta = KbMeta {
        fingerprint: current.clone(),
        cases: inputs.cases.len() as u64,
        vectors: vectors.iter().filter(|v| is_usable(v)).count() as u64,
        embedder: embedder.name().to_string(),
        dims,
    };
    kb.write_all(inputs.cases, vectors, &meta, inputs.progress)
        .await?;
    kb.forget_cached_vectors(embedder.name()).await?;
    inputs.progress.finish("knowledge base rebuilt");
    let report = StartReport {
        rebuilt: true,
        reason,
        cases: inputs.cases.len(),
        embedded: inputs.cases.len(),
        fingerprint: current,
        millis: started.elapsed().as_millis(),
    };
    Ok((kb, report))
}

async fn embed_all(
    cases: &[Case],
    embedder: &dyn Embedder,
    progress: &BuildProgress,
) -> Result<Vec<Vec<f32>>, AgentError> {
    progress.stage("embedding cases", cases.len());
    let mut vectors = Vec::with_capacity(cases.len());
    for chunk in cases.chunks(EMBED_BATCH) {
        let texts: Vec<String> = chunk.iter().map(|c| c.search_text().to_string()).collect();
        vectors.extend(embedder.embed(&texts).await?);
        progress.advance(chunk.len());
    }
    Ok(vectors)
}
