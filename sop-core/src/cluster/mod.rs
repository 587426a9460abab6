//! Clustered mode: several processes (on one or several machines sharing
//! the folders) transacting on one database, coordinated through Redis.
//! See `ARCHITECTURE.md` ("Clustered mode") for the protocol.

mod coordinator;
mod follow;
mod local_redis;
mod redis_client;
mod redis_l2;

pub use coordinator::{Cluster, CommitSection, MAINTENANCE_TTL, MAINTENANCE_WAIT};
pub use follow::{Followed, LogCursor};
pub use local_redis::{LocalRedis, LocalRedisError, REQUIRE_REDIS_ENV};
pub use redis_client::RedisClient;
pub use redis_l2::{RedisL2Cache, BYPASS_AFTER_ERROR};
