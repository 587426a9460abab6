//! Key ordering: natural `Ord` keys and `serde_json::Value` keys ordered by an
//! [`IndexSpec`].
//!
//! Ride-on keys: fields of a key that do not take part in ordering travel with
//! the key (so scans over keys alone can read them) but never move the item.
//! For Rust types this is an `Ord` that ignores them; for JSON keys it is every
//! field not listed in the [`IndexSpec`]. A JSON store can then be searched
//! with a plain JSON object holding only the ordered fields.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How a store compares its keys.
pub trait KeyOrder<K>: Send + Sync + 'static {
    /// Total order on keys.
    fn compare(&self, a: &K, b: &K) -> Ordering;
}

/// How a store compares keys at run time: a direct function for natural
/// `Ord` keys (no allocation, no vtable on the hot path) or a [`KeyOrder`]
/// object (for example an [`IndexSpec`]).
pub enum Comparator<K> {
    /// `<K as Ord>::cmp`.
    Natural(fn(&K, &K) -> Ordering),
    /// A custom order.
    Custom(std::sync::Arc<dyn KeyOrder<K>>),
}

impl<K> Clone for Comparator<K> {
    fn clone(&self) -> Self {
        match self {
            Comparator::Natural(f) => Comparator::Natural(*f),
            Comparator::Custom(o) => Comparator::Custom(o.clone()),
        }
    }
}

impl<K: Ord> Comparator<K> {
    /// The key type's own order.
    pub fn natural() -> Self {
        Comparator::Natural(<K as Ord>::cmp)
    }
}

impl<K: 'static> Comparator<K> {
    /// Compares two keys.
    #[inline]
    pub fn compare(&self, a: &K, b: &K) -> Ordering {
        match self {
            Comparator::Natural(f) => f(a, b),
            Comparator::Custom(o) => o.compare(a, b),
        }
    }
}

/// The key type's own `Ord`.
#[derive(Debug, Clone, Copy, Default)]
pub struct NaturalOrder;

impl<K: Ord> KeyOrder<K> for NaturalOrder {
    fn compare(&self, a: &K, b: &K) -> Ordering {
        a.cmp(b)
    }
}

/// One ordered field of a JSON key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexField {
    /// Field name; nested fields use `a.b.c`.
    pub field: String,
    /// Ascending (`true`) or descending order.
    pub ascending: bool,
}

/// Ordered fields of `serde_json::Value` keys; every other field rides on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexSpec {
    /// Fields compared in order.
    pub fields: Vec<IndexField>,
}

impl IndexSpec {
    /// A spec ordering by the given fields, all ascending.
    pub fn ascending<S: Into<String>>(fields: impl IntoIterator<Item = S>) -> Self {
        IndexSpec {
            fields: fields
                .into_iter()
                .map(|f| IndexField {
                    field: f.into(),
                    ascending: true,
                })
                .collect(),
        }
    }
}

fn lookup<'a>(v: &'a Value, path: &str) -> &'a Value {
    let mut cur = v;
    for part in path.split('.') {
        match cur.get(part) {
            Some(next) => cur = next,
            None => return &Value::Null,
        }
    }
    cur
}

fn type_rank(v: &Value) -> u8 {
    match v {
        Value::Null => 0,
        Value::Bool(_) => 1,
        Value::Number(_) => 2,
        Value::String(_) => 3,
        Value::Array(_) => 4,
        Value::Object(_) => 5,
    }
}

/// Total order on JSON values: null < bool < number < string < array < object;
/// numbers numerically, strings bytewise, arrays element-wise.
pub fn compare_json(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => i.cmp(&j),
            _ => {
                let (x, y) = (x.as_f64().unwrap_or(0.0), y.as_f64().unwrap_or(0.0));
                x.total_cmp(&y)
            }
        },
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Array(x), Value::Array(y)) => {
            for (i, j) in x.iter().zip(y) {
                let o = compare_json(i, j);
                if o != Ordering::Equal {
                    return o;
                }
            }
            x.len().cmp(&y.len())
        }
        (Value::Object(x), Value::Object(y)) => {
            let xs = serde_json::to_string(x).unwrap_or_default();
            let ys = serde_json::to_string(y).unwrap_or_default();
            xs.cmp(&ys)
        }
        _ => type_rank(a).cmp(&type_rank(b)),
    }
}

impl KeyOrder<Value> for IndexSpec {
    fn compare(&self, a: &Value, b: &Value) -> Ordering {
        for f in &self.fields {
            let o = compare_json(lookup(a, &f.field), lookup(b, &f.field));
            let o = if f.ascending { o } else { o.reverse() };
            if o != Ordering::Equal {
                return o;
            }
        }
        Ordering::Equal
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ride_on_fields_do_not_order() {
        let spec = IndexSpec {
            fields: vec![
                IndexField {
                    field: "last".into(),
                    ascending: true,
                },
                IndexField {
                    field: "age".into(),
                    ascending: false,
                },
            ],
        };
        let a = json!({"last": "doe", "age": 40, "note": "x"});
        let b = json!({"last": "doe", "age": 40});
        let c = json!({"last": "doe", "age": 30});
        assert_eq!(spec.compare(&a, &b), Ordering::Equal);
        assert_eq!(spec.compare(&a, &c), Ordering::Less);
    }
}
