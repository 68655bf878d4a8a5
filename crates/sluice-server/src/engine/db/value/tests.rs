//! Coercion edge cases: ranges, decimals, text lengths, times and NULLs.

use super::*;
use crate::engine::db::types::{TargetColumn, TargetType};

fn col(ty: TargetType) -> TargetColumn {
    TargetColumn {
        name: "c".into(),
        ty,
        nullable: true,
        declared: "t".into(),
    }
}

#[test]
fn decimals_parse_and_print_exactly() {
    assert_eq!(parse_decimal("12.50", 2), Ok(1250));
    assert_eq!(parse_decimal("-0.5", 1), Ok(-5));
    assert_eq!(parse_decimal("1e3", 0), Ok(1000));
    assert!(parse_decimal("1.234", 2).is_err());
    assert_eq!(parse_decimal("1.230", 2), Ok(123));
    assert!(parse_decimal("abc", 2).is_err());
    assert!(parse_decimal("", 2).is_err());
    assert_eq!(format_decimal(1250, 2), "12.50");
    assert_eq!(format_decimal(-5, 3), "-0.005");
    let max = "9".repeat(38);
    assert_eq!(
        parse_decimal(&max, 0).map(|v| format_decimal(v, 0)),
        Ok(max)
    );
}

#[test]
fn integers_are_range_checked() {
    let small = col(TargetType::Int {
        bytes: 2,
        unsigned: false,
    });
    assert_eq!(coerce(Val::Int(32767), &small), Ok(Val::Int(32767)));
    assert!(
        coerce(Val::Int(32768), &small)
            .unwrap_err()
            .contains("out of range")
    );
    let u8c = col(TargetType::Int {
        bytes: 8,
        unsigned: true,
    });
    assert_eq!(coerce(Val::UInt(u64::MAX), &u8c), Ok(Val::UInt(u64::MAX)));
    assert!(coerce(Val::Int(-1), &u8c).is_err());
    assert_eq!(coerce(Val::Text("42".into()), &small), Ok(Val::Int(42)));
    assert!(coerce(Val::Text("4x".into()), &small).is_err());
    assert!(coerce(Val::Float(1.5), &small).is_err());
}

#[test]
fn decimals_never_lose_digits() {
    let money = col(TargetType::Decimal {
        precision: 6,
        scale: 2,
    });
    assert!(
        coerce(Val::Decimal(12345, 3), &money)
            .unwrap_err()
            .contains("digits after")
    );
    assert_eq!(
        coerce(Val::Decimal(12340, 3), &money),
        Ok(Val::Decimal(1234, 2))
    );
    assert!(
        coerce(Val::Int(10_000), &money)
            .unwrap_err()
            .contains("precision")
    );
    assert_eq!(coerce(Val::Float(0.1), &money), Ok(Val::Decimal(10, 2)));
    assert_eq!(
        coerce(Val::Text("9999.99".into()), &money),
        Ok(Val::Decimal(999_999, 2))
    );
}

#[test]
fn text_length_is_in_characters() {
    let c = col(TargetType::Text {
        max_chars: Some(5),
        bmp_only: false,
    });
    assert!(coerce(Val::Text("Ångst".into()), &c).is_ok());
    assert!(
        coerce(Val::Text("Ångström".into()), &c)
            .unwrap_err()
            .contains("longer than 5")
    );
    let mb3 = col(TargetType::Text {
        max_chars: None,
        bmp_only: true,
    });
    assert!(coerce(Val::Text("ok 😀".into()), &mb3).is_err());
}

#[test]
fn nulls_respect_not_null() {
    let mut c = col(TargetType::text());
    assert_eq!(coerce(Val::Null, &c), Ok(Val::Null));
    c.nullable = false;
    assert!(coerce(Val::Null, &c).unwrap_err().contains("NOT NULL"));
}

#[test]
fn times_convert_without_losing_information() {
    let d = col(TargetType::Date);
    let ts = NaiveDate::from_ymd_opt(2026, 3, 1)
        .unwrap()
        .and_hms_opt(10, 0, 0)
        .unwrap();
    assert!(coerce(Val::Timestamp(ts), &d).is_err());
    assert!(coerce(Val::Text("2026-03-01".into()), &d).is_ok());
    let tz = col(TargetType::Timestamp { tz: true });
    let v = coerce(Val::Text("2026-03-01T10:00:00+02:00".into()), &tz).unwrap();
    assert_eq!(
        v,
        Val::TimestampTz(Utc.from_utc_datetime(&(ts - chrono::Duration::hours(2))))
    );
    let naive = col(TargetType::Timestamp { tz: false });
    assert_eq!(
        coerce(Val::Text("2026-03-01 10:00:00".into()), &naive),
        Ok(Val::Timestamp(ts))
    );
}

#[test]
fn json_and_uuid_are_validated() {
    let j = col(TargetType::Json);
    assert!(coerce(Val::Text("{\"a\": [1, 2]}".into()), &j).is_ok());
    assert!(coerce(Val::Text("{nope".into()), &j).is_err());
    let u = col(TargetType::Uuid);
    assert!(coerce(Val::Text("0191e0a4-4a8e-7c3a-9a55-4f3f2b1c0d9e".into()), &u).is_ok());
    assert!(coerce(Val::Text("not-a-uuid".into()), &u).is_err());
}
