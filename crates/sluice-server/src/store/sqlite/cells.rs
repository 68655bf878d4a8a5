//! SQLite's encoding of cells: ids as UUID text, times as microseconds since the Unix epoch (UTC),
//! JSON documents as text, flags as integers.

use crate::store::Result;
use crate::store::rows::{Cells, corrupt};
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use uuid::Uuid;

pub(super) fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

pub(super) fn from_micros(v: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(v).unwrap_or_default()
}

impl Cells for SqliteRow {
    fn opt_text(&self, col: &str) -> Result<Option<String>> {
        Ok(self.try_get(col)?)
    }

    fn opt_int(&self, col: &str) -> Result<Option<i64>> {
        Ok(self.try_get(col)?)
    }

    fn flag(&self, col: &str) -> Result<bool> {
        Ok(self.try_get(col)?)
    }

    fn opt_uuid(&self, col: &str) -> Result<Option<Uuid>> {
        self.try_get::<Option<String>, _>(col)?
            .map(|s| Uuid::parse_str(&s).map_err(|e| corrupt(col, e)))
            .transpose()
    }

    fn opt_time(&self, col: &str) -> Result<Option<DateTime<Utc>>> {
        Ok(self.try_get::<Option<i64>, _>(col)?.map(from_micros))
    }

    fn opt_doc<T: DeserializeOwned>(&self, col: &str) -> Result<Option<T>> {
        self.try_get::<Option<String>, _>(col)?
            .map(|s| serde_json::from_str(&s).map_err(|e| corrupt(col, e)))
            .transpose()
    }
}
