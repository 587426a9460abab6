//! The Redis connection of a clustered database and the commands the engine
//! sends through it: lock acquisition, confirmation, extension and release,
//! and the byte-cache commands of the Redis L2.
//!
//! Invariants:
//! - A lock is `SET key token NX PX ttl`; it counts as taken only after a
//!   `GET` returns our token (the spec's "confirmed by reading back").
//! - Release and extension are compare-and-act Lua scripts: a process never
//!   deletes or prolongs a lock another process owns (its own expired and
//!   was re-taken).
//! - Every command is bounded by the connection's response timeout, so a dead
//!   Redis turns into a [`SopError::Redis`] quickly instead of a hang; the
//!   connection manager reconnects in the background once Redis is back.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, Script};

use crate::error::{Result, SopError};

/// How long one Redis command may take before it fails.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);
/// How long one connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

const RELEASE_SCRIPT: &str = r"if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
else
  return 0
end";

const EXTEND_SCRIPT: &str = r"if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
else
  return 0
end";

/// A shared, reconnecting connection to the cluster's Redis.
#[derive(Clone)]
pub struct RedisClient {
    url: String,
    manager: ConnectionManager,
}

impl RedisClient {
    /// Connects to `url` (fails with [`SopError::Redis`] when Redis cannot
    /// be reached now).
    pub async fn connect(url: &str) -> Result<RedisClient> {
        let fail = |reason: String| SopError::Redis {
            url: url.to_string(),
            op: "connect",
            reason,
        };
        let client = redis::Client::open(url).map_err(|e| fail(e.to_string()))?;
        let config = ConnectionManagerConfig::new()
            .set_response_timeout(RESPONSE_TIMEOUT)
            .set_connection_timeout(CONNECT_TIMEOUT)
            .set_number_of_retries(2)
            .set_max_delay(200);
        let manager = tokio::time::timeout(
            RESPONSE_TIMEOUT + CONNECT_TIMEOUT,
            client.get_connection_manager_with_config(config),
        )
        .await
        .map_err(|_| fail("timed out connecting".into()))?
        .map_err(|e| fail(e.to_string()))?;
        Ok(RedisClient {
            url: url.to_string(),
            manager,
        })
    }

    /// The URL this client talks to.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn error(&self, op: &'static str, e: impl std::fmt::Display) -> SopError {
        SopError::Redis {
            url: self.url.clone(),
            op,
            reason: e.to_string(),
        }
    }

    /// Bounds one command by the response timeout (the manager's own timeout
    /// does not cover waiting for a reconnection).
    async fn bounded<T>(
        &self,
        op: &'static str,
        fut: impl std::future::Future<Output = redis::RedisResult<T>>,
    ) -> Result<T> {
        match tokio::time::timeout(RESPONSE_TIMEOUT, fut).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(self.error(op, e)),
            Err(_) => Err(self.error(op, "no answer within the response timeout")),
        }
    }

    /// Tries once to take `key` for `token` with a TTL; `true` when taken
    /// and confirmed by reading it back.
    pub async fn try_lock(&self, key: &str, token: &str, ttl: Duration) -> Result<bool> {
        let mut con = self.manager.clone();
        let opts = redis::SetOptions::default()
            .conditional_set(redis::ExistenceCheck::NX)
            .with_expiration(redis::SetExpiry::PX(ttl.as_millis().max(1) as u64));
        let set: Option<String> = self
            .bounded("lock", con.set_options(key, token, opts))
            .await?;
        if set.is_none() {
            return Ok(false);
        }
        let owner: Option<String> = self.bounded("lock confirm", con.get(key)).await?;
        Ok(owner.as_deref() == Some(token))
    }

    /// True when `key` is still held by `token`.
    pub async fn owns(&self, key: &str, token: &str) -> Result<bool> {
        let mut con = self.manager.clone();
        let owner: Option<String> = self.bounded("lock check", con.get(key)).await?;
        Ok(owner.as_deref() == Some(token))
    }

    /// Prolongs `key` by `ttl` if `token` still owns it; `false` otherwise.
    pub async fn extend(&self, key: &str, token: &str, ttl: Duration) -> Result<bool> {
        let mut con = self.manager.clone();
        let script = Script::new(EXTEND_SCRIPT);
        let mut call = script.key(key);
        call.arg(token).arg(ttl.as_millis().max(1) as u64);
        let n: i64 = self
            .bounded("lock extend", call.invoke_async(&mut con))
            .await?;
        Ok(n == 1)
    }

    /// Releases `key` if `token` still owns it; `false` when it did not.
    pub async fn unlock(&self, key: &str, token: &str) -> Result<bool> {
        let mut con = self.manager.clone();
        let script = Script::new(RELEASE_SCRIPT);
        let mut call = script.key(key);
        call.arg(token);
        let n: i64 = self.bounded("unlock", call.invoke_async(&mut con)).await?;
        Ok(n == 1)
    }

    /// Reads a byte value.
    pub async fn get_bytes(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let mut con = self.manager.clone();
        self.bounded("cache get", con.get(key)).await
    }

    /// Writes a byte value with a TTL.
    pub async fn set_bytes(&self, key: &str, value: &[u8], ttl: Duration) -> Result<()> {
        let mut con = self.manager.clone();
        self.bounded(
            "cache set",
            con.pset_ex(key, value, ttl.as_millis().max(1) as u64),
        )
        .await
    }

    /// Deletes a key.
    pub async fn delete(&self, key: &str) -> Result<()> {
        let mut con = self.manager.clone();
        self.bounded("cache delete", con.del(key)).await
    }
}
