//! `spark` code tasks on a two-process Spark standalone cluster on loopback (`spark://`): the job
//! runs there, and a cancel ends its application on the master and its driver on this node.

use super::support::*;

/// A Spark standalone cluster on loopback: a master and one worker, killed on drop.
struct Cluster {
    procs: Vec<std::process::Child>,
    master: String,
    ui: String,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for p in &mut self.procs {
            let _ = p.kill();
            let _ = p.wait();
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn cluster(home: &std::path::Path) -> Cluster {
    let class = home.join("bin/spark-class");
    let (port, ui, worker_ui) = (free_port(), free_port(), free_port());
    let spawn = |args: Vec<String>| {
        std::process::Command::new(&class)
            .args(args)
            .env("SPARK_HOME", home)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    let master = format!("spark://127.0.0.1:{port}");
    let procs = vec![
        spawn(vec![
            "org.apache.spark.deploy.master.Master".into(),
            "--host".into(),
            "127.0.0.1".into(),
            "--port".into(),
            port.to_string(),
            "--webui-port".into(),
            ui.to_string(),
        ]),
        spawn(vec![
            "org.apache.spark.deploy.worker.Worker".into(),
            master.clone(),
            "--host".into(),
            "127.0.0.1".into(),
            "--cores".into(),
            "1".into(),
            "--memory".into(),
            "1g".into(),
            "--webui-port".into(),
            worker_ui.to_string(),
        ]),
    ];
    let c = Cluster {
        procs,
        master,
        ui: format!("http://127.0.0.1:{ui}/json/"),
    };
    eventually(secs(120), async || {
        if let Ok(r) = reqwest::get(&c.ui).await
            && let Ok(state) = r.json::<serde_json::Value>().await
            && state["aliveworkers"] == 1
        {
            return Ok(());
        }
        Err("the cluster did not come up")
    })
    .await;
    c
}

/// The same kind of job over `spark://` on a two-process standalone cluster; a cancel leaves no
/// application running on the master and no driver on this node.
#[tokio::test]
async fn a_standalone_cluster_runs_the_job_and_a_cancel_ends_its_application() {
    let Some(home) = spark_home() else { return };
    let c = cluster(&home).await;
    let defs = defs_dir(&[
        (
            "sum.py",
            "import sys\nfrom pyspark.sql import SparkSession\nspark = SparkSession.builder.getOrCreate()\n\
             print('sum:', spark.range(int(sys.argv[1])).groupBy().sum().collect()[0][0])\nspark.stop()\n",
        ),
        (
            "wait.py",
            "import time\nfrom pyspark.sql import SparkSession\nspark = SparkSession.builder.getOrCreate()\n\
             spark.range(10).count()\nprint('ready', flush=True)\ntime.sleep(600)\n",
        ),
    ]);
    for (name, app, args) in [
        ("cluster_sum", "sum.py", "[\"1000\"]"),
        ("cluster_wait", "wait.py", "[]"),
    ] {
        std::fs::write(
            defs.path().join(format!("{name}.toml")),
            format!(
                "type = \"CODE\"\nengine = \"spark\"\napplication = \"{app}\"\nargs = {args}\nmaster = \"{}\"\n\
                 executor_memory = \"512m\"\n[conf]\n\"spark.ui.enabled\" = \"false\"\n",
                c.master
            ),
        )
        .unwrap();
    }
    let home = home.display().to_string();
    let app = TestApp::spawn_with(defs.path(), None, &[("SPARK_HOME", home.as_str())]).await;
    let run = app.start_run("cluster_sum", &[]).await;
    let done = app.wait_end(&run, 240).await;
    assert_eq!(done.state, "completed", "{done:?}");
    let lines = app.messages(&done, "info").await;
    assert!(lines.iter().any(|m| m == "sum: 499500"));
    // The cluster named the application; its id and jobs are on the run (read from the driver's
    // log: this task turned the UI off).
    let spark = done.spark.as_ref().unwrap();
    assert!(
        spark.app_id.as_deref().unwrap().starts_with("app-"),
        "{spark:?}"
    );
    assert_eq!(spark.state, "succeeded", "{spark:?}");
    assert!(spark.jobs.completed >= 1, "{spark:?}");
    assert_eq!(spark.jobs.completed, spark.jobs.total, "{spark:?}");
    assert_eq!(spark.ui_url, None, "{spark:?}");
    let state: serde_json::Value = reqwest::get(&c.ui).await.unwrap().json().await.unwrap();
    assert_eq!(
        state["completedapps"].as_array().unwrap().len(),
        1,
        "{state}"
    );

    let run = app.start_run("cluster_wait", &[]).await;
    eventually(secs(240), async || {
        let ready = app
            .messages(&run, "info")
            .await
            .iter()
            .any(|m| m == "ready");
        ready.then_some(()).ok_or("never ready")
    })
    .await;
    let state: serde_json::Value = reqwest::get(&c.ui).await.unwrap().json().await.unwrap();
    assert_eq!(
        state["activeapps"].as_array().unwrap().len(),
        1,
        "running on the cluster: {state}"
    );
    let _ = app.runs().stop(&run, Some("graceful")).send().await;
    let stopped = app.wait_end(&run, 60).await;
    assert_eq!(stopped.state, "stopped");
    let spark = stopped.spark.as_ref().unwrap();
    assert_eq!(spark.state, "killed", "{stopped:?}");
    eventually(secs(60), async || {
        let state: serde_json::Value = reqwest::get(&c.ui).await.unwrap().json().await.unwrap();
        if state["activeapps"].as_array().unwrap().is_empty() {
            Ok(())
        } else {
            Err(format!("the application outlived the cancel: {state}"))
        }
    })
    .await;
    assert_eq!(
        processes_with("sluice-cluster_wait-1"),
        0,
        "no driver left on this node"
    );
}
