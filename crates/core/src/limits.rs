//! Limits on every input the core decodes. Anything larger is refused before it is parsed.

/// Largest encoded entry (with its opening), in bytes: 64 KiB less one, so that every entry fits
/// the big-endian `u16` length of a C2SP tlog-tiles entry bundle and no tile can be made
/// unreadable by one entry.
pub const ENTRY_BYTES_MAX: usize = u16::MAX as usize;
/// Largest canonical command payload, in bytes.
pub const PAYLOAD_BYTES_MAX: usize = 48 * 1024;
/// Longest actor id, stream name or kind, in bytes.
pub const NAME_BYTES_MAX: usize = 128;
/// Shortest nonce, in characters.
pub const NONCE_CHARS_MIN: usize = 8;
/// Longest nonce, in characters.
pub const NONCE_CHARS_MAX: usize = 64;
/// Largest integer accepted in canonical JSON: 2^53 - 1, the largest integer every JSON
/// implementation (JavaScript included) represents exactly.
pub const INTEGER_MAX: i64 = (1 << 53) - 1;
/// Deepest nesting of arrays and objects in canonical JSON.
pub const DEPTH_MAX: usize = 32;
