//! Tests of the masking rules: settings, types, keys, determinism, and that no rule leaks.

use super::*;
use datafusion::arrow::array::{
    Array, AsArray, Float64Array, Int64Array, LargeStringArray, StringArray, StringViewArray,
};
use serde::Deserialize;
use std::sync::Arc;

pub(super) fn key() -> MaskKey {
    MaskKey::new(b"first test key".to_vec())
}

pub(super) fn other_key() -> MaskKey {
    MaskKey::new("second test key")
}

/// A rule from its TOML, as a definition writes it.
pub(super) fn rule(toml_text: &str) -> MaskRule {
    toml::from_str(toml_text).unwrap_or_else(|e| panic!("{toml_text}: {e}"))
}

pub(super) fn utf8(values: &[Option<String>]) -> ArrayRef {
    Arc::new(values.iter().map(Option::as_deref).collect::<StringArray>())
}

pub(super) fn texts(array: &ArrayRef) -> Vec<Option<String>> {
    let own = |v: Option<&str>| v.map(str::to_string);
    match array.data_type() {
        DataType::Utf8 => array.as_string::<i32>().iter().map(own).collect(),
        DataType::LargeUtf8 => array.as_string::<i64>().iter().map(own).collect(),
        DataType::Utf8View => array.as_string_view().iter().map(own).collect(),
        other => panic!("not text: {other}"),
    }
}

pub(super) fn mask(rule: &MaskRule, values: &[Option<String>]) -> Vec<Option<String>> {
    texts(&apply(rule, Some(&key()), &utf8(values)).unwrap())
}

pub(super) fn mask_one(rule: &MaskRule, value: &str) -> String {
    mask(rule, &[Some(value.to_string())])[0].clone().unwrap()
}

/// A few hundred values: names and emails with accents and other scripts, phone numbers, numbers,
/// one- and two-character values, empty strings and nulls.
pub(super) fn samples() -> Vec<Option<String>> {
    let names = [
        "Zoë Ångström",
        "Ana María",
        "李小龍",
        "O'Brien-Smith",
        "Łukasz",
        "ÉLODIE",
        "José",
    ];
    let mut values = vec![None, Some(String::new()), Some("Zoë Ångström".to_string())];
    for i in 0..60 {
        let name = names[i % names.len()];
        values.push(Some(format!("{name} {i}")));
        values.push(Some(format!("user{i}.{}@mail{}.example.org", i * 7, i % 5)));
        values.push(Some(format!("zoë.ångström{i}@exämple.de")));
        values.push(Some(format!(
            "+1 (555) {:03}-{:04}",
            i * 3,
            i * 37 % 10_000
        )));
        values.push(Some((i * 7919).to_string()));
        values.push(Some(i.to_string()));
        if i % 13 == 0 {
            values.push(None);
            values.push(Some(String::new()));
        }
    }
    values.extend(["x", "ab", "Ω", "a@b"].map(|s| Some(s.to_string())));
    values
}

pub(super) fn leak_rules() -> Vec<MaskRule> {
    [
        "rule = 'redact'",
        "rule = 'partial'\nkeep_first = 2\nkeep_last = 2",
        "rule = 'partial'\nkeep_last = 4\nmask_char = '#'",
        "rule = 'hash'",
        "rule = 'hash'\nlength = 8",
        // Entries equal to (or containing) sample values: the rule must step past them.
        "rule = 'substitute'\ndictionary = ['Zoë Ångström', 'x', '7', 'call +1 (555) 000-0000', 'Bob']",
        "rule = 'email'",
        "rule = 'phone'",
        "rule = 'phone'\nkeep_last = 4",
    ]
    .map(rule)
    .to_vec()
}

#[test]
fn no_rule_leaks_the_original_and_nulls_stay_null() {
    let values = samples();
    assert!(values.len() > 300);
    for rule in leak_rules() {
        let name = rule.name();
        let length_kept = matches!(
            rule,
            MaskRule::Partial { .. } | MaskRule::Email {} | MaskRule::Phone { .. }
        );
        let masked = mask(&rule, &values);
        assert_eq!(masked.len(), values.len());
        for (original, masked) in values.iter().zip(&masked) {
            let (original, masked) = match (original, masked) {
                (None, None) => continue,
                (Some(o), Some(m)) => (o, m),
                _ => panic!("{name}: {original:?} became {masked:?}"),
            };
            if length_kept {
                assert_eq!(masked.chars().count(), original.chars().count(), "{name}");
                if original.is_empty() {
                    // Nothing to hide, and a length to keep.
                    assert!(masked.is_empty());
                    continue;
                }
            }
            assert_ne!(masked, original, "{name}");
            let partial = matches!(rule, MaskRule::Partial { .. });
            if !partial && original.chars().count() >= 4 {
                assert!(!masked.contains(original.as_str()), "{name}: {original}");
            }
        }
    }
}

#[test]
fn nullify_makes_every_value_null_in_any_type() {
    let nullify = rule("rule = 'nullify'");
    assert!(!nullify.needs_key());
    let ints: ArrayRef = Arc::new(Int64Array::from(vec![Some(1), None, Some(3)]));
    let out = apply(&nullify, None, &ints).unwrap();
    assert_eq!(out.data_type(), &DataType::Int64);
    assert_eq!((out.len(), out.null_count()), (3, 3));
    let out = apply(&nullify, None, &utf8(&samples())).unwrap();
    assert_eq!(out.data_type(), &DataType::Utf8);
    assert_eq!(out.null_count(), out.len());
}

#[test]
fn deterministic_rules_repeat_under_one_key_and_differ_under_another() {
    let values = samples();
    for rule in leak_rules().into_iter().filter(MaskRule::needs_key) {
        let name = rule.name();
        let column = utf8(&values);
        let first = texts(&apply(&rule, Some(&key()), &column).unwrap());
        let again = texts(&apply(&rule, Some(&MaskKey::new(b"first test key")), &column).unwrap());
        assert_eq!(first, again, "{name}");
        let other = texts(&apply(&rule, Some(&other_key()), &column).unwrap());
        let differing = first.iter().zip(&other).filter(|(a, b)| a != b).count();
        // A dictionary of five entries repeats by chance; the others almost never do.
        let floor = if name == "substitute" { 0.5 } else { 0.9 };
        let present = values
            .iter()
            .filter(|v| v.as_deref().is_some_and(|v| !v.is_empty()));
        assert!(
            differing as f64 >= floor * present.count() as f64,
            "{name}: {differing}"
        );
    }
}

#[test]
fn every_text_type_is_masked_alike_and_keeps_its_type() {
    let values = samples();
    let refs: Vec<Option<&str>> = values.iter().map(Option::as_deref).collect();
    let columns: [ArrayRef; 3] = [
        Arc::new(StringArray::from(refs.clone())),
        Arc::new(LargeStringArray::from(refs.clone())),
        Arc::new(StringViewArray::from(refs)),
    ];
    for rule in leak_rules() {
        let expected = mask(&rule, &values);
        for column in &columns {
            let out = apply(&rule, Some(&key()), column).unwrap();
            assert_eq!(out.data_type(), column.data_type(), "{}", rule.name());
            assert_eq!(texts(&out), expected, "{}", rule.name());
        }
    }
}

#[test]
fn deterministic_rules_refuse_to_run_without_a_key() {
    let column = utf8(&[Some("a".to_string())]);
    let err = apply(&rule("rule = 'hash'"), None, &column).unwrap_err();
    assert_eq!(err, "rule `hash` needs a key");
    for rule in leak_rules().iter().filter(|r| r.needs_key()) {
        let err = apply(rule, None, &column).unwrap_err();
        assert_eq!(err, format!("rule `{}` needs a key", rule.name()));
        let err = apply(rule, Some(&MaskKey::new(Vec::new())), &column).unwrap_err();
        assert!(err.contains("the key is empty"), "{err}");
    }
    let keyless = ["rule = 'redact'", "rule = 'partial'", "rule = 'nullify'"].map(rule);
    for rule in keyless {
        assert!(!rule.needs_key());
        apply(&rule, None, &column).unwrap();
    }
    let date = rule("rule = 'date_shift'\nmin_days = 1\nmax_days = 2");
    assert!(date.needs_key());
}

#[test]
fn the_key_never_shows_in_debug() {
    let printed = format!("{:?}", MaskKey::new(b"hunter2-secret".to_vec()));
    assert_eq!(printed, "MaskKey(..)");
}

#[test]
fn bad_settings_are_refused() {
    let cases = [
        ("rule = 'hash'\nlength = 4", "between 8 and 64"),
        ("rule = 'hash'\nlength = 65", "between 8 and 64"),
        (
            "rule = 'substitute'\ndictionary = []",
            "two different entries",
        ),
        (
            "rule = 'substitute'\ndictionary = ['a', 'a']",
            "two different entries",
        ),
        (
            "rule = 'date_shift'\nmin_days = 5\nmax_days = -5",
            "greater than",
        ),
        ("rule = 'date_shift'\nmin_days = 0\nmax_days = 0", "0..=0"),
        (
            "rule = 'date_shift'\nmin_days = 1\nmax_days = 200000",
            "limited to",
        ),
        ("rule = 'partial'\nmask_char = \"\\n\"", "control character"),
    ];
    let column = utf8(&[Some("a".to_string())]);
    for (text, expected) in cases {
        let err = rule(text).validate().unwrap_err();
        assert!(err.contains(expected), "{text}: {err}");
        // `apply` checks too, before touching any value.
        assert_eq!(apply(&rule(text), Some(&key()), &column).unwrap_err(), err);
    }
    let fine = [
        "rule = 'hash'\nlength = 8",
        "rule = 'hash'\nlength = 64",
        "rule = 'substitute'\ndictionary = ['a', 'a', 'b']",
        "rule = 'date_shift'\nmin_days = 0\nmax_days = 1",
        "rule = 'date_shift'\nmin_days = -100000\nmax_days = 100000",
        "rule = 'partial'\nkeep_first = 100\nmask_char = 'X'",
        "rule = 'redact'\nwith = ''",
    ];
    for text in fine {
        rule(text).validate().unwrap();
    }
    let column = ColumnRule {
        column: "name".to_string(),
        rule: rule("rule = 'hash'\nlength = 2"),
    };
    assert!(
        column
            .validate()
            .unwrap_err()
            .starts_with("column `name`: rule `hash`")
    );
    let empty = ColumnRule {
        column: " ".to_string(),
        rule: rule("rule = 'email'"),
    };
    assert!(empty.validate().unwrap_err().contains("empty `column`"));
}

#[test]
fn rules_refuse_columns_of_other_types() {
    let email = rule("rule = 'email'");
    assert_eq!(
        email.check_type(&DataType::Int64).unwrap_err(),
        "rule `email` needs a text column, the column is Int64"
    );
    let named = ColumnRule {
        column: "x".to_string(),
        rule: email.clone(),
    };
    assert_eq!(
        named.check_type(&DataType::Int64).unwrap_err(),
        "rule `email` needs a text column, `x` is Int64"
    );
    let hash = rule("rule = 'hash'");
    let floats: ArrayRef = Arc::new(Float64Array::from(vec![1.5]));
    let err = apply(&hash, Some(&key()), &floats).unwrap_err();
    assert_eq!(
        err,
        "rule `hash` needs a text or integer column, the column is Float64"
    );
    let shift = rule("rule = 'date_shift'\nmin_days = 1\nmax_days = 9");
    assert!(
        shift
            .check_type(&DataType::Utf8)
            .unwrap_err()
            .contains("a date or timestamp")
    );
    for text in [DataType::Utf8, DataType::LargeUtf8, DataType::Utf8View] {
        for rule in leak_rules() {
            rule.check_type(&text).unwrap();
        }
        assert!(shift.check_type(&text).is_err());
    }
    for rule in leak_rules().iter().filter(|r| r.name() != "hash") {
        assert!(
            rule.check_type(&DataType::Int32).is_err(),
            "{}",
            rule.name()
        );
    }
    hash.check_type(&DataType::UInt16).unwrap();
    let nullify = rule("rule = 'nullify'");
    nullify.check_type(&DataType::Float64).unwrap();
    nullify.check_type(&DataType::Date32).unwrap();
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Definition {
    rules: Vec<ColumnRule>,
}

#[test]
fn rules_read_and_write_as_toml_and_json() {
    let text = r##"
        [[rules]]
        column = "email"
        rule = "email"

        [[rules]]
        column = "card"
        rule = "partial"
        keep_last = 4
        mask_char = "#"

        [[rules]]
        column = "name"
        rule = "substitute"
        dictionary = ["Alice", "Bob"]

        [[rules]]
        column = "born"
        rule = "date_shift"
        min_days = -30
        max_days = 30

        [[rules]]
        column = "id"
        rule = "hash"
        length = 16

        [[rules]]
        column = "notes"
        rule = "nullify"

        [[rules]]
        column = "ssn"
        rule = "redact"

        [[rules]]
        column = "phone"
        rule = "phone"
        keep_last = 2
    "##;
    let def: Definition = toml::from_str(text).unwrap();
    let column = |name: &str, rule: MaskRule| ColumnRule {
        column: name.to_string(),
        rule,
    };
    let expected = vec![
        column("email", MaskRule::Email {}),
        column(
            "card",
            MaskRule::Partial {
                keep_first: 0,
                keep_last: 4,
                mask_char: '#',
            },
        ),
        column(
            "name",
            MaskRule::Substitute {
                dictionary: vec!["Alice".to_string(), "Bob".to_string()],
            },
        ),
        column(
            "born",
            MaskRule::DateShift {
                min_days: -30,
                max_days: 30,
            },
        ),
        column("id", MaskRule::Hash { length: Some(16) }),
        column("notes", MaskRule::Nullify {}),
        column(
            "ssn",
            MaskRule::Redact {
                with: "*****".to_string(),
            },
        ),
        column("phone", MaskRule::Phone { keep_last: 2 }),
    ];
    assert_eq!(def.rules, expected);
    let written = toml::to_string(&def).unwrap();
    assert_eq!(toml::from_str::<Definition>(&written).unwrap(), def);
    let json = serde_json::to_value(&def).unwrap();
    assert_eq!(
        json["rules"][0],
        serde_json::json!({"column": "email", "rule": "email"})
    );
    assert_eq!(serde_json::from_value::<Definition>(json).unwrap(), def);
    assert_eq!(
        serde_json::to_value(MaskRule::Hash { length: None }).unwrap(),
        serde_json::json!({"rule": "hash"})
    );
}

#[test]
fn unknown_keys_and_rules_are_refused_despite_flatten() {
    let bad = [
        (
            "column = 'c'\nrule = 'partial'\nkeep_frist = 1",
            "keep_frist",
        ),
        ("column = 'c'\nrule = 'email'\nkeep_last = 1", "keep_last"),
        ("column = 'c'\nrule = 'nullify'\nwith = 'x'", "with"),
        ("column = 'c'\nrule = 'scramble'", "scramble"),
        ("column = 'c'\nrule = 'substitute'", "dictionary"),
        ("rule = 'email'", "column"),
        ("column = 'c'", "rule"),
    ];
    for (text, expected) in bad {
        let err = toml::from_str::<ColumnRule>(text).unwrap_err().to_string();
        assert!(err.contains(expected), "{text}: {err}");
    }
    let json = serde_json::json!({"column": "c", "rule": "hash", "lenght": 8});
    let err = serde_json::from_value::<ColumnRule>(json)
        .unwrap_err()
        .to_string();
    assert!(err.contains("lenght"), "{err}");
    let _ = ColumnRule::deserialize(serde_json::json!({"column": "c", "rule": "hash"})).unwrap();
}
