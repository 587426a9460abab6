//! JSON metadata files with a version and a CRC32.
//!
//! Layout: one header line `SOP <tag> v<version> crc32=<8 hex digits>\n`, then
//! the JSON body. The CRC covers the body bytes. Every such file is written
//! twice (`<name>` and `<name>.bak`, each atomically); a reader that finds one
//! copy damaged uses the other and rewrites the damaged one.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{Result, SopError};
use crate::storage::fsio;

fn backup_of(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".bak");
    PathBuf::from(s)
}

fn encode<T: Serialize>(tag: &str, value: &T) -> Result<Vec<u8>> {
    let body = serde_json::to_vec_pretty(value).map_err(|e| SopError::Codec {
        store: tag.to_string(),
        what: "metadata",
        reason: e.to_string(),
    })?;
    let mut out = format!(
        "SOP {tag} v{} crc32={:08x}\n",
        crate::FORMAT_VERSION,
        crc32fast::hash(&body)
    )
    .into_bytes();
    out.extend_from_slice(&body);
    Ok(out)
}

fn decode<T: DeserializeOwned>(path: &Path, tag: &str, bytes: &[u8]) -> Result<T> {
    let nl = bytes
        .iter()
        .position(|b| *b == b'\n')
        .ok_or_else(|| SopError::format(path, "missing header line"))?;
    let header = std::str::from_utf8(&bytes[..nl])
        .map_err(|_| SopError::format(path, "header is not UTF-8"))?;
    let body = &bytes[nl + 1..];
    let mut parts = header.split(' ');
    let ok_tag = parts.next() == Some("SOP") && parts.next() == Some(tag);
    let version = parts
        .next()
        .and_then(|v| v.strip_prefix('v'))
        .and_then(|v| v.parse::<u32>().ok());
    let stored = parts
        .next()
        .and_then(|c| c.strip_prefix("crc32="))
        .and_then(|c| u32::from_str_radix(c, 16).ok());
    let (Some(version), Some(stored), true) = (version, stored, ok_tag) else {
        return Err(SopError::format(
            path,
            format!("bad header line '{header}'"),
        ));
    };
    if version != crate::FORMAT_VERSION {
        return Err(SopError::format(
            path,
            format!("unsupported format version {version}"),
        ));
    }
    SopError::check_crc(path, stored, crc32fast::hash(body))?;
    serde_json::from_slice(body).map_err(|e| SopError::format(path, format!("bad JSON: {e}")))
}

/// Writes `value` to `path` and its backup, each atomically and durably.
pub fn write<T: Serialize>(path: &Path, tag: &str, value: &T) -> Result<()> {
    let bytes = encode(tag, value)?;
    fsio::write_atomic(path, &bytes)?;
    fsio::write_atomic(&backup_of(path), &bytes)
}

/// Reads `path`, falling back to (and repairing from) its backup.
/// `Ok(None)` when neither copy exists.
pub fn read<T: DeserializeOwned>(path: &Path, tag: &str) -> Result<Option<T>> {
    let backup = backup_of(path);
    let primary = fsio::read_optional(path)?;
    let secondary = fsio::read_optional(&backup)?;
    match (primary, secondary) {
        (None, None) => Ok(None),
        (Some(p), s) => match decode(path, tag, &p) {
            Ok(v) => {
                if s.as_deref() != Some(&p[..]) {
                    fsio::write_atomic(&backup, &p)?;
                }
                Ok(Some(v))
            }
            Err(primary_err) => match s {
                Some(s) => match decode(&backup, tag, &s) {
                    Ok(v) => {
                        fsio::write_atomic(path, &s)?;
                        Ok(Some(v))
                    }
                    Err(_) => Err(primary_err),
                },
                None => Err(primary_err),
            },
        },
        (None, Some(s)) => {
            let v = decode(&backup, tag, &s)?;
            fsio::write_atomic(path, &s)?;
            Ok(Some(v))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repairs_from_backup() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| SopError::io("tmp", e))?;
        let p = dir.path().join("meta.json");
        write(&p, "test", &vec![1u32, 2, 3])?;
        let mut bytes = std::fs::read(&p).map_err(|e| SopError::io(&p, e))?;
        let last = bytes.len() - 2;
        bytes[last] ^= 1;
        std::fs::write(&p, &bytes).map_err(|e| SopError::io(&p, e))?;
        let v: Option<Vec<u32>> = read(&p, "test")?;
        assert_eq!(v, Some(vec![1, 2, 3]));
        // Primary was rewritten from the backup.
        let again: Option<Vec<u32>> = read(&p, "test")?;
        assert_eq!(again, Some(vec![1, 2, 3]));
        Ok(())
    }
}
