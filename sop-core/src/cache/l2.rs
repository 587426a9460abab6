//! L2: the cache shared by every process of a deployment.
//!
//! In clustered mode it is Redis; in standalone mode it is
//! [`MemoryL2Cache`]. Both sit behind [`L2Cache`]. Entries expire after a
//! per-kind TTL ([`CacheTtls`]). The L2 cache is never the store of record:
//! anything in it can be lost at any time without losing data.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use parking_lot::Mutex;

use crate::error::Result;

/// Time-to-live of each kind of cached entry.
#[derive(Debug, Clone, Copy)]
pub struct CacheTtls {
    /// Node blobs.
    pub nodes: Duration,
    /// Registry handles.
    pub registry: Duration,
    /// Store information.
    pub store_info: Duration,
    /// Value blobs.
    pub values: Duration,
}

impl Default for CacheTtls {
    fn default() -> Self {
        CacheTtls {
            nodes: Duration::from_secs(5 * 60),
            registry: Duration::from_secs(60),
            store_info: Duration::from_secs(60),
            values: Duration::from_secs(5 * 60),
        }
    }
}

/// A byte cache with TTLs.
#[async_trait]
pub trait L2Cache: Send + Sync + 'static {
    /// Looks up a key.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>>;
    /// Stores a key for `ttl`.
    async fn set(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<()>;
    /// Deletes a key.
    async fn delete(&self, key: &str) -> Result<()>;
}

/// The standalone L2: an in-memory map with expiry, bounded in entries.
pub struct MemoryL2Cache {
    map: Mutex<HashMap<String, (Vec<u8>, Instant)>>,
    capacity: usize,
}

impl MemoryL2Cache {
    /// A cache of at most `capacity` entries.
    pub fn new(capacity: usize) -> Self {
        MemoryL2Cache {
            map: Mutex::new(HashMap::new()),
            capacity,
        }
    }
}

#[async_trait]
impl L2Cache for MemoryL2Cache {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let mut map = self.map.lock();
        match map.get(key) {
            Some((v, exp)) if *exp > Instant::now() => Ok(Some(v.clone())),
            Some(_) => {
                map.remove(key);
                Ok(None)
            }
            None => Ok(None),
        }
    }

    async fn set(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<()> {
        let mut map = self.map.lock();
        if map.len() >= self.capacity {
            let now = Instant::now();
            map.retain(|_, (_, exp)| *exp > now);
            if map.len() >= self.capacity {
                map.clear();
            }
        }
        map.insert(key.to_string(), (value, Instant::now() + ttl));
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<()> {
        self.map.lock().remove(key);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn expires() -> Result<()> {
        let c = MemoryL2Cache::new(10);
        c.set("a", vec![1], Duration::from_millis(30)).await?;
        assert_eq!(c.get("a").await?, Some(vec![1]));
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert_eq!(c.get("a").await?, None);
        Ok(())
    }
}
