//! A value of a dynamically typed attribute (`AttributeType::Any`, cty's `DynamicPseudoType`)
//! exactly as Terraform sends it, kept so that it can be handed back unchanged.
//!
//! Why not tf-provider's `ValueAny`: Terraform sends a dynamic value in cty's wrapped msgpack form,
//! a two-element array `[type JSON as bytes, value]`, and the value may hold numbers that are not
//! `i64` (floats, or strings for big numbers) and msgpack extension values for unknowns. `ValueAny`
//! has no float and no byte string, so some objects would fail to decode and others would come
//! back altered; Terraform then rejects the data source's result ("produced an invalid object")
//! because a configured attribute changed. [`Dynamic`] keeps every msgpack value as it came, and
//! [`Dynamic::wrapped`] splits it into the type and the value for the decoders
//! ([`super::registry_ref`]).

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

/// One msgpack value, as tf-provider's deserializer hands it. `Debug` shows its shape only: a
/// registry object holds the password.
#[derive(Clone, PartialEq, Default)]
pub enum Dynamic {
    /// msgpack nil: a null value (of a dynamic type, or inside a value).
    #[default]
    Nil,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    Seq(Vec<Dynamic>),
    /// Entries in the order they came (cty sends object attributes and map keys sorted).
    Map(Vec<(Dynamic, Dynamic)>),
    /// A msgpack extension value: `(tag, data)`. cty encodes an unknown value as extension 0.
    Ext(i8, Vec<u8>),
}

impl std::fmt::Debug for Dynamic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Dynamic::Nil => f.write_str("Nil"),
            Dynamic::Ext(0, _) => f.write_str("Unknown"),
            Dynamic::Seq(s) => write!(f, "Seq(<{} items>)", s.len()),
            Dynamic::Map(m) => write!(f, "Map(<{} entries>)", m.len()),
            _ => f.write_str("<value>"),
        }
    }
}

/// The name rmp-serde gives msgpack extension values (`rmp_serde::MSGPACK_EXT_STRUCT_NAME`).
const EXT_STRUCT: &str = "_ExtStruct";

impl Dynamic {
    /// Whether this is an unknown value (cty's msgpack extension 0).
    pub fn is_unknown(&self) -> bool {
        matches!(self, Dynamic::Ext(0, _))
    }

    /// Whether an unknown value is anywhere inside.
    pub fn contains_unknown(&self) -> bool {
        match self {
            Dynamic::Ext(..) => true,
            Dynamic::Seq(s) => s.iter().any(Dynamic::contains_unknown),
            Dynamic::Map(m) => m
                .iter()
                .any(|(k, v)| k.contains_unknown() || v.contains_unknown()),
            _ => false,
        }
    }

    /// cty's wrapped form of a dynamic value of known type: `(type JSON, value)`. `None` for a
    /// dynamic value whose type is not known yet (an unknown or null of `DynamicPseudoType`,
    /// sent unwrapped) and for anything that is not `[bytes, value]`.
    pub fn wrapped(&self) -> Option<(serde_json::Value, &Dynamic)> {
        let Dynamic::Seq(items) = self else {
            return None;
        };
        let [ty, value] = items.as_slice() else {
            return None;
        };
        let ty = match ty {
            Dynamic::Bytes(b) => serde_json::from_slice(b).ok()?,
            Dynamic::Str(s) => serde_json::from_str(s).ok()?,
            _ => return None,
        };
        Some((ty, value))
    }

    /// The value as JSON, for decoding into typed structs with serde. `None` if it holds an
    /// unknown value (JSON has no way to say it) or a map key that is not a string.
    pub fn to_json(&self) -> Option<serde_json::Value> {
        use serde_json::Value as J;
        Some(match self {
            Dynamic::Nil => J::Null,
            Dynamic::Bool(b) => J::Bool(*b),
            Dynamic::Int(i) => J::from(*i),
            Dynamic::Uint(u) => J::from(*u),
            Dynamic::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Dynamic::Str(s) => J::String(s.clone()),
            Dynamic::Bytes(b) => J::String(String::from_utf8_lossy(b).into_owned()),
            Dynamic::Seq(s) => J::Array(s.iter().map(Dynamic::to_json).collect::<Option<_>>()?),
            Dynamic::Map(m) => {
                let mut out = serde_json::Map::new();
                for (k, v) in m {
                    let Dynamic::Str(k) = k else { return None };
                    out.insert(k.clone(), v.to_json()?);
                }
                J::Object(out)
            }
            Dynamic::Ext(..) => return None,
        })
    }
}

impl Serialize for Dynamic {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Dynamic::Nil => s.serialize_unit(),
            Dynamic::Bool(b) => s.serialize_bool(*b),
            Dynamic::Int(i) => s.serialize_i64(*i),
            Dynamic::Uint(u) => s.serialize_u64(*u),
            Dynamic::Float(f) => s.serialize_f64(*f),
            Dynamic::Str(v) => s.serialize_str(v),
            Dynamic::Bytes(b) => s.serialize_bytes(b),
            Dynamic::Seq(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for i in items {
                    seq.serialize_element(i)?;
                }
                seq.end()
            }
            Dynamic::Map(entries) => {
                let mut map = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
            Dynamic::Ext(tag, data) => s.serialize_newtype_struct(EXT_STRUCT, &Ext(*tag, data)),
        }
    }
}

/// The `(tag, data)` pair rmp-serde writes as a msgpack extension.
struct Ext<'a>(i8, &'a [u8]);

impl Serialize for Ext<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeTuple;
        let mut t = s.serialize_tuple(2)?;
        t.serialize_element(&self.0)?;
        t.serialize_element(&Bytes(self.1))?;
        t.end()
    }
}

struct Bytes<'a>(&'a [u8]);

impl Serialize for Bytes<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0)
    }
}

impl<'de> Deserialize<'de> for Dynamic {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(DynamicVisitor)
    }
}

struct DynamicVisitor;

impl<'de> Visitor<'de> for DynamicVisitor {
    type Value = Dynamic;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a msgpack value")
    }
    fn visit_unit<E>(self) -> Result<Dynamic, E> {
        Ok(Dynamic::Nil)
    }
    fn visit_none<E>(self) -> Result<Dynamic, E> {
        Ok(Dynamic::Nil)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Dynamic, D::Error> {
        Dynamic::deserialize(d)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Dynamic, E> {
        Ok(Dynamic::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Dynamic, E> {
        Ok(Dynamic::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Dynamic, E> {
        Ok(match i64::try_from(v) {
            Ok(i) => Dynamic::Int(i),
            Err(_) => Dynamic::Uint(v),
        })
    }
    fn visit_f64<E>(self, v: f64) -> Result<Dynamic, E> {
        Ok(Dynamic::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Dynamic, E> {
        Ok(Dynamic::Str(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Dynamic, E> {
        Ok(Dynamic::Str(v))
    }
    fn visit_bytes<E>(self, v: &[u8]) -> Result<Dynamic, E> {
        Ok(Dynamic::Bytes(v.to_vec()))
    }
    fn visit_byte_buf<E>(self, v: Vec<u8>) -> Result<Dynamic, E> {
        Ok(Dynamic::Bytes(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Dynamic, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(i) = seq.next_element()? {
            items.push(i);
        }
        Ok(Dynamic::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Dynamic, A::Error> {
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0).min(1024));
        while let Some(e) = map.next_entry()? {
            entries.push(e);
        }
        Ok(Dynamic::Map(entries))
    }
    /// rmp-serde hands a msgpack extension value as a newtype holding `(tag, data)`.
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Dynamic, D::Error> {
        let (tag, data) = d.deserialize_seq(ExtVisitor)?;
        Ok(Dynamic::Ext(tag, data))
    }
}

struct ExtVisitor;

impl<'de> Visitor<'de> for ExtVisitor {
    type Value = (i8, Vec<u8>);
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a msgpack extension (tag, data)")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let tag: i8 = seq
            .next_element()?
            .ok_or_else(|| de::Error::invalid_length(0, &self))?;
        let data: ByteBuf = seq
            .next_element()?
            .ok_or_else(|| de::Error::invalid_length(1, &self))?;
        Ok((tag, data.0))
    }
}

/// Bytes however the deserializer hands them (borrowed, owned, or as a sequence of u8).
struct ByteBuf(Vec<u8>);

impl<'de> Deserialize<'de> for ByteBuf {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ByteBuf;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E>(self, v: &[u8]) -> Result<ByteBuf, E> {
                Ok(ByteBuf(v.to_vec()))
            }
            fn visit_byte_buf<E>(self, v: Vec<u8>) -> Result<ByteBuf, E> {
                Ok(ByteBuf(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ByteBuf, A::Error> {
                let mut out = Vec::new();
                while let Some(b) = seq.next_element::<u8>()? {
                    out.push(b);
                }
                Ok(ByteBuf(out))
            }
        }
        d.deserialize_bytes(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// msgpack bytes of a cty value, built by hand as cty writes them.
    fn mp(v: &Dynamic) -> Vec<u8> {
        rmp_serde::to_vec(v).unwrap()
    }

    fn back(bytes: &[u8]) -> Dynamic {
        rmp_serde::from_slice(bytes).unwrap()
    }

    /// What cty sends for `registry = chartreg_helm_registry.x`: `[type JSON, object]`; it comes
    /// back byte for byte (floats and extension values included).
    #[test]
    fn round_trips_byte_for_byte() {
        let ty = br#"["object",{"name":"string","n":"number"}]"#.to_vec();
        let v = Dynamic::Seq(vec![
            Dynamic::Bytes(ty),
            Dynamic::Map(vec![
                (Dynamic::Str("n".into()), Dynamic::Float(1.5)),
                (Dynamic::Str("name".into()), Dynamic::Str("stable".into())),
                (Dynamic::Str("u".into()), Dynamic::Ext(0, vec![])),
                (Dynamic::Str("z".into()), Dynamic::Nil),
                (Dynamic::Str("big".into()), Dynamic::Uint(u64::MAX)),
                (Dynamic::Str("neg".into()), Dynamic::Int(-3)),
            ]),
        ]);
        let bytes = mp(&v);
        let again = back(&bytes);
        assert_eq!(again, v);
        assert_eq!(mp(&again), bytes);
        let (ty, value) = again.wrapped().unwrap();
        assert_eq!(ty[0], "object");
        assert!(value.contains_unknown());
        assert!(value.to_json().is_none());
        // Debug never shows a value (a registry object holds the password).
        assert!(!format!("{again:?}").contains("stable"));
    }

    #[test]
    fn unwrapped_values() {
        // An unknown of DynamicPseudoType is sent bare (no type).
        let u = back(&mp(&Dynamic::Ext(0, vec![])));
        assert!(u.is_unknown());
        assert!(u.wrapped().is_none());
        assert!(back(&mp(&Dynamic::Nil)).wrapped().is_none());
        let j = Dynamic::Map(vec![(Dynamic::Str("a".into()), Dynamic::Int(1))]);
        assert_eq!(j.to_json().unwrap(), serde_json::json!({"a": 1}));
    }
}
