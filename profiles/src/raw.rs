//! A TOML document as a tree of values that remember their byte spans (keys included), so
//! every later check can point at `line:column`.
//!
//! `toml::Spanned` is not enough here: it cannot represent the implicit tables that dotted keys
//! and `[a.b]` headers create (they have no span of their own), nor date-time keys. So this
//! module speaks toml's span protocol itself and falls back to the key's span.

use std::fmt;
use std::ops::Range;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

/// The serde-level protocol `toml` uses for spans (see the serde_spanned crate): asked for a
/// struct with these names, it answers with a map of start, end and value when it knows the
/// span, and with the plain value otherwise.
const SPANNED_NAME: &str = "$__serde_spanned_private_Spanned";
const SPANNED_START: &str = "$__serde_spanned_private_start";
const SPANNED_END: &str = "$__serde_spanned_private_end";
const SPANNED_VALUE: &str = "$__serde_spanned_private_value";
const SPANNED_FIELDS: &[&str] = &[SPANNED_START, SPANNED_END, SPANNED_VALUE];
/// The single key of the map toml produces for a date-time value.
const DATETIME_KEY: &str = "$__toml_private_datetime";

#[derive(Debug, Clone)]
pub(crate) struct Key {
    pub name: String,
    pub span: Option<Range<usize>>,
}

/// A value and its byte span in the source.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    raw: Raw,
    span: Option<Range<usize>>,
}

impl Node {
    pub fn get_ref(&self) -> &Raw {
        &self.raw
    }

    /// Every node reachable from a document has a span (implicit tables borrow their key's).
    pub fn span(&self) -> Range<usize> {
        self.span.clone().unwrap_or(0..0)
    }
}

#[derive(Debug, Clone)]
pub(crate) enum Raw {
    String(String),
    Integer(i64),
    Float,
    Boolean(bool),
    Datetime,
    Array(Vec<Node>),
    /// Entries in document order.
    Table(Vec<(Key, Node)>),
}

impl Raw {
    /// "a string", "an integer", ... for `expected X, found Y` messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Raw::String(_) => "a string",
            Raw::Integer(_) => "an integer",
            Raw::Float => "a float",
            Raw::Boolean(_) => "a boolean",
            Raw::Datetime => "a date-time",
            Raw::Array(_) => "an array",
            Raw::Table(_) => "a table",
        }
    }
}

/// Parses a whole document. Errors carry toml's message and byte span.
pub(crate) fn parse_document(text: &str) -> Result<Vec<(Key, Node)>, toml::de::Error> {
    match Raw::deserialize(toml::Deserializer::new(text))? {
        Raw::Table(entries) => Ok(entries),
        // The root of a TOML document is always a table.
        _ => Ok(Vec::new()),
    }
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RawVisitor)
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_struct(SPANNED_NAME, SPANNED_FIELDS, NodeVisitor)
    }
}

/// Reads the rest of a table whose first key was already taken.
fn table<'de, A: MapAccess<'de>>(mut map: A, first: Option<Key>) -> Result<Raw, A::Error> {
    let mut entries = Vec::new();
    let mut next = first;
    while let Some(key) = next {
        if key.span.is_none() && key.name == DATETIME_KEY {
            map.next_value::<de::IgnoredAny>()?;
            return Ok(Raw::Datetime);
        }
        let mut value: Node = map.next_value()?;
        if value.span.is_none() {
            value.span = key.span.clone();
        }
        entries.push((key, value));
        next = map.next_key_seed(KeySeed)?;
    }
    Ok(Raw::Table(entries))
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = Raw;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a TOML value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Raw, E> {
        Ok(Raw::Boolean(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Raw, E> {
        Ok(Raw::Integer(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Raw, E> {
        i64::try_from(v).map(Raw::Integer).map_err(|_| E::custom("integer out of range"))
    }

    fn visit_f64<E>(self, _: f64) -> Result<Raw, E> {
        Ok(Raw::Float)
    }

    fn visit_str<E>(self, v: &str) -> Result<Raw, E> {
        Ok(Raw::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Raw, E> {
        Ok(Raw::String(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Raw, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Node>()? {
            items.push(item);
        }
        Ok(Raw::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Raw, A::Error> {
        let first = map.next_key_seed(KeySeed)?;
        table(map, first)
    }
}

/// A value with its span when toml knows it, else the bare value (span filled in later).
struct NodeVisitor;

macro_rules! spanless {
    ($($method:ident($ty:ty)),*) => {$(
        fn $method<E: de::Error>(self, v: $ty) -> Result<Node, E> {
            Ok(Node { raw: RawVisitor.$method(v)?, span: None })
        }
    )*};
}

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a TOML value")
    }

    spanless!(visit_bool(bool), visit_i64(i64), visit_u64(u64), visit_f64(f64), visit_str(&str), visit_string(String));

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Node, A::Error> {
        Ok(Node { raw: RawVisitor.visit_seq(seq)?, span: None })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let first = map.next_key_seed(KeySeed)?;
        match first {
            Some(key) if key.span.is_none() && key.name == SPANNED_START => {
                let start: usize = map.next_value()?;
                let (mut end, mut raw) = (start, None);
                while let Some(field) = map.next_key::<String>()? {
                    match field.as_str() {
                        SPANNED_END => end = map.next_value()?,
                        SPANNED_VALUE => raw = Some(map.next_value::<Raw>()?),
                        _ => return Err(de::Error::custom("unexpected field in a spanned value")),
                    }
                }
                let raw = raw.ok_or_else(|| de::Error::custom("spanned value without a value"))?;
                Ok(Node { raw, span: Some(start..end) })
            }
            first => Ok(Node { raw: table(map, first)?, span: None }),
        }
    }
}

/// Deserializes a table key with its span when the deserializer offers one.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Key;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Key, D::Error> {
        deserializer.deserialize_struct(SPANNED_NAME, SPANNED_FIELDS, KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a table key")
    }

    fn visit_str<E>(self, v: &str) -> Result<Key, E> {
        Ok(Key { name: v.to_string(), span: None })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Key, A::Error> {
        let (mut start, mut end, mut name) = (None, None, None);
        while let Some(field) = map.next_key::<String>()? {
            match field.as_str() {
                SPANNED_START => start = Some(map.next_value::<usize>()?),
                SPANNED_END => end = Some(map.next_value::<usize>()?),
                SPANNED_VALUE => name = Some(map.next_value::<String>()?),
                _ => return Err(de::Error::custom("unexpected field in a spanned key")),
            }
        }
        let name = name.ok_or_else(|| de::Error::custom("spanned key without a value"))?;
        let span = match (start, end) {
            (Some(s), Some(e)) => Some(s..e),
            _ => None,
        };
        Ok(Key { name, span })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(node: &Node) -> &[(Key, Node)] {
        match node.get_ref() {
            Raw::Table(t) => t,
            other => panic!("not a table: {other:?}"),
        }
    }

    #[test]
    fn keys_and_values_keep_spans() {
        let text = "a = 1\n[t]\nkey = \"v\"\nwhen = 1979-05-27\n";
        let doc = parse_document(text).unwrap();
        assert_eq!(doc[0].0.name, "a");
        assert_eq!(doc[0].0.span, Some(0..1));
        assert_eq!(doc[0].1.span(), 4..5);
        let t = entries(&doc[1].1);
        assert_eq!(t[0].0.span, Some(10..13));
        assert_eq!(&text[t[0].1.span()], "\"v\"");
        assert!(matches!(t[1].1.get_ref(), Raw::Datetime));
    }

    #[test]
    fn implicit_tables_get_a_span() {
        let text = "[a.T]\nx = 1\n[b]\nc.d = 2\n";
        let doc = parse_document(text).unwrap();
        let a = entries(&doc[0].1);
        // An explicit table spans its header and body.
        assert_eq!(&text[a[0].1.span()], "[a.T]\nx = 1");
        let b = entries(&doc[1].1);
        assert_eq!(&text[b[0].1.span()], "c");
        assert_eq!(&text[entries(&b[0].1)[0].1.span()], "2");
    }
}
