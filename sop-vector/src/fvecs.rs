//! Reading and writing the SIFT/ANN `.fvecs` and `.ivecs` formats.
//!
//! Each row is a little-endian `i32` dimension `d` followed by `d` little-endian values
//! (`f32` for `.fvecs`, `i32` for `.ivecs`). Invariants enforced on read: every row has the
//! same positive dimension (at most [`MAX_DIM`]), no row is truncated, and `.fvecs` values
//! are finite. Every error names the file and the zero-based row.

use std::fs::File;
use std::io::{BufReader, BufWriter, ErrorKind, Read, Write};
use std::path::{Path, PathBuf};

use crate::error::{Result, VectorError};
use crate::slab::VectorSlab;

/// Largest dimension accepted on read (guards against allocating for a corrupt header).
pub const MAX_DIM: usize = 1 << 20;

const BUF_BYTES: usize = 1 << 20;

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> VectorError + '_ {
    move |source| VectorError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn format_err(path: &Path, row: usize, reason: impl Into<String>) -> VectorError {
    VectorError::Format {
        path: PathBuf::from(path),
        row,
        reason: reason.into(),
    }
}

/// Reads a 4-byte row header; `Ok(None)` at a clean end of file.
fn read_header<R: Read>(r: &mut R, path: &Path, row: usize) -> Result<Option<[u8; 4]>> {
    let mut buf = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        match r.read(&mut buf[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => return Err(format_err(path, row, "truncated dimension header")),
            Ok(n) => got += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(io_err(path)(e)),
        }
    }
    Ok(Some(buf))
}

/// Reads rows of 4-byte values; returns `(dim, values)`. `decode` converts one value and may
/// reject it with a reason (reported with the row and component).
fn read_rows<T>(
    path: &Path,
    max_rows: Option<usize>,
    decode: impl Fn([u8; 4]) -> std::result::Result<T, String>,
) -> Result<(usize, Vec<T>)> {
    let file = File::open(path).map_err(io_err(path))?;
    let file_len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut r = BufReader::with_capacity(BUF_BYTES, file);
    let mut dim = 0usize;
    let mut out = Vec::new();
    let mut buf = Vec::new();
    let mut row = 0usize;
    let limit = max_rows.unwrap_or(usize::MAX);
    while row < limit {
        let Some(header) = read_header(&mut r, path, row)? else {
            break;
        };
        let d = i32::from_le_bytes(header);
        if d <= 0 || d as usize > MAX_DIM {
            return Err(format_err(path, row, format!("invalid dimension {d}")));
        }
        let d = d as usize;
        if row == 0 {
            dim = d;
            let row_bytes = 4 + 4 * d as u64;
            let rows = (file_len / row_bytes) as usize;
            let rows = max_rows.map_or(rows, |m| rows.min(m));
            out.reserve(rows.saturating_mul(d));
            buf.resize(4 * d, 0);
        } else if d != dim {
            return Err(format_err(
                path,
                row,
                format!("dimension {d} differs from {dim} of row 0"),
            ));
        }
        r.read_exact(&mut buf).map_err(|e| {
            if e.kind() == ErrorKind::UnexpectedEof {
                format_err(
                    path,
                    row,
                    format!("truncated row: expected {} bytes", 4 * d),
                )
            } else {
                io_err(path)(e)
            }
        })?;
        for (c, b) in buf.chunks_exact(4).enumerate() {
            let v = decode([b[0], b[1], b[2], b[3]])
                .map_err(|reason| format_err(path, row, format!("component {c}: {reason}")))?;
            out.push(v);
        }
        row += 1;
    }
    Ok((dim, out))
}

fn write_rows<T: Copy>(
    path: &Path,
    dim: usize,
    values: &[T],
    encode: impl Fn(T) -> [u8; 4],
) -> Result<()> {
    let d = i32::try_from(dim)
        .ok()
        .filter(|&d| d > 0)
        .ok_or_else(|| format_err(path, 0, format!("dimension {dim} cannot be written")))?;
    let file = File::create(path).map_err(io_err(path))?;
    let mut w = BufWriter::with_capacity(BUF_BYTES, file);
    for row in values.chunks_exact(dim) {
        w.write_all(&d.to_le_bytes()).map_err(io_err(path))?;
        for &v in row {
            w.write_all(&encode(v)).map_err(io_err(path))?;
        }
    }
    w.flush().map_err(io_err(path))?;
    Ok(())
}

/// Reads a whole `.fvecs` file. An empty file is an error (its dimension is unknown).
pub fn read_fvecs(path: impl AsRef<Path>) -> Result<VectorSlab> {
    read_fvecs_limit(path, None)
}

/// Reads at most `max_rows` rows (all if `None`) of a `.fvecs` file.
pub fn read_fvecs_limit(path: impl AsRef<Path>, max_rows: Option<usize>) -> Result<VectorSlab> {
    let path = path.as_ref();
    let (dim, data) = read_rows(path, max_rows, |b| {
        let v = f32::from_le_bytes(b);
        if v.is_finite() {
            Ok(v)
        } else {
            Err(format!("value {v} is not finite"))
        }
    })?;
    if dim == 0 {
        return Err(format_err(path, 0, "file holds no vectors"));
    }
    VectorSlab::new(dim, data)
}

/// Writes `slab` as a `.fvecs` file (created or truncated).
pub fn write_fvecs(path: impl AsRef<Path>, slab: &VectorSlab) -> Result<()> {
    write_rows(path.as_ref(), slab.dim(), slab.as_slice(), f32::to_le_bytes)
}

/// Reads a whole `.ivecs` file (for example ground-truth neighbour ids) as rows.
pub fn read_ivecs(path: impl AsRef<Path>) -> Result<Vec<Vec<i32>>> {
    read_ivecs_limit(path, None)
}

/// Reads at most `max_rows` rows (all if `None`) of an `.ivecs` file.
pub fn read_ivecs_limit(path: impl AsRef<Path>, max_rows: Option<usize>) -> Result<Vec<Vec<i32>>> {
    let path = path.as_ref();
    let (dim, data) = read_rows(path, max_rows, |b| Ok(i32::from_le_bytes(b)))?;
    if dim == 0 {
        return Ok(Vec::new());
    }
    Ok(data.chunks_exact(dim).map(<[i32]>::to_vec).collect())
}

/// Writes rows of equal, positive length as an `.ivecs` file (created or truncated).
pub fn write_ivecs(path: impl AsRef<Path>, rows: &[Vec<i32>]) -> Result<()> {
    let path = path.as_ref();
    let dim = rows.first().map_or(0, Vec::len);
    if rows.is_empty() {
        File::create(path).map_err(io_err(path))?;
        return Ok(());
    }
    if let Some((row, r)) = rows.iter().enumerate().find(|(_, r)| r.len() != dim) {
        return Err(format_err(
            path,
            row,
            format!("length {} differs from {dim} of row 0", r.len()),
        ));
    }
    let flat: Vec<i32> = rows.concat();
    write_rows(path, dim, &flat, i32::to_le_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp() -> Result<tempfile::TempDir> {
        tempfile::tempdir().map_err(|e| io_err(Path::new("<tempdir>"))(e))
    }

    #[test]
    fn fvecs_round_trip_and_limit() -> Result<()> {
        let dir = tmp()?;
        let p = dir.path().join("base.fvecs");
        let slab = VectorSlab::new(3, (0..30).map(|i| i as f32 * 0.5 - 3.0).collect())?;
        write_fvecs(&p, &slab)?;
        let len = std::fs::metadata(&p).map_err(io_err(&p))?.len();
        assert_eq!(len, 10 * (4 + 12));
        assert_eq!(read_fvecs(&p)?, slab);
        let head = read_fvecs_limit(&p, Some(4))?;
        assert_eq!(head.len(), 4);
        assert_eq!(head.row(3), slab.row(3));
        Ok(())
    }

    #[test]
    fn ivecs_round_trip() -> Result<()> {
        let dir = tmp()?;
        let p = dir.path().join("gt.ivecs");
        let rows = vec![vec![1, 2, 3], vec![-4, 5, i32::MAX]];
        write_ivecs(&p, &rows)?;
        assert_eq!(read_ivecs(&p)?, rows);
        assert_eq!(read_ivecs_limit(&p, Some(1))?, rows[..1].to_vec());
        assert!(write_ivecs(&p, &[vec![1], vec![1, 2]]).is_err());
        write_ivecs(&p, &[])?;
        assert!(read_ivecs(&p)?.is_empty());
        Ok(())
    }

    fn write_raw(p: &Path, bytes: &[u8]) -> Result<()> {
        std::fs::write(p, bytes).map_err(io_err(p))
    }

    fn row(dim: i32, vals: &[f32]) -> Vec<u8> {
        let mut b = dim.to_le_bytes().to_vec();
        for v in vals {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b
    }

    #[test]
    fn malformed_files_name_file_and_row() -> Result<()> {
        let dir = tmp()?;
        let p = dir.path().join("bad.fvecs");
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (
                [row(2, &[1.0, 2.0]), row(3, &[1.0, 2.0, 3.0])].concat(),
                "row 1: dimension 3",
            ),
            (
                [row(2, &[1.0, 2.0]), row(2, &[1.0])].concat(),
                "row 1: truncated row",
            ),
            (
                [row(2, &[1.0, 2.0]), vec![2, 0]].concat(),
                "row 1: truncated dimension",
            ),
            (row(-1, &[]), "row 0: invalid dimension -1"),
            (
                [row(2, &[1.0, 2.0]), row(2, &[1.0, f32::NAN])].concat(),
                "row 1: component 1",
            ),
            (Vec::new(), "row 0: file holds no vectors"),
        ];
        for (bytes, want) in cases {
            write_raw(&p, &bytes)?;
            let msg = read_fvecs(&p)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(
                msg.contains("bad.fvecs") && msg.contains(want),
                "{msg} !~ {want}"
            );
        }
        let missing = read_fvecs(dir.path().join("missing.fvecs")).err();
        assert!(matches!(missing, Some(VectorError::Io { .. })));
        Ok(())
    }
}
