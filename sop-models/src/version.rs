//! [`Version`]: a model version string with the registry's total order, and
//! the small Semantic Versioning 2.0.0 parser ([`SemVer`]) behind it.
//!
//! Order (total, consistent with equality of the raw strings):
//! 1. versions that do not parse as semver sort first, lexically (bytes);
//! 2. semver versions sort after them by semver precedence (`1.9.0 <
//!    1.10.0`, `2.0.0-rc.1 < 2.0.0`); build metadata is ignored by
//!    precedence, so ties are broken by the raw string to keep distinct
//!    strings distinct.
//!
//! A leading `v`/`V` is accepted (`v1.2.3` parses like `1.2.3`). The empty
//! string is the smallest version; the registry uses it only as a scan bound
//! and never stores it. This order is baked into the B-tree layout of every
//! stored registry: changing it means rebuilding the models store.

use std::cmp::Ordering;
use std::fmt;

use serde::{Deserialize, Serialize};

/// One dot-separated pre-release identifier; numeric ones sort before
/// alphanumeric ones (declaration order), as semver requires.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum PreRelease {
    /// A numeric identifier, compared numerically.
    Numeric(u64),
    /// An alphanumeric identifier, compared by ASCII bytes.
    Alpha(String),
}

/// A parsed semantic version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SemVer {
    /// Major version.
    pub major: u64,
    /// Minor version.
    pub minor: u64,
    /// Patch version.
    pub patch: u64,
    /// Pre-release identifiers (empty for a release).
    pub pre: Vec<PreRelease>,
    /// Build metadata (ignored by precedence).
    pub build: String,
}

impl SemVer {
    /// Parses `MAJOR.MINOR.PATCH[-PRE][+BUILD]` with an optional leading `v`;
    /// `None` when `s` is not a semantic version.
    pub fn parse(s: &str) -> Option<SemVer> {
        let s = s.strip_prefix(['v', 'V']).unwrap_or(s);
        let (rest, build) = match s.split_once('+') {
            Some((r, b)) => {
                if !b.split('.').all(is_identifier) {
                    return None;
                }
                (r, b)
            }
            None => (s, ""),
        };
        let (core, pre) = match rest.split_once('-') {
            Some((c, p)) => (c, Some(p)),
            None => (rest, None),
        };
        let mut parts = core.split('.');
        let major = numeric(parts.next()?)?;
        let minor = numeric(parts.next()?)?;
        let patch = numeric(parts.next()?)?;
        if parts.next().is_some() {
            return None;
        }
        let pre = match pre {
            None => Vec::new(),
            Some(p) => p
                .split('.')
                .map(|id| {
                    if !is_identifier(id) {
                        None
                    } else if id.bytes().all(|b| b.is_ascii_digit()) {
                        numeric(id).map(PreRelease::Numeric)
                    } else {
                        Some(PreRelease::Alpha(id.to_string()))
                    }
                })
                .collect::<Option<Vec<_>>>()?,
        };
        Some(SemVer {
            major,
            minor,
            patch,
            pre,
            build: build.to_string(),
        })
    }

    /// Semver precedence (build metadata ignored).
    pub fn precedence(&self, other: &SemVer) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(other.major, other.minor, other.patch))
            .then_with(|| match (self.pre.is_empty(), other.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => self.pre.cmp(&other.pre),
            })
    }
}

fn is_identifier(id: &str) -> bool {
    !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// A numeric component: digits only, no leading zero (except `0`), fits u64.
fn numeric(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

/// A model version: the raw string plus its parsed semver form, if any.
/// Serialized as the raw string.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub struct Version {
    raw: String,
    semver: Option<SemVer>,
}

impl Version {
    /// Wraps a version string (any string is a version; semver ones order
    /// by precedence).
    pub fn new(raw: impl Into<String>) -> Self {
        let raw = raw.into();
        let semver = SemVer::parse(&raw);
        Version { raw, semver }
    }

    /// The version string as given.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The parsed semantic version, when the string is one.
    pub fn semver(&self) -> Option<&SemVer> {
        self.semver.as_ref()
    }
}

impl From<String> for Version {
    fn from(raw: String) -> Self {
        Version::new(raw)
    }
}

impl From<Version> for String {
    fn from(v: Version) -> Self {
        v.raw
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.raw == other.raw
    }
}

impl Eq for Version {}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        match (&self.semver, &other.semver) {
            (Some(a), Some(b)) => a.precedence(b).then_with(|| self.raw.cmp(&other.raw)),
            (None, None) => self.raw.cmp(&other.raw),
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(list: &[&str]) -> Vec<String> {
        let mut v: Vec<Version> = list.iter().map(|s| Version::new(*s)).collect();
        v.sort();
        v.into_iter().map(String::from).collect()
    }

    #[test]
    fn parses_valid_and_rejects_invalid() {
        let v = SemVer::parse("1.2.3-rc.1+build.5").expect("valid");
        assert_eq!((v.major, v.minor, v.patch), (1, 2, 3));
        assert_eq!(
            v.pre,
            vec![PreRelease::Alpha("rc".into()), PreRelease::Numeric(1)]
        );
        assert_eq!(v.build, "build.5");
        assert!(SemVer::parse("v0.1.0").is_some());
        for bad in [
            "",
            "1",
            "1.2",
            "1.2.3.4",
            "01.2.3",
            "1.2.3-",
            "1.2.3-01",
            "1.2.3+",
            "a.b.c",
            "1.2.x",
            "1.2.3-a..b",
            "1.2.3-ä",
        ] {
            assert!(SemVer::parse(bad).is_none(), "{bad} must not parse");
        }
    }

    #[test]
    fn semver_precedence_order() {
        assert_eq!(
            sorted(&[
                "1.10.0",
                "1.9.0",
                "1.0.0",
                "1.0.0-alpha",
                "1.0.0-alpha.1",
                "1.0.0-alpha.beta",
                "1.0.0-beta",
                "1.0.0-beta.2",
                "1.0.0-beta.11",
                "1.0.0-rc.1",
                "2.0.0",
            ]),
            vec![
                "1.0.0-alpha",
                "1.0.0-alpha.1",
                "1.0.0-alpha.beta",
                "1.0.0-beta",
                "1.0.0-beta.2",
                "1.0.0-beta.11",
                "1.0.0-rc.1",
                "1.0.0",
                "1.9.0",
                "1.10.0",
                "2.0.0",
            ]
        );
    }

    #[test]
    fn non_semver_sort_first_lexically_and_ties_break_on_raw() {
        assert_eq!(
            sorted(&["1.0.0", "draft", "baseline", "1.0.0+b", "1.0.0+a", "v1.0.0"]),
            vec!["baseline", "draft", "1.0.0", "1.0.0+a", "1.0.0+b", "v1.0.0"]
        );
        assert!(Version::new("") < Version::new("a"));
        assert!(Version::new("") < Version::new("0.0.0"));
        assert_ne!(Version::new("1.0.0+a"), Version::new("1.0.0+b"));
    }
}
