//! Market engine (in progress).
