//! Cells: reading one value out of a canonical Arrow column ([`Column::get`]) and coercing it to
//! what a target column holds ([`coerce`]), or saying why it cannot — out of range, too long,
//! digits that would be lost, text that does not parse. No value is ever silently truncated.

use super::types::{TargetColumn, TargetType};
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BinaryArray, BooleanArray, Date32Array, Decimal128Array,
    Float64Array, Int64Array, StringArray, Time64MicrosecondArray, TimestampMicrosecondArray,
    UInt64Array,
};
use datafusion::arrow::datatypes::{DataType, TimeUnit};
use std::borrow::Cow;

/// One value, typed.
#[derive(Debug, Clone, PartialEq)]
pub enum Val<'a> {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    /// `value × 10^-scale`.
    Decimal(i128, i8),
    Text(Cow<'a, str>),
    Bytes(Cow<'a, [u8]>),
    Date(NaiveDate),
    Time(NaiveTime),
    Timestamp(NaiveDateTime),
    TimestampTz(DateTime<Utc>),
    Uuid(uuid::Uuid),
    Json(Cow<'a, str>),
}

/// A canonical Arrow column ready for cell reads (see [`super::types::canonical`]).
pub enum Column<'a> {
    Null,
    Bool(&'a BooleanArray),
    Int(&'a Int64Array),
    UInt(&'a UInt64Array),
    Float(&'a Float64Array),
    Decimal(&'a Decimal128Array, i8),
    Text(&'a StringArray),
    Binary(&'a BinaryArray),
    Date(&'a Date32Array),
    Time(&'a Time64MicrosecondArray),
    Timestamp(&'a TimestampMicrosecondArray, bool),
}

impl<'a> Column<'a> {
    pub fn new(a: &'a ArrayRef) -> Result<Column<'a>, String> {
        Ok(match a.data_type() {
            DataType::Null => Column::Null,
            DataType::Boolean => Column::Bool(a.as_boolean()),
            DataType::Int64 => Column::Int(a.as_primitive()),
            DataType::UInt64 => Column::UInt(a.as_primitive()),
            DataType::Float64 => Column::Float(a.as_primitive()),
            DataType::Decimal128(_, s) => Column::Decimal(a.as_primitive(), *s),
            DataType::Utf8 => Column::Text(a.as_string()),
            DataType::Binary => Column::Binary(a.as_binary()),
            DataType::Date32 => Column::Date(a.as_primitive()),
            DataType::Time64(TimeUnit::Microsecond) => Column::Time(a.as_primitive()),
            DataType::Timestamp(TimeUnit::Microsecond, tz) => {
                Column::Timestamp(a.as_primitive(), tz.is_some())
            }
            other => return Err(format!("type {other} is not canonical")),
        })
    }

    pub fn get(&self, i: usize) -> Val<'a> {
        macro_rules! v {
            ($a:expr, $f:expr) => {
                if $a.is_null(i) {
                    Val::Null
                } else {
                    $f($a.value(i))
                }
            };
        }
        match self {
            Column::Null => Val::Null,
            Column::Bool(a) => v!(a, Val::Bool),
            Column::Int(a) => v!(a, Val::Int),
            Column::UInt(a) => v!(a, Val::UInt),
            Column::Float(a) => v!(a, Val::Float),
            Column::Decimal(a, s) => v!(a, |x| Val::Decimal(x, *s)),
            Column::Text(a) => v!(a, |x| Val::Text(Cow::Borrowed(x))),
            Column::Binary(a) => v!(a, |x| Val::Bytes(Cow::Borrowed(x))),
            Column::Date(a) => v!(a, |d| Val::Date(date_from_days(d))),
            Column::Time(a) => v!(a, |t| Val::Time(time_from_micros(t))),
            Column::Timestamp(a, tz) => v!(a, |t| {
                let dt = DateTime::<Utc>::from_timestamp_micros(t).unwrap_or_default();
                if *tz {
                    Val::TimestampTz(dt)
                } else {
                    Val::Timestamp(dt.naive_utc())
                }
            }),
        }
    }
}

pub fn date_from_days(d: i32) -> NaiveDate {
    NaiveDate::from_num_days_from_ce_opt(d + 719_163).unwrap_or_default()
}

fn time_from_micros(t: i64) -> NaiveTime {
    let secs = t.div_euclid(1_000_000);
    let micros = t.rem_euclid(1_000_000);
    NaiveTime::from_num_seconds_from_midnight_opt(secs as u32, (micros * 1000) as u32)
        .unwrap_or_default()
}

/// A short rendering of a value for messages.
fn show(v: &Val) -> String {
    let t = text_of(v);
    let mut s: String = t.chars().take(40).collect();
    if t.chars().count() > 40 {
        s.push('…');
    }
    format!("`{s}`")
}

/// The text form of a value (what a text column receives).
pub fn text_of<'a>(v: &Val<'a>) -> Cow<'a, str> {
    match v {
        Val::Null => Cow::Borrowed(""),
        Val::Bool(b) => Cow::Borrowed(if *b { "true" } else { "false" }),
        Val::Int(i) => Cow::Owned(i.to_string()),
        Val::UInt(u) => Cow::Owned(u.to_string()),
        Val::Float(f) => Cow::Owned(f.to_string()),
        Val::Decimal(v, s) => Cow::Owned(format_decimal(*v, *s)),
        Val::Text(t) | Val::Json(t) => t.clone(),
        Val::Bytes(b) => match b {
            Cow::Borrowed(b) => String::from_utf8_lossy(b),
            Cow::Owned(b) => Cow::Owned(String::from_utf8_lossy(b).into_owned()),
        },
        Val::Date(d) => Cow::Owned(d.format("%Y-%m-%d").to_string()),
        Val::Time(t) => Cow::Owned(t.format("%H:%M:%S%.f").to_string()),
        Val::Timestamp(t) => Cow::Owned(t.format("%Y-%m-%d %H:%M:%S%.f").to_string()),
        Val::TimestampTz(t) => Cow::Owned(t.format("%Y-%m-%d %H:%M:%S%.f+00").to_string()),
        Val::Uuid(u) => Cow::Owned(u.to_string()),
    }
}

/// `value × 10^-scale` as a decimal string.
pub fn format_decimal(v: i128, scale: i8) -> String {
    if scale <= 0 {
        let mut s = v.to_string();
        if v != 0 {
            s.extend(std::iter::repeat_n('0', (-scale) as usize));
        }
        return s;
    }
    let neg = v < 0;
    let digits = v.unsigned_abs().to_string();
    let scale = scale as usize;
    let padded = if digits.len() <= scale {
        format!("{}{digits}", "0".repeat(scale - digits.len() + 1))
    } else {
        digits
    };
    let (int, frac) = padded.split_at(padded.len() - scale);
    format!("{}{int}.{frac}", if neg { "-" } else { "" })
}

/// Parses a decimal string (`-12.5`, `1e3`) at a scale; `Err` when it is not a number or digits
/// beyond the scale are not zero.
pub fn parse_decimal(s: &str, scale: i8) -> Result<i128, String> {
    let bad = || format!("`{s}` is not a number");
    let t = s.trim();
    let (mantissa, exp) = match t.find(['e', 'E']) {
        Some(i) => (&t[..i], t[i + 1..].parse::<i32>().map_err(|_| bad())?),
        None => (t, 0),
    };
    let (neg, m) = match mantissa.as_bytes().first() {
        Some(b'-') => (true, &mantissa[1..]),
        Some(b'+') => (false, &mantissa[1..]),
        _ => (false, mantissa),
    };
    let (int, frac) = m.split_once('.').unwrap_or((m, ""));
    if int.is_empty() && frac.is_empty()
        || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    // digits × 10^(exp - frac.len()), rescaled to `scale`.
    let shift = exp - frac.len() as i32 + scale as i32;
    let all = format!("{int}{frac}");
    let all = all.trim_start_matches('0');
    let mut v: i128 = 0;
    let too_big = || format!("`{s}` has too many digits");
    let keep = if shift >= 0 {
        all.len()
    } else {
        let cut = all.len().saturating_sub((-shift) as usize);
        if all[cut..].bytes().any(|b| b != b'0') {
            return Err(format!(
                "`{s}` has more than {scale} digits after the point"
            ));
        }
        cut
    };
    for b in all[..keep].bytes() {
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add((b - b'0') as i128))
            .ok_or_else(too_big)?;
    }
    if shift > 0 {
        v = v
            .checked_mul(10i128.checked_pow(shift as u32).ok_or_else(too_big)?)
            .ok_or_else(too_big)?;
    }
    Ok(if neg { -v } else { v })
}

/// Rescales `v × 10^-from` to scale `to`; `None` when non-zero digits would be lost or it overflows.
fn rescale(v: i128, from: i8, to: i8) -> Option<i128> {
    if to >= from {
        v.checked_mul(10i128.checked_pow((to - from) as u32)?)
    } else {
        let d = 10i128.checked_pow((from - to) as u32)?;
        (v % d == 0).then_some(v / d)
    }
}

fn int_range(bytes: u8, unsigned: bool) -> (i128, i128) {
    let bits = bytes as u32 * 8;
    if unsigned {
        (0, (1i128 << bits) - 1)
    } else {
        (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1)
    }
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "t" | "1" | "yes" | "y" | "on" => Some(true),
        "false" | "f" | "0" | "no" | "n" | "off" => Some(false),
        _ => None,
    }
}

fn parse_naive(s: &str) -> Option<NaiveDateTime> {
    let s = s.trim();
    for f in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Some(t);
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
}

fn parse_tz(s: &str) -> Option<DateTime<Utc>> {
    let t = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(t) {
        return Some(t.with_timezone(&Utc));
    }
    for f in ["%Y-%m-%d %H:%M:%S%.f%#z", "%Y-%m-%dT%H:%M:%S%.f%#z"] {
        if let Ok(t) = DateTime::parse_from_str(t, f) {
            return Some(t.with_timezone(&Utc));
        }
    }
    // A time without a zone is taken as UTC.
    parse_naive(t).map(|n| Utc.from_utc_datetime(&n))
}

/// Coerces a value to what `col` holds, or says why it cannot.
pub fn coerce<'a>(v: Val<'a>, col: &TargetColumn) -> Result<Val<'a>, String> {
    if v == Val::Null {
        return if col.nullable {
            Ok(Val::Null)
        } else {
            Err(format!(
                "column `{}` is NOT NULL and the value is NULL",
                col.name
            ))
        };
    }
    coerce_value(v, &col.ty).map_err(|e| format!("column `{}` {}: {e}", col.name, col.declared))
}

fn coerce_value<'a>(v: Val<'a>, ty: &TargetType) -> Result<Val<'a>, String> {
    let cannot = |v: &Val| format!("{} cannot be stored in this column", show(v));
    match ty {
        TargetType::Bool => match &v {
            Val::Bool(_) => Ok(v),
            Val::Int(0) | Val::UInt(0) => Ok(Val::Bool(false)),
            Val::Int(1) | Val::UInt(1) => Ok(Val::Bool(true)),
            Val::Text(s) => parse_bool(s)
                .map(Val::Bool)
                .ok_or_else(|| format!("{} is not a boolean", show(&v))),
            _ => Err(cannot(&v)),
        },
        TargetType::Int { bytes, unsigned } => {
            let (lo, hi) = int_range(*bytes, *unsigned);
            let n: i128 = match &v {
                Val::Int(i) => *i as i128,
                Val::UInt(u) => *u as i128,
                Val::Bool(b) => *b as i128,
                Val::Decimal(d, s) => rescale(*d, *s, 0)
                    .ok_or_else(|| format!("{} is not a whole number", show(&v)))?,
                Val::Float(f) if f.fract() == 0.0 && f.is_finite() && f.abs() < 1e38 => *f as i128,
                Val::Float(_) => return Err(format!("{} is not a whole number", show(&v))),
                Val::Text(s) => s
                    .trim()
                    .parse::<i128>()
                    .map_err(|_| format!("{} is not an integer", show(&v)))?,
                _ => return Err(cannot(&v)),
            };
            if n < lo || n > hi {
                return Err(format!("{n} is out of range ({lo} to {hi})"));
            }
            Ok(if n > i64::MAX as i128 {
                Val::UInt(n as u64)
            } else {
                Val::Int(n as i64)
            })
        }
        TargetType::Float { bytes } => {
            let f = match &v {
                Val::Float(f) => *f,
                Val::Int(i) => *i as f64,
                Val::UInt(u) => *u as f64,
                Val::Decimal(..) => text_of(&v).parse::<f64>().map_err(|e| e.to_string())?,
                Val::Text(s) => s
                    .trim()
                    .parse::<f64>()
                    .map_err(|_| format!("{} is not a number", show(&v)))?,
                _ => return Err(cannot(&v)),
            };
            if *bytes == 4 && f.is_finite() && f.abs() > f32::MAX as f64 {
                return Err(format!("{f} is out of range for a 4-byte float"));
            }
            Ok(Val::Float(f))
        }
        TargetType::Decimal { precision, scale } => {
            let d = match &v {
                Val::Decimal(d, s) => rescale(*d, *s, *scale).ok_or_else(|| {
                    format!("{} has more than {scale} digits after the point", show(&v))
                })?,
                Val::Int(i) => rescale(*i as i128, 0, *scale).ok_or("too many digits")?,
                Val::UInt(u) => rescale(*u as i128, 0, *scale).ok_or("too many digits")?,
                // The shortest text that reads back as the float: 0.1 is 0.1, not 0.1000000000000000055.
                Val::Float(f) if f.is_finite() => parse_decimal(&f.to_string(), *scale)?,
                Val::Text(s) => parse_decimal(s, *scale)?,
                _ => return Err(cannot(&v)),
            };
            let digits = if d == 0 {
                0
            } else {
                d.unsigned_abs().ilog10() + 1
            };
            if digits > *precision as u32 {
                return Err(format!(
                    "{} needs {digits} digits, more than the column's precision {precision}",
                    format_decimal(d, *scale)
                ));
            }
            Ok(Val::Decimal(d, *scale))
        }
        TargetType::Text {
            max_chars,
            bmp_only,
        } => {
            let t = match v {
                Val::Text(t) | Val::Json(t) => t,
                Val::Bytes(_) => return Err("binary data cannot be stored as text".into()),
                other => text_of(&other).into_owned().into(),
            };
            if let Some(max) = max_chars {
                let n = t.chars().count();
                if n > *max as usize {
                    return Err(format!("text of {n} characters is longer than {max}"));
                }
            }
            if *bmp_only && t.chars().any(|c| c as u32 > 0xFFFF) {
                return Err(
                    "text holds characters outside the column's character set (utf8mb3)".into(),
                );
            }
            Ok(Val::Text(t))
        }
        TargetType::Binary { max_bytes } => {
            let b = match v {
                Val::Bytes(b) => b,
                Val::Text(Cow::Borrowed(s)) => Cow::Borrowed(s.as_bytes()),
                Val::Text(Cow::Owned(s)) => Cow::Owned(s.into_bytes()),
                other => return Err(cannot(&other)),
            };
            if let Some(max) = max_bytes
                && b.len() > *max as usize
            {
                return Err(format!("{} bytes is longer than {max}", b.len()));
            }
            Ok(Val::Bytes(b))
        }
        TargetType::Date => match &v {
            Val::Date(_) => Ok(v),
            Val::Timestamp(t) if t.time() == NaiveTime::MIN => Ok(Val::Date(t.date())),
            Val::TimestampTz(t) if t.time() == NaiveTime::MIN => Ok(Val::Date(t.date_naive())),
            Val::Timestamp(_) | Val::TimestampTz(_) => {
                Err(format!("{} has a time of day a date would lose", show(&v)))
            }
            Val::Text(s) => parse_naive(s)
                .filter(|t| t.time() == NaiveTime::MIN)
                .map(|t| Val::Date(t.date()))
                .ok_or_else(|| format!("{} is not a date (YYYY-MM-DD)", show(&v))),
            _ => Err(cannot(&v)),
        },
        TargetType::Time => match &v {
            Val::Time(_) => Ok(v),
            Val::Text(s) => NaiveTime::parse_from_str(s.trim(), "%H:%M:%S%.f")
                .map(Val::Time)
                .map_err(|_| format!("{} is not a time (HH:MM:SS)", show(&v))),
            _ => Err(cannot(&v)),
        },
        TargetType::Timestamp { tz: false } => match &v {
            Val::Timestamp(_) => Ok(v),
            // A zoned instant goes into a zoneless column as its UTC time.
            Val::TimestampTz(t) => Ok(Val::Timestamp(t.naive_utc())),
            Val::Date(d) => Ok(Val::Timestamp(d.and_time(NaiveTime::MIN))),
            Val::Text(s) => parse_naive(s)
                .map(Val::Timestamp)
                .ok_or_else(|| format!("{} is not a timestamp", show(&v))),
            _ => Err(cannot(&v)),
        },
        TargetType::Timestamp { tz: true } => match &v {
            Val::TimestampTz(_) => Ok(v),
            // A zoneless time is taken as UTC.
            Val::Timestamp(t) => Ok(Val::TimestampTz(Utc.from_utc_datetime(t))),
            Val::Date(d) => Ok(Val::TimestampTz(
                Utc.from_utc_datetime(&d.and_time(NaiveTime::MIN)),
            )),
            Val::Text(s) => parse_tz(s)
                .map(Val::TimestampTz)
                .ok_or_else(|| format!("{} is not a timestamp", show(&v))),
            _ => Err(cannot(&v)),
        },
        TargetType::Json => match v {
            Val::Text(t) | Val::Json(t) => {
                serde_json::from_str::<serde::de::IgnoredAny>(&t)
                    .map_err(|e| format!("{} is not JSON: {e}", show(&Val::Text(t.clone()))))?;
                Ok(Val::Json(t))
            }
            Val::Int(_) | Val::UInt(_) | Val::Float(_) | Val::Decimal(..) | Val::Bool(_) => {
                Ok(Val::Json(text_of(&v).into_owned().into()))
            }
            other => Err(cannot(&other)),
        },
        TargetType::Uuid => match &v {
            Val::Uuid(_) => Ok(v),
            Val::Text(s) => uuid::Uuid::parse_str(s.trim())
                .map(Val::Uuid)
                .map_err(|_| format!("{} is not a UUID", show(&v))),
            Val::Bytes(b) if b.len() == 16 => {
                Ok(Val::Uuid(uuid::Uuid::from_slice(b).unwrap_or_default()))
            }
            _ => Err(cannot(&v)),
        },
        TargetType::Other => match v {
            Val::Bytes(_) => Err(cannot(&v)),
            other => Ok(Val::Text(text_of(&other).into_owned().into())),
        },
    }
}

#[cfg(test)]
mod tests;
