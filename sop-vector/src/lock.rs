//! The rebuild lock (SPEC §2.3): an item in the domain's `sys_config` record naming the owner,
//! the version being built, and a heartbeat timestamp.
//!
//! - Taking the lock is one short `ForWriting` transaction, so it serialises with every writer
//!   (writers read the same record and fail with [`VectorError::Locked`], or conflict at commit).
//! - A lock whose heartbeat is older than the TTL belongs to a crashed rebuild: the next
//!   rebuild takes it over and [`drop_other_versions`] removes the half-built stores.
//! - [`lock_domain`] / [`unlock_domain`] are public so operators (and tests) can freeze writes.

use sop_core::{Btree, Database, TransactionMode};

use crate::error::{Ctx, Result, VectorError};
use crate::schema::{now_ms, DomainConfig, RebuildLock, StoreNames};
use crate::store::{check_unlocked, read_config, LOCK_TTL_MS};

/// Outcome of [`lock_domain`].
#[derive(Clone, Debug, PartialEq)]
pub struct LockGrant {
    /// The domain record at the time the lock was taken (lock included).
    pub config: DomainConfig,
    /// Whether a stale lock of a crashed rebuild was taken over.
    pub recovered: bool,
}

async fn sys_tree(tx: &sop_core::Transaction, domain: &str) -> Result<Btree<String, DomainConfig>> {
    let name = StoreNames::new(domain).sys_config();
    match tx.open_btree(&name).await {
        Err(sop_core::SopError::StoreNotFound(_)) => {
            Err(VectorError::DomainNotFound(domain.to_string()))
        }
        r => r.ctx(domain, &name),
    }
}

/// Runs `change` on the domain record in one `ForWriting` transaction and commits.
async fn with_config<T>(
    db: &Database,
    domain: &str,
    change: impl FnOnce(&mut DomainConfig) -> Result<T>,
) -> Result<T> {
    let tx = db
        .begin(TransactionMode::ForWriting)
        .await
        .ctx(domain, "begin")?;
    let sys = sys_tree(&tx, domain).await?;
    let outcome = match read_config(&sys, domain).await? {
        Some(mut cfg) => change(&mut cfg).map(|t| (t, cfg)),
        None => Err(VectorError::DomainNotFound(domain.to_string())),
    };
    let (t, cfg) = match outcome {
        Ok(x) => x,
        Err(e) => {
            let _ = tx.rollback().await;
            return Err(e);
        }
    };
    sys.update(&domain.to_string(), cfg)
        .await
        .ctx(domain, sys.name())?;
    tx.commit().await.ctx(domain, sys.name())?;
    Ok(t)
}

/// Takes the rebuild lock for `owner`. Fails with [`VectorError::Locked`] while another
/// owner's lock is younger than `ttl_ms`; an older one is taken over (`recovered`).
pub async fn lock_domain(
    db: &Database,
    domain: &str,
    owner: &str,
    ttl_ms: u64,
) -> Result<LockGrant> {
    with_config(db, domain, |cfg| {
        let mut recovered = false;
        if let Some(l) = &cfg.lock {
            let age_ms = now_ms().saturating_sub(l.heartbeat_ms);
            if age_ms < ttl_ms && l.owner != owner {
                return Err(VectorError::Locked {
                    domain: domain.to_string(),
                    owner: l.owner.clone(),
                    target_version: l.target_version,
                    age_ms,
                });
            }
            recovered = l.owner != owner;
        }
        let now = now_ms();
        cfg.lock = Some(RebuildLock {
            owner: owner.to_string(),
            target_version: cfg.active_version + 1,
            started_ms: now,
            heartbeat_ms: now,
        });
        Ok(LockGrant {
            config: cfg.clone(),
            recovered,
        })
    })
    .await
}

/// Takes the lock with the default TTL ([`LOCK_TTL_MS`]).
pub async fn lock_domain_default(db: &Database, domain: &str, owner: &str) -> Result<LockGrant> {
    lock_domain(db, domain, owner, LOCK_TTL_MS).await
}

fn owned<'a>(domain: &str, cfg: &'a mut DomainConfig, owner: &str) -> Result<&'a mut RebuildLock> {
    match cfg.lock.as_mut() {
        Some(l) if l.owner == owner => Ok(l),
        _ => Err(VectorError::Inconsistent {
            domain: domain.to_string(),
            reason: format!("rebuild `{owner}` lost its lock"),
        }),
    }
}

/// Refreshes the heartbeat of `owner`'s lock.
pub async fn heartbeat(db: &Database, domain: &str, owner: &str) -> Result<()> {
    with_config(db, domain, |cfg| {
        owned(domain, cfg, owner)?.heartbeat_ms = now_ms();
        Ok(())
    })
    .await
}

/// Releases `owner`'s lock; `false` when it did not hold it.
pub async fn unlock_domain(db: &Database, domain: &str, owner: &str) -> Result<bool> {
    with_config(db, domain, |cfg| {
        let held = cfg.lock.as_ref().is_some_and(|l| l.owner == owner);
        if held {
            cfg.lock = None;
        }
        Ok(held)
    })
    .await
}

/// Atomically switches `owner`'s rebuild to its target version and releases the lock.
pub(crate) async fn switch_version(
    db: &Database,
    domain: &str,
    owner: &str,
    items: u64,
    centroids: u64,
) -> Result<u32> {
    with_config(db, domain, |cfg| {
        let target = owned(domain, cfg, owner)?.target_version;
        cfg.active_version = target;
        cfg.built_items = items;
        cfg.built_centroids = centroids;
        cfg.lock = None;
        Ok(target)
    })
    .await
}

/// Drops every versioned store of `domain` whose version is not `keep` (half-built stores of
/// a crashed rebuild, retired versions). Returns the dropped names.
pub async fn drop_other_versions(db: &Database, domain: &str, keep: u32) -> Result<Vec<String>> {
    let names = StoreNames::new(domain);
    let mut dropped = Vec::new();
    for store in db.store_names() {
        if names.version_of(&store).is_some_and(|v| v != keep) {
            db.remove_btree(&store).await.ctx(domain, &store)?;
            dropped.push(store);
        }
    }
    Ok(dropped)
}

/// Whether writes are currently refused (a fresh lock is held).
pub async fn is_locked(db: &Database, domain: &str) -> Result<bool> {
    let tx = db
        .begin(TransactionMode::NoCheck)
        .await
        .ctx(domain, "begin")?;
    let sys = sys_tree(&tx, domain).await?;
    let cfg = read_config(&sys, domain)
        .await?
        .ok_or_else(|| VectorError::DomainNotFound(domain.to_string()))?;
    Ok(check_unlocked(domain, &cfg).is_err())
}
