//! The connector conformance suite: every database connector (PostgreSQL, MySQL/MariaDB, SQLite)
//! runs the same checks, one `#[tokio::test]` per check per connector, through the connector-neutral
//! functions of [`crate::engine::db`] — so a count, a reject or a rollback means the same on all of
//! them. What only one connector shows stays in that connector's own tests.
//!
//! PostgreSQL and MariaDB are the machine's services (`SLUICE_TEST_PG_URL`, `SLUICE_TEST_MYSQL_URL`);
//! without one its tests skip, saying so, and under `CI=true` they fail. SQLite runs on a file in a
//! temporary directory.

mod catalog;
mod values;
mod writes;

use crate::engine::StopSignal;
use crate::engine::db::{
    self, Applied, DbKind, Endpoint, ObjectName, Operation, ReadSpec, RejectedRow, RowReject,
    SourceObject, WriteSpec, sql::Dialect,
};
use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::util::display::array_value_to_string;
use futures::StreamExt;

/// One test per check for one connector, in a module named for it.
macro_rules! conformance {
    ($backend:ident: $($area:ident :: $check:ident),+) => {
        mod $backend {
            $(
                #[tokio::test]
                async fn $check() {
                    if let Some(db) = super::TestDb::$backend().await {
                        super::$area::$check(&db).await;
                    }
                }
            )+
        }
    };
}

/// The suite: every check, for every connector.
macro_rules! every_connector {
    ($($area:ident :: $check:ident),+ $(,)?) => {
        conformance!(postgres: $($area::$check),+);
        conformance!(mysql: $($area::$check),+);
        conformance!(sqlite: $($area::$check),+);
    };
}

every_connector! {
    catalog::checks_say_what_answered_or_why_not,
    catalog::tables_keys_and_columns_are_described,
    values::values_round_trip_through_a_created_table,
    writes::refused_rows_are_rejected_alone,
    writes::operations_count_exactly,
    writes::staged_operations_need_no_unique_index,
    writes::each_commit_applies_what_was_written_since_the_last,
    writes::a_failed_apply_leaves_the_table_as_it_was,
    writes::a_rolled_back_writer_leaves_the_table_as_it_was,
}

/// A database the suite runs against.
pub(crate) struct TestDb {
    pub ep: Endpoint,
    /// What the connector says when the database is missing.
    pub missing_says: &'static str,
    /// What the database says when a row repeats a unique key.
    pub duplicate_says: &'static str,
    /// SQLite's database file lives here for the test's life.
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub(crate) async fn postgres() -> Option<TestDb> {
        let url = std::env::var("SLUICE_TEST_PG_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let db = TestDb {
            ep: Endpoint {
                kind: DbKind::Postgres,
                name: "pg".into(),
                url,
            },
            missing_says: "does not exist",
            duplicate_says: "duplicate key",
            _dir: None,
        };
        db.reachable("PostgreSQL").await
    }

    pub(crate) async fn mysql() -> Option<TestDb> {
        let url = std::env::var("SLUICE_TEST_MYSQL_URL")
            .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into());
        let db = TestDb {
            ep: Endpoint {
                kind: DbKind::Mysql,
                name: "my".into(),
                url,
            },
            missing_says: "Unknown database",
            duplicate_says: "Duplicate entry",
            _dir: None,
        };
        db.reachable("MariaDB").await
    }

    pub(crate) async fn sqlite() -> Option<TestDb> {
        let dir = tempfile::tempdir().expect("a temporary directory");
        Some(TestDb {
            ep: Endpoint {
                kind: DbKind::Sqlite,
                name: "lite".into(),
                url: dir.path().join("t.db").display().to_string(),
            },
            missing_says: "does not exist",
            duplicate_says: "UNIQUE",
            _dir: Some(dir),
        })
    }

    /// The database when it answers; `None` (the test skips, saying so) on a developer's machine
    /// without the service; a failure under `CI=true`, where the service must be there.
    async fn reachable(self, product: &str) -> Option<TestDb> {
        match db::check(&self.ep).await {
            Ok(_) => Some(self),
            Err(e) if std::env::var("CI").as_deref() == Ok("true") => {
                panic!("{product} at {} is required under CI: {e}", self.ep.url)
            }
            Err(e) => {
                eprintln!("skipping: {product} not reachable at {}: {e}", self.ep.url);
                None
            }
        }
    }

    pub(crate) fn dialect(&self) -> Dialect {
        Dialect::of(self.ep.kind)
    }

    /// A table name for `tag`, unique to this process: the servers are shared with other tests.
    pub(crate) fn name(&self, tag: &str) -> ObjectName {
        ObjectName::parse(&format!("sluice_t_{tag}_{}", std::process::id())).unwrap()
    }

    /// The table quoted for SQL.
    pub(crate) fn q(&self, t: &ObjectName) -> String {
        self.dialect().table(t)
    }

    pub(crate) async fn exec(&self, sql: &str) {
        let done = match self.ep.kind {
            DbKind::Postgres => db::postgres::execute(&self.ep, sql).await,
            DbKind::Mysql => db::mysql::execute(&self.ep, sql).await,
            DbKind::Sqlite => db::sqlite::execute(&self.ep, sql).await,
        };
        done.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// A new, empty table `tag` with these column definitions (whatever a run before left is gone).
    pub(crate) async fn fresh(&self, tag: &str, columns: &str) -> ObjectName {
        let t = self.name(tag);
        self.exec(&format!("DROP TABLE IF EXISTS {}", self.q(&t)))
            .await;
        self.exec(&format!("CREATE TABLE {} ({columns})", self.q(&t)))
            .await;
        t
    }

    pub(crate) async fn drop_table(&self, t: &ObjectName) {
        self.exec(&format!("DROP TABLE {}", self.q(t))).await;
    }

    /// A writer for the batch's columns of `t`.
    pub(crate) async fn writer(
        &self,
        t: &ObjectName,
        op: Operation,
        keys: &[&str],
        truncate: bool,
        columns: &[&str],
    ) -> Box<dyn db::TableWriter> {
        let cols = db::describe_table(&self.ep, t).await.unwrap().unwrap();
        let spec_cols = columns
            .iter()
            .map(|n| cols.iter().find(|c| c.name == *n).unwrap().clone())
            .collect();
        let spec = WriteSpec {
            table: t.clone(),
            operation: op,
            keys: keys.iter().map(|k| k.to_string()).collect(),
            truncate,
            columns: spec_cols,
        };
        db::open_writer(&self.ep, spec).await.unwrap()
    }

    /// Writes one batch and commits; answers every reject (from the write, and those a connector
    /// reports at commit) and what the commit applied.
    pub(crate) async fn write(
        &self,
        t: &ObjectName,
        op: Operation,
        keys: &[&str],
        batch: &RecordBatch,
    ) -> (Vec<RowReject>, Applied) {
        let schema = batch.schema();
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        let mut w = self.writer(t, op, keys, false, &names).await;
        let mut rejects = w.write(batch).await.unwrap();
        let mut applied = w.commit().await.unwrap();
        rejects.append(&mut applied.rejects);
        (rejects, applied)
    }

    /// A query's rows as text, sorted: cells `|`-joined, `NULL` for nulls, timestamps without a
    /// zone. Connectors read a value into different Arrow widths; the text is the same.
    pub(crate) async fn rows(&self, sql: &str) -> Vec<String> {
        let spec = ReadSpec {
            object: SourceObject::Query(sql.into()),
            watermark: None,
            batch_size: 2,
        };
        let r = db::open_reader(&self.ep, &spec, &StopSignal::default())
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        let batches: Vec<RecordBatch> = r.batches.map(|b| b.unwrap()).collect().await;
        let mut rows: Vec<String> = batches.iter().flat_map(render).collect();
        rows.sort();
        rows
    }
}

/// A batch's rows as text, as [`TestDb::rows`] renders them.
pub(crate) fn render(batch: &RecordBatch) -> Vec<String> {
    let cols: Vec<ArrayRef> = batch
        .columns()
        .iter()
        .map(|c| match c.data_type() {
            DataType::Timestamp(_, _) => {
                cast(c, &DataType::Timestamp(TimeUnit::Microsecond, None)).unwrap()
            }
            _ => c.clone(),
        })
        .collect();
    (0..batch.num_rows())
        .map(|i| {
            cols.iter()
                .map(|c| {
                    if c.is_null(i) {
                        "NULL".to_string()
                    } else {
                        array_value_to_string(c, i).unwrap()
                    }
                })
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect()
}

/// The `id` of each rejected row of `batch`, with the reason, sorted by id: a reject names its
/// row by index, or (when found after the batch was gone) as the row's JSON.
pub(crate) fn rejected(rejects: &[RowReject], batch: &RecordBatch) -> Vec<(i64, String)> {
    let ids = batch
        .column_by_name("id")
        .unwrap()
        .as_primitive::<Int64Type>();
    let mut out: Vec<(i64, String)> = rejects
        .iter()
        .map(|r| {
            let id = match &r.row {
                RejectedRow::Index(i) => ids.value(*i),
                RejectedRow::Json(j) => {
                    let v: serde_json::Value = serde_json::from_str(j).unwrap();
                    v["id"].as_i64().unwrap()
                }
            };
            (id, r.reason.clone())
        })
        .collect();
    out.sort();
    out
}
