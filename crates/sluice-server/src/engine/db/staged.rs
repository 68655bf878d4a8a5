//! The staged apply that update, upsert and delete share on every database, written once: rows are
//! loaded into a session-local staging table, then applied at commit with a few set-based
//! statements in the writer's transaction — repeated keys resolved (the last row wins), the target
//! changed, and exact counts taken. The target is never half-updated, and update, upsert and delete
//! need no unique index on the key columns.
//!
//! What differs between databases is SQL text, written here per [`Dialect`], and how a statement
//! runs on a connection, which each connector supplies as a [`StagingSession`].

use super::sql::Dialect;
use super::{Applied, DbKind, ObjectName, Operation, WriteSpec};
use crate::engine::EngineError;
use async_trait::async_trait;

/// The staging table's row-order column: the position of the row in the source.
const SEQ: &str = "__sluice_seq";
/// The staging table's name.
const STAGING: &str = "__sluice_staging";

/// A writer's connection, as the staged apply uses it. Statements run in the writer's open
/// transaction; an error is the load's (the writer rolls back).
#[async_trait]
pub(crate) trait StagingSession: Send {
    /// Runs a statement; answers the rows it affected.
    async fn execute(&mut self, sql: &str) -> Result<u64, EngineError>;
    /// Runs a query answering one row of counts or truths (a truth as 0 or 1); no row is empty.
    async fn integers(&mut self, sql: &str) -> Result<Vec<u64>, EngineError>;
    /// Whether the target has a unique index on exactly `keys`. Asked only where the dialect
    /// writes an upsert as one statement that needs one.
    async fn unique_on_keys(
        &mut self,
        _table: &ObjectName,
        _keys: &[String],
    ) -> Result<bool, EngineError> {
        Ok(false)
    }
}

/// Applies the staged rows to `spec`'s table (`cols` are the staged columns) and empties the
/// staging table for the next commit; answers what changed.
pub(crate) async fn apply(
    s: &mut dyn StagingSession,
    d: Dialect,
    spec: &WriteSpec,
    cols: &[String],
) -> Result<Applied, EngineError> {
    let (t, keys) = (&spec.table, &spec.keys);
    let mut a = Applied::default();
    if let Some(sql) = d.analyze_staging() {
        s.execute(&sql).await?;
    }
    // Finding no repeated key is cheaper than the window that removes them.
    if first(s.integers(&d.has_repeated_keys(keys)).await?) > 0 {
        a.skipped += drop_repeated_keys(s, d, keys).await?;
    }
    let staged = first(s.integers(&d.count_staged()).await?);
    match spec.operation {
        Operation::Upsert => {
            let (inserts, updates) = upsert(s, d, t, cols, keys).await?;
            a.inserts = inserts;
            a.updates = updates;
        }
        Operation::Update => a.updates = update(s, d, t, cols, keys).await?,
        Operation::Delete => a.deletes = s.execute(&d.delete_matching(t, keys)).await?,
        Operation::Insert => {}
    }
    // Staged rows that changed nothing: missing keys, unchanged values.
    a.skipped += staged.saturating_sub(a.updates + a.inserts + a.deletes);
    if let Some(sql) = d.clear_staging() {
        s.execute(&sql).await?;
    }
    Ok(a)
}

fn first(row: Vec<u64>) -> u64 {
    row.first().copied().unwrap_or(0)
}

/// Removes the staged rows whose key a later staged row repeats; answers how many.
async fn drop_repeated_keys(
    s: &mut dyn StagingSession,
    d: Dialect,
    keys: &[String],
) -> Result<u64, EngineError> {
    let (statements, counted) = d.drop_repeated_keys(keys);
    let mut removed = 0;
    for (i, sql) in statements.iter().enumerate() {
        let n = s.execute(sql).await?;
        if i == counted {
            removed = n;
        }
    }
    Ok(removed)
}

/// Updates the target rows whose key is staged and whose values differ; answers how many.
async fn update(
    s: &mut dyn StagingSession,
    d: Dialect,
    t: &ObjectName,
    cols: &[String],
    keys: &[String],
) -> Result<u64, EngineError> {
    match d.update_from_staging(t, cols, keys) {
        Some(sql) => s.execute(&sql).await,
        // Only key columns: a matching row has nothing to change.
        None => Ok(0),
    }
}

/// Upserts the staged rows; answers (inserted, updated). Through the unique index in one statement
/// where the database can (index lookups instead of two joins), else update then insert-missing.
async fn upsert(
    s: &mut dyn StagingSession,
    d: Dialect,
    t: &ObjectName,
    cols: &[String],
    keys: &[String],
) -> Result<(u64, u64), EngineError> {
    if let Some(sql) = d.upsert_on_conflict(t, cols, keys)
        && s.unique_on_keys(t, keys).await?
    {
        let counts = s.integers(&sql).await?;
        let at = |i: usize| counts.get(i).copied().unwrap_or(0);
        return Ok((at(0), at(1)));
    }
    let updated = update(s, d, t, cols, keys).await?;
    let inserted = s.execute(&d.insert_missing(t, cols, keys)).await?;
    Ok((inserted, updated))
}

impl Dialect {
    /// The staging table as statements name it (SQLite's lives in the `temp` schema).
    pub(crate) fn staging(&self) -> String {
        match self.0 {
            DbKind::Sqlite => format!("temp.{}", self.quote(STAGING)),
            _ => self.quote(STAGING),
        }
    }

    /// The row-order column of the staging table (SQLite's rowid serves).
    fn seq(&self) -> String {
        match self.0 {
            DbKind::Sqlite => "rowid".into(),
            _ => self.quote(SEQ),
        }
    }

    /// Creates the staging table: the target's `cols` without constraints (refusals come from the
    /// apply statements), and a row-order column.
    pub(crate) fn create_staging(&self, target: &ObjectName, cols: &[String]) -> Vec<String> {
        let (stg, t, cols) = (
            self.quote(STAGING),
            self.table(target),
            self.columns(cols, None),
        );
        match self.0 {
            DbKind::Postgres => vec![
                format!(
                    "CREATE TEMP TABLE {stg} ON COMMIT DELETE ROWS AS SELECT {cols} FROM {t} WITH NO DATA"
                ),
                format!("ALTER TABLE {stg} ADD COLUMN {} bigserial", self.seq()),
            ],
            DbKind::Mysql => vec![format!(
                "CREATE TEMPORARY TABLE {stg} ({} BIGINT AUTO_INCREMENT PRIMARY KEY) SELECT {cols} FROM {t} LIMIT 0",
                self.seq()
            )],
            // A staging table left by an earlier writer on a reused connection goes first.
            DbKind::Sqlite => vec![
                format!("DROP TABLE IF EXISTS {}", self.staging()),
                format!("CREATE TEMP TABLE {stg} AS SELECT {cols} FROM {t} LIMIT 0"),
            ],
        }
    }

    /// PostgreSQL never auto-analyses temporary tables; the apply joins need real statistics.
    fn analyze_staging(&self) -> Option<String> {
        (self.0 == DbKind::Postgres).then(|| format!("ANALYZE {}", self.staging()))
    }

    /// Whether two staged rows share a key (a truth).
    fn has_repeated_keys(&self, keys: &[String]) -> String {
        format!(
            "SELECT EXISTS (SELECT 1 FROM {} GROUP BY {} HAVING count(*) > 1)",
            self.staging(),
            self.columns(keys, None)
        )
    }

    /// Deletes the staged rows whose key a later staged row repeats (the last row wins, as if the
    /// rows were applied one after the other): the statements to run in order, and which of them
    /// affects exactly the removed rows.
    fn drop_repeated_keys(&self, keys: &[String]) -> (Vec<String>, usize) {
        let (stg, seq, keys) = (self.staging(), self.seq(), self.columns(keys, None));
        let repeated = format!(
            "SELECT {seq} FROM (SELECT {seq}, ROW_NUMBER() OVER (PARTITION BY {keys} ORDER BY {seq} DESC) AS rn FROM {stg}) d WHERE rn > 1"
        );
        match self.0 {
            // MySQL cannot open a temporary table twice in one statement: collect the repeated
            // keys' earlier rows in a second one, then delete them.
            DbKind::Mysql => (
                vec![
                    format!(
                        "CREATE TEMPORARY TABLE __sluice_dups (seq BIGINT PRIMARY KEY) SELECT {seq} AS seq \
                         FROM (SELECT {seq}, ROW_NUMBER() OVER (PARTITION BY {keys} ORDER BY {seq} DESC) AS rn FROM {stg}) d \
                         WHERE rn > 1"
                    ),
                    format!("DELETE s FROM {stg} s JOIN __sluice_dups d ON s.{seq} = d.seq"),
                    "DROP TEMPORARY TABLE __sluice_dups".into(),
                ],
                1,
            ),
            _ => (
                vec![format!("DELETE FROM {stg} WHERE {seq} IN ({repeated})")],
                0,
            ),
        }
    }

    fn count_staged(&self) -> String {
        format!("SELECT count(*) FROM {}", self.staging())
    }

    /// After applying: empty the staging table for the next commit. PostgreSQL's empties itself
    /// at commit (`ON COMMIT DELETE ROWS`).
    fn clear_staging(&self) -> Option<String> {
        (self.0 != DbKind::Postgres).then(|| format!("DELETE FROM {}", self.staging()))
    }

    /// True when `a` and `b` differ, NULLs compared as values.
    fn differs(&self, a: &str, b: &str) -> String {
        match self.0 {
            DbKind::Mysql => format!("NOT ({a} <=> {b})"),
            _ => format!("{a} IS DISTINCT FROM {b}"),
        }
    }

    fn key_match(&self, keys: &[String], t: &str, s: &str) -> String {
        keys.iter()
            .map(|k| format!("{t}.{q} = {s}.{q}", q = self.quote(k)))
            .collect::<Vec<_>>()
            .join(" AND ")
    }

    /// Updates target rows whose key is staged and whose values differ (so the affected rows are
    /// the changed rows); `None` when every column is a key and there is nothing to change.
    fn update_from_staging(
        &self,
        target: &ObjectName,
        cols: &[String],
        keys: &[String],
    ) -> Option<String> {
        let t = self.table(target);
        let stg = self.staging();
        let non_keys: Vec<&String> = cols.iter().filter(|c| !keys.contains(c)).collect();
        if non_keys.is_empty() {
            return None;
        }
        let diff = non_keys
            .iter()
            .map(|c| {
                let q = self.quote(c);
                self.differs(&format!("{t}.{q}"), &format!("s.{q}"))
            })
            .collect::<Vec<_>>()
            .join(" OR ");
        // MySQL's multi-table UPDATE qualifies the target's columns; the others' SET takes bare names.
        let set = |prefix: &str| {
            non_keys
                .iter()
                .map(|c| format!("{prefix}{q} = s.{q}", q = self.quote(c)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let on = self.key_match(keys, &t, "s");
        Some(match self.0 {
            DbKind::Mysql => format!(
                "UPDATE {t} JOIN {stg} s ON {on} SET {} WHERE {diff}",
                set(&format!("{t}."))
            ),
            _ => format!(
                "UPDATE {t} SET {} FROM {stg} s WHERE {on} AND ({diff})",
                set("")
            ),
        })
    }

    /// Inserts staged rows whose key is not in the target; counts inserted rows.
    fn insert_missing(&self, target: &ObjectName, cols: &[String], keys: &[String]) -> String {
        let t = self.table(target);
        format!(
            "INSERT INTO {t} ({}) SELECT {} FROM {} s WHERE NOT EXISTS (SELECT 1 FROM {t} x WHERE {})",
            self.columns(cols, None),
            self.columns(cols, Some("s")),
            self.staging(),
            self.key_match(keys, "x", "s")
        )
    }

    /// Deletes target rows whose key is staged; counts deleted rows.
    fn delete_matching(&self, target: &ObjectName, keys: &[String]) -> String {
        let t = self.table(target);
        let stg = self.staging();
        let on = self.key_match(keys, &t, "s");
        match self.0 {
            DbKind::Postgres => format!("DELETE FROM {t} USING {stg} s WHERE {on}"),
            DbKind::Mysql => format!("DELETE {t} FROM {t} JOIN {stg} s ON {on}"),
            DbKind::Sqlite => {
                format!("DELETE FROM {t} WHERE EXISTS (SELECT 1 FROM {stg} s WHERE {on})")
            }
        }
    }

    /// An upsert in one statement through the unique index on the keys, answering (inserted,
    /// updated); unchanged rows are left alone. PostgreSQL only (`ON CONFLICT ... RETURNING`).
    fn upsert_on_conflict(
        &self,
        target: &ObjectName,
        cols: &[String],
        keys: &[String],
    ) -> Option<String> {
        if self.0 != DbKind::Postgres {
            return None;
        }
        let non_keys: Vec<&String> = cols.iter().filter(|c| !keys.contains(c)).collect();
        let list = |prefix: &str| {
            non_keys
                .iter()
                .map(|c| format!("{prefix}{}", self.quote(c)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let action = if non_keys.is_empty() {
            "DO NOTHING".to_string()
        } else {
            let set = non_keys
                .iter()
                .map(|c| format!("{q} = EXCLUDED.{q}", q = self.quote(c)))
                .collect::<Vec<_>>()
                .join(", ");
            format!(
                "DO UPDATE SET {set} WHERE ROW({}) IS DISTINCT FROM ROW({})",
                list("__t."),
                list("EXCLUDED.")
            )
        };
        // xmax is 0 on a freshly inserted row version and set on an updated one.
        Some(format!(
            "WITH r AS (INSERT INTO {t} AS __t ({c}) SELECT {c} FROM {stg} ON CONFLICT ({k}) {action} \
             RETURNING (xmax = 0) AS ins) \
             SELECT count(*) FILTER (WHERE ins), count(*) FILTER (WHERE NOT ins) FROM r",
            t = self.table(target),
            c = self.columns(cols, None),
            stg = self.staging(),
            k = self.columns(keys, None),
        ))
    }
}
