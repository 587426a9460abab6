//! Shared helpers for the workspace examples: [`doctor_cli`] holds the `doctor` example's
//! command line and output formatting; [`bank`] the `cluster` example's workload.

pub mod bank;
pub mod doctor_cli;
