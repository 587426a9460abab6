//! [`ArtifactReader`]: a model's binary artifact as a `tokio` `AsyncRead`.
//!
//! Invariants: holds at most one chunk (plus the one being fetched is never
//! started before the held one is consumed), so memory stays bounded by the
//! chunk size whatever the artifact size; every error is an `io::Error`
//! wrapping the [`ModelError`] (recover it with
//! [`ArtifactReader::model_error`]); after an error every read fails again.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};

use crate::chunks::ChunkCursor;
use crate::error::{ModelError, ModelId, Result};
use crate::keys::ArtifactInfo;

type Fetch = Pin<Box<dyn Future<Output = (Box<ChunkCursor>, Option<Result<Vec<u8>>>)> + Send>>;

enum State {
    Idle(Box<ChunkCursor>),
    Fetching(Fetch),
    Eof,
    Failed,
    /// Transient while switching states.
    Empty,
}

/// Streams a model version's artifact out of the registry chunk by chunk.
///
/// Obtained from [`crate::ModelRegistry::open_artifact`]; use it with
/// `tokio::io::AsyncReadExt` or `tokio::io::copy`.
pub struct ArtifactReader {
    model: ModelId,
    info: ArtifactInfo,
    state: State,
    buf: Vec<u8>,
    pos: usize,
}

impl ArtifactReader {
    pub(crate) fn new(model: ModelId, info: ArtifactInfo, cursor: ChunkCursor) -> Self {
        ArtifactReader {
            model,
            info,
            state: State::Idle(Box::new(cursor)),
            buf: Vec::new(),
            pos: 0,
        }
    }

    /// The model version being read.
    pub fn model(&self) -> &ModelId {
        &self.model
    }

    /// Size, chunking and CRC of the artifact.
    pub fn info(&self) -> ArtifactInfo {
        self.info
    }

    /// The [`ModelError`] inside an `io::Error` returned by this reader.
    pub fn model_error(e: &io::Error) -> Option<&ModelError> {
        e.get_ref()
            .and_then(|inner| inner.downcast_ref::<ModelError>())
    }
}

impl AsyncRead for ArtifactReader {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if this.pos < this.buf.len() {
                let n = out.remaining().min(this.buf.len() - this.pos);
                out.put_slice(&this.buf[this.pos..this.pos + n]);
                this.pos += n;
                return Poll::Ready(Ok(()));
            }
            if out.remaining() == 0 {
                return Poll::Ready(Ok(()));
            }
            match std::mem::replace(&mut this.state, State::Empty) {
                State::Idle(mut cursor) => {
                    this.buf = Vec::new();
                    this.pos = 0;
                    this.state = State::Fetching(Box::pin(async move {
                        let r = cursor.next_chunk().await;
                        (cursor, r)
                    }));
                }
                State::Fetching(mut fetch) => match fetch.as_mut().poll(cx) {
                    Poll::Pending => {
                        this.state = State::Fetching(fetch);
                        return Poll::Pending;
                    }
                    Poll::Ready((_, None)) => this.state = State::Eof,
                    Poll::Ready((cursor, Some(Ok(bytes)))) => {
                        this.buf = bytes;
                        this.pos = 0;
                        this.state = State::Idle(cursor);
                    }
                    Poll::Ready((_, Some(Err(e)))) => {
                        this.state = State::Failed;
                        return Poll::Ready(Err(io::Error::other(e)));
                    }
                },
                State::Eof => {
                    this.state = State::Eof;
                    return Poll::Ready(Ok(()));
                }
                State::Failed | State::Empty => {
                    this.state = State::Failed;
                    return Poll::Ready(Err(io::Error::other(format!(
                        "artifact of model {}: an earlier read failed",
                        this.model
                    ))));
                }
            }
        }
    }
}
