//! The knowledge base fingerprint: what the stored database was built from.
//!
//! It covers the layout version, the embedder identity (name and width) and every case (id,
//! condition, description, in order), so any change to `data[]` or to how it is embedded gives
//! another fingerprint. Invariant: deterministic across runs and platforms (FNV-1a over a
//! length-prefixed encoding, so field boundaries cannot be shifted without changing it).

use crate::doctor::case::Case;
use crate::text::fnv1a;

/// Version of the stored layout; bump it when the stores change shape.
pub const LAYOUT_VERSION: u32 = 1;

fn push_field(buf: &mut Vec<u8>, field: &str) {
    buf.extend_from_slice(&(field.len() as u64).to_le_bytes());
    buf.extend_from_slice(field.as_bytes());
}

/// The fingerprint of `cases` embedded by `embedder_name` into `dims`-wide vectors.
pub fn fingerprint(cases: &[Case], embedder_name: &str, dims: usize) -> String {
    let mut buf = Vec::with_capacity(64 + cases.len() * 128);
    buf.extend_from_slice(b"sop-agents/doctor-kb");
    buf.extend_from_slice(&LAYOUT_VERSION.to_le_bytes());
    push_field(&mut buf, embedder_name);
    buf.extend_from_slice(&(dims as u64).to_le_bytes());
    buf.extend_from_slice(&(cases.len() as u64).to_le_bytes());
    for case in cases {
        push_field(&mut buf, &case.id);
        push_field(&mut buf, &case.condition);
        push_field(&mut buf, &case.description);
    }
    format!("v{LAYOUT_VERSION}-{}-{:016x}", cases.len(), fnv1a(&buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(id: &str, condition: &str, description: &str) -> Case {
        Case {
            id: id.into(),
            condition: condition.into(),
            description: description.into(),
        }
    }

    #[test]
    fn changes_with_data_and_embedder_only() {
        let a = vec![case("1", "Flu", "Symptoms: fever")];
        let fp = fingerprint(&a, "simple-1024", 1024);
        assert_eq!(fp, fingerprint(&a.clone(), "simple-1024", 1024));
        assert_ne!(fp, fingerprint(&a, "simple-512", 512));
        assert_ne!(
            fp,
            fingerprint(&[case("1", "Flu", "Symptoms: chills")], "simple-1024", 1024)
        );
        // Field boundaries are part of the encoding.
        assert_ne!(
            fingerprint(&[case("1", "ab", "c")], "e", 1),
            fingerprint(&[case("1", "a", "bc")], "e", 1)
        );
    }
}
