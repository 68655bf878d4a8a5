//! Transactional writes to SQLite: one `BEGIN IMMEDIATE` transaction on one connection, rows
//! inserted with one prepared statement (SQLite refuses a row's constraint violation without
//! undoing the others, so each refused row is a reject with SQLite's reason). Update, upsert and
//! delete load a temporary staging table and apply it at commit, like the other databases.

use super::{DIALECT, columns_of, connect, lite_err};
use crate::engine::EngineError;
use crate::engine::db::sql::STAGING;
use crate::engine::db::types::canonicalize;
use crate::engine::db::value::{Column, Val, coerce, format_decimal};
use crate::engine::db::{
    Applied, Endpoint, Operation, RejectedRow, RowReject, TableWriter, WriteSpec,
};
use async_trait::async_trait;
use datafusion::arrow::record_batch::RecordBatch;
use sqlx::Sqlite;
use sqlx::SqliteConnection;
use sqlx::query::Query;
use sqlx::sqlite::SqliteArguments;

pub async fn open_writer(
    ep: &Endpoint,
    spec: WriteSpec,
) -> Result<Box<dyn TableWriter>, EngineError> {
    let mut conn = connect(ep, true).await?;
    let cols = columns_of(&mut conn, ep, &spec.table).await?;
    if cols.is_empty() {
        return Err(EngineError::Definition(format!(
            "table `{}` does not exist in `{}`",
            spec.table, ep.name
        )));
    }
    for c in &spec.columns {
        if !cols.iter().any(|l| l.name == c.name) {
            return Err(EngineError::Definition(format!(
                "table `{}` has no column `{}`",
                spec.table, c.name
            )));
        }
    }
    let names: Vec<String> = spec.columns.iter().map(|c| c.name.clone()).collect();
    let staged = spec.operation != Operation::Insert;
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut conn)
        .await
        .map_err(|e| lite_err(ep, e))?;
    if spec.truncate {
        sqlx::query(&DIALECT.truncate(&spec.table))
            .execute(&mut conn)
            .await
            .map_err(|e| lite_err(ep, e))?;
    }
    let into = if staged {
        for sql in [
            format!("DROP TABLE IF EXISTS temp.{}", DIALECT.quote(STAGING)),
            format!(
                "CREATE TEMP TABLE {stg} AS SELECT {cols} FROM {t} LIMIT 0",
                stg = DIALECT.quote(STAGING),
                cols = DIALECT.columns(&names, None),
                t = DIALECT.table(&spec.table),
            ),
        ] {
            sqlx::query(&sql)
                .execute(&mut conn)
                .await
                .map_err(|e| lite_err(ep, e))?;
        }
        format!("temp.{}", DIALECT.quote(STAGING))
    } else {
        DIALECT.table(&spec.table)
    };
    let insert = format!(
        "INSERT INTO {into} ({}) VALUES ({})",
        DIALECT.columns(&names, None),
        vec!["?"; names.len()].join(", ")
    );
    let numeric = spec
        .columns
        .iter()
        .map(|c| matches!(c.ty, crate::engine::db::TargetType::Decimal { .. }))
        .collect();
    Ok(Box::new(LiteWriter {
        numeric,
        conn,
        ep: ep.clone(),
        spec,
        names,
        insert,
        staged,
        inserted: 0,
    }))
}

struct LiteWriter {
    conn: SqliteConnection,
    /// Per column: declared with NUMERIC affinity (where SQLite turns decimals into floats).
    numeric: Vec<bool>,
    ep: Endpoint,
    spec: WriteSpec,
    names: Vec<String>,
    insert: String,
    staged: bool,
    inserted: u64,
}

/// Binds a coerced value the way SQLite keeps it: exact decimals, dates and times as text.
fn bind<'q>(
    q: Query<'q, Sqlite, SqliteArguments<'q>>,
    v: Val<'q>,
) -> Query<'q, Sqlite, SqliteArguments<'q>> {
    match v {
        Val::Null => q.bind(None::<i64>),
        Val::Bool(b) => q.bind(b as i64),
        Val::Int(i) => q.bind(i),
        Val::UInt(u) => match i64::try_from(u) {
            Ok(i) => q.bind(i),
            Err(_) => q.bind(u.to_string()),
        },
        Val::Float(f) => q.bind(f),
        Val::Decimal(d, s) => q.bind(format_decimal(d, s)),
        Val::Text(t) | Val::Json(t) => q.bind(t.into_owned()),
        Val::Bytes(b) => q.bind(b.into_owned()),
        Val::Date(d) => q.bind(d.format("%Y-%m-%d").to_string()),
        Val::Time(t) => q.bind(t.format("%H:%M:%S%.6f").to_string()),
        Val::Timestamp(t) => q.bind(t.format("%Y-%m-%d %H:%M:%S%.6f").to_string()),
        Val::TimestampTz(t) => q.bind(t.format("%Y-%m-%d %H:%M:%S%.6f+00:00").to_string()),
        Val::Uuid(u) => q.bind(u.hyphenated().to_string()),
    }
}

/// Whether SQLite keeps a decimal exactly in a column of NUMERIC affinity: it turns decimal text
/// into an 8-byte float, exact to 15 significant digits, or into an integer when it is whole.
fn fits_numeric_affinity(v: i128, scale: i8) -> bool {
    let mut v = v;
    let mut scale = scale;
    while scale > 0 && v % 10 == 0 {
        v /= 10;
        scale -= 1;
    }
    if scale <= 0 {
        return i64::try_from(v).is_ok();
    }
    v.unsigned_abs().checked_ilog10().map_or(1, |d| d + 1) <= 15
}

/// SQLITE_CONSTRAINT and its extended codes (UNIQUE, PRIMARYKEY, NOTNULL, CHECK, FOREIGNKEY).
fn is_constraint(code: Option<&str>) -> bool {
    code.and_then(|c| c.parse::<i32>().ok())
        .is_some_and(|c| c & 0xff == 19)
}

impl LiteWriter {
    async fn exec(&mut self, sql: &str) -> Result<u64, EngineError> {
        sqlx::query(sql)
            .execute(&mut self.conn)
            .await
            .map(|r| r.rows_affected())
            .map_err(|e| lite_err(&self.ep, e))
    }

    async fn apply_staged(&mut self) -> Result<Applied, EngineError> {
        let mut a = Applied::default();
        let stg = format!("temp.{}", DIALECT.quote(STAGING));
        // Repeated keys: the last row wins (as if applied one after the other).
        a.skipped += self
            .exec(&format!(
                "DELETE FROM {stg} WHERE rowid IN (SELECT rowid FROM (SELECT rowid, ROW_NUMBER() OVER \
                 (PARTITION BY {keys} ORDER BY rowid DESC) AS rn FROM {stg}) WHERE rn > 1)",
                keys = DIALECT.columns(&self.spec.keys, None),
            ))
            .await?;
        let staged: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {stg}"))
            .fetch_one(&mut self.conn)
            .await
            .map_err(|e| lite_err(&self.ep, e))?;
        let (t, cols, keys) = (
            self.spec.table.clone(),
            self.names.clone(),
            self.spec.keys.clone(),
        );
        match self.spec.operation {
            Operation::Update | Operation::Upsert => {
                let update = DIALECT.update_from_staging(&t, &cols, &keys);
                if !update.is_empty() {
                    a.updates = self.exec(&update).await?;
                }
                if self.spec.operation == Operation::Upsert {
                    a.inserts = self.exec(&DIALECT.insert_missing(&t, &cols, &keys)).await?;
                }
            }
            Operation::Delete => a.deletes = self.exec(&DIALECT.delete_matching(&t, &keys)).await?,
            Operation::Insert => {}
        }
        a.skipped += (staged as u64).saturating_sub(a.updates + a.inserts + a.deletes);
        self.exec(&format!("DELETE FROM {stg}")).await?;
        Ok(a)
    }
}

#[async_trait]
impl TableWriter for LiteWriter {
    async fn write(&mut self, batch: &RecordBatch) -> Result<Vec<RowReject>, EngineError> {
        let arrays = canonicalize(batch).map_err(EngineError::Data)?;
        let cols = arrays
            .iter()
            .map(Column::new)
            .collect::<Result<Vec<_>, _>>()
            .map_err(EngineError::Data)?;
        let mut rejects = Vec::new();
        'rows: for i in 0..batch.num_rows() {
            let mut q = sqlx::query(&self.insert);
            for (c, col) in cols.iter().enumerate() {
                match coerce(col.get(i), &self.spec.columns[c]) {
                    Ok(Val::Decimal(d, s)) if self.numeric[c] && !fits_numeric_affinity(d, s) => {
                        rejects.push(RowReject {
                            row: RejectedRow::Index(i),
                            reason: format!(
                                "column `{}`: {} has more than the 15 significant digits SQLite keeps in a {} column",
                                self.spec.columns[c].name,
                                format_decimal(d, s),
                                self.spec.columns[c].declared
                            ),
                        });
                        continue 'rows;
                    }
                    Ok(v) => q = bind(q, v),
                    Err(reason) => {
                        rejects.push(RowReject {
                            row: RejectedRow::Index(i),
                            reason,
                        });
                        continue 'rows;
                    }
                }
            }
            match q.execute(&mut self.conn).await {
                Ok(_) => {
                    if !self.staged {
                        self.inserted += 1;
                    }
                }
                // A constraint (UNIQUE, NOT NULL, CHECK, FOREIGN KEY) refuses this row only.
                Err(sqlx::Error::Database(d)) if is_constraint(d.code().as_deref()) => {
                    rejects.push(RowReject {
                        row: RejectedRow::Index(i),
                        reason: d.message().to_string(),
                    });
                }
                Err(e) => return Err(lite_err(&self.ep, e)),
            }
        }
        Ok(rejects)
    }

    async fn commit(&mut self) -> Result<Applied, EngineError> {
        let applied = if self.staged {
            self.apply_staged().await?
        } else {
            Applied {
                inserts: std::mem::take(&mut self.inserted),
                ..Applied::default()
            }
        };
        // `query`, not `raw_sql`: raw_sql's executor bound trips the Send check of callers' futures.
        self.exec("COMMIT").await?;
        self.exec("BEGIN IMMEDIATE").await?;
        Ok(applied)
    }

    async fn rollback(mut self: Box<Self>) -> Result<(), EngineError> {
        self.exec("ROLLBACK").await?;
        Ok(())
    }
}
