//! `spark` code tasks against a real Spark (PySpark from PyPI): a PySpark file that reads a CSV
//! and writes Parquet, checked by reading the Parquet back; a missing spark-submit.

use super::support::*;
use serde_json::json;

const JOB: &str = r#"import sys
from pyspark.sql import SparkSession
spark = SparkSession.builder.getOrCreate()
src, dst, country = sys.argv[1], sys.argv[2], sys.argv[3]
df = spark.read.option("header", True).csv(src)
out = df.filter(df.country == country)
print(f"rows for {country}: {out.count()}")
out.write.mode("overwrite").parquet(dst)
spark.stop()
"#;

const CSV: &str = "id,country,amount\n1,DE,10\n2,FR,20\n3,DE,30\n4,US,40\n5,DE,50\n";

fn task(input: &std::path::Path) -> String {
    format!(
        "type = \"CODE\"\nengine = \"spark\"\napplication = \"jobs/by_country.py\"\n\
         args = [\"{}\", \"${{sluice.data_dir}}/spark/by_country\", \"${{country}}\"]\n\
         driver_memory = \"512m\"\n[conf]\n\"spark.ui.enabled\" = \"false\"\n\"spark.sql.shuffle.partitions\" = \"2\"\n\
         [parameters]\ncountry = \"DE\"\n",
        input.display()
    )
}

#[tokio::test]
async fn a_pyspark_file_reads_csv_and_writes_parquet() {
    let Some(home) = spark_home() else { return };
    let defs = defs_dir(&[("jobs/by_country.py", JOB), ("orders.csv", CSV)]);
    let input = defs.path().join("orders.csv");
    std::fs::write(defs.path().join("spark_task.toml"), task(&input)).unwrap();
    let home = home.display().to_string();
    let server = TestServer::start_with(defs.path(), None, &[("SPARK_HOME", home.as_str())]).await;
    let run = server.start_run("spark_task", json!({})).await;
    let done = server.wait_end(&run, 240).await;
    assert_eq!(
        done["state"],
        "completed",
        "{done}\n{:?}",
        server.log(&run, "warn").await
    );
    let lines = server.log(&done, "info").await;
    assert!(
        lines
            .iter()
            .any(|l| l["message"] == "rows for DE: 3" && l["level"] == "info"),
        "the program's output, as printed"
    );
    assert!(
        lines.iter().any(|l| l["message"]
            .as_str()
            .unwrap()
            .contains(" INFO SparkContext")),
        "Spark's own INFO lines keep their level"
    );
    // The Parquet Spark wrote, read back by another engine.
    let out = server.data_dir.join("spark/by_country");
    let ctx = datafusion::prelude::SessionContext::new();
    let df = ctx
        .read_parquet(out.display().to_string(), Default::default())
        .await
        .unwrap();
    assert_eq!(df.count().await.unwrap(), 3);
}

#[tokio::test]
async fn a_missing_spark_fails_the_run_at_once_with_why() {
    let defs = defs_dir(&[("jobs/by_country.py", JOB), ("orders.csv", CSV)]);
    let input = defs.path().join("orders.csv");
    std::fs::write(defs.path().join("spark_task.toml"), task(&input)).unwrap();
    let server = TestServer::start_with(
        defs.path(),
        None,
        &[("SLUICE_SPARK__SUBMIT", "/opt/no-spark/bin/spark-submit")],
    )
    .await;
    let run = server.start_run("spark_task", json!({})).await;
    let done = server.wait_end(&run, 30).await;
    assert_eq!(done["state"], "failed");
    assert!(
        done["error"]
            .as_str()
            .unwrap()
            .contains("could not start `/opt/no-spark/bin/spark-submit`"),
        "{done}"
    );
}

#[tokio::test]
async fn the_bundled_spark_example_runs() {
    let Some(home) = spark_home() else { return };
    let home = home.display().to_string();
    let server =
        TestServer::start_with(&examples_dir(), None, &[("SPARK_HOME", home.as_str())]).await;
    let run = server.start_run("code/orders_by_country", json!({})).await;
    let done = server.wait_end(&run, 240).await;
    assert_eq!(done["state"], "completed", "{done}");
    let out = server.data_dir.join("output/code/orders_by_country");
    let ctx = datafusion::prelude::SessionContext::new();
    let df = ctx
        .read_parquet(out.display().to_string(), Default::default())
        .await
        .unwrap();
    let countries = df.count().await.unwrap();
    assert!(countries > 1, "{countries} countries");
    let lines = server.log(&done, "info").await;
    assert!(
        lines
            .iter()
            .any(|l| l["message"] == format!("countries: {countries}")),
        "the program's own count matches what it wrote"
    );
}
