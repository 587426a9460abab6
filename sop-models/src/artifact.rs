//! Binary artifacts (weights) of model versions: chunked, CRC-checked blobs
//! streamed in from an `AsyncRead` and out as an `AsyncRead`, a chunk
//! stream, or into an `AsyncWrite`.
//!
//! Invariants: an artifact belongs to an existing version; chunk `i` holds
//! bytes `[i * chunk_size, (i + 1) * chunk_size)` as one big-placement blob
//! (written once with a CRC32 frame, never cached); the version's ride-on
//! summary records size, chunk count, chunk size and the whole-artifact
//! CRC32. Neither direction ever holds more than one chunk in memory.

use futures::Stream;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::access::{chunk_key, now_ms};
use crate::chunks::ChunkCursor;
use crate::error::{ModelError, ModelId, Result};
use crate::keys::{ArtifactInfo, Bytes};
use crate::reader::ArtifactReader;
use crate::registry::ModelRegistry;

impl ModelRegistry {
    /// Stores `source` as the artifact of an existing model version
    /// (replacing any previous one), reading one chunk at a time.
    pub async fn put_artifact<R: AsyncRead + Unpin>(
        &self,
        category: &str,
        name: &str,
        version: &str,
        mut source: R,
    ) -> Result<ArtifactInfo> {
        let id = ModelId::new(category, name, version);
        let mut key = self.require_key(&id, "put_artifact").await?;
        self.remove_chunks(&id, &key.summary).await?;
        let chunk_size = self.chunk_size;
        let mut hasher = crc32fast::Hasher::new();
        let (mut size, mut chunks) = (0u64, 0u64);
        loop {
            let buf = read_chunk(&mut source, chunk_size)
                .await
                .map_err(|source| ModelError::Io {
                    model: id.clone().into(),
                    action: "reading the source",
                    source,
                })?;
            if buf.is_empty() {
                break;
            }
            let last = buf.len() < chunk_size;
            hasher.update(&buf);
            size += buf.len() as u64;
            self.chunks
                .upsert(chunk_key(&id, chunks), Bytes(buf))
                .await
                .map_err(self.store_err("put_artifact", &id))?;
            chunks += 1;
            if last {
                break;
            }
        }
        let info = ArtifactInfo {
            size,
            chunks,
            chunk_size: chunk_size as u64,
            crc32: hasher.finalize(),
        };
        key.summary.artifact = Some(info);
        key.summary.updated_ms = now_ms();
        self.models
            .update_key(key)
            .await
            .map_err(self.store_err("put_artifact", &id))?;
        Ok(info)
    }

    /// Size, chunking and CRC of a version's artifact.
    pub async fn artifact_info(
        &self,
        category: &str,
        name: &str,
        version: &str,
    ) -> Result<ArtifactInfo> {
        let id = ModelId::new(category, name, version);
        let key = self.require_key(&id, "artifact_info").await?;
        key.summary
            .artifact
            .ok_or(ModelError::NoArtifact { model: id.into() })
    }

    /// The artifact as an `AsyncRead` (one chunk in memory at a time).
    pub async fn open_artifact(
        &self,
        category: &str,
        name: &str,
        version: &str,
    ) -> Result<ArtifactReader> {
        let (id, cursor) = self.cursor(category, name, version).await?;
        let info = self.artifact_info(category, name, version).await?;
        Ok(ArtifactReader::new(id, info, cursor))
    }

    /// The artifact as a stream of chunks, verified as they come.
    pub async fn artifact_chunks(
        &self,
        category: &str,
        name: &str,
        version: &str,
    ) -> Result<impl Stream<Item = Result<Vec<u8>>> + Send + 'static> {
        let (_, cursor) = self.cursor(category, name, version).await?;
        Ok(cursor.into_stream())
    }

    /// Writes the artifact into `sink` chunk by chunk; returns its size.
    pub async fn copy_artifact<W: AsyncWrite + Unpin>(
        &self,
        category: &str,
        name: &str,
        version: &str,
        mut sink: W,
    ) -> Result<u64> {
        let (id, mut cursor) = self.cursor(category, name, version).await?;
        let io_err = |source| ModelError::Io {
            model: id.clone().into(),
            action: "writing the sink",
            source,
        };
        let mut written = 0u64;
        while let Some(chunk) = cursor.next_chunk().await {
            let chunk = chunk?;
            sink.write_all(&chunk).await.map_err(io_err)?;
            written += chunk.len() as u64;
        }
        sink.flush().await.map_err(io_err)?;
        Ok(written)
    }

    /// Removes a version's artifact; `false` when it had none.
    pub async fn remove_artifact(&self, category: &str, name: &str, version: &str) -> Result<bool> {
        let id = ModelId::new(category, name, version);
        let mut key = self.require_key(&id, "remove_artifact").await?;
        if key.summary.artifact.is_none() {
            return Ok(false);
        }
        self.remove_chunks(&id, &key.summary).await?;
        key.summary.artifact = None;
        key.summary.updated_ms = now_ms();
        self.models
            .update_key(key)
            .await
            .map_err(self.store_err("remove_artifact", &id))?;
        Ok(true)
    }

    async fn cursor(
        &self,
        category: &str,
        name: &str,
        version: &str,
    ) -> Result<(ModelId, ChunkCursor)> {
        let id = ModelId::new(category, name, version);
        let info = self.artifact_info(category, name, version).await?;
        let cursor = ChunkCursor::new(self.chunks.clone(), self.name.clone(), id.clone(), info);
        Ok((id, cursor))
    }
}

/// Reads up to `size` bytes (fewer only at end of input).
async fn read_chunk<R: AsyncRead + Unpin>(source: &mut R, size: usize) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0u8; size];
    let mut filled = 0;
    while filled < size {
        let n = source.read(&mut buf[filled..]).await?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    buf.truncate(filled);
    Ok(buf)
}
