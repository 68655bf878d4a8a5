//! Data masking for the masking task (DMASK): the rules a task applies to its columns, and applying
//! one rule to one Arrow column. Pure: no I/O, no clock, no randomness. Deterministic rules derive
//! everything from a keyed HMAC-SHA256 of the value, so the same key masks the same value the same
//! way in every run and on every node, and joins across masked tables still match.

mod array;
#[cfg(test)]
mod rule_tests;
#[cfg(test)]
mod tests;
mod text;

use array::{hash_integers, map_text, shift_dates};
use datafusion::arrow::array::{ArrayRef, new_null_array};
use datafusion::arrow::datatypes::DataType;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::fmt;
use text::Keystream;

type HmacSha256 = Hmac<Sha256>;

/// Shortest `hash` output: below this, distinct values collide too often for joins.
pub const MIN_HASH_LENGTH: usize = 8;
/// Longest `hash` output: the hex of the whole HMAC-SHA256.
pub const MAX_HASH_LENGTH: usize = 64;
/// Furthest `date_shift` may move a date either way (about 274 years); it also keeps every
/// day-to-unit product far from overflowing.
pub const MAX_SHIFT_DAYS: i64 = 100_000;

/// A secret key for deterministic rules (the bytes of the configured secret).
#[derive(Clone)]
pub struct MaskKey(Vec<u8>);

impl MaskKey {
    pub fn new(bytes: impl Into<Vec<u8>>) -> MaskKey {
        MaskKey(bytes.into())
    }
}

// Never the bytes, nor their length: a Debug print ends up in logs.
impl fmt::Debug for MaskKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MaskKey(..)")
    }
}

/// How one column is masked. Written in a task definition as `rule = "<name>"` plus the rule's
/// settings, next to `column` (see [`ColumnRule`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case", deny_unknown_fields)]
pub enum MaskRule {
    /// Every value becomes `with` (text columns).
    Redact {
        #[serde(default = "default_redaction")]
        with: String,
    },
    /// Keeps the first and last characters, masks the others with `mask_char`; the length stays.
    /// When the kept characters would cover the whole value, the whole value is masked: the rule
    /// never reveals a value entirely.
    Partial {
        #[serde(default)]
        keep_first: usize,
        #[serde(default)]
        keep_last: usize,
        #[serde(default = "default_mask_char")]
        mask_char: char,
    },
    /// Keyed HMAC-SHA256 of the value. Text: lowercase hex, cut to `length` (a shorter hash is a
    /// prefix of the full one). Integer columns keep their type: the value becomes a number in
    /// `0..=MAX` of the type, never the original.
    Hash {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        length: Option<usize>,
    },
    /// The value becomes an entry of `dictionary` chosen by its HMAC; never the value itself.
    Substitute { dictionary: Vec<String> },
    /// Moves a date or timestamp by a whole number of days in `min_days..=max_days`, chosen by
    /// the value's HMAC; never by 0. Timestamps keep their time of day and time zone.
    DateShift { min_days: i64, max_days: i64 },
    /// Format-preserving: the local part gets keyed letters and digits of the same classes, the
    /// domain a pseudo-domain of the same shape that keeps the top-level domain.
    Email {},
    /// Format-preserving: digits become keyed digits (letters keyed letters), other characters
    /// stay; the last `keep_last` digits are kept, unless that would keep them all.
    Phone {
        #[serde(default)]
        keep_last: usize,
    },
    /// Every value becomes NULL (any column type).
    Nullify {},
}

fn default_redaction() -> String {
    "*****".to_string()
}

fn default_mask_char() -> char {
    '*'
}

/// A rule and the column it applies to, as a task definition lists them:
/// `[[rules]]`, `column = "email"`, `rule = "email"`.
// No `deny_unknown_fields` here: serde cannot combine it with `flatten`. Unknown keys are still
// refused, by the rule's own `deny_unknown_fields`, since every key but `column` reaches it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnRule {
    pub column: String,
    #[serde(flatten)]
    pub rule: MaskRule,
}

impl ColumnRule {
    /// [`MaskRule::validate`], with the column named in the message.
    pub fn validate(&self) -> Result<(), String> {
        if self.column.trim().is_empty() {
            return Err(format!(
                "a `{}` rule has an empty `column`",
                self.rule.name()
            ));
        }
        self.rule
            .validate()
            .map_err(|e| format!("column `{}`: {e}", self.column))
    }

    /// [`MaskRule::check_type`], with the column named in the message.
    pub fn check_type(&self, data_type: &DataType) -> Result<(), String> {
        self.rule.type_check(Some(&self.column), data_type)
    }
}

/// The kinds of column a rule accepts.
#[derive(Clone, Copy)]
enum Accepts {
    Text,
    TextOrInteger,
    Temporal,
    Any,
}

impl MaskRule {
    /// The rule's name as a definition writes it.
    pub fn name(&self) -> &'static str {
        match self {
            MaskRule::Redact { .. } => "redact",
            MaskRule::Partial { .. } => "partial",
            MaskRule::Hash { .. } => "hash",
            MaskRule::Substitute { .. } => "substitute",
            MaskRule::DateShift { .. } => "date_shift",
            MaskRule::Email {} => "email",
            MaskRule::Phone { .. } => "phone",
            MaskRule::Nullify {} => "nullify",
        }
    }

    /// Whether the rule needs the key (deterministic rules do).
    pub fn needs_key(&self) -> bool {
        match self {
            MaskRule::Hash { .. }
            | MaskRule::Substitute { .. }
            | MaskRule::DateShift { .. }
            | MaskRule::Email {}
            | MaskRule::Phone { .. } => true,
            MaskRule::Redact { .. } | MaskRule::Partial { .. } | MaskRule::Nullify {} => false,
        }
    }

    /// Checks the rule's own settings.
    pub fn validate(&self) -> Result<(), String> {
        let name = self.name();
        match self {
            MaskRule::Partial { mask_char, .. } if mask_char.is_control() => Err(format!(
                "rule `{name}`: `mask_char` must be a visible character, not a control character"
            )),
            MaskRule::Hash {
                length: Some(length),
            } if !(MIN_HASH_LENGTH..=MAX_HASH_LENGTH).contains(length) => Err(format!(
                "rule `{name}`: `length` must be between {MIN_HASH_LENGTH} and {MAX_HASH_LENGTH} \
                 (hex characters), not {length}"
            )),
            MaskRule::Substitute { dictionary } => {
                // With two different entries there is always one that is not the original.
                let first = dictionary.first();
                if dictionary.iter().any(|entry| Some(entry) != first) {
                    Ok(())
                } else {
                    Err(format!(
                        "rule `{name}`: `dictionary` needs at least two different entries"
                    ))
                }
            }
            MaskRule::DateShift { min_days, max_days } => {
                if min_days > max_days {
                    Err(format!(
                        "rule `{name}`: `min_days` ({min_days}) is greater than `max_days` ({max_days})"
                    ))
                } else if *min_days == 0 && *max_days == 0 {
                    Err(format!(
                        "rule `{name}`: the range 0..=0 would leave every date as it is"
                    ))
                } else if min_days.abs() > MAX_SHIFT_DAYS || max_days.abs() > MAX_SHIFT_DAYS {
                    Err(format!(
                        "rule `{name}`: shifts are limited to {MAX_SHIFT_DAYS} days either way"
                    ))
                } else {
                    Ok(())
                }
            }
            _ => Ok(()),
        }
    }

    /// Checks that the rule can apply to a column of this Arrow type.
    pub fn check_type(&self, data_type: &DataType) -> Result<(), String> {
        self.type_check(None, data_type)
    }

    fn accepts(&self) -> Accepts {
        match self {
            MaskRule::Redact { .. }
            | MaskRule::Partial { .. }
            | MaskRule::Substitute { .. }
            | MaskRule::Email {}
            | MaskRule::Phone { .. } => Accepts::Text,
            MaskRule::Hash { .. } => Accepts::TextOrInteger,
            MaskRule::DateShift { .. } => Accepts::Temporal,
            MaskRule::Nullify {} => Accepts::Any,
        }
    }

    fn type_check(&self, column: Option<&str>, data_type: &DataType) -> Result<(), String> {
        let (ok, needs) = match self.accepts() {
            Accepts::Text => (is_text(data_type), "a text column"),
            Accepts::TextOrInteger => (
                is_text(data_type) || data_type.is_integer(),
                "a text or integer column",
            ),
            Accepts::Temporal => (
                matches!(
                    data_type,
                    DataType::Date32 | DataType::Date64 | DataType::Timestamp(..)
                ),
                "a date or timestamp column",
            ),
            Accepts::Any => (true, ""),
        };
        if ok {
            return Ok(());
        }
        let which = column.map_or_else(|| "the column".to_string(), |c| format!("`{c}`"));
        Err(format!(
            "rule `{}` needs {needs}, {which} is {data_type}",
            self.name()
        ))
    }
}

fn is_text(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
    )
}

/// Masks one column. Nulls stay null; `nullify` makes every value null. The output has the
/// input's type. The rule is validated and type-checked here too, so a bad rule is an error,
/// never a panic. Error messages never contain the column's values.
pub fn apply(
    rule: &MaskRule,
    key: Option<&MaskKey>,
    column: &ArrayRef,
) -> Result<ArrayRef, String> {
    rule.validate()?;
    rule.check_type(column.data_type())?;
    let name = rule.name();
    let key = match key {
        _ if !rule.needs_key() => None,
        None => return Err(format!("rule `{name}` needs a key")),
        Some(key) if key.0.is_empty() => {
            return Err(format!("rule `{name}` needs a key, and the key is empty"));
        }
        Some(key) => Some(key),
    };
    // A key is present exactly when the rule needs one (checked just above).
    let prf = |purpose: &str| match key {
        Some(key) => Prf::new(key, purpose),
        None => Err(format!("rule `{name}` needs a key")),
    };
    match rule {
        MaskRule::Nullify {} => Ok(new_null_array(column.data_type(), column.len())),
        MaskRule::Redact { with } => map_text(column, |_, out| out.push_str(with)),
        MaskRule::Partial {
            keep_first,
            keep_last,
            mask_char,
        } => map_text(column, |value, out| {
            text::partial(value, *keep_first, *keep_last, *mask_char, out)
        }),
        MaskRule::Hash { length } => {
            let prf = prf("hash")?;
            if column.data_type().is_integer() {
                return hash_integers(&prf, column);
            }
            let length = length.unwrap_or(MAX_HASH_LENGTH);
            map_text(column, |value, out| {
                text::hex(&prf.digest(value.as_bytes()), length, out)
            })
        }
        MaskRule::Substitute { dictionary } => {
            let prf = prf("substitute")?;
            map_text(column, |value, out| {
                let pick = prf.number(value.as_bytes());
                out.push_str(text::substitute(dictionary, pick, value))
            })
        }
        MaskRule::DateShift { min_days, max_days } => {
            shift_dates(&prf("date_shift")?, column, *min_days, *max_days)
        }
        MaskRule::Email {} => {
            let (local, domain) = (prf("email/local")?, prf("email/domain")?);
            map_text(column, |value, out| {
                text::email(value, &local, &domain, out)
            })
        }
        MaskRule::Phone { keep_last } => {
            let prf = prf("phone")?;
            map_text(column, |value, out| {
                let mut stream = Keystream::new(prf.digest(value.as_bytes()));
                text::phone(value, &mut stream, *keep_last, out)
            })
        }
    }
}

/// A keyed pseudo-random function: HMAC-SHA256 under a subkey derived from the key and the
/// purpose, so rules (and the two halves of an email) draw unrelated numbers from one key. The
/// keyed state is built once per column and cloned per value.
struct Prf(HmacSha256);

impl Prf {
    fn new(key: &MaskKey, purpose: &str) -> Result<Prf, String> {
        // HMAC takes keys of any length; the error cannot happen but is not worth a panic.
        let keyed = |bytes: &[u8]| {
            <HmacSha256 as Mac>::new_from_slice(bytes)
                .map_err(|e| format!("the masking key is not usable: {e}"))
        };
        let mut derive = keyed(&key.0)?;
        // The version is part of the output's definition: changing it changes every mask.
        derive.update(b"sluice-mask/v1/");
        derive.update(purpose.as_bytes());
        Ok(Prf(keyed(&derive.finalize().into_bytes())?))
    }

    fn digest(&self, data: &[u8]) -> [u8; 32] {
        let mut mac = self.0.clone();
        mac.update(data);
        mac.finalize().into_bytes().into()
    }

    /// The digest of text with its ASCII letters lowercased, without allocating.
    fn digest_ascii_lowercase(&self, data: &str) -> [u8; 32] {
        let mut mac = self.0.clone();
        let mut chunk = [0u8; 64];
        for part in data.as_bytes().chunks(chunk.len()) {
            let lowered = &mut chunk[..part.len()];
            lowered.copy_from_slice(part);
            lowered.make_ascii_lowercase();
            mac.update(lowered);
        }
        mac.finalize().into_bytes().into()
    }

    /// A uniform 64-bit number drawn from the digest.
    fn number(&self, data: &[u8]) -> u64 {
        first_u64(&self.digest(data))
    }
}

fn first_u64(digest: &[u8; 32]) -> u64 {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    u64::from_le_bytes(bytes)
}
