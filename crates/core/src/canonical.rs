//! Canonical JSON bytes: the RFC 8785 (JCS) rules, restricted to integers.
//!
//! Everything that is hashed or signed in deedlog is encoded this way:
//! - objects have their keys sorted by UTF-16 code units and no white space anywhere;
//! - strings escape `"` and `\`, use `\b \t \n \f \r` for those controls and `\u00xx` (lower-case
//!   hex) for the other characters below U+0020; every other character is written as UTF-8;
//! - numbers are integers in `[-(2^53 - 1), 2^53 - 1]` written in plain decimal. **There are no
//!   floating-point numbers**: money is in fen, areas in hundredths of a square metre, time in
//!   milliseconds. A float anywhere is an error, never a rounding.
//!
//! [`decode`] accepts only bytes that re-encode to themselves, so each value has exactly one
//! encoding and stored bytes never need to be re-serialized before they are verified.

use serde::Serialize;
use serde_json::Value;

use crate::limits::{DEPTH_MAX, INTEGER_MAX};

/// Why bytes or a value are not canonical JSON.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CanonicalError {
    /// The bytes are not JSON at all.
    #[error("malformed JSON: {0}")]
    Syntax(String),
    /// A number has a fraction or an exponent, or does not fit an integer.
    #[error("floating-point number at {path}: only integers are allowed")]
    Float {
        /// Where in the document, as a JSON pointer.
        path: String,
    },
    /// An integer is outside `[-(2^53 - 1), 2^53 - 1]`.
    #[error("integer out of range at {path}: |n| must be at most 2^53 - 1")]
    IntegerOutOfRange {
        /// Where in the document, as a JSON pointer.
        path: String,
    },
    /// Arrays and objects are nested too deeply.
    #[error("nesting deeper than {DEPTH_MAX} levels")]
    TooDeep,
    /// The bytes are valid JSON but not in canonical form (key order, white space, escapes,
    /// duplicate keys).
    #[error("JSON is not canonical: first difference at byte {offset}")]
    NotCanonical {
        /// The first byte where the input differs from its canonical encoding.
        offset: usize,
    },
    /// A value could not be turned into JSON.
    #[error("cannot encode value: {0}")]
    Encode(String),
}

/// Encodes a JSON value into canonical bytes.
///
/// # Errors
/// Fails on floats, out-of-range integers and nesting deeper than [`DEPTH_MAX`].
pub fn encode(value: &Value) -> Result<Vec<u8>, CanonicalError> {
    let mut out = Vec::with_capacity(256);
    encode_into(value, &mut out)?;
    Ok(out)
}

/// Encodes a JSON value into canonical bytes, appending to `out`.
///
/// # Errors
/// As [`encode`].
pub fn encode_into(value: &Value, out: &mut Vec<u8>) -> Result<(), CanonicalError> {
    let mut path = Vec::new();
    write_value(value, out, 0, &mut path)
}

/// Serializes any value (through [`serde_json::Value`]) into canonical bytes.
///
/// # Errors
/// As [`encode`], or when serde cannot represent the value.
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CanonicalError> {
    let value = serde_json::to_value(value).map_err(|e| CanonicalError::Encode(e.to_string()))?;
    encode(&value)
}

/// Parses bytes that must already be canonical JSON.
///
/// # Errors
/// [`CanonicalError::Syntax`] for bad JSON, a number error for floats or big integers, and
/// [`CanonicalError::NotCanonical`] for anything that does not re-encode to the same bytes
/// (including duplicate keys, which JSON parsers resolve silently).
pub fn decode(bytes: &[u8]) -> Result<Value, CanonicalError> {
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| CanonicalError::Syntax(e.to_string()))?;
    let again = encode(&value)?;
    if again != bytes {
        let offset = again
            .iter()
            .zip(bytes)
            .position(|(a, b)| a != b)
            .unwrap_or(again.len().min(bytes.len()));
        return Err(CanonicalError::NotCanonical { offset });
    }
    Ok(value)
}

/// Checks that a value holds only what canonical JSON allows (no floats, integers in range,
/// bounded depth), without keeping the bytes.
///
/// # Errors
/// As [`encode`].
pub fn check(value: &Value) -> Result<(), CanonicalError> {
    let mut sink = Vec::new();
    encode_into(value, &mut sink)
}

/// Writes a canonical integer, refusing one outside `[-(2^53 - 1), 2^53 - 1]`.
///
/// # Errors
/// [`CanonicalError::IntegerOutOfRange`] naming `field`.
pub fn write_integer(n: i128, field: &str, out: &mut Vec<u8>) -> Result<(), CanonicalError> {
    if !(-i128::from(INTEGER_MAX)..=i128::from(INTEGER_MAX)).contains(&n) {
        return Err(CanonicalError::IntegerOutOfRange {
            path: format!("/{field}"),
        });
    }
    out.extend_from_slice(n.to_string().as_bytes());
    Ok(())
}

/// Writes the canonical form of an object whose keys the caller gives in sorted order, without
/// building a [`Value`] first: the fast path for entries and commands. Tests check it against
/// [`encode`] of the same object.
pub struct ObjectWriter<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
    #[cfg(debug_assertions)]
    last_key: Option<&'static str>,
}

impl<'a> ObjectWriter<'a> {
    /// Opens an object.
    pub fn new(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        Self {
            out,
            first: true,
            #[cfg(debug_assertions)]
            last_key: None,
        }
    }

    /// Writes `"key":` (keys must come in sorted order and be plain ASCII) and returns the
    /// buffer for the value.
    pub fn key(&mut self, key: &'static str) -> &mut Vec<u8> {
        #[cfg(debug_assertions)]
        {
            debug_assert!(self.last_key.is_none_or(|k| k < key), "keys out of order");
            self.last_key = Some(key);
        }
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        write_string(key, self.out);
        self.out.push(b':');
        self.out
    }

    /// Closes the object.
    pub fn finish(self) {
        self.out.push(b'}');
    }
}

fn pointer(path: &[String]) -> String {
    if path.is_empty() {
        return "/".to_owned();
    }
    let mut s = String::new();
    for p in path {
        s.push('/');
        s.push_str(&p.replace('~', "~0").replace('/', "~1"));
    }
    s
}

fn write_value(
    value: &Value,
    out: &mut Vec<u8>,
    depth: usize,
    path: &mut Vec<String>,
) -> Result<(), CanonicalError> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => {
            let int = if let Some(i) = n.as_i64() {
                i
            } else if let Some(u) = n.as_u64() {
                // Above i64::MAX, so certainly out of range.
                let _ = u;
                return Err(CanonicalError::IntegerOutOfRange {
                    path: pointer(path),
                });
            } else {
                return Err(CanonicalError::Float {
                    path: pointer(path),
                });
            };
            if !(-INTEGER_MAX..=INTEGER_MAX).contains(&int) {
                return Err(CanonicalError::IntegerOutOfRange {
                    path: pointer(path),
                });
            }
            out.extend_from_slice(int.to_string().as_bytes());
        }
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            if depth >= DEPTH_MAX {
                return Err(CanonicalError::TooDeep);
            }
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                path.push(i.to_string());
                write_value(item, out, depth + 1, path)?;
                path.pop();
            }
            out.push(b']');
        }
        Value::Object(map) => {
            if depth >= DEPTH_MAX {
                return Err(CanonicalError::TooDeep);
            }
            let mut keys: Vec<&String> = map.keys().collect();
            // RFC 8785 §3.2.3: sort by UTF-16 code units. For keys made only of characters in
            // the Basic Multilingual Plane this equals the byte order a BTreeMap already has,
            // but a character outside it sorts differently, so compare properly.
            keys.sort_by(|a, b| a.encode_utf16().cmp(b.encode_utf16()));
            out.push(b'{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(key, out);
                out.push(b':');
                path.push(key.clone());
                write_value(&map[key], out, depth + 1, path)?;
                path.pop();
            }
            out.push(b'}');
        }
    }
    Ok(())
}

/// Writes a canonical JSON string (with its quotes).
pub fn write_string(s: &str, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: Option<&[u8]> = match b {
            b'"' => Some(b"\\\""),
            b'\\' => Some(b"\\\\"),
            0x08 => Some(b"\\b"),
            0x09 => Some(b"\\t"),
            0x0a => Some(b"\\n"),
            0x0c => Some(b"\\f"),
            0x0d => Some(b"\\r"),
            0x00..=0x1f => None,
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        match escape {
            Some(e) => out.extend_from_slice(e),
            None => out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[(b >> 4) as usize],
                HEX[(b & 0xf) as usize],
            ]),
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sorts_keys_and_drops_white_space() {
        let v: Value = serde_json::from_str(r#"{ "b": 1, "a": [true, null, "x"] }"#).unwrap();
        assert_eq!(encode(&v).unwrap(), br#"{"a":[true,null,"x"],"b":1}"#);
    }

    #[test]
    fn sorts_keys_by_utf16_code_units() {
        // U+1F600 is a surrogate pair (0xD83D...) and sorts before U+FB01 (0xFB01) in UTF-16,
        // although its UTF-8 bytes (0xF0...) sort after U+FB01's (0xEF...).
        let v = json!({"\u{fb01}": 1, "\u{1f600}": 2});
        assert_eq!(
            String::from_utf8(encode(&v).unwrap()).unwrap(),
            "{\"\u{1f600}\":2,\"\u{fb01}\":1}"
        );
    }

    #[test]
    fn escapes_like_rfc_8785() {
        let v = json!("a\"b\\c\u{8}\t\n\u{c}\r\u{1}\u{1f}\u{7f}/é\u{2028}");
        assert_eq!(
            String::from_utf8(encode(&v).unwrap()).unwrap(),
            "\"a\\\"b\\\\c\\b\\t\\n\\f\\r\\u0001\\u001f\u{7f}/é\u{2028}\""
        );
    }

    #[test]
    fn refuses_floats_and_big_integers() {
        assert!(matches!(
            decode(b"{\"a\":1.5}"),
            Err(CanonicalError::Float { path }) if path == "/a"
        ));
        assert!(matches!(decode(b"1e3"), Err(CanonicalError::Float { .. })));
        assert!(matches!(
            decode(b"[9007199254740992]"),
            Err(CanonicalError::IntegerOutOfRange { path }) if path == "/0"
        ));
        assert!(matches!(
            decode(b"18446744073709551615"),
            Err(CanonicalError::IntegerOutOfRange { .. })
        ));
        assert!(decode(b"9007199254740991").is_ok());
        assert!(decode(b"-9007199254740991").is_ok());
    }

    #[test]
    fn refuses_non_canonical_bytes() {
        for bad in [
            &br#"{"b":1,"a":2}"#[..],
            br#"{"a": 2}"#,
            br#"{"a":2,"a":2}"#,
            br#""\u0041""#,
            br#""\/""#,
            b"-0",
            b"01",
            b" 1",
            b"1 ",
        ] {
            assert!(decode(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        assert!(matches!(
            decode(br#"{"b":1,"a":2}"#),
            Err(CanonicalError::NotCanonical { offset: 2 })
        ));
    }

    #[test]
    fn refuses_deep_nesting() {
        let deep = format!("{}{}", "[".repeat(40), "]".repeat(40));
        assert_eq!(decode(deep.as_bytes()), Err(CanonicalError::TooDeep));
    }
}
