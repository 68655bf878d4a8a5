//! Tests of what each masking rule does to values: shapes, ranges, kept parts, types.

use super::tests::{key, mask, mask_one, rule, samples};
use super::*;
use datafusion::arrow::array::{
    Array, AsArray, Date32Array, Date64Array, Int8Array, Int64Array, TimestampMillisecondArray,
    UInt64Array,
};
use datafusion::arrow::datatypes::{
    Date32Type, Date64Type, Int8Type, Int64Type, TimestampMillisecondType, UInt64Type,
};
use std::sync::Arc;

#[test]
fn partial_keeps_the_ends_in_characters_and_never_the_whole_value() {
    let card = rule("rule = 'partial'\nkeep_last = 4");
    assert_eq!(
        mask_one(&card, "4111 1111 1111 1234"),
        "***************1234"
    );
    let both = rule("rule = 'partial'\nkeep_first = 1\nkeep_last = 2\nmask_char = '•'");
    assert_eq!(mask_one(&both, "Zoë Ångström"), "Z•••••••••öm");
    // The kept ends would cover the value: all of it is masked.
    assert_eq!(mask_one(&both, "Åse"), "•••");
    assert_eq!(mask_one(&both, "ab"), "••");
    assert_eq!(mask_one(&both, ""), "");
    let defaults = rule("rule = 'partial'");
    assert_eq!(mask_one(&defaults, "secret"), "******");
}

#[test]
fn redact_replaces_every_value() {
    assert_eq!(mask_one(&rule("rule = 'redact'"), "Zoë"), "*****");
    let with = rule("rule = 'redact'\nwith = '[hidden]'");
    let values = [Some("a".to_string()), None, Some(String::new())];
    assert_eq!(
        mask(&with, &values),
        [
            Some("[hidden]".to_string()),
            None,
            Some("[hidden]".to_string())
        ]
    );
}

#[test]
fn hash_is_hex_and_a_shorter_hash_is_a_prefix() {
    let full = mask_one(&rule("rule = 'hash'"), "ana@example.com");
    assert_eq!(full.len(), 64);
    assert!(
        full.chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );
    let short = mask_one(&rule("rule = 'hash'\nlength = 13"), "ana@example.com");
    assert_eq!(short.len(), 13);
    assert!(full.starts_with(&short));
    assert_ne!(full, mask_one(&rule("rule = 'hash'"), "ana@example.co"));
}

#[test]
fn hash_keeps_integer_columns_integers_never_the_original() {
    let hash = rule("rule = 'hash'");
    let values: Vec<Option<i64>> = (-300..300)
        .map(Some)
        .chain([None, Some(i64::MIN), Some(i64::MAX), Some(0)])
        .collect();
    let column: ArrayRef = Arc::new(Int64Array::from(values.clone()));
    let out = apply(&hash, Some(&key()), &column).unwrap();
    let out = out.as_primitive::<Int64Type>();
    assert_eq!(out.data_type(), &DataType::Int64);
    for (original, masked) in values.iter().zip(out.iter()) {
        assert_eq!(original.is_none(), masked.is_none());
        if let (Some(o), Some(m)) = (original, masked) {
            assert!(m >= 0 && m != *o);
        }
    }
    // Joins still work: the same value masks alike, whatever the batch.
    let again = apply(&hash, Some(&key()), &column.slice(300, 1)).unwrap();
    assert_eq!(again.as_primitive::<Int64Type>().value(0), out.value(300));
    // Small types: 128 possible outputs, and still never the original.
    let small: ArrayRef = Arc::new(Int8Array::from((i8::MIN..=i8::MAX).collect::<Vec<_>>()));
    let out = apply(&hash, Some(&key()), &small).unwrap();
    let out = out.as_primitive::<Int8Type>();
    for (original, masked) in (i8::MIN..=i8::MAX).zip(out.values()) {
        assert!(*masked >= 0 && *masked != original);
    }
    let big: ArrayRef = Arc::new(UInt64Array::from(vec![0, u64::MAX, 42]));
    let out = apply(&hash, Some(&key()), &big).unwrap();
    assert_eq!(out.data_type(), &DataType::UInt64);
    assert!(
        out.as_primitive::<UInt64Type>()
            .values()
            .iter()
            .zip([0, u64::MAX, 42])
            .all(|(m, o)| *m != o)
    );
}

#[test]
fn substitute_picks_from_the_dictionary_consistently() {
    let names = rule("rule = 'substitute'\ndictionary = ['Alice', 'Bob', 'Carol', 'Dave']");
    let values = samples();
    let masked = mask(&names, &values);
    for (original, masked) in values.iter().zip(&masked) {
        assert_eq!(original.is_none(), masked.is_none());
        if let Some(m) = masked {
            assert!(["Alice", "Bob", "Carol", "Dave"].contains(&m.as_str()));
        }
    }
    let two = rule("rule = 'substitute'\ndictionary = ['Alice', 'Bob']");
    assert_eq!(mask_one(&two, "Alice"), "Bob");
    assert_eq!(mask_one(&two, "Bob"), "Alice");
    assert_eq!(mask_one(&names, "Zoë"), mask_one(&names, "Zoë"));
}

#[test]
fn email_keeps_its_shape_and_the_top_level_domain() {
    let email = rule("rule = 'email'");
    let masked = mask_one(&email, "ana42@example.com");
    let (local, domain) = masked.split_once('@').unwrap();
    assert_eq!(local.len(), 5);
    assert!(local[..3].chars().all(|c| c.is_ascii_lowercase()));
    assert!(local[3..].chars().all(|c| c.is_ascii_digit()));
    assert_eq!(domain.len(), "example.com".len());
    assert!(domain.ends_with(".com") && domain[..7].chars().all(|c| c.is_ascii_lowercase()));
    assert_ne!(&domain[..7], "example");
    // One pseudo-domain per domain (whatever the ASCII case); local parts differ.
    let other = mask_one(&email, "Bob.Smith@EXAMPLE.com");
    let (other_local, other_domain) = other.split_once('@').unwrap();
    assert_eq!(
        other_domain,
        domain.to_ascii_uppercase().replace(".COM", ".com")
    );
    assert!(other_local.starts_with(|c: char| c.is_ascii_uppercase()));
    assert_eq!(other_local.find('.'), Some(3));
    let dotted = mask_one(&email, "x@mail.example.co.uk");
    assert!(dotted.ends_with(".uk"));
    assert_eq!(dotted.matches('.').count(), 3);
    // Not an address: letters and digits replaced, the rest kept.
    let plain = mask_one(&email, "no address here: 42!");
    assert_eq!(plain.len(), 20);
    assert_eq!(&plain[2..3], " ");
    assert!(plain.ends_with('!') && plain.contains(": "));
    let unicode = mask_one(&email, "Zoë@Å.se");
    assert_eq!(unicode.chars().count(), 8);
    assert!(unicode.is_ascii() && unicode.ends_with(".se"));
    assert!(unicode.starts_with(|c: char| c.is_ascii_uppercase()));
}

#[test]
fn phone_replaces_digits_and_keeps_the_layout() {
    let phone = rule("rule = 'phone'");
    let original = "+1 (555) 010-9999";
    let masked = mask_one(&phone, original);
    assert_eq!(masked.len(), original.len());
    for (o, m) in original.chars().zip(masked.chars()) {
        if o.is_ascii_digit() {
            assert!(m.is_ascii_digit() && m != o);
        } else {
            assert_eq!(o, m);
        }
    }
    let last = rule("rule = 'phone'\nkeep_last = 4");
    let masked = mask_one(&last, original);
    assert!(masked.ends_with("-9999") && !masked.starts_with("+1 (555)"));
    // Keeping four of four digits would reveal the number: all are replaced.
    let short = mask_one(&last, "12-34");
    assert!(
        short
            .chars()
            .filter(char::is_ascii_digit)
            .zip("1234".chars())
            .all(|(m, o)| m != o)
    );
    // Only layout characters: nothing to replace.
    assert_eq!(mask_one(&phone, " -() "), " -() ");
}

#[test]
fn date_shift_moves_within_the_range_never_by_zero() {
    let shift = rule("rule = 'date_shift'\nmin_days = -3\nmax_days = 3");
    let days: Vec<Option<i32>> = (0..400).map(Some).chain([None]).collect();
    let column: ArrayRef = Arc::new(Date32Array::from(days.clone()));
    let shifted = apply(&shift, Some(&key()), &column).unwrap();
    assert_eq!(&apply(&shift, Some(&key()), &column).unwrap(), &shifted);
    let out = shifted.as_primitive::<Date32Type>();
    let mut seen = std::collections::BTreeSet::new();
    for (original, masked) in days.iter().zip(out.iter()) {
        assert_eq!(original.is_none(), masked.is_none());
        if let (Some(o), Some(m)) = (original, masked) {
            let moved = m - o;
            assert!(moved != 0 && (-3..=3).contains(&moved));
            seen.insert(moved);
        }
    }
    assert_eq!(seen.len(), 6);
    let forward = rule("rule = 'date_shift'\nmin_days = 0\nmax_days = 1");
    let out = apply(&forward, Some(&key()), &column).unwrap();
    let out = out.as_primitive::<Date32Type>();
    assert!(
        days.iter()
            .zip(out.iter())
            .all(|(o, m)| m.zip(*o).is_none_or(|(m, o)| m == o + 1))
    );
}

#[test]
fn date_shift_keeps_time_of_day_and_zone() {
    let shift = rule("rule = 'date_shift'\nmin_days = 10\nmax_days = 20");
    const DAY_MS: i64 = 86_400_000;
    let stamps = TimestampMillisecondArray::from(vec![Some(1_700_000_123_456), None])
        .with_timezone("Europe/Oslo");
    let column: ArrayRef = Arc::new(stamps);
    let out = apply(&shift, Some(&key()), &column).unwrap();
    assert_eq!(out.data_type(), column.data_type());
    let moved = out.as_primitive::<TimestampMillisecondType>().value(0) - 1_700_000_123_456;
    assert!(moved % DAY_MS == 0 && (10..=20).contains(&(moved / DAY_MS)));
    assert!(out.is_null(1));
    let dates: ArrayRef = Arc::new(Date64Array::from(vec![19_000 * DAY_MS]));
    let out = apply(&shift, Some(&key()), &dates).unwrap();
    let moved = out.as_primitive::<Date64Type>().value(0) - 19_000 * DAY_MS;
    assert!((10 * DAY_MS..=20 * DAY_MS).contains(&moved));
    // Out of the type's range: an error naming no value, not a panic.
    let edge: ArrayRef = Arc::new(Date32Array::from(vec![i32::MAX - 5]));
    let err = apply(&shift, Some(&key()), &edge).unwrap_err();
    assert_eq!(
        err,
        "rule `date_shift`: a shifted value is out of the range of Date32"
    );
}
