//! PostgreSQL's binary COPY format: the stream header and trailer, each field's binary encoding
//! (including `numeric`, at any precision), and the decoding of numeric values read back.

use crate::engine::db::value::{Val, format_decimal, text_of};
use bytes::{BufMut, BytesMut};
use chrono::{NaiveDate, NaiveTime, Timelike};

/// `PGCOPY\n\xff\r\n\0`, flags, header extension length.
pub const HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";
pub const TRAILER: &[u8] = &[0xff, 0xff];

/// Days from 1970-01-01 to PostgreSQL's epoch, 2000-01-01.
const PG_EPOCH_DAYS: i64 = 10_957;
const PG_EPOCH_MICROS: i64 = PG_EPOCH_DAYS * 86_400_000_000;

/// How one target column is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enc {
    Bool,
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
    Numeric,
    /// text, varchar, bpchar, name, citext, enums, json: the UTF-8 bytes.
    Text,
    Jsonb,
    Bytea,
    Uuid,
    Date,
    Time,
    Timestamp,
}

impl Enc {
    /// The encoding of a column type by its `pg_type.typname` (enums count as text).
    pub fn of(type_name: &str, is_enum: bool) -> Option<Enc> {
        Some(match type_name {
            "bool" => Enc::Bool,
            "int2" => Enc::Int2,
            "int4" => Enc::Int4,
            "int8" => Enc::Int8,
            "float4" => Enc::Float4,
            "float8" => Enc::Float8,
            "numeric" => Enc::Numeric,
            "text" | "varchar" | "bpchar" | "name" | "citext" | "json" => Enc::Text,
            "jsonb" => Enc::Jsonb,
            "bytea" => Enc::Bytea,
            "uuid" => Enc::Uuid,
            "date" => Enc::Date,
            "time" => Enc::Time,
            "timestamp" | "timestamptz" => Enc::Timestamp,
            _ if is_enum => Enc::Text,
            _ => return None,
        })
    }
}

/// Appends one field (length and bytes, or -1 for NULL) for a coerced value.
pub fn put_field(buf: &mut BytesMut, enc: Enc, v: &Val) -> Result<(), String> {
    if let Val::Null = v {
        buf.put_i32(-1);
        return Ok(());
    }
    match (enc, v) {
        (Enc::Bool, Val::Bool(b)) => {
            buf.put_i32(1);
            buf.put_u8(*b as u8);
        }
        (Enc::Int2, Val::Int(i)) => {
            buf.put_i32(2);
            buf.put_i16(*i as i16);
        }
        (Enc::Int4, Val::Int(i)) => {
            buf.put_i32(4);
            buf.put_i32(*i as i32);
        }
        (Enc::Int8, Val::Int(i)) => {
            buf.put_i32(8);
            buf.put_i64(*i);
        }
        (Enc::Float4, Val::Float(f)) => {
            buf.put_i32(4);
            buf.put_f32(*f as f32);
        }
        (Enc::Float8, Val::Float(f)) => {
            buf.put_i32(8);
            buf.put_f64(*f);
        }
        (Enc::Numeric, Val::Decimal(d, s)) => put_numeric(buf, &format_decimal(*d, *s))?,
        (Enc::Numeric, other) => put_numeric(buf, &text_of(other))?,
        (Enc::Text, Val::Text(t) | Val::Json(t)) => {
            if t.contains('\0') {
                return Err("text holds a NUL character, which PostgreSQL cannot store".into());
            }
            buf.put_i32(t.len() as i32);
            buf.put_slice(t.as_bytes());
        }
        (Enc::Jsonb, Val::Json(t) | Val::Text(t)) => {
            buf.put_i32(t.len() as i32 + 1);
            buf.put_u8(1);
            buf.put_slice(t.as_bytes());
        }
        (Enc::Bytea, Val::Bytes(b)) => {
            buf.put_i32(b.len() as i32);
            buf.put_slice(b);
        }
        (Enc::Uuid, Val::Uuid(u)) => {
            buf.put_i32(16);
            buf.put_slice(u.as_bytes());
        }
        (Enc::Date, Val::Date(d)) => {
            buf.put_i32(4);
            buf.put_i32(days_since_pg_epoch(*d)?);
        }
        (Enc::Time, Val::Time(t)) => {
            buf.put_i32(8);
            buf.put_i64(micros_of_day(*t));
        }
        (Enc::Timestamp, Val::Timestamp(t)) => {
            buf.put_i32(8);
            buf.put_i64(t.and_utc().timestamp_micros() - PG_EPOCH_MICROS);
        }
        (Enc::Timestamp, Val::TimestampTz(t)) => {
            buf.put_i32(8);
            buf.put_i64(t.timestamp_micros() - PG_EPOCH_MICROS);
        }
        (enc, v) => return Err(format!("cannot encode {v:?} as {enc:?}")),
    }
    Ok(())
}

fn days_since_pg_epoch(d: NaiveDate) -> Result<i32, String> {
    let days = d.signed_duration_since(NaiveDate::from_ymd_opt(2000, 1, 1).expect("valid"));
    i32::try_from(days.num_days()).map_err(|_| format!("date {d} is out of range"))
}

fn micros_of_day(t: NaiveTime) -> i64 {
    t.num_seconds_from_midnight() as i64 * 1_000_000 + (t.nanosecond() / 1000) as i64
}

/// Encodes a decimal string as PostgreSQL's binary `numeric`: base-10000 digits, a weight, a sign
/// and the display scale. Any precision.
pub fn put_numeric(buf: &mut BytesMut, s: &str) -> Result<(), String> {
    let t = s.trim();
    let lower = t.to_ascii_lowercase();
    if lower == "nan" {
        buf.put_i32(8);
        buf.put_slice(&[0, 0, 0, 0, 0xC0, 0, 0, 0]);
        return Ok(());
    }
    let (neg, m) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if m.contains(['e', 'E']) {
        // Exponents are rare in decimal text; normalise through the exact parser.
        let scale = m
            .split_once('.')
            .map(|(_, f)| f.len())
            .unwrap_or(0)
            .min(120) as i8;
        let v = crate::engine::db::value::parse_decimal(t, scale)?;
        return put_numeric(buf, &format_decimal(v, scale));
    }
    let (int, frac) = m.split_once('.').unwrap_or((m, ""));
    if int.is_empty() && frac.is_empty()
        || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
    {
        return Err(format!("`{s}` is not a number"));
    }
    let int = int.trim_start_matches('0');
    let dscale = frac.len();
    // Align to groups of four digits around the decimal point.
    let lead = (4 - int.len() % 4) % 4;
    let trail = (4 - frac.len() % 4) % 4;
    let digits: Vec<u8> = std::iter::repeat_n(b'0', lead)
        .chain(int.bytes())
        .chain(frac.bytes())
        .chain(std::iter::repeat_n(b'0', trail))
        .collect();
    let mut groups: Vec<i16> = digits
        .chunks(4)
        .map(|c| c.iter().fold(0i16, |a, d| a * 10 + (d - b'0') as i16))
        .collect();
    let mut weight = ((lead + int.len()) / 4) as i32 - 1;
    while groups.first() == Some(&0) {
        groups.remove(0);
        weight -= 1;
    }
    while groups.last() == Some(&0) {
        groups.pop();
    }
    if groups.is_empty() {
        weight = 0;
    }
    if groups.len() > i16::MAX as usize || dscale > 0x3FFF {
        return Err(format!("`{s}` is too long for a numeric"));
    }
    buf.put_i32(8 + 2 * groups.len() as i32);
    buf.put_i16(groups.len() as i16);
    buf.put_i16(weight as i16);
    buf.put_u16(if neg && !groups.is_empty() { 0x4000 } else { 0 });
    buf.put_u16(dscale as u16);
    for g in groups {
        buf.put_i16(g);
    }
    Ok(())
}

/// Decodes a binary `numeric` to its decimal text; `None` for NaN and infinities.
pub fn numeric_text(b: &[u8]) -> Option<String> {
    if b.len() < 8 {
        return None;
    }
    let rd = |i: usize| i16::from_be_bytes([b[i], b[i + 1]]);
    let (n, weight, sign, dscale) = (rd(0) as usize, rd(2) as i32, rd(4) as u16, rd(6) as usize);
    if sign == 0xC000 || sign == 0xD000 || sign == 0xF000 || b.len() < 8 + 2 * n {
        return None;
    }
    let groups: Vec<i16> = (0..n).map(|i| rd(8 + 2 * i)).collect();
    let mut int = String::new();
    for w in 0..=weight.max(-1) {
        let g = groups.get(w as usize).copied().unwrap_or(0);
        if int.is_empty() {
            if g != 0 {
                int.push_str(&g.to_string());
            }
        } else {
            int.push_str(&format!("{g:04}"));
        }
    }
    if int.is_empty() {
        int.push('0');
    }
    let mut frac = String::new();
    let mut idx = weight + 1;
    while frac.len() < dscale {
        let g = if idx >= 0 {
            groups.get(idx as usize).copied().unwrap_or(0)
        } else {
            0
        };
        frac.push_str(&format!("{g:04}"));
        idx += 1;
    }
    frac.truncate(dscale);
    let neg = sign == 0x4000;
    Some(match (neg, frac.is_empty()) {
        (true, true) => format!("-{int}"),
        (true, false) => format!("-{int}.{frac}"),
        (false, true) => int,
        (false, false) => format!("{int}.{frac}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(s: &str) -> String {
        let mut b = BytesMut::new();
        put_numeric(&mut b, s).unwrap();
        numeric_text(&b[4..]).unwrap()
    }

    #[test]
    fn numerics_round_trip_at_any_precision() {
        for s in [
            "0",
            "1",
            "-1",
            "12.50",
            "0.0001",
            "10000",
            "123456789.000001",
            "-0.5",
            "99999999999999999999999999999999999999.9999999999",
            "0.00000000000000000000000000000000000000000001",
        ] {
            assert_eq!(roundtrip(s), s, "{s}");
        }
        assert_eq!(roundtrip("007.10"), "7.10");
        let mut b = BytesMut::new();
        assert!(put_numeric(&mut b, "1.2.3").is_err());
    }
}
