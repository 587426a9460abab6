//! Cases of the bad-input test (`bad_inputs.rs`), one module per crate, and
//! [`Tried`], which checks each refusal names what it should and counts the
//! inputs tried.

pub mod agents;
pub mod core;
pub mod search_models;
pub mod vector;

use std::fmt::Display;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counts inputs tried by one crate's cases.
pub struct Tried {
    krate: &'static str,
    refused: AtomicU64,
    accepted: AtomicU64,
}

impl Tried {
    /// A counter for `krate`.
    pub fn new(krate: &'static str) -> Self {
        Tried {
            krate,
            refused: AtomicU64::new(0),
            accepted: AtomicU64::new(0),
        }
    }

    /// `r` must be an error whose message contains every one of `names`;
    /// returns the message.
    pub fn refused<T, E: Display>(&self, what: &str, r: Result<T, E>, names: &[&str]) -> String {
        self.refused.fetch_add(1, Ordering::Relaxed);
        match r {
            Ok(_) => panic!("{what}: accepted, expected an error"),
            Err(e) => {
                let msg = e.to_string();
                for n in names {
                    assert!(
                        msg.contains(n),
                        "{what}: the error does not name `{n}`: {msg}"
                    );
                }
                msg
            }
        }
    }

    /// An edge case that is valid input; the caller checks it reads back.
    pub fn accepted<T, E: Display>(&self, what: &str, r: Result<T, E>) -> T {
        self.accepted.fetch_add(1, Ordering::Relaxed);
        match r {
            Ok(v) => v,
            Err(e) => panic!("{what}: valid edge case refused: {e}"),
        }
    }

    /// Prints the counts as one JSON line.
    pub fn report(&self) {
        println!(
            "{{\"test\":\"bad_inputs\",\"crate\":\"{}\",\"refused\":{},\"accepted_edge_cases\":{}}}",
            self.krate,
            self.refused.load(Ordering::Relaxed),
            self.accepted.load(Ordering::Relaxed)
        );
    }
}
