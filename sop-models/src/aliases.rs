//! Aliases (`production`, `staging`, ...): named pointers from a model to one
//! of its versions.
//!
//! Invariants: an alias points at an existing version; the version's ride-on
//! summary lists the aliases pointing at it (so listings show them without
//! a lookup). Moving an alias rewrites the alias entry and both summaries in
//! the caller's transaction, so a rollback leaves the old target everywhere.

use std::ops::Bound;

use futures::StreamExt;
use serde::de::DeserializeOwned;
use sop_core::Direction;

use crate::access::check_field;
use crate::error::{ModelError, ModelId, Result};
use crate::keys::AliasKey;
use crate::registry::ModelRegistry;

impl ModelRegistry {
    /// Points `alias` of `category/name` at `version` (which must exist),
    /// moving it from its previous version if any; returns that previous
    /// version.
    pub async fn set_alias(
        &self,
        category: &str,
        name: &str,
        alias: &str,
        version: &str,
    ) -> Result<Option<String>> {
        let id = ModelId::new(category, name, version);
        check_field(&id, "alias", alias)?;
        let mut target = self.require_key(&id, "set_alias").await?;
        let akey = alias_key(category, name, alias);
        let previous = self
            .aliases
            .get(&akey)
            .await
            .map_err(self.store_err("set_alias", &id))?;
        if previous.as_deref() == Some(version) {
            return Ok(previous);
        }
        if let Some(prev) = &previous {
            self.unflag(&ModelId::new(category, name, prev), alias, "set_alias")
                .await?;
        }
        if let Err(at) = target
            .summary
            .aliases
            .binary_search_by(|a| a.as_str().cmp(alias))
        {
            target.summary.aliases.insert(at, alias.to_string());
        }
        self.models
            .update_key(target)
            .await
            .map_err(self.store_err("set_alias", &id))?;
        self.aliases
            .upsert(akey, version.to_string())
            .await
            .map_err(self.store_err("set_alias", &id))?;
        Ok(previous)
    }

    /// The version `alias` points at; `None` when the alias is not set.
    pub async fn resolve_alias(
        &self,
        category: &str,
        name: &str,
        alias: &str,
    ) -> Result<Option<String>> {
        self.aliases
            .get(&alias_key(category, name, alias))
            .await
            .map_err(self.store_err("resolve_alias", &ModelId::model(category, name)))
    }

    /// Loads the version `alias` points at; an unset alias is
    /// [`ModelError::AliasNotFound`].
    pub async fn get_by_alias<T: DeserializeOwned>(
        &self,
        category: &str,
        name: &str,
        alias: &str,
    ) -> Result<T> {
        match self.resolve_alias(category, name, alias).await? {
            Some(version) => self.get(category, name, &version).await,
            None => Err(ModelError::AliasNotFound {
                model: ModelId::model(category, name).into(),
                alias: alias.to_string(),
            }),
        }
    }

    /// Removes `alias`; `false` when it was not set.
    pub async fn remove_alias(&self, category: &str, name: &str, alias: &str) -> Result<bool> {
        let Some(version) = self.resolve_alias(category, name, alias).await? else {
            return Ok(false);
        };
        let id = ModelId::new(category, name, &version);
        self.unflag(&id, alias, "remove_alias").await?;
        self.aliases
            .remove(&alias_key(category, name, alias))
            .await
            .map_err(self.store_err("remove_alias", &id))
    }

    /// Every alias of `category/name` with its version, sorted by alias.
    pub async fn aliases(&self, category: &str, name: &str) -> Result<Vec<(String, String)>> {
        let id = ModelId::model(category, name);
        let lo = alias_key(category, name, "");
        let hi = alias_key(category, &format!("{name}\0"), "");
        let range = (Bound::Included(lo), Bound::Excluded(hi));
        let mut stream = std::pin::pin!(self.aliases.range(range, Direction::Forward));
        let mut out = Vec::new();
        while let Some(r) = stream.next().await {
            let (k, version) = r.map_err(self.store_err("aliases", &id))?;
            out.push((k.alias, version));
        }
        Ok(out)
    }

    /// Drops `alias` from the summary of version `id` (if it still exists).
    async fn unflag(&self, id: &ModelId, alias: &str, op: &'static str) -> Result<()> {
        if let Some(mut key) = self.find_key(id, op).await? {
            key.summary.aliases.retain(|a| a != alias);
            self.models
                .update_key(key)
                .await
                .map_err(self.store_err(op, id))?;
        }
        Ok(())
    }
}

fn alias_key(category: &str, name: &str, alias: &str) -> AliasKey {
    AliasKey {
        category: category.to_string(),
        name: name.to_string(),
        alias: alias.to_string(),
    }
}
