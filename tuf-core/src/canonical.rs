//! OLPC canonical JSON, the byte form TUF signs.
//!
//! Signatures cover the canonical form of the `signed` value exactly as received, so this
//! works on `serde_json::Value` (unknown fields included) rather than on our typed structs.
//! Rules (as securesystemslib implements them): objects with keys sorted by code point, no
//! insignificant whitespace, integers only, and strings that escape only `"` and `\`.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// Why a value has no canonical form.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CanonicalError {
    #[error("canonical JSON has no floating-point numbers (found {0})")]
    Float(String),
}

/// The canonical bytes of `value`.
pub fn to_canonical_bytes(value: &Value) -> Result<Vec<u8>, CanonicalError> {
    let mut out = Vec::with_capacity(1024);
    write_value(value, &mut out)?;
    Ok(out)
}

fn write_value(value: &Value, out: &mut Vec<u8>) -> Result<(), CanonicalError> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => {
            if n.is_i64() || n.is_u64() {
                out.extend_from_slice(n.to_string().as_bytes());
            } else {
                return Err(CanonicalError::Float(n.to_string()));
            }
        }
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(item, out)?;
            }
            out.push(b']');
        }
        Value::Object(map) => {
            // UTF-8 byte order is code point order, which is what the reference sorts by.
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push(b'{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(key, out);
                out.push(b':');
                write_value(item, out)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

/// The canonical bytes of the JSON text `text`, as [`to_canonical_bytes`] gives for the
/// value it holds (a key given twice keeps its last value, as a parsed value does), read
/// straight from the text: a signed role of 100,000 files is never held as a tree of
/// values, only as canonical bytes, once for each level of objects still open.
pub fn text_to_canonical_bytes(text: &str) -> Result<Vec<u8>, TextError> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let Canonical(canonical) =
        Canonical::deserialize(&mut deserializer).map_err(|e| TextError::Json(e.to_string()))?;
    deserializer
        .end()
        .map_err(|e| TextError::Json(e.to_string()))?;
    Ok(canonical?)
}

/// Why JSON text has no canonical form: not JSON, or a value canonical JSON lacks.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TextError {
    #[error("{0}")]
    Json(String),
    #[error(transparent)]
    Canonical(#[from] CanonicalError),
}

/// One value's canonical bytes, built while it is read, or why it has none (the text is
/// still read to its end, so a JSON error later in it is the one reported, as when parsing).
struct Canonical(Result<Vec<u8>, CanonicalError>);

impl<'de> Deserialize<'de> for Canonical {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(CanonicalVisitor)
    }
}

struct CanonicalVisitor;

fn bytes<E>(b: impl Into<Vec<u8>>) -> Result<Canonical, E> {
    Ok(Canonical(Ok(b.into())))
}

impl<'de> Visitor<'de> for CanonicalVisitor {
    type Value = Canonical;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Canonical, E> {
        bytes("null")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Canonical, E> {
        bytes(if v { "true" } else { "false" })
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Canonical, E> {
        bytes(v.to_string())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Canonical, E> {
        bytes(v.to_string())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Canonical, E> {
        // Shown as a parsed value shows it.
        Ok(Canonical(Err(CanonicalError::Float(
            Value::from(v).to_string(),
        ))))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Canonical, E> {
        let mut out = Vec::with_capacity(v.len() + 2);
        write_string(v, &mut out);
        bytes(out)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Canonical, A::Error> {
        let mut out = vec![b'['];
        let mut refused = None;
        while let Some(Canonical(item)) = seq.next_element()? {
            match item {
                Ok(item) => {
                    if out.len() > 1 {
                        out.push(b',');
                    }
                    out.extend_from_slice(&item);
                }
                Err(e) => {
                    refused.get_or_insert(e);
                }
            }
        }
        out.push(b']');
        Ok(Canonical(refused.map_or(Ok(out), Err)))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Canonical, A::Error> {
        // Keyed as a parsed value keys them: a repeated key keeps its last value.
        let mut entries: BTreeMap<Vec<u8>, Result<Vec<u8>, CanonicalError>> = BTreeMap::new();
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            let Canonical(item) = map.next_value()?;
            entries.insert(key.as_bytes().to_vec(), item);
        }
        // UTF-8 byte order is code point order, which is what the reference sorts by.
        let mut out = vec![b'{'];
        for (i, (key, item)) in entries.into_iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_string_bytes(&key, &mut out);
            out.push(b':');
            match item {
                Ok(item) => out.extend_from_slice(&item),
                Err(e) => return Ok(Canonical(Err(e))),
            }
        }
        out.push(b'}');
        bytes(out)
    }
}

fn write_string(s: &str, out: &mut Vec<u8>) {
    write_string_bytes(s.as_bytes(), out);
}

fn write_string_bytes(s: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &byte in s {
        if byte == b'"' || byte == b'\\' {
            out.push(b'\\');
        }
        out.push(byte);
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sorts_keys_and_drops_whitespace() {
        let v = json!({"b": [1, true, null], "a": {"z": "x", "y": -3}});
        assert_eq!(
            to_canonical_bytes(&v).unwrap(),
            br#"{"a":{"y":-3,"z":"x"},"b":[1,true,null]}"#
        );
    }

    #[test]
    fn escapes_only_quote_and_backslash() {
        let v = json!("a\"b\\c\nd\u{e9}");
        assert_eq!(
            to_canonical_bytes(&v).unwrap(),
            "\"a\\\"b\\\\c\nd\u{e9}\"".as_bytes()
        );
    }

    /// The text form agrees with the value form, byte for byte, on what TUF metadata
    /// holds and on what it should not (floats, repeated keys, escapes, deep nesting).
    #[test]
    fn text_agrees_with_the_parsed_value() {
        let texts = [
            r#"{"b": [1, true, null, -7, 18446744073709551615], "a": {"z": "x", "y": -3}}"#,
            r#"{"k": 1, "k": 2, "j": {"x": "a\"b\\c\nd\u00e9\ud83d\ude00"}}"#,
            r#"{"keyval": {"public": "ab"}, "": [], "\u0000": {}}"#,
            r#"[[[[{"deep": [[], {}]}]]]]"#,
            r#""just a string""#,
            "{\"é\": 1, \"e\": 2, \"z\": 3, \"Z\": 4}",
        ];
        for text in texts {
            let value: Value = serde_json::from_str(text).unwrap();
            assert_eq!(
                text_to_canonical_bytes(text).unwrap(),
                to_canonical_bytes(&value).unwrap(),
                "{text}"
            );
        }
        for float in [r#"{"x": 1.5}"#, r#"[1, 2e3]"#, r#"{"a": {"b": [0.0]}}"#] {
            let value: Value = serde_json::from_str(float).unwrap();
            assert_eq!(
                text_to_canonical_bytes(float).unwrap_err(),
                TextError::Canonical(to_canonical_bytes(&value).unwrap_err()),
                "{float}"
            );
        }
        for broken in ["{", r#"{"a": 1} x"#, "", r#"{"a" 1}"#] {
            assert!(
                matches!(text_to_canonical_bytes(broken), Err(TextError::Json(_))),
                "{broken}"
            );
        }
    }

    #[test]
    fn refuses_floats() {
        assert!(matches!(
            to_canonical_bytes(&json!({"x": 1.5})),
            Err(CanonicalError::Float(_))
        ));
    }

    #[test]
    fn matches_securesystemslib_on_a_key() {
        // keyid of this key as computed by securesystemslib (sha256 of the canonical form).
        let key = json!({"keytype": "ed25519", "scheme": "ed25519",
            "keyval": {"public": "edcd0a32a07dce33f7c7873aaffbff36d20ea30787574ead335eefd337e4dacd"}});
        assert_eq!(
            String::from_utf8(to_canonical_bytes(&key).unwrap()).unwrap(),
            r#"{"keytype":"ed25519","keyval":{"public":"edcd0a32a07dce33f7c7873aaffbff36d20ea30787574ead335eefd337e4dacd"},"scheme":"ed25519"}"#
        );
    }
}
