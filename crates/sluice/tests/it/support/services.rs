//! The services some tests need beside the server: the local PostgreSQL and MariaDB (skipped when
//! absent, required under CI), Spark, and the processes a run left behind.

use std::path::PathBuf;

/// The PostgreSQL the data-plane tests use (`SLUICE_TEST_PG_URL`, default the local service).
pub fn pg_url() -> String {
    std::env::var("SLUICE_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A client of the test PostgreSQL; `None` (the test skips, saying so) when it does not answer on
/// a developer's machine. Under `CI=true` an unreachable service fails the test instead.
pub async fn pg() -> Option<tokio_postgres::Client> {
    let url = pg_url();
    match tokio_postgres::connect(&url, tokio_postgres::NoTls).await {
        Ok((client, conn)) => {
            tokio::spawn(conn);
            Some(client)
        }
        Err(e) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("PostgreSQL at {url} is required under CI: {e}")
        }
        Err(e) => {
            eprintln!("skipping: PostgreSQL not reachable at {url}: {e}");
            None
        }
    }
}

/// A table name unique to this test process and `tag`.
pub fn table_name(tag: &str) -> String {
    format!("it_{tag}_{}", std::process::id())
}

/// A connection definition file for the test PostgreSQL.
pub fn pg_connection_file() -> String {
    format!(
        "kind = \"connection\"\ntype = \"postgres\"\nurl = {{ env = \"SLUICE_TEST_PG_URL\", default = \"{}\" }}\n",
        pg_url()
    )
}

/// The MariaDB/MySQL the data-plane tests use (`SLUICE_TEST_MYSQL_URL`, default the local service).
pub fn mysql_url() -> String {
    std::env::var("SLUICE_TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into())
}

/// A connection to the test MariaDB; `None` (skip, saying so) when it does not answer on a
/// developer's machine, a failure under `CI=true`.
pub async fn mysql() -> Option<mysql_async::Conn> {
    let url = mysql_url();
    let opts = mysql_async::Opts::from_url(&url).expect("a MySQL URL");
    match mysql_async::Conn::new(opts).await {
        Ok(c) => Some(c),
        Err(e) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("MariaDB at {url} is required under CI: {e}")
        }
        Err(e) => {
            eprintln!("skipping: MariaDB not reachable at {url}: {e}");
            None
        }
    }
}

/// The Spark the Spark tests use: `SLUICE_TEST_SPARK_HOME`, else PySpark in the virtualenv
/// `.ci/run` makes (`~/.cache/sluice-spark-venv`). `None` (the test skips, saying so) on a machine
/// without it; under `CI=true` a missing Spark fails the test instead.
pub fn spark_home() -> Option<PathBuf> {
    let found = std::env::var_os("SLUICE_TEST_SPARK_HOME")
        .map(PathBuf::from)
        .or_else(|| {
            let lib = PathBuf::from(std::env::var_os("HOME")?).join(".cache/sluice-spark-venv/lib");
            std::fs::read_dir(lib)
                .ok()?
                .filter_map(Result::ok)
                .map(|e| e.path().join("site-packages/pyspark"))
                .find(|p| p.join("bin/spark-submit").is_file())
        })
        .filter(|p| p.join("bin/spark-submit").is_file());
    if found.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "Spark is required under CI=true: set SLUICE_TEST_SPARK_HOME (.ci/run installs PySpark)"
        );
        eprintln!(
            "skipping: no Spark (set SLUICE_TEST_SPARK_HOME or pip install pyspark into ~/.cache/sluice-spark-venv)"
        );
    }
    found
}

/// Processes whose command line holds `needle` (the JVM spark-submit starts carries the app name).
pub fn processes_with(needle: &str) -> usize {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .chars()
                .all(|c| c.is_ascii_digit())
        })
        .filter(|e| {
            std::fs::read(e.path().join("cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains(needle))
                .unwrap_or(false)
        })
        .count()
}

/// A new empty database on the test PostgreSQL, for a store several test servers share; dropped
/// (with whatever still holds it) when the guard goes. `None` as with [`pg`].
pub async fn pg_database() -> Option<PgDatabase> {
    let admin = pg().await?;
    let name = format!("sluice_it_{}", uuid::Uuid::new_v4().simple());
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create database");
    let base = pg_url();
    let root = base.rsplit_once('/').map_or(base.as_str(), |(r, _)| r);
    Some(PgDatabase {
        url: format!("{root}/{name}"),
        name,
    })
}

pub struct PgDatabase {
    /// `postgres://…/<name>`.
    pub url: String,
    name: String,
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs outside the test's runtime: a thread of its own does the async work.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            rt.block_on(async {
                if let Ok((client, conn)) =
                    tokio_postgres::connect(&pg_url(), tokio_postgres::NoTls).await
                {
                    tokio::spawn(conn);
                    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    let _ = client.batch_execute(&sql).await;
                }
            });
        })
        .join();
    }
}
