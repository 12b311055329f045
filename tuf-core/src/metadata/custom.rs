//! A target's `custom` object, held as its compact JSON text: a release of 100,000 files
//! keeps 100,000 of these on the device, and a parsed JSON map costs several times more.
//!
//! Invariant: a [`Custom`] writes exactly the JSON value it was read from (or made from),
//! as a `serde_json::Value` field would: the text is that value's own serialization, and
//! it is parsed back whenever the value is read or written.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// The `custom` value of a target listing.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Custom(Box<str>);

impl Custom {
    /// The value, parsed again from its text.
    pub fn value(&self) -> Value {
        // The text is a `Value`'s own serialization, so it always parses; `Null` is never
        // reached, and would only hide what no caller can act on.
        serde_json::from_str(&self.0).unwrap_or(Value::Null)
    }

    /// The member `key` of the value, if it is an object that has one.
    pub fn get(&self, key: &str) -> Option<Value> {
        match self.value() {
            Value::Object(mut members) => members.remove(key),
            _ => None,
        }
    }

    /// The compact JSON text.
    pub fn as_json(&self) -> &str {
        &self.0
    }
}

impl From<Value> for Custom {
    fn from(value: Value) -> Self {
        Custom(value.to_string().into_boxed_str())
    }
}

impl Serialize for Custom {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.value().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Custom {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Value::deserialize(d).map(Custom::from)
    }
}

impl fmt::Debug for Custom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_the_value_it_read() {
        for text in [
            r#"{"kind":"file","platform":"x86_64","release":"1.0.0"}"#,
            r#"{"z":[1,2.5,-3,1e300,null,true],"a":{"b":"\u00e9\n"},"n":18446744073709551615}"#,
            r#""just a string""#,
            "[]",
        ] {
            let value: Value = serde_json::from_str(text).unwrap();
            let custom: Custom = serde_json::from_str(text).unwrap();
            assert_eq!(custom.value(), value);
            assert_eq!(
                serde_json::to_string(&custom).unwrap(),
                serde_json::to_string(&value).unwrap()
            );
            assert_eq!(
                serde_json::to_value(&custom).unwrap(),
                serde_json::to_value(&value).unwrap()
            );
        }
        let custom: Custom = serde_json::from_str(r#"{"kind":"bundle"}"#).unwrap();
        assert_eq!(custom.get("kind"), Some(Value::from("bundle")));
        assert_eq!(custom.get("other"), None);
    }
}
