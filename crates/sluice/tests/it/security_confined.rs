//! Security findings, part 3: what a task defined through an API may reach. Code runs only in a
//! runtime environment the operator granted the org, only the programs it allows, never with the
//! server's environment; files stay inside the org's roots, absolute paths, `..` and links out
//! refused when saved and when run; connections name only granted directories and variables.

use super::support::*;
use serde_json::{Value, json};
use sluice_types::{RunView, TaskView};
use std::path::Path;

fn config(tmp: &Path) -> String {
    let jobs = tmp.join("jobs");
    let shared = tmp.join("shared");
    format!(
        r#"
[runtime_environments.jobs]
programs = ["/usr/bin/env", "/usr/bin/id"]
working_dir = "{jobs}"
env = {{ JOB_FLAVOUR = "plain" }}
orgs = ["acme"]

[runtime_environments.as_nobody]
programs = ["/usr/bin/id"]
working_dir = "{jobs}"
user = "nobody"
orgs = ["acme"]

[runtime_environments.elsewhere]
programs = ["/usr/bin/env"]
working_dir = "{jobs}"
orgs = ["someone-else"]

[orgs.acme]
file_roots = ["{shared}"]
env = ["ACME_PW"]
"#,
        jobs = jobs.display(),
        shared = shared.display()
    )
}

struct Acme<'a> {
    app: &'a TestApp,
    admin: String,
    designer: String,
}

impl Acme<'_> {
    fn designer(&self) -> Api<'_> {
        self.app.signed_in_as(&self.designer)
    }

    /// Saves a task as the designer.
    fn task(&self, task: Value) -> Call<TaskView> {
        self.designer().tasks().create(task)
    }

    /// Runs a task as the designer and waits for its end.
    async fn run(&self, task: &str, params: &[(&str, &str)]) -> RunView {
        let run = self.designer().start_run(task, params).await;
        self.designer().wait_end(&run, 120).await
    }

    /// The run's whole log (debug and up), one message a line.
    async fn log(&self, run: &RunView) -> String {
        self.designer().messages(run, "debug").await.join("\n")
    }
}

fn code(name: &str, def: Value) -> Value {
    json!({"folder": "code", "name": name, "type": "CODE", "allow_parallel": true, "definition": def})
}

#[tokio::test]
async fn api_defined_code_and_files_stay_where_the_operator_allows() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("jobs")).unwrap();
    std::fs::create_dir_all(tmp.path().join("shared/landing")).unwrap();
    std::fs::write(tmp.path().join("shared/landing/in.csv"), "a\n7\n").unwrap();
    let cfg = tmp.path().join("sluice.toml");
    std::fs::write(&cfg, config(tmp.path())).unwrap();
    let app = TestApp::spawn_with(
        &examples_dir(),
        None,
        &[
            ("SLUICE_CONFIG", cfg.to_str().unwrap()),
            ("ACME_PW", "acme-secret"),
        ],
    )
    .await;
    let _ = app.orgs().create("acme").send().await;
    let acme = Acme {
        app: &app,
        admin: app.user_with_role("acme", "acme-boss", "admin").await,
        designer: app.user_with_role("acme", "acme-dev", "designer").await,
    };
    code_runs_only_where_granted(&acme).await;
    files_stay_inside_the_org(&acme, tmp.path()).await;
    connections_reach_only_granted_places(&acme, tmp.path()).await;
}

async fn code_runs_only_where_granted(acme: &Acme<'_>) {
    // The finding: any user ran `sh`. Now: no environment, one not granted, a program not allowed.
    for (def, why) in [
        (
            json!({"engine": "process", "program": "sh", "args": ["-c", "id"]}),
            "must name a runtime environment",
        ),
        (
            json!({"engine": "process", "program": "/usr/bin/env", "runtime_environment": "elsewhere"}),
            "not granted",
        ),
        (
            json!({"engine": "process", "program": "/bin/sh", "runtime_environment": "jobs"}),
            "not among the programs",
        ),
        (
            json!({"engine": "process", "program": "/usr/bin/env", "runtime_environment": "jobs", "working_dir": "../.."}),
            "working_dir",
        ),
        (
            json!({"engine": "spark", "application": "a.py", "runtime_environment": "jobs"}),
            "does not run Spark",
        ),
    ] {
        let e = acme.task(code("bad", def)).expect_error(422).await;
        assert!(e.message.contains(why), "{why}: {e:?}");
    }
    // Allowed: its environment is only the basics, the environment's and the task's own.
    acme.task(code(
        "env",
        json!({"engine": "process", "program": "/usr/bin/env", "runtime_environment": "jobs",
               "env": {"MINE": "1"}}),
    ))
    .expect(201)
    .await;
    let run = acme.run("code/env", &[]).await;
    assert_eq!(run.state, "completed", "{run:?}");
    let log = acme.log(&run).await;
    for expected in ["JOB_FLAVOUR=plain", "MINE=1", "PATH="] {
        assert!(log.contains(expected), "{expected} in {log}");
    }
    for leaked in [ADMIN_PASSWORD, "SLUICE_", "ACME_PW", "acme-secret"] {
        assert!(!log.contains(leaked), "{leaked} leaked into {log}");
    }
    // A program chosen by a parameter is checked once it has its value.
    acme.task(code(
        "chosen",
        json!({"engine": "process", "program": "${prog}", "runtime_environment": "jobs"}),
    ))
    .expect(201)
    .await;
    let run = acme.run("code/chosen", &[("prog", "/bin/sh")]).await;
    assert_eq!(run.state, "failed");
    assert!(
        run.error
            .as_deref()
            .unwrap()
            .contains("not among the programs"),
        "{run:?}"
    );
    // Programs run as the environment's OS user.
    acme.task(code(
        "who",
        json!({"engine": "process", "program": "/usr/bin/id", "runtime_environment": "as_nobody"}),
    ))
    .expect(201)
    .await;
    let run = acme.run("code/who", &[]).await;
    assert_eq!(run.state, "completed", "{run:?}");
    assert!(acme.log(&run).await.contains("uid=65534"), "runs as nobody");
}

fn copy(name: &str, source: Value, target: &str) -> Value {
    json!({"folder": "files", "name": name, "type": "MTT", "allow_parallel": true,
           "definition": {"sources": [source], "target": {"format": "csv", "path": target}}})
}

async fn files_stay_inside_the_org(acme: &Acme<'_>, tmp: &Path) {
    let app = acme.app;
    let area = acme.designer().org_area().await;
    std::fs::write(area.join("in.csv"), "a\n1\n").unwrap();
    // The finding: `/etc/passwd` was read. Refused when saved, in every spelling.
    for path in ["/etc/passwd", "../../../../etc/passwd", "in/../../x.csv"] {
        let src = json!({"name": "s", "format": "csv", "path": path});
        let answer = acme.task(copy("bad", src, "out.csv")).send().await;
        assert_eq!(answer.status, 422, "{path}: {}", answer.text);
    }
    let answer = acme
        .task(copy(
            "bad",
            json!({"name": "s", "format": "csv", "path": "in.csv"}),
            "/tmp/x.csv",
        ))
        .send()
        .await;
    assert_eq!(answer.status, 422, "an absolute target: {}", answer.text);
    // And when run, after parameters, and through a link out of the area.
    acme.task(copy(
        "param",
        json!({"name": "s", "format": "csv", "path": "${p}"}),
        "out/p.csv",
    ))
    .expect(201)
    .await;
    std::os::unix::fs::symlink("/etc", area.join("etc_link")).unwrap();
    for p in ["/etc/passwd", "etc_link/passwd", "../../admin-password"] {
        let run = acme.run("files/param", &[("p", p)]).await;
        assert_eq!(run.state, "failed", "{p}: {run:?}");
        let error = run.error.as_deref().unwrap();
        assert!(error.contains("relative path inside"), "{p}: {error}");
    }
    // A good run writes into the org's area; its messages show no server directory.
    let run = acme.run("files/param", &[("p", "in.csv")]).await;
    assert_eq!(run.state, "completed", "{run:?}");
    assert_eq!(
        std::fs::read_to_string(area.join("out/p.csv")).unwrap(),
        "a\n1\n"
    );
    let run = acme.run("files/param", &[("p", "missing.csv")]).await;
    assert_eq!(run.state, "failed");
    let said = format!("{:?}\n{}", run.error, acme.log(&run).await);
    let data_dir = app.data_dir.canonicalize().unwrap();
    for dir in [data_dir.display().to_string(), tmp.display().to_string()] {
        assert!(!said.contains(&dir), "{dir} shown in {said}");
    }
}

async fn connections_reach_only_granted_places(acme: &Acme<'_>, tmp: &Path) {
    let admin = acme.app.signed_in_as(&acme.admin);
    let post = |c: Value| admin.connections().create(c).send();
    let shared = tmp.join("shared").display().to_string();
    for bad in [
        json!({"name": "root", "type": "files", "config": {"path": "/"}}),
        json!({"name": "up", "type": "files", "config": {"path": "../.."}}),
        json!({"name": "db", "type": "sqlite", "config": {"path": "/etc/x.db"}}),
        json!({"name": "pw", "type": "postgres",
               "config": {"host": "127.0.0.1", "password": {"env": "SLUICE_ADMIN_PASSWORD"}}}),
    ] {
        let answer = post(bad.clone()).await;
        assert_eq!(answer.status, 422, "{bad}: {}", answer.text);
    }
    for good in [
        json!({"name": "landing", "type": "files", "config": {"path": format!("{shared}/landing")}}),
        json!({"name": "mine", "type": "files", "config": {"path": "mine"}}),
        json!({"name": "pg", "type": "postgres",
               "config": {"host": "127.0.0.1", "user": "postgres", "password": {"env": "ACME_PW"}}}),
    ] {
        let answer = post(good.clone()).await;
        assert_eq!(answer.status, 201, "{good}: {}", answer.text);
    }
    let src = json!({"name": "s", "format": "csv", "path": "in.csv", "connection": "landing"});
    acme.task(copy("shared", src, "from_shared.csv"))
        .expect(201)
        .await;
    let run = acme.run("files/shared", &[]).await;
    assert_eq!(run.state, "completed", "{run:?}");
}
