//! Attributes: the key/value pairs carried by spans, events and log fields.
//!
//! A value is one of the four kinds the wire format knows: string, 64-bit integer,
//! 64-bit float and bool. Keys and string values borrow `'static` text without
//! allocating, so `Attribute::string("step_id", "build")` costs nothing at runtime.
//!
//! ```
//! use dagnats_observe::{Attribute, Value};
//!
//! let attrs = [
//!     Attribute::string("run_id", "r-42"),
//!     Attribute::int("attempt", 2),
//!     Attribute::float("ratio", 0.5),
//!     Attribute::bool("cached", false),
//! ];
//! assert_eq!(attrs[1].value, Value::Int(2));
//! ```

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Text that is either borrowed for `'static` (no allocation) or owned.
pub type Str = Cow<'static, str>;

/// An attribute value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A UTF-8 string.
    String(Str),
    /// A signed 64-bit integer; stays an integer on the wire and in OTLP.
    Int(i64),
    /// A 64-bit float. Non-finite values are written as the strings `NaN`, `+Inf`, `-Inf`
    /// because JSON has no literal for them.
    Float(f64),
    /// A boolean.
    Bool(bool),
}

impl Value {
    /// Shortens a string value to at most `max_chars` characters; returns whether it did.
    pub fn truncate(&mut self, max_chars: usize) -> bool {
        let Value::String(s) = self else { return false };
        match s.char_indices().nth(max_chars) {
            Some((cut, _)) => {
                s.to_mut().truncate(cut);
                true
            }
            None => false,
        }
    }

    /// The string, when this is a string value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::String(s) => f.write_str(s),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x}"),
            Value::Bool(b) => write!(f, "{b}"),
        }
    }
}

impl From<&'static str> for Value {
    fn from(v: &'static str) -> Self {
        Value::String(Cow::Borrowed(v))
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::String(Cow::Owned(v))
    }
}
impl From<Str> for Value {
    fn from(v: Str) -> Self {
        Value::String(v)
    }
}
impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}
impl From<i32> for Value {
    fn from(v: i32) -> Self {
        Value::Int(v.into())
    }
}
impl From<u32> for Value {
    fn from(v: u32) -> Self {
        Value::Int(v.into())
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Float(v)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::String(v) => s.serialize_str(v),
            Value::Int(v) => s.serialize_i64(*v),
            Value::Float(v) if v.is_finite() => s.serialize_f64(*v),
            Value::Float(v) if v.is_nan() => s.serialize_str("NaN"),
            Value::Float(v) if *v > 0.0 => s.serialize_str("+Inf"),
            Value::Float(_) => s.serialize_str("-Inf"),
            Value::Bool(v) => s.serialize_bool(*v),
        }
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string, number or bool")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }
    // A JSON integer beyond i64 cannot stay an integer; keep its magnitude as a float.
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(i64::try_from(v).map(Value::Int).unwrap_or(Value::Float(v as f64)))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(Cow::Owned(v)))
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

/// One key/value pair.
#[derive(Clone, Debug, PartialEq)]
pub struct Attribute {
    /// The key, for example `run_id`.
    pub key: Str,
    /// The value.
    pub value: Value,
}

impl Attribute {
    /// Any value kind.
    pub fn new(key: impl Into<Str>, value: impl Into<Value>) -> Self {
        Attribute { key: key.into(), value: value.into() }
    }
    /// A string attribute (the seed's `StringAttr`).
    pub fn string(key: impl Into<Str>, value: impl Into<Str>) -> Self {
        Attribute { key: key.into(), value: Value::String(value.into()) }
    }
    /// An int64 attribute (`Int64Attr`).
    pub fn int(key: impl Into<Str>, value: i64) -> Self {
        Attribute { key: key.into(), value: Value::Int(value) }
    }
    /// A float64 attribute (`Float64Attr`).
    pub fn float(key: impl Into<Str>, value: f64) -> Self {
        Attribute { key: key.into(), value: Value::Float(value) }
    }
    /// A bool attribute (`BoolAttr`).
    pub fn bool(key: impl Into<Str>, value: bool) -> Self {
        Attribute { key: key.into(), value: Value::Bool(value) }
    }
}

/// An ordered attribute list with unique keys, written as a JSON object.
///
/// Setting a key that is already present replaces its value in place.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Attributes(Vec<Attribute>);

impl Attributes {
    /// An empty list.
    pub const fn new() -> Self {
        Attributes(Vec::new())
    }
    /// An empty list with room for `n` attributes.
    pub fn with_capacity(n: usize) -> Self {
        Attributes(Vec::with_capacity(n))
    }
    /// Sets one attribute, replacing an earlier value of the same key.
    pub fn set(&mut self, attr: Attribute) {
        match self.0.iter_mut().find(|a| a.key == attr.key) {
            Some(existing) => existing.value = attr.value,
            None => self.0.push(attr),
        }
    }
    /// Sets one attribute unless that would make more than `max` distinct keys; returns
    /// whether it was kept. A key already present is always updated.
    pub fn set_limited(&mut self, attr: Attribute, max: usize) -> bool {
        if let Some(existing) = self.0.iter_mut().find(|a| a.key == attr.key) {
            existing.value = attr.value;
            return true;
        }
        if self.0.len() >= max {
            return false;
        }
        self.0.push(attr);
        true
    }

    /// Removes and returns the attribute at `index`.
    pub fn remove(&mut self, index: usize) -> Attribute {
        self.0.remove(index)
    }

    /// The attributes, mutably (keys and values may be shortened; keys stay unique).
    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut Value> {
        self.0.iter_mut().map(|a| &mut a.value)
    }

    /// Sets every attribute of `attrs` in order.
    pub fn extend(&mut self, attrs: impl IntoIterator<Item = Attribute>) {
        for a in attrs {
            self.set(a);
        }
    }
    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.iter().find(|a| a.key == key).map(|a| &a.value)
    }
    /// Removes every attribute, keeping the allocation.
    pub fn clear(&mut self) {
        self.0.clear();
    }
    /// Room for attributes without reallocating.
    pub fn capacity(&self) -> usize {
        self.0.capacity()
    }
    /// Number of attributes.
    pub fn len(&self) -> usize {
        self.0.len()
    }
    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// The attributes in insertion order.
    pub fn iter(&self) -> std::slice::Iter<'_, Attribute> {
        self.0.iter()
    }
}

impl FromIterator<Attribute> for Attributes {
    fn from_iter<I: IntoIterator<Item = Attribute>>(iter: I) -> Self {
        let mut out = Attributes::new();
        out.extend(iter);
        out
    }
}

impl IntoIterator for Attributes {
    type Item = Attribute;
    type IntoIter = std::vec::IntoIter<Attribute>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a Attributes {
    type Item = &'a Attribute;
    type IntoIter = std::slice::Iter<'a, Attribute>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl Serialize for Attributes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for a in &self.0 {
            map.serialize_entry(a.key.as_ref(), &a.value)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Attributes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct AttrsVisitor;
        impl<'de> Visitor<'de> for AttrsVisitor {
            type Value = Attributes;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of attribute values")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Attributes, E> {
                Ok(Attributes::new())
            }
            fn visit_map<M: MapAccess<'de>>(self, mut m: M) -> Result<Attributes, M::Error> {
                let mut out = Attributes::with_capacity(m.size_hint().unwrap_or(0));
                while let Some((k, v)) = m.next_entry::<String, Value>()? {
                    out.set(Attribute { key: Cow::Owned(k), value: v });
                }
                Ok(out)
            }
        }
        d.deserialize_any(AttrsVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_stay_integers_and_floats_stay_floats() {
        let a: Attributes =
            serde_json::from_str(r#"{"attempt":2,"ratio":2.0,"big":18446744073709551615,"s":"x","b":true}"#).unwrap();
        assert_eq!(a.get("attempt"), Some(&Value::Int(2)));
        assert_eq!(a.get("ratio"), Some(&Value::Float(2.0)));
        assert_eq!(a.get("big"), Some(&Value::Float(18446744073709551615.0)));
        assert_eq!(a.get("s"), Some(&Value::from("x")));
        assert_eq!(a.get("b"), Some(&Value::Bool(true)));
    }

    #[test]
    fn set_replaces_in_place_and_keeps_order() {
        let mut a = Attributes::new();
        a.set(Attribute::int("a", 1));
        a.set(Attribute::int("b", 2));
        a.set(Attribute::string("a", "x"));
        assert_eq!(serde_json::to_string(&a).unwrap(), r#"{"a":"x","b":2}"#);
    }

    #[test]
    fn non_finite_floats_are_written_as_strings() {
        let a: Attributes =
            [Attribute::float("n", f64::NAN), Attribute::float("i", f64::NEG_INFINITY)].into_iter().collect();
        assert_eq!(serde_json::to_string(&a).unwrap(), r#"{"n":"NaN","i":"-Inf"}"#);
    }

    #[test]
    fn nested_values_are_rejected() {
        assert!(serde_json::from_str::<Attributes>(r#"{"a":[1]}"#).is_err());
        assert!(serde_json::from_str::<Attributes>(r#"{"a":null}"#).is_err());
    }
}
