//! `BuildProgress`: the progress bar shown while a knowledge base is rebuilt.
//!
//! Drawn on stderr by indicatif, which hides it when stderr is not a terminal; a hidden
//! progress (tests, `--quiet`) costs nothing. Invariant: progress never affects the build.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A staged progress bar (see the module docs).
#[derive(Debug, Clone)]
pub struct BuildProgress {
    bar: ProgressBar,
}

impl BuildProgress {
    /// A progress bar on stderr (hidden when stderr is not a terminal).
    pub fn stderr() -> Self {
        Self::with_target(ProgressDrawTarget::stderr())
    }

    /// A progress that draws nothing.
    pub fn hidden() -> Self {
        Self::with_target(ProgressDrawTarget::hidden())
    }

    fn with_target(target: ProgressDrawTarget) -> Self {
        let bar = ProgressBar::with_draw_target(Some(0), target);
        if let Ok(style) =
            ProgressStyle::with_template("{prefix:>16} [{bar:30}] {pos}/{len} {msg} ({elapsed})")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        Self { bar }
    }

    /// Starts a stage of `len` steps named `name`.
    pub fn stage(&self, name: &str, len: usize) {
        self.bar.set_prefix(name.to_string());
        self.bar.set_length(len as u64);
        self.bar.set_position(0);
    }

    /// Advances the current stage by `steps`.
    pub fn advance(&self, steps: usize) {
        self.bar.inc(steps as u64);
    }

    /// Finishes the bar with a message.
    pub fn finish(&self, message: &str) {
        self.bar.finish_with_message(message.to_string());
    }
}
