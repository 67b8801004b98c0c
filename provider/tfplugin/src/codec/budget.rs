//! How many values a msgpack message may decode to, checked before anything is allocated.
//!
//! A msgpack value can be one byte (nil, a small integer), but decoded it costs a tree node of
//! some tens of bytes, and more as our [`Value`](crate::Value); a 256 MiB message of nils would
//! decode to tens of GB. One linear walk over the bytes (no allocation) counts the values first,
//! so the decoded tree stays within a small multiple of the message's size.

use rmp::Marker;

/// Every message may hold this many values, whatever its size.
pub const MIN_ELEMENTS: u64 = 64 * 1024;
/// Beyond [`MIN_ELEMENTS`], one value per this many bytes of message.
pub const BYTES_PER_ELEMENT: u64 = 8;
/// No message may hold more values than this, whatever its size.
pub const MAX_ELEMENTS: u64 = 4 * 1024 * 1024;

/// The most values a message of `len` bytes may hold.
pub fn element_budget(len: usize) -> u64 {
    (len as u64 / BYTES_PER_ELEMENT).clamp(MIN_ELEMENTS, MAX_ELEMENTS)
}

/// Why a message was refused before decoding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BudgetError {
    #[error("the message holds more than {budget} values (the limit for {len} bytes of msgpack)")]
    TooManyElements { budget: u64, len: usize },
    #[error("the message ends inside a value")]
    Truncated,
    #[error("reserved msgpack marker 0xc1")]
    Reserved,
}

/// Walks one msgpack value at the start of `bytes` and counts its values (map keys included)
/// without allocating; more than `budget` is an error. Returns the length of the value in bytes.
pub fn check(bytes: &[u8], budget: u64) -> Result<usize, BudgetError> {
    let mut at = 0usize;
    // Values still to read: declared lengths may be huge, but each value takes at least one
    // byte, so the loop ends within `bytes.len()` steps.
    let mut pending: u64 = 1;
    let mut elements: u64 = 0;
    while pending > 0 {
        pending -= 1;
        elements += 1;
        if elements > budget {
            return Err(BudgetError::TooManyElements {
                budget,
                len: bytes.len(),
            });
        }
        let byte = *bytes.get(at).ok_or(BudgetError::Truncated)?;
        at += 1;
        match Marker::from_u8(byte) {
            Marker::FixPos(_) | Marker::FixNeg(_) | Marker::Null | Marker::True | Marker::False => {
            }
            Marker::U8 | Marker::I8 => skip_to(bytes, &mut at, 1)?,
            Marker::U16 | Marker::I16 => skip_to(bytes, &mut at, 2)?,
            Marker::U32 | Marker::I32 | Marker::F32 => skip_to(bytes, &mut at, 4)?,
            Marker::U64 | Marker::I64 | Marker::F64 => skip_to(bytes, &mut at, 8)?,
            Marker::FixStr(n) => skip_to(bytes, &mut at, u64::from(n))?,
            Marker::FixExt1 => skip_to(bytes, &mut at, 2)?,
            Marker::FixExt2 => skip_to(bytes, &mut at, 3)?,
            Marker::FixExt4 => skip_to(bytes, &mut at, 5)?,
            Marker::FixExt8 => skip_to(bytes, &mut at, 9)?,
            Marker::FixExt16 => skip_to(bytes, &mut at, 17)?,
            Marker::Str8 | Marker::Bin8 => {
                let n = length(bytes, &mut at, 1)?;
                skip_to(bytes, &mut at, n)?;
            }
            Marker::Str16 | Marker::Bin16 => {
                let n = length(bytes, &mut at, 2)?;
                skip_to(bytes, &mut at, n)?;
            }
            Marker::Str32 | Marker::Bin32 => {
                let n = length(bytes, &mut at, 4)?;
                skip_to(bytes, &mut at, n)?;
            }
            Marker::Ext8 => {
                let n = length(bytes, &mut at, 1)?;
                skip_to(bytes, &mut at, n + 1)?;
            }
            Marker::Ext16 => {
                let n = length(bytes, &mut at, 2)?;
                skip_to(bytes, &mut at, n + 1)?;
            }
            Marker::Ext32 => {
                let n = length(bytes, &mut at, 4)?;
                skip_to(bytes, &mut at, n + 1)?;
            }
            Marker::FixArray(n) => pending = pending.saturating_add(u64::from(n)),
            Marker::Array16 => pending = pending.saturating_add(length(bytes, &mut at, 2)?),
            Marker::Array32 => pending = pending.saturating_add(length(bytes, &mut at, 4)?),
            Marker::FixMap(n) => pending = pending.saturating_add(2 * u64::from(n)),
            Marker::Map16 => pending = pending.saturating_add(2 * length(bytes, &mut at, 2)?),
            Marker::Map32 => pending = pending.saturating_add(2 * length(bytes, &mut at, 4)?),
            Marker::Reserved => return Err(BudgetError::Reserved),
        }
    }
    Ok(at)
}

/// Reads a big-endian length of `width` bytes at `at`.
fn length(bytes: &[u8], at: &mut usize, width: usize) -> Result<u64, BudgetError> {
    let end = at.checked_add(width).ok_or(BudgetError::Truncated)?;
    let field = bytes.get(*at..end).ok_or(BudgetError::Truncated)?;
    *at = end;
    Ok(field
        .iter()
        .fold(0u64, |n, byte| (n << 8) | u64::from(*byte)))
}

/// Moves `at` past `n` bytes of payload.
fn skip_to(bytes: &[u8], at: &mut usize, n: u64) -> Result<(), BudgetError> {
    *at = usize::try_from(n)
        .ok()
        .and_then(|n| at.checked_add(n))
        .filter(|end| *end <= bytes.len())
        .ok_or(BudgetError::Truncated)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmpv::Value as Mp;

    fn encode(mp: &Mp) -> Vec<u8> {
        let mut out = Vec::new();
        rmpv::encode::write_value(&mut out, mp).unwrap();
        out
    }

    #[test]
    fn counts_every_value_and_map_key_and_measures_the_length() {
        let mp = Mp::Map(vec![
            (
                Mp::from("a"),
                Mp::Array(vec![Mp::Nil, Mp::from(300), Mp::F64(1.5)]),
            ),
            (Mp::from("b"), Mp::Ext(0, vec![0])),
            (Mp::from("c"), Mp::Binary(vec![1; 300])),
            (Mp::from("d"), Mp::from("x".repeat(70_000).as_str())),
        ]);
        let bytes = encode(&mp);
        // map, 4 keys, array + 3 items, ext, binary, string = 12 values
        assert_eq!(check(&bytes, 12), Ok(bytes.len()));
        assert!(matches!(
            check(&bytes, 11),
            Err(BudgetError::TooManyElements { budget: 11, .. })
        ));
    }

    #[test]
    fn declared_lengths_beyond_the_bytes_are_truncation_not_allocation() {
        // array32 of 4 G values, map32 of 4 G pairs, str32 of 4 GiB: five bytes each.
        for bytes in [
            vec![0xdd, 0xff, 0xff, 0xff, 0xff],
            vec![0xdf, 0xff, 0xff, 0xff, 0xff],
            vec![0xdb, 0xff, 0xff, 0xff, 0xff],
            vec![0xc9, 0xff, 0xff, 0xff, 0xff],
        ] {
            assert_eq!(check(&bytes, u64::MAX), Err(BudgetError::Truncated));
        }
        assert_eq!(check(&[0xc1], 10), Err(BudgetError::Reserved));
        assert_eq!(check(&[], 10), Err(BudgetError::Truncated));
    }

    #[test]
    fn the_budget_grows_with_the_message_between_a_floor_and_a_ceiling() {
        assert_eq!(element_budget(0), MIN_ELEMENTS);
        assert_eq!(element_budget(1024 * 1024), MIN_ELEMENTS * 2);
        assert_eq!(element_budget(256 * 1024 * 1024), MAX_ELEMENTS);
    }
}
