//! sop-models (in progress).
