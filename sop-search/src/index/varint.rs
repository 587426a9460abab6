//! LEB128 variable-length integers, the packing of posting blocks and document term lists.
//!
//! Owns [`put`] and [`Reader`]. Invariant: a `u32` takes 1–5 bytes, 7 bits per byte, least
//! significant group first, the high bit set on every byte but the last; a reader never
//! reads past its slice and reports truncated or over-long numbers instead of guessing.

/// Appends `v` to `out`.
#[inline]
pub(crate) fn put(out: &mut Vec<u8>, mut v: u32) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads numbers and byte strings from a packed slice.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, at: 0 }
    }

    /// Whether every byte has been read.
    pub fn done(&self) -> bool {
        self.at >= self.bytes.len()
    }

    /// The next number; `None` if the slice ends inside it or it does not fit a `u32`.
    #[inline]
    pub fn next(&mut self) -> Option<u32> {
        let mut v: u32 = 0;
        for shift in [0u32, 7, 14, 21, 28] {
            let b = *self.bytes.get(self.at)?;
            self.at += 1;
            let group = u32::from(b & 0x7f);
            if shift == 28 && group > 0x0f {
                return None;
            }
            v |= group << shift;
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }

    /// The next `n` bytes; `None` if fewer are left.
    pub fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let out = self.bytes.get(self.at..end)?;
        self.at = end;
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_trip_at_every_width() {
        let values = [
            0,
            1,
            127,
            128,
            16_383,
            16_384,
            2_097_151,
            2_097_152,
            u32::MAX,
        ];
        let mut out = Vec::new();
        for v in values {
            put(&mut out, v);
        }
        assert_eq!(out.len(), 1 + 1 + 1 + 2 + 2 + 3 + 3 + 4 + 5);
        let mut r = Reader::new(&out);
        for v in values {
            assert_eq!(r.next(), Some(v));
        }
        assert!(r.done());
        assert_eq!(r.next(), None);
    }

    #[test]
    fn truncated_and_overlong_numbers_are_refused() {
        assert_eq!(Reader::new(&[0x80]).next(), None);
        assert_eq!(Reader::new(&[0xff, 0xff, 0xff, 0xff, 0x1f]).next(), None);
        assert_eq!(
            Reader::new(&[0xff, 0xff, 0xff, 0xff, 0xff, 0x01]).next(),
            None
        );
        let mut r = Reader::new(b"abc");
        assert_eq!(r.take(2), Some(&b"ab"[..]));
        assert_eq!(r.take(2), None);
    }
}
