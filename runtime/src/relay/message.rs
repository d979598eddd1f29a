//! Peeking at a JSON-RPC frame without owning it.
//!
//! [`peek`] reads just what the relay decides on (`jsonrpc`, `id`, `method`, whether there is a
//! `result` or an `error`, and `params.name` of a `tools/call`) with serde's borrowing
//! deserialisation; everything else is skipped without being built. The frame itself is never
//! re-serialised: the relay forwards the original bytes.
//!
//! [`error_response`] builds the JSON-RPC error lines the relay sends itself.

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Serialize;
use std::borrow::Cow;
use std::fmt;

/// Invalid JSON was received.
pub const PARSE_ERROR: i64 = -32700;
/// The JSON sent is not a valid request object.
pub const INVALID_REQUEST: i64 = -32600;
/// The method does not exist or is not available.
pub const METHOD_NOT_FOUND: i64 = -32601;
/// Invalid method parameters.
pub const INVALID_PARAMS: i64 = -32602;
/// Internal JSON-RPC error.
pub const INTERNAL_ERROR: i64 = -32603;

/// A JSON-RPC id. Integers that fit an `i64` are [`Id::Num`]; strings, and integers outside the
/// `i64` range (as their decimal text), are [`Id::Str`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Id {
    Num(i64),
    Str(String),
}

/// What a frame is.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// A call that expects a response.
    Request { id: Id, method: String },
    /// A call without an id: no response is expected.
    Notification { method: String },
    /// A `result` (`is_error: false`) or an `error` (`is_error: true`) for the request `id`.
    Response { id: Id, is_error: bool },
    /// A non-empty JSON array (JSON-RPC batch); its elements are not examined.
    Batch,
    /// Not a JSON-RPC message. The reason starts with `parse error:` when the frame is not JSON
    /// at all (answer with [`PARSE_ERROR`]), else with `invalid request:` (answer with
    /// [`INVALID_REQUEST`]); see [`Kind::error_code`].
    Invalid(String),
}

impl Kind {
    /// The JSON-RPC error code to answer an [`Kind::Invalid`] frame with; `None` for valid kinds.
    pub fn error_code(&self) -> Option<i64> {
        match self {
            Kind::Invalid(reason) if reason.starts_with(PARSE_PREFIX) => Some(PARSE_ERROR),
            Kind::Invalid(_) => Some(INVALID_REQUEST),
            _ => None,
        }
    }
}

/// The result of [`peek`].
#[derive(Debug, Clone, PartialEq)]
pub struct Peek {
    pub kind: Kind,
    /// `params.name` when `method` is `tools/call` and it is a string.
    pub tool: Option<String>,
}

const PARSE_PREFIX: &str = "parse error: ";
const INVALID_PREFIX: &str = "invalid request: ";

/// Classify a frame with serde_json (borrowing, no re-serialisation of the frame). Invalid JSON,
/// non-object/array, missing `jsonrpc: "2.0"`, an id of a wrong type (null in a request or
/// response, object, array, bool, number with a fraction), duplicate keys that matter (`jsonrpc`,
/// `id`, `method`, `result`, `error`, `params`, `params.name`) → [`Kind::Invalid`] with the reason.
///
/// Leading and trailing JSON whitespace (including a `\r` before the newline) is allowed.
pub fn peek(frame: &[u8]) -> Peek {
    if frame.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n')) {
        return invalid(format!("{PARSE_PREFIX}empty frame"));
    }
    // Values the relay skips are not built, and serde_json does not check their UTF-8 then:
    // check the whole frame once, up front.
    let text = match std::str::from_utf8(frame) {
        Ok(text) => text,
        Err(e) => return invalid(format!("{PARSE_PREFIX}invalid UTF-8 at byte {}", e.valid_up_to())),
    };
    match serde_json::from_str::<Top<'_>>(text) {
        Ok(Top::Object(envelope)) => classify(envelope),
        Ok(Top::Batch(0)) => invalid(format!("{INVALID_PREFIX}empty batch")),
        Ok(Top::Batch(_)) => Peek { kind: Kind::Batch, tool: None },
        Ok(Top::Other(what)) => invalid(format!("{INVALID_PREFIX}expected an object or an array, found {what}")),
        Err(e) if e.is_data() => invalid(format!("{INVALID_PREFIX}{e}")),
        Err(e) => invalid(format!("{PARSE_PREFIX}{e}")),
    }
}

/// A well-formed JSON-RPC error response line (no trailing newline):
/// `{"jsonrpc":"2.0","id":<id or null>,"error":{"code":code,"message":message}}` — a [`Id::Num`]
/// as a JSON number, a [`Id::Str`] as a JSON string.
pub fn error_response(id: Option<&Id>, code: i64, message: &str) -> Vec<u8> {
    #[derive(Serialize)]
    struct ErrorObject<'a> {
        code: i64,
        message: &'a str,
    }
    #[derive(Serialize)]
    struct Response<'a> {
        jsonrpc: &'static str,
        id: Option<&'a Id>,
        error: ErrorObject<'a>,
    }
    let response = Response { jsonrpc: "2.0", id, error: ErrorObject { code, message } };
    // Serialising strings and integers into a Vec cannot fail; should it ever, the client still
    // gets an error rather than nothing.
    serde_json::to_vec(&response).unwrap_or_else(|_| {
        format!("{{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{{\"code\":{INTERNAL_ERROR},\"message\":\"internal error\"}}}}")
            .into_bytes()
    })
}

impl Serialize for Id {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Id::Num(n) => serializer.serialize_i64(*n),
            Id::Str(s) => serializer.serialize_str(s),
        }
    }
}

fn invalid(reason: String) -> Peek {
    Peek { kind: Kind::Invalid(reason), tool: None }
}

fn classify(env: Envelope<'_>) -> Peek {
    match &env.jsonrpc {
        Some(Scalar::Str(v)) if v == "2.0" => {}
        None => return invalid(format!("{INVALID_PREFIX}missing \"jsonrpc\": \"2.0\"")),
        Some(_) => return invalid(format!("{INVALID_PREFIX}\"jsonrpc\" must be \"2.0\"")),
    }
    let id = match env.id {
        None => None,
        Some(RawId::Id(id)) => Some(Some(id)),
        Some(RawId::Null) => Some(None),
        Some(RawId::Bad(what)) => {
            return invalid(format!("{INVALID_PREFIX}\"id\" must be a string or an integer, not {what}"))
        }
    };
    let has_outcome = env.result || env.error;
    let kind = match (env.method, has_outcome) {
        (Some(_), true) => return invalid(format!("{INVALID_PREFIX}both \"method\" and \"result\"/\"error\"")),
        (Some(Scalar::Other(what)), false) => {
            return invalid(format!("{INVALID_PREFIX}\"method\" must be a string, not {what}"))
        }
        (Some(Scalar::Str(method)), false) => {
            let method = method.into_owned();
            match id {
                None => Kind::Notification { method },
                Some(Some(id)) => Kind::Request { id, method },
                Some(None) => return invalid(format!("{INVALID_PREFIX}request \"id\" must not be null")),
            }
        }
        (None, true) if env.result && env.error => {
            return invalid(format!("{INVALID_PREFIX}both \"result\" and \"error\""))
        }
        (None, true) => match id {
            Some(Some(id)) => Kind::Response { id, is_error: env.error },
            Some(None) => return invalid(format!("{INVALID_PREFIX}response \"id\" is null")),
            None => return invalid(format!("{INVALID_PREFIX}response without \"id\"")),
        },
        (None, false) => return invalid(format!("{INVALID_PREFIX}neither \"method\" nor \"result\"/\"error\"")),
    };
    let tool = match &kind {
        Kind::Request { method, .. } | Kind::Notification { method } if method == "tools/call" => {
            env.params_name.map(Cow::into_owned)
        }
        _ => None,
    };
    Peek { kind, tool }
}

/// The top-level value of a frame.
enum Top<'a> {
    Object(Envelope<'a>),
    /// A JSON array with this many elements.
    Batch(usize),
    /// Any other JSON value; names its type.
    Other(&'static str),
}

/// The members of a message object the relay looks at.
#[derive(Default)]
struct Envelope<'a> {
    jsonrpc: Option<Scalar<'a>>,
    method: Option<Scalar<'a>>,
    id: Option<RawId>,
    result: bool,
    error: bool,
    params_name: Option<Cow<'a, str>>,
}

/// A value that is either a string (borrowed from the frame when it has no escapes) or anything
/// else (skipped; named by its type).
enum Scalar<'a> {
    Str(Cow<'a, str>),
    Other(&'static str),
}

/// An `id` member as found.
enum RawId {
    Id(Id),
    Null,
    /// The wrong type; names it.
    Bad(&'static str),
}

/// `params` as far as the relay cares: the `name` member when it is a string.
struct Params<'a>(Option<Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for Top<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Top<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON-RPC message")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut env = Envelope::default();
                let mut seen_result = false;
                let mut seen_error = false;
                let mut seen_params = false;
                while let Some(key) = map.next_key::<Scalar<'de>>()? {
                    let Scalar::Str(key) = key else {
                        // JSON keys are strings; any other deserializer still gets its value read.
                        map.next_value::<IgnoredAny>()?;
                        continue;
                    };
                    match key.as_ref() {
                        "jsonrpc" => set_once(&mut env.jsonrpc, map.next_value()?, "jsonrpc")?,
                        "method" => set_once(&mut env.method, map.next_value()?, "method")?,
                        "id" => set_once(&mut env.id, map.next_value()?, "id")?,
                        "result" => {
                            map.next_value::<IgnoredAny>()?;
                            flag_once(&mut seen_result, "result")?;
                            env.result = true;
                        }
                        "error" => {
                            map.next_value::<IgnoredAny>()?;
                            flag_once(&mut seen_error, "error")?;
                            env.error = true;
                        }
                        "params" => {
                            let Params(name) = map.next_value()?;
                            flag_once(&mut seen_params, "params")?;
                            env.params_name = name;
                        }
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(Top::Object(env))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut n = 0usize;
                while seq.next_element::<IgnoredAny>()?.is_some() {
                    n = n.saturating_add(1);
                }
                Ok(Top::Batch(n))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Top::Other("a boolean"))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(Top::Other("a number"))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(Top::Other("a number"))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(Top::Other("a number"))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok(Top::Other("a string"))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Top::Other("null"))
            }
        }
        deserializer.deserialize_any(V(std::marker::PhantomData))
    }
}

fn set_once<T, E: de::Error>(slot: &mut Option<T>, value: T, name: &'static str) -> Result<(), E> {
    if slot.is_some() {
        return Err(E::duplicate_field(name));
    }
    *slot = Some(value);
    Ok(())
}

fn flag_once<E: de::Error>(seen: &mut bool, name: &'static str) -> Result<(), E> {
    if *seen {
        return Err(E::duplicate_field(name));
    }
    *seen = true;
    Ok(())
}

impl<'de: 'a, 'a> Deserialize<'de> for Scalar<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Scalar<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Scalar::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Scalar::Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Scalar::Str(Cow::Owned(v)))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Scalar::Other("a boolean"))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(Scalar::Other("a number"))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(Scalar::Other("a number"))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(Scalar::Other("a number"))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Scalar::Other("null"))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Scalar::Other("an object"))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Scalar::Other("an array"))
            }
        }
        deserializer.deserialize_any(V(std::marker::PhantomData))
    }
}

impl<'de> Deserialize<'de> for RawId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawId;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(RawId::Id(Id::Str(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(RawId::Id(Id::Str(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(RawId::Id(Id::Num(v)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(RawId::Id(match i64::try_from(v) {
                    Ok(n) => Id::Num(n),
                    Err(_) => Id::Str(v.to_string()),
                }))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                // serde_json hands integers beyond the i64/u64 range and anything with a `.` or an
                // exponent over as f64, already rounded: the original text is not available
                // without serde_json's "raw_value" feature. Integral values up to 2^53 (`1.0`,
                // `1e3`) are exact and become numbers; beyond that an f64 may stand for another
                // integer than the one sent, so the id becomes serde_json's rendering of it as text
                // (`1e+19`), which cannot collide with a numeric id.
                if !v.is_finite() || v.fract() != 0.0 {
                    return Ok(RawId::Bad("a number with a fraction"));
                }
                const TWO_POW_53: f64 = 9_007_199_254_740_992.0;
                if (-TWO_POW_53..=TWO_POW_53).contains(&v) {
                    // Exact: |v| <= 2^53 is integral and well inside the i64 range.
                    Ok(RawId::Id(Id::Num(v as i64)))
                } else {
                    Ok(RawId::Id(Id::Str(
                        serde_json::Number::from_f64(v).map_or_else(|| v.to_string(), |n| n.to_string()),
                    )))
                }
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(RawId::Bad("a boolean"))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(RawId::Null)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(RawId::Bad("an object"))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(RawId::Bad("an array"))
            }
        }
        deserializer.deserialize_any(V)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Params<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Params<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut name: Option<Scalar<'a>> = None;
                while let Some(key) = map.next_key::<Scalar<'de>>()? {
                    match key {
                        Scalar::Str(key) if key == "name" => set_once(&mut name, map.next_value()?, "name")?,
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(Params(match name {
                    Some(Scalar::Str(name)) => Some(name),
                    _ => None,
                }))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Params(None))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Params(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(Params(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(Params(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(Params(None))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok(Params(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Params(None))
            }
        }
        deserializer.deserialize_any(V(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(frame: &str) -> Kind {
        peek(frame.as_bytes()).kind
    }

    fn reason(frame: &[u8]) -> String {
        match peek(frame).kind {
            Kind::Invalid(reason) => reason,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn request() {
        let p = peek(br#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}"#);
        assert_eq!(p, Peek { kind: Kind::Request { id: Id::Num(1), method: "tools/list".into() }, tool: None });
        assert_eq!(
            kind(r#"{"method":"initialize","id":"abc-1","jsonrpc":"2.0","unknown":[1,{"x":null}]}"#),
            Kind::Request { id: Id::Str("abc-1".into()), method: "initialize".into() }
        );
        assert_eq!(
            kind(r#"{"jsonrpc":"2.0","id":-7,"method":"server/discover","params":{"_meta":{"k":"v"}}}"#),
            Kind::Request { id: Id::Num(-7), method: "server/discover".into() }
        );
    }

    #[test]
    fn notification() {
        assert_eq!(
            peek(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#),
            Peek { kind: Kind::Notification { method: "notifications/initialized".into() }, tool: None }
        );
    }

    #[test]
    fn responses() {
        assert_eq!(
            kind(r#"{"jsonrpc":"2.0","id":3,"result":{"tools":[]}}"#),
            Kind::Response { id: Id::Num(3), is_error: false }
        );
        // A null result is still a result.
        assert_eq!(
            kind(r#"{"jsonrpc":"2.0","id":"x","result":null}"#),
            Kind::Response { id: Id::Str("x".into()), is_error: false }
        );
        assert_eq!(
            kind(r#"{"jsonrpc":"2.0","id":4,"error":{"code":-32601,"message":"nope"}}"#),
            Kind::Response { id: Id::Num(4), is_error: true }
        );
    }

    #[test]
    fn batch() {
        assert_eq!(peek(br#"[{"jsonrpc":"2.0","id":1,"method":"a"},5]"#), Peek { kind: Kind::Batch, tool: None });
        assert_eq!(reason(b"[]"), "invalid request: empty batch");
        assert_eq!(kind("[1,"), Kind::Invalid("parse error: EOF while parsing a value at line 1 column 3".into()));
    }

    #[test]
    fn invalid_json() {
        assert_eq!(reason(b"{\"jsonrpc\":"), "parse error: EOF while parsing a value at line 1 column 11");
        assert_eq!(reason(b"not json"), "parse error: expected ident at line 1 column 2");
        assert_eq!(reason(b"{} {}"), "parse error: trailing characters at line 1 column 4");
        assert_eq!(reason(b""), "parse error: empty frame");
        assert_eq!(reason(b" \r"), "parse error: empty frame");
        assert_eq!(reason(b"{\"a\":\"\xff\"}"), "parse error: invalid UTF-8 at byte 6");
        assert_eq!(Kind::Invalid(reason(b"{")).error_code(), Some(PARSE_ERROR));
    }

    #[test]
    fn not_an_object_or_array() {
        assert_eq!(reason(b"42"), "invalid request: expected an object or an array, found a number");
        assert_eq!(reason(b"\"s\""), "invalid request: expected an object or an array, found a string");
        assert_eq!(reason(b"null"), "invalid request: expected an object or an array, found null");
        assert_eq!(reason(b"true"), "invalid request: expected an object or an array, found a boolean");
        assert_eq!(Kind::Invalid(reason(b"42")).error_code(), Some(INVALID_REQUEST));
        assert_eq!(Kind::Batch.error_code(), None);
    }

    #[test]
    fn bad_jsonrpc() {
        assert_eq!(reason(br#"{"id":1,"method":"a"}"#), r#"invalid request: missing "jsonrpc": "2.0""#);
        assert_eq!(reason(br#"{"jsonrpc":"1.0","id":1,"method":"a"}"#), r#"invalid request: "jsonrpc" must be "2.0""#);
        assert_eq!(reason(br#"{"jsonrpc":2.0,"id":1,"method":"a"}"#), r#"invalid request: "jsonrpc" must be "2.0""#);
        assert_eq!(
            reason(br#"{"jsonrpc":"2.0","jsonrpc":"2.0","id":1,"method":"a"}"#),
            "invalid request: duplicate field `jsonrpc` at line 1 column 32"
        );
    }

    #[test]
    fn bad_id_types() {
        let cases: [(&str, &str); 5] = [
            (r#"{"a":1}"#, "an object"),
            ("[1]", "an array"),
            ("true", "a boolean"),
            ("1.5", "a number with a fraction"),
            ("-0.25e1", "a number with a fraction"),
        ];
        for (id, what) in cases {
            let frame = format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"m"}}"#);
            assert_eq!(
                reason(frame.as_bytes()),
                format!(r#"invalid request: "id" must be a string or an integer, not {what}"#),
                "{frame}"
            );
        }
        assert_eq!(
            reason(br#"{"jsonrpc":"2.0","id":null,"method":"m"}"#),
            r#"invalid request: request "id" must not be null"#
        );
        assert_eq!(
            reason(br#"{"jsonrpc":"2.0","id":1,"id":2,"method":"m"}"#),
            "invalid request: duplicate field `id` at line 1 column 30"
        );
    }

    #[test]
    fn malformed_shapes() {
        assert_eq!(reason(br#"{"jsonrpc":"2.0","id":1}"#), r#"invalid request: neither "method" nor "result"/"error""#);
        assert_eq!(
            reason(br#"{"jsonrpc":"2.0","id":1,"method":"m","result":{}}"#),
            r#"invalid request: both "method" and "result"/"error""#
        );
        assert_eq!(
            reason(br#"{"jsonrpc":"2.0","id":1,"result":{},"error":{}}"#),
            r#"invalid request: both "result" and "error""#
        );
        assert_eq!(reason(br#"{"jsonrpc":"2.0","result":{}}"#), r#"invalid request: response without "id""#);
        assert_eq!(
            reason(br#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"x"}}"#),
            r#"invalid request: response "id" is null"#
        );
        assert_eq!(
            reason(br#"{"jsonrpc":"2.0","id":1,"method":7}"#),
            r#"invalid request: "method" must be a string, not a number"#
        );
        assert_eq!(
            reason(br#"{"jsonrpc":"2.0","id":1,"result":1,"result":2}"#),
            "invalid request: duplicate field `result` at line 1 column 46"
        );
    }

    #[test]
    fn tools_call_with_and_without_name() {
        let p = peek(
            br#"{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"arguments":{"name":"decoy"},"name":"add"}}"#,
        );
        assert_eq!(p.kind, Kind::Request { id: Id::Num(9), method: "tools/call".into() });
        assert_eq!(p.tool.as_deref(), Some("add"));
        // `params` before `method`.
        let p = peek(br#"{"params":{"name":"read_file"},"jsonrpc":"2.0","method":"tools/call","id":"r"}"#);
        assert_eq!(p.tool.as_deref(), Some("read_file"));
        // Escapes in the key and the value are decoded.
        let p = peek(br#"{"jsonrpc":"2.0","id":1,"method":"tools\/call","params":{"na\u006de":"a\"b"}}"#);
        assert_eq!(
            p,
            Peek { kind: Kind::Request { id: Id::Num(1), method: "tools/call".into() }, tool: Some("a\"b".into()) }
        );
        for params in
            [r#""params":{}"#, r#""params":{"name":5}"#, r#""params":["add"]"#, r#""params":null"#, r#""x":0"#]
        {
            let frame = format!(r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call",{params}}}"#);
            let p = peek(frame.as_bytes());
            assert_eq!(p.kind, Kind::Request { id: Id::Num(1), method: "tools/call".into() }, "{frame}");
            assert_eq!(p.tool, None, "{frame}");
        }
        // Only tools/call names a tool.
        assert_eq!(peek(br#"{"jsonrpc":"2.0","id":1,"method":"prompts/get","params":{"name":"p"}}"#).tool, None);
        // Two names would let the relay and the server disagree on which tool is called.
        assert_eq!(
            reason(br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"safe","name":"evil"}}"#),
            "invalid request: duplicate field `name` at line 1 column 84"
        );
    }

    #[test]
    fn huge_numbers() {
        let id = |text: &str| kind(&format!(r#"{{"jsonrpc":"2.0","id":{text},"result":0}}"#));
        let response = |id: Id| Kind::Response { id, is_error: false };
        assert_eq!(id("9223372036854775807"), response(Id::Num(i64::MAX)));
        assert_eq!(id("-9223372036854775808"), response(Id::Num(i64::MIN)));
        assert_eq!(id("9223372036854775808"), response(Id::Str("9223372036854775808".into())));
        assert_eq!(id("18446744073709551615"), response(Id::Str("18446744073709551615".into())));
        assert_eq!(id("1.0"), response(Id::Num(1)));
        assert_eq!(id("1e3"), response(Id::Num(1000)));
        assert_eq!(id("-9007199254740992.0"), response(Id::Num(-9_007_199_254_740_992)));
        assert_eq!(id("-9223372036854775809"), response(Id::Str("-9.223372036854776e+18".into())));
        assert_eq!(id("9007199254740994.0"), response(Id::Str("9007199254740994.0".into())));
        assert_eq!(id("1e19"), response(Id::Str("1e+19".into())));
        assert_eq!(id("123456789012345678901234567890"), response(Id::Str("1.2345678901234568e+29".into())));
        assert_eq!(
            kind(r#"{"jsonrpc":"2.0","id":1e400,"result":0}"#),
            Kind::Invalid("parse error: number out of range at line 1 column 27".into())
        );
    }

    #[test]
    fn unicode() {
        assert_eq!(
            kind(r#"{"jsonrpc":"2.0","id":"ид-✓","method":"méthode/🦀"}"#),
            Kind::Request { id: Id::Str("ид-✓".into()), method: "méthode/🦀".into() }
        );
        assert_eq!(
            kind(r#"{"jsonrpc":"2.0","id":"\ud83e\udd80","method":"m"}"#),
            Kind::Request { id: Id::Str("🦀".into()), method: "m".into() }
        );
        // A lone surrogate is not a valid string.
        assert_eq!(
            reason(br#"{"jsonrpc":"2.0","id":"\ud83e","method":"m"}"#),
            "parse error: unexpected end of hex escape at line 1 column 30"
        );
    }

    #[test]
    fn crlf_and_whitespace_around_the_object() {
        assert_eq!(kind(" {\"jsonrpc\":\"2.0\",\"method\":\"m\"}\t\r"), Kind::Notification { method: "m".into() });
    }

    #[test]
    fn deep_nesting_is_skipped_without_recursion() {
        // Skipped values are walked iteratively by serde_json: no stack overflow, no depth limit.
        let open = "[".repeat(200_000);
        let close = "]".repeat(200_000);
        let p = peek(
            format!(r#"{{"jsonrpc":"2.0","method":"tools/call","params":{{"a":{open}{close},"name":"t"}}}}"#)
                .as_bytes(),
        );
        assert_eq!(p, Peek { kind: Kind::Notification { method: "tools/call".into() }, tool: Some("t".into()) });
        assert_eq!(kind(&format!("[{open}{close}]")), Kind::Batch);
        assert_eq!(
            reason(format!(r#"{{"jsonrpc":"2.0","id":{open}{close},"method":"m"}}"#).as_bytes()),
            r#"invalid request: "id" must be a string or an integer, not an array"#
        );
        // Unbalanced: an error, not a crash.
        assert_eq!(reason(open.as_bytes()), "parse error: EOF while parsing a list at line 1 column 200000");
    }

    #[test]
    fn invalid_utf8_anywhere_is_a_parse_error() {
        assert_eq!(
            reason(b"{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"params\":{\"x\":\"\xc3\"}}"),
            "parse error: invalid UTF-8 at byte 45"
        );
        assert_eq!(reason(b"\xef\xbb\xbf{}"), "parse error: expected value at line 1 column 1");
    }

    #[test]
    fn error_response_exact_bytes() {
        assert_eq!(
            String::from_utf8(error_response(Some(&Id::Num(7)), METHOD_NOT_FOUND, "no such method")).ok(),
            Some(r#"{"jsonrpc":"2.0","id":7,"error":{"code":-32601,"message":"no such method"}}"#.to_owned())
        );
        assert_eq!(
            String::from_utf8(error_response(Some(&Id::Str("a\"b\\ü\n".into())), INVALID_PARAMS, "bad \"x\"\u{1}"))
                .ok(),
            Some(
                r#"{"jsonrpc":"2.0","id":"a\"b\\ü\n","error":{"code":-32602,"message":"bad \"x\"\u0001"}}"#.to_owned()
            )
        );
        assert_eq!(
            String::from_utf8(error_response(None, PARSE_ERROR, "parse error")).ok(),
            Some(r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse error"}}"#.to_owned())
        );
        assert_eq!(
            String::from_utf8(error_response(Some(&Id::Num(i64::MIN)), INTERNAL_ERROR, "")).ok(),
            Some(r#"{"jsonrpc":"2.0","id":-9223372036854775808,"error":{"code":-32603,"message":""}}"#.to_owned())
        );
        assert_eq!(
            [PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS, INTERNAL_ERROR],
            [-32700, -32600, -32601, -32602, -32603]
        );
    }

    #[test]
    fn error_response_parses_back_with_the_same_id() {
        for id in [Id::Num(0), Id::Num(i64::MAX), Id::Num(-1), Id::Str(String::new()), Id::Str("x\u{202e}🦀\"".into())]
        {
            let line = error_response(Some(&id), INVALID_REQUEST, "denied: \u{0}");
            assert_eq!(peek(&line), Peek { kind: Kind::Response { id: id.clone(), is_error: true }, tool: None });
        }
    }

    #[test]
    fn every_prefix_and_noisy_bytes_classify_without_panicking() {
        let frame: &[u8] =
            br#"{"jsonrpc":"2.0","id":"\u00e9","method":"tools/call","params":{"name":"a","x":[1.5,true,null]}}"#;
        let mut valid_prefixes = 0;
        for end in 0..=frame.len() {
            if !matches!(peek(&frame[..end]).kind, Kind::Invalid(_)) {
                valid_prefixes += 1;
            }
        }
        assert_eq!(valid_prefixes, 1, "only the whole frame is valid");
        // A deterministic stream of bytes biased towards JSON punctuation.
        let alphabet = b"{}[]\":,0123456789.eE+-truefalsnl \\u\xff\xc3";
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..2000 {
            let mut bytes = Vec::new();
            for _ in 0..(state % 40) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                bytes.push(alphabet[(state % alphabet.len() as u64) as usize]);
            }
            let _ = peek(&bytes);
        }
    }
}
