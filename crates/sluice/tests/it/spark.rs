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
    let app = TestApp::spawn_with(defs.path(), None, &[("SPARK_HOME", home.as_str())]).await;
    let run = app.start_run("spark_task", &[]).await;
    let done = app.wait_end(&run, 240).await;
    assert_eq!(
        done.state,
        "completed",
        "{done:?}\n{:?}",
        app.log(&run, "warn").await
    );
    let lines = app.log(&done, "info").await;
    assert!(
        lines
            .iter()
            .any(|l| l.message == "rows for DE: 3" && l.level == "info"),
        "the program's output, as printed"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.message.contains(" INFO SparkContext")),
        "Spark's own INFO lines keep their level"
    );
    // The UI is off: the application's jobs, stages and tasks were read from the driver's log
    // (which does not name a local application).
    let spark = done.spark.as_ref().unwrap();
    assert_eq!(spark.state, "succeeded", "{spark:?}");
    assert_eq!(spark.app_id, None, "{spark:?}");
    for (what, t) in [
        ("jobs", spark.jobs),
        ("stages", spark.stages),
        ("tasks", spark.tasks),
    ] {
        assert!(t.completed >= 1, "{what}: {spark:?}");
        assert_eq!(t.active, 0, "{what}: {spark:?}");
        assert_eq!(t.failed, 0, "{what}: {spark:?}");
    }
    assert_eq!(spark.jobs.completed, spark.jobs.total, "{spark:?}");
    // The Parquet Spark wrote, read back by another engine.
    let out = app.data_dir.join("spark/by_country");
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
    let app = TestApp::spawn_with(
        defs.path(),
        None,
        &[("SLUICE_SPARK__SUBMIT", "/opt/no-spark/bin/spark-submit")],
    )
    .await;
    let run = app.start_run("spark_task", &[]).await;
    let done = app.wait_end(&run, 30).await;
    assert_eq!(done.state, "failed");
    assert!(
        done.error
            .as_deref()
            .unwrap()
            .contains("could not start `/opt/no-spark/bin/spark-submit`"),
        "{done:?}"
    );
}

#[tokio::test]
async fn the_bundled_spark_example_runs() {
    let Some(home) = spark_home() else { return };
    let home = home.display().to_string();
    let app = TestApp::spawn_with(&examples_dir(), None, &[("SPARK_HOME", home.as_str())]).await;
    let run = app.start_run("code/spark_country_revenue", &[]).await;
    let done = app.wait_end(&run, 240).await;
    assert_eq!(done.state, "completed", "{done:?}");
    let out = app.data_dir.join("output/code/spark_country_revenue");
    let ctx = datafusion::prelude::SessionContext::new();
    let df = ctx
        .read_parquet(out.display().to_string(), Default::default())
        .await
        .unwrap();
    let countries = df.count().await.unwrap();
    assert!(countries > 1, "{countries} countries");
    let lines = app.messages(&done, "info").await;
    assert!(
        lines.contains(&format!("countries: {countries}")),
        "the program's own count matches what it wrote"
    );
}

#[tokio::test]
async fn the_iics_code_task_flow_end_to_end_and_cancel() {
    let Some(home) = spark_home() else { return };
    let work = tempfile::tempdir().unwrap();
    let quick = work.path().join("quick.py");
    std::fs::write(
        &quick,
        "import sys\nfrom pyspark.sql import SparkSession\nspark = SparkSession.builder.getOrCreate()\n\
         print('sum:', spark.range(int(sys.argv[1])).groupBy().sum().collect()[0][0])\nspark.stop()\n",
    )
    .unwrap();
    let slow = work.path().join("slow.py");
    std::fs::write(
        &slow,
        "import time\nfrom pyspark.sql import SparkSession\nspark = SparkSession.builder.getOrCreate()\n\
         spark.sparkContext.setLogLevel('WARN')\nspark.range(1000).selectExpr('sum(id)').collect()\n\
         print('ready', flush=True)\ntime.sleep(600)\n",
    )
    .unwrap();
    let home = home.display().to_string();
    // Code tasks defined through an API run only in a runtime environment granted to their org.
    let config = work.path().join("sluice.toml");
    std::fs::write(
        &config,
        format!(
            "[runtime_environments.re]\nspark = true\nworking_dir = \"{}\"\npass_env = [\"JAVA_HOME\", \"SPARK_HOME\"]\norgs = [\"default\"]\nagent_group_id = \"g\"\n",
            work.path().display()
        ),
    )
    .unwrap();
    let app = TestApp::spawn_with(
        &examples_dir(),
        None,
        &[
            ("SPARK_HOME", home.as_str()),
            ("SLUICE_CONFIG", config.to_str().unwrap()),
        ],
    )
    .await;
    let c = app.iics().await;
    let code = |path: &str| c.code_url(path);
    // The code task API as its clients call it: the session in `IDS-SESSION-ID`.
    let post = |url: String, body: serde_json::Value| {
        let req = c.http.post(&url).header("IDS-SESSION-ID", &c.session);
        Call::<serde_json::Value>::new(req.json(&body), format!("POST {url}"))
    };
    let get = |url: String| c.code_call(reqwest::Method::GET, &url);

    let task = post(
        code(""),
        json!({"codeTaskName": "sum_range", "runtimeEnvironmentName": "re",
        "overrideTaskTimeout": -1, "logLevel": "normal",
        "sparkApplicationFile": "quick.py", "sparkMainClassArgs": ["1000"]}),
    )
    .expect(200)
    .await;
    let id = task["codeTaskId"].as_str().unwrap().to_string();
    get(code(&format!("/{id}"))).expect_status(200).await;
    let started = post(code("/Start"), json!({"codeTaskId": id}))
        .expect(200)
        .await;
    assert_eq!(started["summary"], "Code Task started successfully");
    let job = started["jobId"].as_str().unwrap().to_string();
    let status = eventually(secs(240), async || {
        let st = get(code(&format!("/JobStatus/{job}")))
            .send()
            .await
            .json::<serde_json::Value>();
        if ["QUEUED", "RUNNING"].contains(&st["executionState"].as_str().unwrap()) {
            Err(st)
        } else {
            Ok(st)
        }
    })
    .await;
    assert_eq!(status["executionState"], "SUCCEEDED", "{status}");
    assert_eq!(status["codeTaskName"], "sum_range");
    assert_eq!(status["sparkApplicationState"], "SUCCEEDED", "{status}");
    let sp = get(code(&format!("/SparkTaskStatus/{job}")))
        .expect(200)
        .await;
    assert_eq!(sp["applicationState"], "SUCCEEDED", "{sp}");
    assert!(sp["jobs"]["completed"].as_u64().unwrap() >= 1, "{sp}");
    assert_eq!(sp["jobs"]["active"], 0, "{sp}");
    assert_eq!(
        sp["sparkUiUrl"],
        serde_json::Value::Null,
        "gone with the driver: {sp}"
    );
    let log = get(status["sessionLogUrl"].as_str().unwrap().to_string())
        .expect_text(200)
        .await;
    assert!(
        log.contains("sum: 499500"),
        "the program's output is in the session log"
    );

    // Cancel mid-run: the job ends CANCELLED and no JVM of it is left on this node.
    let task = post(
        code(""),
        json!({"codeTaskName": "sleepy", "agentGroupId": "g",
        "sparkApplicationFile": "slow.py"}),
    )
    .send()
    .await
    .json::<serde_json::Value>();
    let started = post(code("/Start"), json!({"codeTaskId": task["codeTaskId"]}))
        .send()
        .await
        .json::<serde_json::Value>();
    let job = started["jobId"].as_str().unwrap().to_string();
    eventually(secs(240), async || {
        let ready = app
            .messages(&job, "info")
            .await
            .iter()
            .any(|m| m == "ready");
        ready.then_some(()).ok_or("never ready")
    })
    .await;
    assert!(processes_with("sluice-sleepy-1") > 0, "the driver runs");
    // The application lowered its log level before its job: only the driver's monitoring API
    // can tell its id and that the job is done.
    let running = eventually(secs(30), async || {
        let sp = get(code(&format!("/SparkTaskStatus/{job}")))
            .expect(200)
            .await;
        if sp["applicationId"].is_string() && sp["jobs"]["completed"].as_u64() >= Some(1) {
            Ok(sp)
        } else {
            Err(sp)
        }
    })
    .await;
    assert_eq!(running["applicationState"], "RUNNING", "{running}");
    assert!(
        running["applicationId"]
            .as_str()
            .unwrap()
            .starts_with("local-"),
        "{running}"
    );
    let ui = running["sparkUiUrl"].as_str().unwrap().to_string();
    assert!(ui.starts_with("http://"), "{running}");
    let port = ui.rsplit(':').next().unwrap();
    let apps: serde_json::Value =
        reqwest::get(format!("http://127.0.0.1:{port}/api/v1/applications"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(
        apps[0]["id"], running["applicationId"],
        "the UI link leads to this application"
    );
    let native = app
        .runs()
        .get(&job)
        .send()
        .await
        .json::<sluice_types::RunView>();
    let native_app_id = native.spark.as_ref().and_then(|s| s.app_id.as_deref());
    assert_eq!(
        native_app_id,
        running["applicationId"].as_str(),
        "{native:?}"
    );
    post(code("/Cancel"), json!({"jobId": job}))
        .expect_json(200)
        .await;
    let done = app.wait_end(&job, 60).await;
    assert_eq!(done.state, "stopped");
    let text = get(code(&format!("/JobStatus/{job}"))).send().await.text;
    assert!(text.contains("\"CANCELLED\""), "{text}");
    assert!(text.contains("\"KILLED\""), "{text}");
    eventually(secs(10), async || {
        let left = processes_with("sluice-sleepy-1") == 0;
        left.then_some(())
            .ok_or("a JVM of the cancelled job is left")
    })
    .await;
    // Errors: unknown ids, missing fields, a job that is not a Spark application.
    get(code("/JobStatus/nope")).expect_status(404).await;
    get(code("/SparkTaskStatus/nope")).expect_status(404).await;
    post(code("/Start"), json!({"codeTaskId": "nope"}))
        .expect_json(404)
        .await;
    post(code(""), json!({"codeTaskName": "x"}))
        .expect_json(400)
        .await;
}

const JAVA_APP: &str = r#"package demo;

import org.apache.spark.sql.SparkSession;

public class Squares {
    public static void main(String[] args) {
        SparkSession spark = SparkSession.builder().getOrCreate();
        long n = Long.parseLong(args[0]);
        long total = spark.range(1, n + 1).selectExpr("sum(id * id)").first().getLong(0);
        System.out.println(args[1] + " " + total);
        spark.stop();
        if (total < 0) System.exit(2);
    }
}
"#;

/// A Java Spark application compiled here against the jars PySpark ships, run as a code task with
/// its main class and arguments.
#[tokio::test]
async fn a_java_spark_application_runs_with_its_main_class_and_arguments() {
    let Some(home) = spark_home() else { return };
    let defs = defs_dir(&[("src/demo/Squares.java", JAVA_APP)]);
    let src = defs.path().join("src");
    let classes = defs.path().join("classes");
    let javac = std::process::Command::new("javac")
        .arg("-cp")
        .arg(format!("{}/jars/*", home.display()))
        .arg("-d")
        .arg(&classes)
        .arg(src.join("demo/Squares.java"))
        .output()
        .expect("javac (Java 17) is installed");
    assert!(
        javac.status.success(),
        "{}",
        String::from_utf8_lossy(&javac.stderr)
    );
    let jar = std::process::Command::new("jar")
        .arg("cf")
        .arg(defs.path().join("squares.jar"))
        .arg("-C")
        .arg(&classes)
        .arg(".")
        .output()
        .unwrap();
    assert!(jar.status.success());
    std::fs::write(
        defs.path().join("squares.toml"),
        "type = \"CODE\"\nengine = \"spark\"\napplication = \"squares.jar\"\nmain_class = \"demo.Squares\"\n\
         args = [\"${n}\", \"sum of squares:\"]\n[conf]\n\"spark.ui.enabled\" = \"false\"\n[parameters]\nn = \"100\"\n",
    )
    .unwrap();
    let home = home.display().to_string();
    let app = TestApp::spawn_with(defs.path(), None, &[("SPARK_HOME", home.as_str())]).await;
    let run = app.start_run("squares", &[("n", "1000")]).await;
    let done = app.wait_end(&run, 240).await;
    assert_eq!(done.state, "completed", "{done:?}");
    let lines = app.messages(&done, "info").await;
    // 1² + ... + 1000² = 1000·1001·2001/6
    assert!(
        lines.iter().any(|m| m == "sum of squares: 333833500"),
        "the application's output"
    );
}
