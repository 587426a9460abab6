//! Opening typed stores from a [`Transaction`]: natural-order keys and JSON
//! keys ordered by an [`IndexSpec`].

use std::sync::Arc;

use crate::btree::handle::Btree;
use crate::btree::key_search::KeySearch;
use crate::error::{Result, SopError};
use crate::index_spec::IndexSpec;
use crate::options::StoreOptions;
use crate::transaction::Transaction;
use crate::{Key, Value};

impl Transaction {
    /// Opens the store `name`, creating it with `options` when it does not
    /// exist. An existing store with different options is an
    /// [`SopError::IncompatibleStore`].
    pub async fn new_btree<K: Key + Ord, V: Value>(
        &self,
        name: &str,
        options: StoreOptions,
    ) -> Result<Btree<K, V>> {
        if options.index_spec.is_some() {
            return Err(SopError::InvalidArgument {
                field: "index_spec",
                reason: format!(
                    "store '{name}': use new_json_btree for JSON keys ordered by an IndexSpec"
                ),
            });
        }
        let cell = self
            .open_view::<K, V>(name, Some(options), KeySearch::natural())
            .await?;
        Ok(Btree::new(self.clone(), cell))
    }

    /// Opens the existing store `name`; a missing store is
    /// [`SopError::StoreNotFound`].
    pub async fn open_btree<K: Key + Ord, V: Value>(&self, name: &str) -> Result<Btree<K, V>> {
        let cell = self
            .open_view::<K, V>(name, None, KeySearch::natural())
            .await?;
        Ok(Btree::new(self.clone(), cell))
    }

    /// Opens or creates a store keyed by JSON objects ordered by `spec`;
    /// fields outside the spec ride on the key without ordering it.
    pub async fn new_json_btree<V: Value>(
        &self,
        name: &str,
        spec: IndexSpec,
        mut options: StoreOptions,
    ) -> Result<Btree<serde_json::Value, V>> {
        options.index_spec = Some(spec.clone());
        let cell = self
            .open_view::<serde_json::Value, V>(
                name,
                Some(options),
                KeySearch::custom(Arc::new(spec)),
            )
            .await?;
        Ok(Btree::new(self.clone(), cell))
    }

    /// Opens an existing JSON-keyed store with its persisted [`IndexSpec`].
    pub async fn open_json_btree<V: Value>(
        &self,
        name: &str,
    ) -> Result<Btree<serde_json::Value, V>> {
        let spec = self
            .engine()
            .catalog
            .lock()
            .stores
            .get(name)
            .map(|i| i.options.index_spec.clone())
            .ok_or_else(|| SopError::StoreNotFound(name.to_string()))?
            .ok_or_else(|| SopError::IncompatibleStore {
                store: name.to_string(),
                reason: "the store has no index_spec (not a JSON-keyed store)".into(),
            })?;
        let cell = self
            .open_view::<serde_json::Value, V>(name, None, KeySearch::custom(Arc::new(spec)))
            .await?;
        Ok(Btree::new(self.clone(), cell))
    }
}
