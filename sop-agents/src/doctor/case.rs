//! `Case`: one documented case of the Doctor's knowledge base, as stored in its B-tree.
//!
//! Invariant: a case is built from exactly one `data[]` item of the config; `condition` is the
//! item's `text` and `description` its free text (what is embedded and indexed).

use serde::{Deserialize, Serialize};

use crate::config::DataItem;

/// One case: a condition and the symptoms documenting it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Case {
    /// Case id (the `data[]` item id).
    pub id: String,
    /// The condition the case documents.
    pub condition: String,
    /// The case's text (e.g. `"Symptoms: itching, skin rash"`).
    pub description: String,
}

impl Case {
    /// The text that is embedded and indexed: the description, or the condition when the
    /// description is blank.
    pub fn search_text(&self) -> &str {
        if self.description.trim().is_empty() {
            &self.condition
        } else {
            &self.description
        }
    }
}

impl From<&DataItem> for Case {
    fn from(item: &DataItem) -> Self {
        Self {
            id: item.id.clone(),
            condition: item.text.clone(),
            description: item.description.clone(),
        }
    }
}

/// The cases of a config's `data[]`, in order.
pub fn cases_of(data: &[DataItem]) -> Vec<Case> {
    data.iter().map(Case::from).collect()
}
