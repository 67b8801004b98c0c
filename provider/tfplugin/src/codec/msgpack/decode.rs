//! msgpack to [`Value`]: a reader over the message's bytes, guided by the type.

use std::collections::BTreeMap;
use std::fmt::{Display, Write as _};

use rmp::Marker;

use super::super::CodecError;
use super::super::budget::BudgetError;
use super::{MAX_STEPS, error, invalid, too_deep};
use crate::path::PathTrail;
use crate::types::Type;
use crate::value::{Number, Value};

/// One msgpack item: a scalar, or the header of an array or map whose elements follow.
#[derive(Clone, Copy, Debug)]
enum Item<'a> {
    Nil,
    Bool(bool),
    Uint(u64),
    Int(i64),
    F32(f32),
    F64(f64),
    Str(&'a [u8]),
    Bin(&'a [u8]),
    Array(usize),
    Map(usize),
    Ext(i8, &'a [u8]),
}

/// Reads items off the front of a message, borrowing strings and binaries from it.
pub(super) struct Reader<'a> {
    rest: &'a [u8],
    depth: usize,
}

impl<'a> Reader<'a> {
    pub(super) fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader {
            rest: bytes,
            depth: 0,
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], CodecError> {
        if n > self.rest.len() {
            return Err(invalid(BudgetError::Truncated));
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    fn fixed<const N: usize>(&mut self) -> Result<[u8; N], CodecError> {
        self.take(N)?
            .try_into()
            .map_err(|_| invalid(BudgetError::Truncated))
    }

    /// A big-endian length of `N` bytes.
    fn len<const N: usize>(&mut self) -> Result<usize, CodecError> {
        let n = self
            .fixed::<N>()?
            .iter()
            .fold(0u64, |n, byte| (n << 8) | u64::from(*byte));
        usize::try_from(n).map_err(|_| invalid(BudgetError::Truncated))
    }

    fn ext(&mut self, len: usize) -> Result<Item<'a>, CodecError> {
        let [ty] = self.fixed::<1>()?;
        Ok(Item::Ext(i8::from_be_bytes([ty]), self.take(len)?))
    }

    fn next(&mut self) -> Result<Item<'a>, CodecError> {
        let marker = rmp::decode::read_marker(&mut self.rest)
            .map_err(|_| invalid(BudgetError::Truncated))?;
        if 2 * self.depth + steps(marker) > MAX_STEPS {
            return Err(too_deep());
        }
        Ok(match marker {
            Marker::Null => Item::Nil,
            Marker::True => Item::Bool(true),
            Marker::False => Item::Bool(false),
            Marker::FixPos(n) => Item::Uint(u64::from(n)),
            Marker::FixNeg(n) => Item::Int(i64::from(n)),
            Marker::U8 => Item::Uint(u64::from(u8::from_be_bytes(self.fixed()?))),
            Marker::U16 => Item::Uint(u64::from(u16::from_be_bytes(self.fixed()?))),
            Marker::U32 => Item::Uint(u64::from(u32::from_be_bytes(self.fixed()?))),
            Marker::U64 => Item::Uint(u64::from_be_bytes(self.fixed()?)),
            Marker::I8 => Item::Int(i64::from(i8::from_be_bytes(self.fixed()?))),
            Marker::I16 => Item::Int(i64::from(i16::from_be_bytes(self.fixed()?))),
            Marker::I32 => Item::Int(i64::from(i32::from_be_bytes(self.fixed()?))),
            Marker::I64 => Item::Int(i64::from_be_bytes(self.fixed()?)),
            Marker::F32 => Item::F32(f32::from_be_bytes(self.fixed()?)),
            Marker::F64 => Item::F64(f64::from_be_bytes(self.fixed()?)),
            Marker::FixStr(n) => Item::Str(self.take(usize::from(n))?),
            Marker::Str8 => Item::Str(self.sized::<1>()?),
            Marker::Str16 => Item::Str(self.sized::<2>()?),
            Marker::Str32 => Item::Str(self.sized::<4>()?),
            Marker::Bin8 => Item::Bin(self.sized::<1>()?),
            Marker::Bin16 => Item::Bin(self.sized::<2>()?),
            Marker::Bin32 => Item::Bin(self.sized::<4>()?),
            Marker::FixArray(n) => Item::Array(usize::from(n)),
            Marker::Array16 => Item::Array(self.len::<2>()?),
            Marker::Array32 => Item::Array(self.len::<4>()?),
            Marker::FixMap(n) => Item::Map(usize::from(n)),
            Marker::Map16 => Item::Map(self.len::<2>()?),
            Marker::Map32 => Item::Map(self.len::<4>()?),
            Marker::FixExt1 => self.ext(1)?,
            Marker::FixExt2 => self.ext(2)?,
            Marker::FixExt4 => self.ext(4)?,
            Marker::FixExt8 => self.ext(8)?,
            Marker::FixExt16 => self.ext(16)?,
            Marker::Ext8 => {
                let len = self.len::<1>()?;
                self.ext(len)?
            }
            Marker::Ext16 => {
                let len = self.len::<2>()?;
                self.ext(len)?
            }
            Marker::Ext32 => {
                let len = self.len::<4>()?;
                self.ext(len)?
            }
            Marker::Reserved => return Err(invalid(BudgetError::Reserved)),
        })
    }

    /// A payload preceded by its length of `N` bytes.
    fn sized<const N: usize>(&mut self) -> Result<&'a [u8], CodecError> {
        let len = self.len::<N>()?;
        self.take(len)
    }

    /// A capacity for `n` elements declared by a header: no more than the bytes left, as each
    /// element takes at least one.
    fn capacity(&self, n: usize) -> usize {
        n.min(self.rest.len())
    }

    /// Into the elements of an array or map (whose header [`Reader::next`] allowed).
    fn enter(&mut self) {
        self.depth += 1;
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    /// The next value, as type `ty`.
    pub(super) fn value(&mut self, ty: &Type, trail: &PathTrail<'_>) -> Result<Value, CodecError> {
        let item = self.next()?;
        match (ty, item) {
            (_, Item::Nil) => Ok(Value::Null),
            (_, Item::Ext(..)) => Ok(Value::Unknown),
            (Type::Bool, Item::Bool(b)) => Ok(Value::Bool(b)),
            (Type::Number, Item::Uint(u)) => Ok(Value::Number(
                i64::try_from(u).map_or_else(|_| Number::Decimal(u.to_string()), Number::Int),
            )),
            (Type::Number, Item::Int(i)) => Ok(Value::Number(Number::Int(i))),
            (Type::Number, Item::F64(f)) => Ok(Value::Number(Number::from_f64(f))),
            (Type::Number, Item::F32(f)) => Ok(Value::Number(Number::from_f64(f64::from(f)))),
            (Type::Number, Item::Str(s)) => Ok(Value::Number(Number::from_decimal(utf8(
                s,
                trail,
                "number is not UTF-8",
            )?))),
            (Type::String, Item::Str(s)) => Ok(Value::String(
                utf8(s, trail, "string is not UTF-8")?.to_owned(),
            )),
            (Type::List(et), Item::Array(n)) => Ok(Value::List(self.elements(et, n, trail, true)?)),
            (Type::Set(et), Item::Array(n)) => Ok(Value::Set(self.elements(et, n, trail, false)?)),
            (Type::Tuple(ts), Item::Array(n)) => self.tuple(ts, n, trail),
            (Type::Map(et), Item::Map(n)) => self.map(et, n, trail),
            (Type::Object { attributes, .. }, Item::Map(n)) => self.object(attributes, n, trail),
            (Type::Dynamic, Item::Array(2)) => self.dynamic(trail),
            (_, item) => Err(self.mismatch(ty, item, trail)),
        }
    }

    /// The error for `item` where a value of type `ty` belongs.
    #[cold]
    #[inline(never)]
    fn mismatch(&mut self, ty: &Type, item: Item<'a>, trail: &PathTrail<'_>) -> CodecError {
        match self.render(item) {
            Ok(shown) => error(trail, format!("expected {ty}, got msgpack {shown}")),
            Err(e) => e,
        }
    }

    /// `n` elements of a list (paths with indexes) or a set (the set's path).
    fn elements(
        &mut self,
        et: &Type,
        n: usize,
        trail: &PathTrail<'_>,
        indexed: bool,
    ) -> Result<Vec<Value>, CodecError> {
        self.enter();
        let mut out = Vec::with_capacity(self.capacity(n));
        for i in 0..n {
            let value = if indexed {
                self.value(et, &trail.index(i))?
            } else {
                self.value(et, trail)?
            };
            out.push(value);
        }
        self.leave();
        Ok(out)
    }

    fn tuple(&mut self, ts: &[Type], n: usize, trail: &PathTrail<'_>) -> Result<Value, CodecError> {
        if ts.len() != n {
            return Err(error(
                trail,
                format!("expected {} tuple elements, got {n}", ts.len()),
            ));
        }
        self.enter();
        let mut out = Vec::with_capacity(n);
        for (i, t) in ts.iter().enumerate() {
            out.push(self.value(t, &trail.index(i))?);
        }
        self.leave();
        Ok(Value::Tuple(out))
    }

    fn map(&mut self, et: &Type, n: usize, trail: &PathTrail<'_>) -> Result<Value, CodecError> {
        self.enter();
        let mut entries: Vec<(String, Value)> = Vec::with_capacity(self.capacity(n));
        let mut ascending = true;
        for _ in 0..n {
            let key = self.key(trail)?;
            let value = self.value(et, &trail.key(key))?;
            if let Some((last, _)) = entries.last() {
                ascending &= last.as_str() < key;
            }
            entries.push((key.to_owned(), value));
        }
        self.leave();
        Ok(Value::Map(into_map(entries, ascending)))
    }

    /// An object: each attribute must be in the type; those the message omits are null.
    fn object(
        &mut self,
        attributes: &BTreeMap<String, Type>,
        n: usize,
        trail: &PathTrail<'_>,
    ) -> Result<Value, CodecError> {
        self.enter();
        // Terraform writes the attributes in the type's (sorted) order: each key is compared
        // with the type's next names only, and those it passes over are null until seen.
        let mut names = attributes.iter().peekable();
        let mut entries: Vec<(String, Value)> = Vec::with_capacity(attributes.len());
        for read in 1..=n {
            let key = self.raw_key(trail)?;
            while let Some((name, _)) = names.next_if(|(name, _)| name.as_bytes() < key) {
                entries.push((name.clone(), Value::Null));
            }
            let Some((name, at)) = names.next_if(|(name, _)| name.as_bytes() == key) else {
                let seen = into_map(entries, true);
                return self.unordered_object(attributes, seen, key, n - read, trail);
            };
            let value = self.value(at, &trail.attr(name))?;
            entries.push((name.clone(), value));
        }
        entries.extend(names.map(|(name, _)| (name.clone(), Value::Null)));
        self.leave();
        Ok(Value::Object(into_map(entries, true)))
    }

    /// The rest of an object whose attribute `key` came out of the type's order (or is not in
    /// the type): `seen` holds the attributes before it, and `more` keys follow it.
    fn unordered_object(
        &mut self,
        attributes: &BTreeMap<String, Type>,
        mut seen: BTreeMap<String, Value>,
        mut key: &'a [u8],
        more: usize,
        trail: &PathTrail<'_>,
    ) -> Result<Value, CodecError> {
        for read in 0..=more {
            if read > 0 {
                key = self.raw_key(trail)?;
            }
            let key = utf8(key, trail, "map key is not UTF-8")?;
            let Some((name, at)) = attributes.get_key_value(key) else {
                return Err(error(
                    &trail.attr(key),
                    format!("unsupported attribute {key:?}"),
                ));
            };
            let value = self.value(at, &trail.attr(key))?;
            seen.insert(name.clone(), value);
        }
        self.leave();
        for name in attributes.keys() {
            if !seen.contains_key(name) {
                seen.insert(name.clone(), Value::Null);
            }
        }
        Ok(Value::Object(seen))
    }

    /// A map key as raw bytes (an object's keys are compared with its names before anything
    /// else: one that matches is UTF-8).
    fn raw_key(&mut self, trail: &PathTrail<'_>) -> Result<&'a [u8], CodecError> {
        match self.next()? {
            Item::Str(s) => Ok(s),
            other => Err(self.not_a_key(other, trail)),
        }
    }

    #[cold]
    #[inline(never)]
    fn not_a_key(&mut self, item: Item<'a>, trail: &PathTrail<'_>) -> CodecError {
        match self.render(item) {
            Ok(shown) => error(trail, format!("map key is not a string: {shown}")),
            Err(e) => e,
        }
    }

    /// A map key: a UTF-8 string.
    fn key(&mut self, trail: &PathTrail<'_>) -> Result<&'a str, CodecError> {
        let key = self.raw_key(trail)?;
        utf8(key, trail, "map key is not UTF-8")
    }

    /// The two elements of a `dynamic` value after its array header: type JSON, then the value.
    fn dynamic(&mut self, trail: &PathTrail<'_>) -> Result<Value, CodecError> {
        self.enter();
        let type_json = match self.next()? {
            Item::Bin(b) | Item::Str(b) => b,
            _ => return Err(error(trail, "dynamic value without type JSON")),
        };
        let concrete = Type::from_json_bytes(type_json).map_err(|e| error(trail, e.to_string()))?;
        let value = self.value(&concrete, trail)?;
        self.leave();
        Ok(Value::Dynamic(concrete, Box::new(value)))
    }

    /// `item` and what follows it, written as `rmpv` shows a value (for an error message).
    #[cold]
    fn render(&mut self, item: Item<'a>) -> Result<String, CodecError> {
        let mut out = String::new();
        self.render_into(&mut out, item)?;
        Ok(out)
    }

    fn render_into(&mut self, out: &mut String, item: Item<'a>) -> Result<(), CodecError> {
        match item {
            Item::Nil => out.push_str("nil"),
            Item::Bool(b) => push(out, b),
            Item::Uint(u) => push(out, u),
            Item::Int(i) => push(out, i),
            Item::F32(f) => push(out, f),
            Item::F64(f) => push(out, f),
            // A string as text, or as its bytes when it is not UTF-8.
            Item::Str(bytes) => match std::str::from_utf8(bytes) {
                Ok(s) => push(out, format_args!("{s:?}")),
                Err(_) => push(out, format_args!("{bytes:?}")),
            },
            Item::Bin(b) => push(out, format_args!("{b:?}")),
            Item::Ext(ty, data) => push(out, format_args!("[{ty}, {data:?}]")),
            Item::Array(n) => {
                self.enter();
                out.push('[');
                for i in 0..n {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    let element = self.next()?;
                    self.render_into(out, element)?;
                }
                out.push(']');
                self.leave();
            }
            Item::Map(n) => {
                self.enter();
                out.push('{');
                for i in 0..n {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    let key = self.next()?;
                    self.render_into(out, key)?;
                    out.push_str(": ");
                    let value = self.next()?;
                    self.render_into(out, value)?;
                }
                out.push('}');
                self.leave();
            }
        }
        Ok(())
    }
}

/// The map of `entries`: built in bulk when their keys are `ascending` (sorted, none repeated),
/// else one by one (a repeated key keeps its last value).
fn into_map(entries: Vec<(String, Value)>, ascending: bool) -> BTreeMap<String, Value> {
    if ascending {
        return entries.into_iter().collect();
    }
    let mut map = BTreeMap::new();
    for (key, value) in entries {
        map.insert(key, value);
    }
    map
}

/// The steps of [`MAX_STEPS`] a value with this marker takes (its elements not counted).
fn steps(marker: Marker) -> usize {
    match marker {
        Marker::FixStr(_)
        | Marker::Str8
        | Marker::Str16
        | Marker::Str32
        | Marker::FixExt1
        | Marker::FixExt2
        | Marker::FixExt4
        | Marker::FixExt8
        | Marker::FixExt16
        | Marker::Ext8
        | Marker::Ext16
        | Marker::Ext32 => 3,
        Marker::Bin8
        | Marker::Bin16
        | Marker::Bin32
        | Marker::FixArray(_)
        | Marker::Array16
        | Marker::Array32
        | Marker::FixMap(_)
        | Marker::Map16
        | Marker::Map32 => 2,
        _ => 1,
    }
}

fn push(out: &mut String, shown: impl Display) {
    // Writing into a String cannot fail.
    let _ = write!(out, "{shown}");
}

fn utf8<'a>(bytes: &'a [u8], trail: &PathTrail<'_>, what: &str) -> Result<&'a str, CodecError> {
    std::str::from_utf8(bytes).map_err(|_| error(trail, what))
}
