//! The cluster commit section: the one place where a clustered process may
//! change the shared files (append to the WAL, checkpoint, cut a torn tail,
//! finish a dead process's checkpoint).
//!
//! Entering takes, in this order: the process-local mutex (one section per
//! process at a time), the Redis lock `<prefix>:lock:commit` (`SET NX PX`,
//! TTL = the transaction's `max_time`, confirmed by reading back) and an
//! exclusive OS lock on `<stores folder>/wal/commit.lock`.
//!
//! Invariants:
//! - At most one section is open per database at any moment: the Redis lock
//!   orders processes on every machine sharing the folders; the file lock
//!   is a second fence on one machine, so even a Redis restart that forgets
//!   a held lock, or a holder whose TTL ran out while it was still writing,
//!   cannot make two processes append at once.
//! - A lock whose owner died expires after its TTL; the next holder first
//!   recovers from the shared files (see `cluster::follow`).
//! - Release is owner-only (compare-and-delete); a section dropped without
//!   [`CommitSection::release`] releases in the background.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use uuid::Uuid;

use crate::cluster::redis_client::RedisClient;
use crate::error::{Result, SopError};
use crate::storage::fsio;

/// Lock TTL of sections that are not a transaction's commit.
pub const MAINTENANCE_TTL: Duration = Duration::from_secs(5 * 60);
/// How long such a section waits for the lock.
pub const MAINTENANCE_WAIT: Duration = Duration::from_secs(2 * 60);

/// Clustered-mode state of an open database.
pub struct Cluster {
    /// The Redis connection.
    pub client: RedisClient,
    /// Prefix of every Redis key of this database (`sop:<database id>`).
    pub prefix: String,
    /// Identifies this process in lock tokens.
    process: Uuid,
    lock_file: PathBuf,
    local: Arc<tokio::sync::Mutex<()>>,
}

/// An open commit section; see the module docs.
pub struct CommitSection {
    cluster: Arc<Cluster>,
    _local: tokio::sync::OwnedMutexGuard<()>,
    key: String,
    token: String,
    /// Holds the OS lock while open.
    file: File,
    released: bool,
}

impl Cluster {
    /// Connects to Redis and reads (creating on first use) the database id
    /// kept in `<meta folder>/cluster-id`.
    pub async fn connect(redis_url: &str, meta_folder: &Path) -> Result<Cluster> {
        let client = RedisClient::connect(redis_url).await?;
        let folder = meta_folder.to_path_buf();
        let id = fsio::blocking(move || database_id(&folder)).await?;
        let wal_dir = meta_folder.join("wal");
        Ok(Cluster {
            client,
            prefix: format!("sop:{}", id.simple()),
            process: Uuid::new_v4(),
            lock_file: wal_dir.join("commit.lock"),
            local: Arc::new(tokio::sync::Mutex::new(())),
        })
    }

    /// The Redis key of the commit lock.
    pub fn commit_key(&self) -> String {
        format!("{}:lock:commit", self.prefix)
    }

    /// Opens a section for a checkpoint, a store drop or a reload: TTL
    /// [`MAINTENANCE_TTL`], waiting up to [`MAINTENANCE_WAIT`].
    pub async fn enter_for_maintenance(self: &Arc<Self>) -> Result<CommitSection> {
        self.enter(MAINTENANCE_TTL, Instant::now() + MAINTENANCE_WAIT)
            .await
    }

    /// Opens a commit section, waiting until `deadline` for the locks.
    pub async fn enter(
        self: &Arc<Self>,
        ttl: Duration,
        deadline: Instant,
    ) -> Result<CommitSection> {
        let key = self.commit_key();
        let timed_out = |what: &str| SopError::ClusterLock {
            key: key.clone(),
            reason: format!("{what} was not free before the transaction's deadline"),
        };
        let local = tokio::time::timeout_at(deadline.into(), self.local.clone().lock_owned())
            .await
            .map_err(|_| timed_out("the process-local commit section"))?;
        let token = format!("{}:{}", self.process.simple(), Uuid::new_v4().simple());
        let mut pause = Duration::from_micros(200);
        while !self.client.try_lock(&key, &token, ttl).await? {
            if Instant::now() + pause > deadline {
                return Err(timed_out("the Redis commit lock"));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(10));
        }
        let mut section = CommitSection {
            cluster: self.clone(),
            _local: local,
            key,
            token,
            file: open_lock_file(&self.lock_file)?,
            released: false,
        };
        if let Err(e) = section.lock_file_until(deadline).await {
            section.release().await;
            return Err(e);
        }
        Ok(section)
    }
}

impl CommitSection {
    async fn lock_file_until(&mut self, deadline: Instant) -> Result<()> {
        let path = self.cluster.lock_file.clone();
        loop {
            match self.file.try_lock() {
                Ok(()) => return Ok(()),
                Err(std::fs::TryLockError::WouldBlock) => {
                    if Instant::now() > deadline {
                        return Err(SopError::ClusterLock {
                            key: path.display().to_string(),
                            reason: "another process still holds the commit file lock \
                                     (its Redis lock was lost or expired)"
                                .into(),
                        });
                    }
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(SopError::io(&path, e)),
            }
        }
    }

    /// Fails unless this section still owns the Redis lock (checked right
    /// before the commit point, so an expired lock never leads to a write).
    pub async fn confirm(&self) -> Result<()> {
        if self.cluster.client.owns(&self.key, &self.token).await? {
            Ok(())
        } else {
            Err(SopError::ClusterLock {
                key: self.key.clone(),
                reason: "the lock expired (the commit took longer than max_time) or Redis \
                         restarted; nothing was written"
                    .into(),
            })
        }
    }

    /// Releases the locks.
    pub async fn release(mut self) {
        self.released = true;
        // An error means Redis is down: the lock then expires by its TTL.
        let _ = self.cluster.client.unlock(&self.key, &self.token).await;
    }
}

impl Drop for CommitSection {
    fn drop(&mut self) {
        if self.released {
            return;
        }
        let client = self.cluster.client.clone();
        let (key, token) = (self.key.clone(), self.token.clone());
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                let _ = client.unlock(&key, &token).await;
            });
        }
    }
}

fn open_lock_file(path: &Path) -> Result<File> {
    if let Some(dir) = path.parent() {
        fsio::ensure_dir(dir)?;
    }
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| SopError::io(path, e))
}

/// The database's cluster id: every process sharing the folders must derive
/// the same Redis keys, so the first one creates the file with a hard link
/// (which fails when another process won the race) and all read it back.
/// The file is never rewritten: one line `SOPCLUSTER <version> <id> <crc32>`.
fn database_id(meta_folder: &Path) -> Result<Uuid> {
    fsio::ensure_dir(meta_folder)?;
    let path = meta_folder.join(CLUSTER_ID_FILE);
    if let Some(bytes) = fsio::read_optional(&path)? {
        return parse_cluster_id(&path, &bytes);
    }
    let candidate = meta_folder.join(format!("cluster-id.{}.new", Uuid::new_v4().simple()));
    fsio::write_new(
        &candidate,
        format_cluster_id(Uuid::new_v4()).as_bytes(),
        true,
    )?;
    let linked = std::fs::hard_link(&candidate, &path);
    let _ = std::fs::remove_file(&candidate);
    match linked {
        Ok(()) => fsio::sync_dir(meta_folder)?,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(SopError::io(&path, e)),
    }
    let bytes = fsio::read_optional(&path)?.ok_or_else(|| {
        SopError::format(
            &path,
            "the cluster id file vanished right after it was created",
        )
    })?;
    parse_cluster_id(&path, &bytes)
}

const CLUSTER_ID_FILE: &str = "cluster-id";
const CLUSTER_ID_MAGIC: &str = "SOPCLUSTER";
const CLUSTER_ID_VERSION: u32 = 1;

fn format_cluster_id(id: Uuid) -> String {
    let body = format!("{CLUSTER_ID_MAGIC} {CLUSTER_ID_VERSION} {}", id.simple());
    let crc = crc32fast::hash(body.as_bytes());
    format!("{body} {crc:08x}\n")
}

fn parse_cluster_id(path: &Path, bytes: &[u8]) -> Result<Uuid> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| SopError::format(path, "cluster id file is not UTF-8"))?;
    let line = text.trim_end();
    let (body, crc) = line
        .rsplit_once(' ')
        .ok_or_else(|| SopError::format(path, "cluster id file has no checksum"))?;
    let stored = u32::from_str_radix(crc, 16)
        .map_err(|_| SopError::format(path, "cluster id checksum is not hexadecimal"))?;
    SopError::check_crc(path, stored, crc32fast::hash(body.as_bytes()))?;
    let mut parts = body.split(' ');
    let (magic, version, id) = (parts.next(), parts.next(), parts.next());
    if magic != Some(CLUSTER_ID_MAGIC) || version != Some("1") {
        return Err(SopError::format(
            path,
            format!("not a version {CLUSTER_ID_VERSION} cluster id file"),
        ));
    }
    id.and_then(|s| Uuid::parse_str(s).ok())
        .ok_or_else(|| SopError::format(path, "cluster id is not a UUID"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_id_round_trip_and_damage_detected() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| SopError::io("tmp", e))?;
        let first = database_id(dir.path())?;
        assert_eq!(database_id(dir.path())?, first, "stable across opens");
        let path = dir.path().join(CLUSTER_ID_FILE);
        let mut bytes = std::fs::read(&path).map_err(|e| SopError::io(&path, e))?;
        bytes[15] ^= 0x01;
        std::fs::write(&path, &bytes).map_err(|e| SopError::io(&path, e))?;
        assert!(matches!(database_id(dir.path()), Err(e) if e.is_corruption()));
        Ok(())
    }
}
