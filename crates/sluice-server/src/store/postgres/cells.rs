//! PostgreSQL's encoding of cells: native UUIDs, `timestamptz` times, JSONB documents, booleans.

use crate::store::Result;
use crate::store::rows::Cells;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use sqlx::Row;
use sqlx::postgres::PgRow;
use sqlx::types::Json;
use uuid::Uuid;

impl Cells for PgRow {
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
        Ok(self.try_get(col)?)
    }

    fn opt_time(&self, col: &str) -> Result<Option<DateTime<Utc>>> {
        Ok(self.try_get(col)?)
    }

    fn opt_doc<T: DeserializeOwned>(&self, col: &str) -> Result<Option<T>> {
        Ok(self.try_get::<Option<Json<T>>, _>(col)?.map(|j| j.0))
    }
}
