//! Code tasks with the `process` engine: output streamed into the log as it is printed, the exit
//! status deciding the outcome, graceful and immediate stops that leave no child behind, a timeout,
//! a program that is not there, and a hostile parameter value that stays one argument.

use super::support::*;
use serde_json::json;
use sluice_types::RunView;
use std::path::Path;

fn process(program: &str, args: &[&str], extra: &str) -> String {
    let args: Vec<String> = args.iter().map(|a| format!("{a:?}")).collect();
    format!(
        "type = \"CODE\"\nallow_parallel = true\nengine = \"process\"\nprogram = \"{program}\"\nargs = [{}]\n{extra}",
        args.join(", ")
    )
}

async fn until_logged(app: &TestApp, run: &RunView, text: &str) {
    eventually(secs(30), async || {
        let logged = app.messages(run, "debug").await.iter().any(|m| m == text);
        logged.then_some(()).ok_or(format!("`{text}` never logged"))
    })
    .await
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
    let app = TestApp::spawn_with(defs.path(), None, &[]).await;

    // The first line is readable while the program still runs.
    let run = app.start_run("chatty", &[]).await;
    until_logged(&app, &run, "one").await;
    let now = app.runs().get(&run).expect(200).await;
    assert_eq!(now.state, "running", "{now:?}");
    let _ = app.runs().stop(&run, Some("immediate")).send().await;
    assert_eq!(app.wait_end(&run, 30).await.state, "stopped");

    let run = app.start_run("ok", &[]).await;
    let done = app.wait_end(&run, 30).await;
    assert_eq!(done.state, "completed", "{done:?}");
    let warn = app.messages(&done, "warn").await;
    assert!(
        warn.contains(&"careful".to_string()),
        "stderr is a warning: {warn:?}"
    );
    assert!(
        app.messages(&done, "info")
            .await
            .contains(&"done".to_string())
    );

    let run = app.start_run("fails", &[]).await;
    let done = app.wait_end(&run, 30).await;
    assert_eq!(done.state, "failed");
    assert!(
        done.error
            .as_deref()
            .unwrap()
            .contains("exited with status 3"),
        "{done:?}"
    );
    assert!(
        app.messages(&done, "warn")
            .await
            .contains(&"about to fail".to_string())
    );

    let run = app.start_run("missing", &[]).await;
    let done = app.wait_end(&run, 30).await;
    assert_eq!(done.state, "failed");
    assert!(
        done.error
            .as_deref()
            .unwrap()
            .contains("could not start `/no/such/program`"),
        "{done:?}"
    );

    let run = app.start_run("slow", &[]).await;
    let done = app.wait_end(&run, 60).await;
    assert_eq!(done.state, "failed");
    assert!(
        done.error.as_deref().unwrap().contains("timeout of 1 s"),
        "{done:?}"
    );

    // A value made to break out of a shell is one argument, printed as it is.
    let marker = std::env::temp_dir().join(format!("sluice-pwned-{}", std::process::id()));
    let hostile = format!("x; touch {0} $(touch {0}) `touch {0}`", marker.display());
    let run = app.start_run("echo", &[("value", &hostile)]).await;
    let done = app.wait_end(&run, 30).await;
    assert_eq!(done.state, "completed", "{done:?}");
    assert!(app.messages(&done, "info").await.contains(&hostile));
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
    let app = TestApp::spawn_with(defs.path(), None, &[]).await;
    for mode in ["graceful", "immediate"] {
        let _ = std::fs::remove_file(&pidfile);
        let run = app.start_run("family", &[]).await;
        until_logged(&app, &run, "started").await;
        let child = std::fs::read_to_string(&pidfile).unwrap();
        assert!(alive(&child));
        app.runs().stop(&run, Some(mode)).expect(200).await;
        let done = app.wait_end(&run, 30).await;
        assert_eq!(done.state, "stopped", "{mode}: {done:?}");
        eventually(secs(5), async || {
            if alive(&child) {
                Err(format!("{mode}: the child {child} outlived the run"))
            } else {
                Ok(())
            }
        })
        .await;
    }
}

#[tokio::test]
async fn the_bundled_process_example_runs_and_iics_jobs_refuse_code_tasks() {
    let app = TestApp::spawn().await;
    let run = app
        .start_run("code/hello_process", &[("greeting", "hi; rm -rf /")])
        .await;
    let done = app.wait_end(&run, 30).await;
    assert_eq!(done.state, "completed", "{done:?}");
    let lines = app.messages(&done, "info").await;
    assert!(
        lines.contains(&"Hello from hello_process, run 1: hi; rm -rf /".to_string()),
        "{lines:?}"
    );
    let c = app.iics().await;
    let e = c
        .post(
            "/api/v2/job",
            json!({"taskName": "hello_process", "taskType": "CODE"}),
        )
        .expect(400)
        .await;
    assert!(
        e["description"].as_str().unwrap().contains("CodeTask"),
        "{e}"
    );
    // A program is no Spark application: no Spark status on the run, and the IICS Spark status
    // of its job is a clear 400.
    assert!(done.spark.is_none(), "{done:?}");
    let id = done.id;
    let e = c
        .get(&format!("/disnext/api/v1/CodeTask/SparkTaskStatus/{id}"))
        .expect(400)
        .await;
    assert!(
        e["description"]
            .as_str()
            .unwrap()
            .contains("not a Spark application"),
        "{e}"
    );
    let st = c
        .get(&format!("/disnext/api/v1/CodeTask/JobStatus/{id}"))
        .expect(200)
        .await;
    assert_eq!(st["executionState"], "SUCCEEDED", "{st}");
    assert_eq!(st["sparkApplicationState"], serde_json::Value::Null, "{st}");
}
