//! The bank workload of the `cluster` example: accounts whose balances move
//! by random transfers, each transfer also appended to a ledger in the same
//! transaction, so a final audit can prove nothing was lost or half-done.
//!
//! Invariant checked by [`Bank::audit`]: the balances equal the opening
//! balances with every ledger entry replayed, and they sum to the opening
//! total.

use std::time::Duration;

use futures::StreamExt;
use rand::Rng;
use sop_core::{Database, Direction, SopError, StoreOptions, TransactionMode, TransactionOptions};

/// `(from, to, amount)` of one transfer.
pub type Transfer = (u32, u32, i64);

/// The workload's shape.
#[derive(Debug, Clone, Copy)]
pub struct Bank {
    /// Number of accounts.
    pub accounts: u32,
    /// Opening balance of each account.
    pub opening: i64,
}

/// What [`Bank::audit`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Audit {
    /// Ledger entries (committed transfers).
    pub transfers: u64,
    /// True when balances match the ledger replay and the total is intact.
    pub consistent: bool,
}

impl Bank {
    /// Creates the `accounts` and `ledger` stores.
    pub async fn open_accounts(&self, db: &Database) -> Result<(), SopError> {
        let tx = db.begin(TransactionMode::ForWriting).await?;
        let balances = tx
            .new_btree::<u32, i64>("accounts", StoreOptions::with_slot_length(64))
            .await?;
        tx.new_btree::<(u32, u64), Transfer>("ledger", StoreOptions::with_slot_length(128))
            .await?;
        for account in 0..self.accounts {
            balances.add(account, self.opening).await?;
        }
        tx.commit().await
    }

    /// A random transfer for `worker`.
    pub fn pick(&self, rng: &mut impl Rng) -> Transfer {
        let from = rng.gen_range(0..self.accounts);
        let to = (from + rng.gen_range(1..self.accounts)) % self.accounts;
        (from, to, rng.gen_range(1..=100))
    }

    /// Moves money and appends the ledger entry `(worker, seq)`, in one
    /// transaction.
    pub async fn transfer(
        &self,
        db: &Database,
        entry: (u32, u64),
        (from, to, amount): Transfer,
    ) -> Result<(), SopError> {
        let tx = db
            .begin_with(TransactionOptions {
                mode: TransactionMode::ForWriting,
                max_time: Duration::from_secs(30),
            })
            .await?;
        let balances = tx.open_btree::<u32, i64>("accounts").await?;
        let ledger = tx.open_btree::<(u32, u64), Transfer>("ledger").await?;
        let debit = balances.get(&from).await?.unwrap_or(0) - amount;
        let credit = balances.get(&to).await?.unwrap_or(0) + amount;
        balances.update(&from, debit).await?;
        balances.update(&to, credit).await?;
        ledger.add(entry, (from, to, amount)).await?;
        tx.commit().await
    }

    /// Replays the ledger over the opening balances and compares.
    pub async fn audit(&self, db: &Database) -> Result<Audit, SopError> {
        let tx = db.begin(TransactionMode::ForReading).await?;
        let balances = tx.open_btree::<u32, i64>("accounts").await?;
        let ledger = tx.open_btree::<(u32, u64), Transfer>("ledger").await?;
        let mut replayed = vec![self.opening; self.accounts as usize];
        let mut transfers = 0;
        {
            let mut entries = Box::pin(ledger.range(.., Direction::Forward));
            while let Some(entry) = entries.next().await {
                let (_, (from, to, amount)) = entry?;
                replayed[from as usize] -= amount;
                replayed[to as usize] += amount;
                transfers += 1;
            }
        }
        let mut consistent = true;
        let mut total = 0;
        for (account, expected) in replayed.iter().enumerate() {
            let stored = balances.get(&(account as u32)).await?.unwrap_or(i64::MIN);
            consistent &= stored == *expected;
            total += stored;
        }
        consistent &= total == self.opening * self.accounts as i64;
        tx.commit().await?;
        Ok(Audit {
            transfers,
            consistent,
        })
    }
}
