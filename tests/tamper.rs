//! Tests: tamper.
