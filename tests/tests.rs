//! Integration tests, one module per theme.
