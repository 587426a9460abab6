//! Pure Reed–Solomon arithmetic over shard payloads, no I/O.
//!
//! Owns the geometry (shard length for a blob length) and the calls into
//! reed-solomon-simd: computing parity shards from data shards and restoring
//! missing data shards from any `data` intact shards. Encoders and decoders
//! are cached per thread (their work space is reused between blobs).
//!
//! Invariant: every shard of a blob has the same even, non-zero length
//! (reed-solomon-simd 3 requires an even shard size); the blob is the
//! concatenation of the data shards truncated to its original length.

use std::cell::RefCell;
use std::collections::BTreeMap;

use reed_solomon_simd::{Error as RsError, ReedSolomonDecoder, ReedSolomonEncoder};

thread_local! {
    static ENCODER: RefCell<Option<ReedSolomonEncoder>> = const { RefCell::new(None) };
    static DECODER: RefCell<Option<ReedSolomonDecoder>> = const { RefCell::new(None) };
}

/// Payload length of every shard of a blob of `original_len` bytes split into
/// `data` shards: the ceiling of the division, rounded up to an even number,
/// at least 2.
pub fn shard_len(original_len: usize, data: usize) -> usize {
    let per = original_len.div_ceil(data.max(1)).max(2);
    per + (per & 1)
}

/// The `index`-th data shard payload of `blob`, zero-padded to `len` bytes.
pub fn data_shard(blob: &[u8], index: usize, len: usize) -> std::borrow::Cow<'_, [u8]> {
    let start = (index * len).min(blob.len());
    let end = ((index + 1) * len).min(blob.len());
    let part = &blob[start..end];
    if part.len() == len {
        std::borrow::Cow::Borrowed(part)
    } else {
        let mut padded = part.to_vec();
        padded.resize(len, 0);
        std::borrow::Cow::Owned(padded)
    }
}

/// Computes the `parity` recovery shards of the given data shards (all of the
/// same length). Returns nothing when `parity` is 0 (plain striping).
pub fn encode_parity<T: AsRef<[u8]>>(
    parity: usize,
    originals: &[T],
) -> Result<Vec<Vec<u8>>, RsError> {
    let Some(first) = originals.first() else {
        return Ok(Vec::new());
    };
    if parity == 0 {
        return Ok(Vec::new());
    }
    let bytes = first.as_ref().len();
    ENCODER.with(|cell| {
        let mut slot = cell.borrow_mut();
        let encoder = match slot.as_mut() {
            Some(e) => {
                e.reset(originals.len(), parity, bytes)?;
                e
            }
            None => slot.insert(ReedSolomonEncoder::new(originals.len(), parity, bytes)?),
        };
        for o in originals {
            encoder.add_original_shard(o)?;
        }
        let result = encoder.encode()?;
        Ok(result.recovery_iter().map(<[u8]>::to_vec).collect())
    })
}

/// Restores the missing data shards of a `data` + `parity` blob from the
/// intact ones. `shards[i]` is shard `i`'s payload (data then parity) or
/// `None` when lost; at least `data` must be present. Returns the restored
/// data shards by index.
pub fn restore_data(
    data: usize,
    parity: usize,
    shards: &[Option<&[u8]>],
) -> Result<BTreeMap<usize, Vec<u8>>, RsError> {
    let missing_data = shards[..data].iter().any(Option::is_none);
    if !missing_data {
        return Ok(BTreeMap::new());
    }
    let Some(bytes) = shards.iter().flatten().map(|s| s.len()).next() else {
        return Err(RsError::NotEnoughShards {
            original_count: data,
            original_received_count: 0,
            recovery_received_count: 0,
        });
    };
    DECODER.with(|cell| {
        let mut slot = cell.borrow_mut();
        let decoder = match slot.as_mut() {
            Some(d) => {
                d.reset(data, parity, bytes)?;
                d
            }
            None => slot.insert(ReedSolomonDecoder::new(data, parity, bytes)?),
        };
        for (i, shard) in shards.iter().enumerate() {
            match shard {
                Some(s) if i < data => decoder.add_original_shard(i, s)?,
                Some(s) => decoder.add_recovery_shard(i - data, s)?,
                None => {}
            }
        }
        let result = decoder.decode()?;
        Ok(result
            .restored_original_iter()
            .map(|(i, s)| (i, s.to_vec()))
            .collect())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geometry_is_even_and_covers_the_blob() {
        for len in [0usize, 1, 2, 3, 7, 8, 9, 100, 65_537] {
            for data in 1..7 {
                let s = shard_len(len, data);
                assert!(s >= 2 && s & 1 == 0 && s * data >= len, "{len} {data}");
            }
        }
    }

    #[test]
    fn restores_any_two_lost_of_four_plus_two() {
        let blob: Vec<u8> = (0..1001u32).map(|i| (i * 7) as u8).collect();
        let len = shard_len(blob.len(), 4);
        let data: Vec<Vec<u8>> = (0..4).map(|i| data_shard(&blob, i, len).to_vec()).collect();
        let parity = encode_parity(2, &data).unwrap_or_default();
        let all: Vec<Vec<u8>> = data.iter().chain(parity.iter()).cloned().collect();
        for a in 0..6 {
            for b in a + 1..6 {
                let shards: Vec<Option<&[u8]>> = all
                    .iter()
                    .enumerate()
                    .map(|(i, s)| (i != a && i != b).then_some(s.as_slice()))
                    .collect();
                let restored = restore_data(4, 2, &shards).unwrap_or_default();
                for (i, s) in restored {
                    assert_eq!(s, data[i], "lost {a},{b}: shard {i}");
                }
            }
        }
    }
}
