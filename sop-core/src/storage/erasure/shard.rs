//! The shard file: a 48-byte header followed by the shard payload.
//!
//! Owns the byte layout of one shard of an erasure-coded blob (little endian):
//!
//! | offset | size | field                                                   |
//! |-------:|-----:|---------------------------------------------------------|
//! | 0      | 4    | magic `SOPS`                                            |
//! | 4      | 2    | format version ([`crate::FORMAT_VERSION`], u16)         |
//! | 6      | 1    | shard index (`0..data` data, `data..data+parity` parity) |
//! | 7      | 1    | data shard count                                        |
//! | 8      | 1    | parity shard count                                      |
//! | 9      | 3    | reserved (0)                                            |
//! | 12     | 16   | blob UUID                                               |
//! | 28     | 8    | original blob length (u64); padding = `data × shard length − original length` |
//! | 36     | 4    | shard payload length (u32, even, ≥ 2)                   |
//! | 40     | 4    | CRC32 of the shard payload                              |
//! | 44     | 4    | CRC32 of header bytes 0..44                             |
//!
//! Invariant: a shard whose header CRC, magic, version, length or payload CRC
//! does not check is never used; [`parse`] returns [`SopError::Corrupt`] or
//! [`SopError::Format`] naming the shard file.

use std::path::Path;

use uuid::Uuid;

use crate::error::{Result, SopError};

/// Size of the shard header in bytes.
pub const SHARD_HEADER: usize = 48;
const MAGIC: &[u8; 4] = b"SOPS";
const HEADER_CRC_AT: usize = 44;

/// The decoded header of one shard file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardHeader {
    /// Position of the shard: data shards first, then parity shards.
    pub index: u8,
    /// Data shard count of the blob.
    pub data_shards: u8,
    /// Parity shard count of the blob.
    pub parity_shards: u8,
    /// The blob this shard belongs to.
    pub blob: Uuid,
    /// Length of the blob before splitting and padding.
    pub original_len: u64,
    /// Length of the payload (every shard of a blob has the same length).
    pub shard_len: u32,
    /// CRC32 of the payload.
    pub payload_crc: u32,
}

impl ShardHeader {
    /// Padding bytes (zeros) appended after the blob in the last data shards.
    pub fn padding(&self) -> u64 {
        u64::from(self.data_shards) * u64::from(self.shard_len) - self.original_len
    }

    /// Serializes the header followed by `payload` (whose CRC and length the
    /// header must already record) into one shard file image.
    pub fn to_file_bytes(&self, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(SHARD_HEADER + payload.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(crate::FORMAT_VERSION as u16).to_le_bytes());
        out.push(self.index);
        out.push(self.data_shards);
        out.push(self.parity_shards);
        out.extend_from_slice(&[0, 0, 0]);
        out.extend_from_slice(self.blob.as_bytes());
        out.extend_from_slice(&self.original_len.to_le_bytes());
        out.extend_from_slice(&self.shard_len.to_le_bytes());
        out.extend_from_slice(&self.payload_crc.to_le_bytes());
        let header_crc = crc32fast::hash(&out[..HEADER_CRC_AT]);
        out.extend_from_slice(&header_crc.to_le_bytes());
        out.extend_from_slice(payload);
        out
    }
}

fn le_u32(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}

/// Checks a whole shard file image (header CRC, magic, version, lengths,
/// payload CRC) and returns its header and payload. `path` names the file in
/// errors.
pub fn parse<'a>(path: &Path, bytes: &'a [u8]) -> Result<(ShardHeader, &'a [u8])> {
    if bytes.len() < SHARD_HEADER {
        return Err(SopError::format(
            path,
            format!("truncated shard header ({} bytes)", bytes.len()),
        ));
    }
    let stored = le_u32(bytes, HEADER_CRC_AT);
    SopError::check_crc(path, stored, crc32fast::hash(&bytes[..HEADER_CRC_AT]))?;
    if &bytes[0..4] != MAGIC {
        return Err(SopError::format(path, "bad shard magic"));
    }
    let version = u16::from_le_bytes([bytes[4], bytes[5]]);
    if u32::from(version) != crate::FORMAT_VERSION {
        return Err(SopError::format(
            path,
            format!("unsupported shard format version {version}"),
        ));
    }
    let mut id = [0u8; 16];
    id.copy_from_slice(&bytes[12..28]);
    let mut original = [0u8; 8];
    original.copy_from_slice(&bytes[28..36]);
    let header = ShardHeader {
        index: bytes[6],
        data_shards: bytes[7],
        parity_shards: bytes[8],
        blob: Uuid::from_bytes(id),
        original_len: u64::from_le_bytes(original),
        shard_len: le_u32(bytes, 36),
        payload_crc: le_u32(bytes, 40),
    };
    let capacity = u64::from(header.data_shards) * u64::from(header.shard_len);
    if header.data_shards == 0 || header.original_len > capacity {
        return Err(SopError::format(
            path,
            format!(
                "shard header geometry is impossible: {} data shards of {} bytes for a {}-byte blob",
                header.data_shards, header.shard_len, header.original_len
            ),
        ));
    }
    let payload = &bytes[SHARD_HEADER..];
    if payload.len() != header.shard_len as usize {
        return Err(SopError::format(
            path,
            format!(
                "shard payload is {} bytes, header says {}",
                payload.len(),
                header.shard_len
            ),
        ));
    }
    SopError::check_crc(path, header.payload_crc, crc32fast::hash(payload))?;
    Ok((header, payload))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_detects_every_flip() {
        let payload = b"shard payload!".to_vec();
        let header = ShardHeader {
            index: 3,
            data_shards: 4,
            parity_shards: 2,
            blob: Uuid::new_v4(),
            original_len: 50,
            shard_len: payload.len() as u32,
            payload_crc: crc32fast::hash(&payload),
        };
        let file = header.to_file_bytes(&payload);
        let p = Path::new("s");
        let parsed = parse(p, &file).ok();
        assert_eq!(parsed, Some((header, &payload[..])));
        assert_eq!(header.padding(), 4 * 14 - 50);
        for i in 0..file.len() {
            let mut bad = file.clone();
            bad[i] ^= 0x10;
            assert!(parse(p, &bad).is_err(), "flip at byte {i} not detected");
        }
        assert!(parse(p, &file[..file.len() - 1]).is_err());
    }
}
