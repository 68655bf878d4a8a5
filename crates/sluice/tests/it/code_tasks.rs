//! Code tasks with the `process` engine: output streamed into the log as it is printed, the exit
//! status deciding the outcome, graceful and immediate stops that leave no child behind, a timeout,
//! a program that is not there, and a hostile parameter value that stays one argument.

use super::support::*;
use serde_json::{Value, json};
use std::path::Path;
use std::time::{Duration, Instant};

fn process(program: &str, args: &[&str], extra: &str) -> String {
    let args: Vec<String> = args.iter().map(|a| format!("{a:?}")).collect();
    format!(
        "type = \"CODE\"\nallow_parallel = true\nengine = \"process\"\nprogram = \"{program}\"\nargs = [{}]\n{extra}",
        args.join(", ")
    )
}

async fn messages(server: &TestServer, run: &Value, level: &str) -> Vec<String> {
    server
        .log(run, level)
        .await
        .iter()
        .map(|l| l["message"].as_str().unwrap().to_string())
        .collect()
}

async fn until_logged(server: &TestServer, run: &Value, text: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !messages(server, run, "debug")
        .await
        .iter()
        .any(|m| m == text)
    {
        assert!(Instant::now() < deadline, "`{text}` never logged");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn alive(pid: &str) -> bool {
    Path::new(&format!("/proc/{}", pid.trim())).exists()
}

#[tokio::test]
async fn a_process_streams_its_output_and_its_exit_status_decides() {
    let defs = defs_dir(&[
        (
            "code/chatty.toml",
            &process("/bin/sh", &["-c", "echo one; sleep 30; echo two"], ""),
        ),
        (
            "code/fails.toml",
            &process("/bin/sh", &["-c", "echo about to fail >&2; exit 3"], ""),
        ),
        (
            "code/ok.toml",
            &process("/bin/sh", &["-c", "echo done; echo careful >&2"], ""),
        ),
        ("code/missing.toml", &process("/no/such/program", &[], "")),
        (
            "code/slow.toml",
            &process("/bin/sleep", &["30"], "timeout_secs = 1\n"),
        ),
        ("code/echo.toml", &process("/bin/echo", &["${value}"], "")),
    ]);
    let server = TestServer::start_with(defs.path(), None, &[]).await;

    // The first line is readable while the program still runs.
    let run = server.start_run("chatty", json!({})).await;
    until_logged(&server, &run, "one").await;
    let (_, now) = server
        .get(&format!("/api/v1/runs/{}", run["id"].as_str().unwrap()))
        .await;
    assert_eq!(now["state"], "running", "{now}");
    server
        .post(
            &format!("/api/v1/runs/{}/stop", run["id"].as_str().unwrap()),
            json!({"mode": "immediate"}),
        )
        .await;
    assert_eq!(server.wait_end(&run, 30).await["state"], "stopped");

    let run = server.start_run("ok", json!({})).await;
    let done = server.wait_end(&run, 30).await;
    assert_eq!(done["state"], "completed", "{done}");
    let warn = messages(&server, &done, "warn").await;
    assert!(
        warn.contains(&"careful".to_string()),
        "stderr is a warning: {warn:?}"
    );
    assert!(
        messages(&server, &done, "info")
            .await
            .contains(&"done".to_string())
    );

    let run = server.start_run("fails", json!({})).await;
    let done = server.wait_end(&run, 30).await;
    assert_eq!(done["state"], "failed");
    assert!(
        done["error"]
            .as_str()
            .unwrap()
            .contains("exited with status 3"),
        "{done}"
    );
    assert!(
        messages(&server, &done, "warn")
            .await
            .contains(&"about to fail".to_string())
    );

    let run = server.start_run("missing", json!({})).await;
    let done = server.wait_end(&run, 30).await;
    assert_eq!(done["state"], "failed");
    assert!(
        done["error"]
            .as_str()
            .unwrap()
            .contains("could not start `/no/such/program`"),
        "{done}"
    );

    let run = server.start_run("slow", json!({})).await;
    let done = server.wait_end(&run, 60).await;
    assert_eq!(done["state"], "failed");
    assert!(
        done["error"].as_str().unwrap().contains("timeout of 1 s"),
        "{done}"
    );

    // A value made to break out of a shell is one argument, printed as it is.
    let marker = std::env::temp_dir().join(format!("sluice-pwned-{}", std::process::id()));
    let hostile = format!("x; touch {0} $(touch {0}) `touch {0}`", marker.display());
    let run = server.start_run("echo", json!({"value": hostile})).await;
    let done = server.wait_end(&run, 30).await;
    assert_eq!(done["state"], "completed", "{done}");
    assert!(messages(&server, &done, "info").await.contains(&hostile));
    assert!(!marker.exists(), "the value was executed");
}

#[tokio::test]
async fn stops_end_the_whole_process_group() {
    let work = tempfile::tempdir().unwrap();
    let pidfile = work.path().join("child.pid");
    // A program that starts a child and waits; on SIGTERM the shell itself ignores nothing.
    let script = format!(
        "sleep 300 & echo $! > {}; echo started; wait",
        pidfile.display()
    );
    let defs = defs_dir(&[(
        "code/family.toml",
        &process("/bin/sh", &["-c", &script], "stop_grace_secs = 2\n"),
    )]);
    let server = TestServer::start_with(defs.path(), None, &[]).await;
    for mode in ["graceful", "immediate"] {
        let _ = std::fs::remove_file(&pidfile);
        let run = server.start_run("family", json!({})).await;
        until_logged(&server, &run, "started").await;
        let child = std::fs::read_to_string(&pidfile).unwrap();
        assert!(alive(&child));
        let id = run["id"].as_str().unwrap();
        let (s, _) = server
            .post(&format!("/api/v1/runs/{id}/stop"), json!({"mode": mode}))
            .await;
        assert_eq!(s, 200);
        let done = server.wait_end(&run, 30).await;
        assert_eq!(done["state"], "stopped", "{mode}: {done}");
        let deadline = Instant::now() + Duration::from_secs(5);
        while alive(&child) {
            assert!(
                Instant::now() < deadline,
                "{mode}: the child {child} outlived the run"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[tokio::test]
async fn the_bundled_process_example_runs_and_iics_jobs_refuse_code_tasks() {
    let server = TestServer::start().await;
    let run = server
        .start_run("code/hello_process", json!({"greeting": "hi; rm -rf /"}))
        .await;
    let done = server.wait_end(&run, 30).await;
    assert_eq!(done["state"], "completed", "{done}");
    let lines = messages(&server, &done, "info").await;
    assert!(
        lines.contains(&"Hello from hello_process, run 1: hi; rm -rf /".to_string()),
        "{lines:?}"
    );
    let c = super::iics_jobs::Iics::login(&server).await;
    let (s, e) = c
        .post(
            "/api/v2/job",
            json!({"taskName": "hello_process", "taskType": "CODE"}),
        )
        .await;
    assert_eq!(s, 400, "{e}");
    assert!(
        e["description"].as_str().unwrap().contains("CodeTask"),
        "{e}"
    );
    // A program is no Spark application: no Spark status on the run, and the IICS Spark status
    // of its job is a clear 400.
    assert!(done.get("spark").is_none(), "{done}");
    let id = done["id"].as_str().unwrap();
    let (s, e) = c
        .get(&format!("/disnext/api/v1/CodeTask/SparkTaskStatus/{id}"))
        .await;
    assert_eq!(s, 400, "{e}");
    assert!(
        e["description"]
            .as_str()
            .unwrap()
            .contains("not a Spark application"),
        "{e}"
    );
    let (s, st) = c
        .get(&format!("/disnext/api/v1/CodeTask/JobStatus/{id}"))
        .await;
    assert_eq!(s, 200, "{st}");
    assert_eq!(st["executionState"], "SUCCEEDED", "{st}");
    assert_eq!(st["sparkApplicationState"], serde_json::Value::Null, "{st}");
}
