//! Shared helpers for the workspace examples: [`doctor_cli`] holds the `doctor` example's
//! command line and output formatting.

pub mod doctor_cli;
