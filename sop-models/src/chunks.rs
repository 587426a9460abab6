//! Reading an artifact chunk by chunk: [`ChunkCursor`] fetches chunk `i`
//! from the chunks store, checks it, and turns the result into the stream
//! returned by [`crate::ModelRegistry::artifact_chunks`].
//!
//! Invariants: at most one chunk is held at a time; every chunk's blob frame
//! CRC is checked by `sop-core` on read (big placement is never cached), and
//! a failure becomes [`ModelError::CorruptArtifact`] naming the model and
//! chunk; each chunk's length must match the artifact's summary; after the
//! last chunk the whole-artifact CRC32 and size are checked.

use futures::Stream;
use sop_core::Btree;

use crate::access::chunk_key;
use crate::error::{ModelError, ModelId, Result};
use crate::keys::{ArtifactInfo, Bytes, ChunkKey};

/// Walks an artifact's chunks in order, verifying as it goes.
pub(crate) struct ChunkCursor {
    chunks: Btree<ChunkKey, Bytes>,
    registry: String,
    model: ModelId,
    info: ArtifactInfo,
    next: u64,
    seen: u64,
    hasher: crc32fast::Hasher,
    finished: bool,
}

impl ChunkCursor {
    pub(crate) fn new(
        chunks: Btree<ChunkKey, Bytes>,
        registry: String,
        model: ModelId,
        info: ArtifactInfo,
    ) -> Self {
        ChunkCursor {
            chunks,
            registry,
            model,
            info,
            next: 0,
            seen: 0,
            hasher: crc32fast::Hasher::new(),
            finished: false,
        }
    }

    /// The next chunk, `None` after the last one (and after an error).
    pub(crate) async fn next_chunk(&mut self) -> Option<Result<Vec<u8>>> {
        if self.finished {
            return None;
        }
        if self.next == self.info.chunks {
            self.finished = true;
            return self.check_whole().err().map(Err);
        }
        let r = self.fetch(self.next).await;
        match &r {
            Ok(bytes) => {
                self.hasher.update(bytes);
                self.seen += bytes.len() as u64;
                self.next += 1;
            }
            Err(_) => self.finished = true,
        }
        Some(r)
    }

    async fn fetch(&self, chunk: u64) -> Result<Vec<u8>> {
        let got = match self.chunks.get(&chunk_key(&self.model, chunk)).await {
            Ok(Some(Bytes(bytes))) => bytes,
            Ok(None) => return Err(self.mismatch(format!("chunk {chunk} is missing"))),
            Err(source) if source.is_corruption() => {
                return Err(ModelError::CorruptArtifact {
                    model: self.model.clone().into(),
                    chunk,
                    source,
                })
            }
            Err(source) => {
                return Err(ModelError::Store {
                    registry: self.registry.clone(),
                    op: "read artifact",
                    model: self.model.clone().into(),
                    source,
                })
            }
        };
        let expected = if chunk + 1 == self.info.chunks {
            self.info.size.saturating_sub(chunk * self.info.chunk_size)
        } else {
            self.info.chunk_size
        };
        if got.len() as u64 != expected {
            return Err(self.mismatch(format!(
                "chunk {chunk} holds {} bytes, expected {expected}",
                got.len()
            )));
        }
        Ok(got)
    }

    fn check_whole(&self) -> Result<()> {
        let crc = self.hasher.clone().finalize();
        if self.seen != self.info.size || crc != self.info.crc32 {
            return Err(self.mismatch(format!(
                "read {} bytes with CRC32 {crc:#010x}, recorded {} bytes with CRC32 {:#010x}",
                self.seen, self.info.size, self.info.crc32
            )));
        }
        Ok(())
    }

    fn mismatch(&self, reason: String) -> ModelError {
        ModelError::ArtifactMismatch {
            model: self.model.clone().into(),
            reason,
        }
    }

    /// The cursor as a stream of chunks.
    pub(crate) fn into_stream(self) -> impl Stream<Item = Result<Vec<u8>>> + Send + 'static {
        futures::stream::unfold(self, |mut cursor| async move {
            cursor.next_chunk().await.map(|r| (r, cursor))
        })
    }
}
