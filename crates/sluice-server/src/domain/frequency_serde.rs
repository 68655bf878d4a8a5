//! How frequencies and blackout windows are read and written: a day of the month as a number or
//! `"last"`, and local times as people write them (`"02:30"`, `"2026-03-08T02:30"`, or TOML's
//! unquoted date-times).

use super::DayOfMonth;
use chrono::{NaiveDateTime, NaiveTime};
use serde::de::{self, Unexpected};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

impl Serialize for DayOfMonth {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Day(n) => s.serialize_u32(*n),
            Self::Last => s.serialize_str("last"),
        }
    }
}

impl<'de> Deserialize<'de> for DayOfMonth {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        const WHAT: &str = "a day of the month (1 to 31) or \"last\"";
        #[derive(Deserialize)]
        #[serde(untagged, expecting = "a day of the month (1 to 31) or \"last\"")]
        enum Raw {
            Day(u32),
            Word(String),
        }
        match Raw::deserialize(d)? {
            Raw::Day(n) => Ok(Self::Day(n)),
            Raw::Word(w) if w == "last" => Ok(Self::Last),
            Raw::Word(w) => Err(de::Error::invalid_value(Unexpected::Str(&w), &WHAT)),
        }
    }
}

/// A local time's text: a string, or TOML's unquoted date-time or time, which `toml` hands
/// over (into JSON too) as a one-entry map under this private key.
#[derive(Deserialize)]
#[serde(
    untagged,
    expecting = "a local date-time like \"2026-03-08T02:30:00\" or time like \"02:30\""
)]
enum Text {
    Plain(String),
    Toml {
        #[serde(rename = "$__toml_private_datetime")]
        text: String,
    },
}

impl Text {
    fn parse<T, E: de::Error>(self, parse: impl Fn(&str) -> Option<T>) -> Result<T, E> {
        let (Self::Plain(text) | Self::Toml { text }) = self;
        let what = "a local date-time like \"2026-03-08T02:30:00\" or time like \"02:30\"";
        parse(text.trim()).ok_or_else(|| E::invalid_value(Unexpected::Str(&text), &what))
    }
}

/// "2026-03-08T02:30:00", seconds optional, a space allowed for the T.
fn date_time(text: &str) -> Option<NaiveDateTime> {
    let text = text.replacen(' ', "T", 1);
    let no_seconds = || NaiveDateTime::parse_from_str(&text, "%Y-%m-%dT%H:%M").ok();
    text.parse().ok().or_else(no_seconds)
}

pub(crate) fn de_start<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveDateTime, D::Error> {
    Text::deserialize(d)?.parse(date_time)
}

pub(super) fn de_end<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NaiveDateTime>, D::Error> {
    Option::<Text>::deserialize(d)?
        .map(|t| t.parse(date_time))
        .transpose()
}

pub(super) fn de_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NaiveTime>, D::Error> {
    Option::<Text>::deserialize(d)?
        .map(|t| t.parse(|s| s.parse().ok()))
        .transpose()
}

/// A time of day that must be there: "02:30" or "02:30:00".
pub(crate) fn de_clock<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveTime, D::Error> {
    Text::deserialize(d)?.parse(|s| s.parse().ok())
}
