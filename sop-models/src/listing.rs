//! Listings: model summaries, versions in version order, latest version,
//! and the model names of a category.
//!
//! Invariant: every listing scans keys only (the [`crate::ModelSummary`]
//! rides on the key), so no model body or artifact is ever loaded here.

use sop_core::Direction;

use crate::access::model_bounds;
use crate::error::{ModelId, Result};
use crate::keys::ModelKey;
use crate::record::ModelInfo;
use crate::registry::ModelRegistry;

impl ModelRegistry {
    /// The summary of a model version (no body load); `None` when missing.
    pub async fn info(
        &self,
        category: &str,
        name: &str,
        version: &str,
    ) -> Result<Option<ModelInfo>> {
        let id = ModelId::new(category, name, version);
        Ok(self.find_key(&id, "info").await?.map(ModelInfo::from))
    }

    /// The greatest version of a model: semver precedence among versions
    /// that parse as semver (`1.10.0 > 1.9.0`, pre-releases below their
    /// release), which rank above non-semver versions (ordered lexically).
    pub async fn latest(&self, category: &str, name: &str) -> Result<Option<ModelInfo>> {
        let (lo, hi) = model_bounds(category, name);
        let id = ModelId::model(category, name);
        let keys = self
            .scan(lo, hi, Direction::Backward, 1, "latest", &id)
            .await?;
        Ok(keys.into_iter().next().map(ModelInfo::from))
    }

    /// Version strings of a model in ascending version order (see
    /// [`ModelRegistry::latest`]); empty when the model has none.
    pub async fn versions(&self, category: &str, name: &str) -> Result<Vec<String>> {
        let infos = self.version_infos(category, name).await?;
        Ok(infos.into_iter().map(|i| i.id.version).collect())
    }

    /// Summaries of every version of a model, in ascending version order.
    pub async fn version_infos(&self, category: &str, name: &str) -> Result<Vec<ModelInfo>> {
        let (lo, hi) = model_bounds(category, name);
        let id = ModelId::model(category, name);
        let keys = self
            .scan(lo, hi, Direction::Forward, usize::MAX, "versions", &id)
            .await?;
        Ok(keys.into_iter().map(ModelInfo::from).collect())
    }

    /// Names of the models of a category, sorted and distinct; empty for an
    /// unknown category.
    pub async fn list(&self, category: &str) -> Result<Vec<String>> {
        let mut names: Vec<String> = Vec::new();
        for info in self.list_infos(category).await? {
            if names.last() != Some(&info.id.name) {
                names.push(info.id.name);
            }
        }
        Ok(names)
    }

    /// Summaries of every version of every model of a category, ordered by
    /// name then version.
    pub async fn list_infos(&self, category: &str) -> Result<Vec<ModelInfo>> {
        let lo = ModelKey::probe(category, "", "");
        let hi = ModelKey::probe(&format!("{category}\0"), "", "");
        let id = ModelId::model(category, "*");
        let keys = self
            .scan(lo, hi, Direction::Forward, usize::MAX, "list", &id)
            .await?;
        Ok(keys.into_iter().map(ModelInfo::from).collect())
    }
}
