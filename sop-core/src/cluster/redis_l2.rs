//! The clustered L2 cache: node and value blobs (framed, CRC-checked by the
//! reader like a disk read) shared by every process through Redis.
//!
//! Invariants:
//! - Redis is never the store of record. A failed cache command is not an
//!   error for the caller: reads go to disk, writes skip the cache, and the
//!   cache is bypassed for [`BYPASS_AFTER_ERROR`] so a dead Redis costs one
//!   failed command per interval, not one per read.
//! - Keys carry the database's cluster prefix, so databases sharing one
//!   Redis never see each other's entries.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;

use crate::cache::l2::L2Cache;
use crate::cluster::redis_client::RedisClient;
use crate::error::Result;
use crate::storage::catalog::now_ms;

/// How long the cache is bypassed after a Redis error.
pub const BYPASS_AFTER_ERROR: Duration = Duration::from_secs(1);

/// [`L2Cache`] on Redis.
pub struct RedisL2Cache {
    client: RedisClient,
    prefix: String,
    /// Unix milliseconds until which the cache is bypassed.
    bypass_until_ms: AtomicU64,
    /// Commands that failed (for diagnostics).
    errors: AtomicU64,
}

impl RedisL2Cache {
    /// A cache whose keys start with `prefix`.
    pub fn new(client: RedisClient, prefix: impl Into<String>) -> Self {
        RedisL2Cache {
            client,
            prefix: prefix.into(),
            bypass_until_ms: AtomicU64::new(0),
            errors: AtomicU64::new(0),
        }
    }

    /// Cache commands that failed so far.
    pub fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }

    fn key(&self, key: &str) -> String {
        format!("{}:l2:{key}", self.prefix)
    }

    fn bypassed(&self) -> bool {
        now_ms() < self.bypass_until_ms.load(Ordering::Relaxed)
    }

    fn note_error(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        self.bypass_until_ms.store(
            now_ms() + BYPASS_AFTER_ERROR.as_millis() as u64,
            Ordering::Relaxed,
        );
    }
}

#[async_trait]
impl L2Cache for RedisL2Cache {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        if self.bypassed() {
            return Ok(None);
        }
        match self.client.get_bytes(&self.key(key)).await {
            Ok(v) => Ok(v),
            Err(_) => {
                self.note_error();
                Ok(None)
            }
        }
    }

    async fn set(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<()> {
        if self.bypassed() {
            return Ok(());
        }
        if self
            .client
            .set_bytes(&self.key(key), &value, ttl)
            .await
            .is_err()
        {
            self.note_error();
        }
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<()> {
        if self.client.delete(&self.key(key)).await.is_err() {
            self.note_error();
        }
        Ok(())
    }
}
