//! The checksummed, versioned frame around every blob and log record.
//!
//! Layout (little endian, 16 bytes then the payload):
//!
//! | offset | size | field                                  |
//! |-------:|-----:|----------------------------------------|
//! | 0      | 4    | magic `SOPB`                           |
//! | 4      | 2    | format version ([`crate::FORMAT_VERSION`]) |
//! | 6      | 1    | kind ([`FrameKind`])                   |
//! | 7      | 1    | reserved (0)                           |
//! | 8      | 4    | payload length                         |
//! | 12     | 4    | CRC32 of the payload                   |
//!
//! Invariant: a frame whose CRC, length, magic or version does not check is
//! never decoded; the reader gets [`SopError::Corrupt`] or [`SopError::Format`]
//! naming the file.

use std::path::Path;

use crate::error::{Result, SopError};

/// Size of the frame header in bytes.
pub const FRAME_HEADER: usize = 16;
/// The magic bytes opening every frame.
pub const MAGIC: &[u8; 4] = b"SOPB";

/// What a frame holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum FrameKind {
    /// A B-tree node.
    Node = 1,
    /// A value blob (medium or big placement).
    Value = 2,
    /// A write-ahead-log record.
    WalRecord = 3,
    /// A checkpoint journal.
    Journal = 4,
    /// A chunk of a binary artifact or other opaque blob.
    Opaque = 5,
    /// The header of a node pack ([`crate::storage::blob_store::pack`]).
    PackHeader = 6,
}

impl FrameKind {
    fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            1 => FrameKind::Node,
            2 => FrameKind::Value,
            3 => FrameKind::WalRecord,
            4 => FrameKind::Journal,
            5 => FrameKind::Opaque,
            6 => FrameKind::PackHeader,
            _ => return None,
        })
    }
}

/// Wraps `payload` in a frame.
pub fn seal(kind: FrameKind, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(FRAME_HEADER + payload.len());
    seal_into(&mut out, kind, payload);
    out
}

/// Appends a frame holding `payload` to `out`.
pub fn seal_into(out: &mut Vec<u8>, kind: FrameKind, payload: &[u8]) {
    out.extend_from_slice(&header(kind, payload.len(), crc32fast::hash(payload)));
    out.extend_from_slice(payload);
}

/// The header of a frame of `kind` whose payload has length `len` and CRC32 `crc` (for
/// writers that build the payload in place after a reserved header).
pub fn header(kind: FrameKind, len: usize, crc: u32) -> [u8; FRAME_HEADER] {
    let mut h = [0u8; FRAME_HEADER];
    h[0..4].copy_from_slice(MAGIC);
    h[4..6].copy_from_slice(&(crate::FORMAT_VERSION as u16).to_le_bytes());
    h[6] = kind as u8;
    h[8..12].copy_from_slice(&(len as u32).to_le_bytes());
    h[12..16].copy_from_slice(&crc.to_le_bytes());
    h
}

/// Result of parsing a frame header.
pub struct FrameHeader {
    /// The frame's kind.
    pub kind: FrameKind,
    /// Payload length.
    pub len: usize,
    /// Recorded CRC32.
    pub crc: u32,
}

/// Parses a frame header from the first [`FRAME_HEADER`] bytes of `bytes`.
pub fn parse_header(path: &Path, bytes: &[u8]) -> Result<FrameHeader> {
    if bytes.len() < FRAME_HEADER {
        return Err(SopError::format(
            path,
            format!("truncated frame header ({} bytes)", bytes.len()),
        ));
    }
    if &bytes[0..4] != MAGIC {
        return Err(SopError::format(path, "bad magic"));
    }
    let version = u16::from_le_bytes([bytes[4], bytes[5]]);
    if u32::from(version) != crate::FORMAT_VERSION {
        return Err(SopError::format(
            path,
            format!("unsupported format version {version}"),
        ));
    }
    if bytes[7] != 0 {
        return Err(SopError::format(
            path,
            format!("reserved header byte is {:#04x}, expected 0", bytes[7]),
        ));
    }
    let kind = FrameKind::from_u8(bytes[6])
        .ok_or_else(|| SopError::format(path, format!("unknown frame kind {}", bytes[6])))?;
    let len = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize;
    let crc = u32::from_le_bytes([bytes[12], bytes[13], bytes[14], bytes[15]]);
    Ok(FrameHeader { kind, len, crc })
}

/// Checks a whole frame (header + payload) and returns its payload.
pub fn open<'a>(path: &Path, expected: FrameKind, bytes: &'a [u8]) -> Result<&'a [u8]> {
    let header = parse_header(path, bytes)?;
    if header.kind != expected {
        return Err(SopError::format(
            path,
            format!("expected a {expected:?} frame, found {:?}", header.kind),
        ));
    }
    let payload = bytes
        .get(FRAME_HEADER..FRAME_HEADER + header.len)
        .ok_or_else(|| SopError::format(path, "truncated frame payload"))?;
    SopError::check_crc(path, header.crc, crc32fast::hash(payload))?;
    Ok(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_detects_flip() {
        let p = Path::new("x");
        let sealed = seal(FrameKind::Node, b"hello world");
        assert_eq!(
            open(p, FrameKind::Node, &sealed).ok(),
            Some(&b"hello world"[..])
        );
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 0x40;
            assert!(
                open(p, FrameKind::Node, &bad).is_err(),
                "flip at {i} not detected"
            );
        }
        assert!(open(p, FrameKind::Value, &sealed).is_err());
    }
}
