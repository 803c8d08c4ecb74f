//! Tests of the market engine.
