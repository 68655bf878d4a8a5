//! `sluice runajob`: Informatica's command line against a running server, through the IICS API
//! only, with its exit codes for success, warning, failure, nowait, a start that fails and a bad
//! login; the login from restenv.properties.

use super::support::*;
use std::path::Path;
use std::process::Command;

const CSV: &str = "id,amount\n1,10.5\n2,abc\n3,7\n";

fn defs() -> tempfile::TempDir {
    let task = |sql: &str, out: &str| {
        format!(
            "type = \"MTT\"\n[[sources]]\nname = \"t\"\nformat = \"csv\"\npath = \"rows.csv\"\n\
             columns = [{{ name = \"id\", type = \"int64\" }}, {{ name = \"amount\", type = \"float64\" }}]\n\
             [transform]\nsql = \"{sql}\"\n[target]\nformat = \"csv\"\npath = \"${{sluice.data_dir}}/{out}.csv\"\n"
        )
    };
    defs_dir(&[
        ("rows.csv", CSV),
        (
            "jobs/clean.toml",
            &task("SELECT id FROM t WHERE id <> 2", "clean").replace("rows.csv", "clean.csv"),
        ),
        ("clean.csv", "id,amount\n1,1\n3,3\n"),
        (
            "jobs/some_bad_rows.toml",
            &task("SELECT id, amount FROM t", "some"),
        ),
        ("jobs/broken.toml", &task("SELECT nope FROM t", "broken")),
        (
            "jobs/flow.toml",
            "type = \"WORKFLOW\"\n[[steps]]\ntask = \"jobs/clean\"\n",
        ),
    ])
}

/// Runs `sluice runajob` in `cwd`; answers the exit code and what it printed.
fn runajob(cwd: &Path, args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .arg("runajob")
        .args(args)
        .current_dir(cwd)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap(), text)
}

#[tokio::test]
async fn runajob_exits_with_informaticas_codes() {
    let d = defs();
    let app = TestApp::spawn_with(d.path(), None, &[]).await;
    let cwd = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(cwd.path().join("conf")).unwrap();
    std::fs::write(
        cwd.path().join("conf/restenv.properties"),
        format!(
            "baseUrl={}/ma\nusername={ADMIN}\npassword={ADMIN_PASSWORD}\nACTIVITYMONITORWAIT=200\n",
            app.url
        ),
    )
    .unwrap();
    let dir = cwd.path();

    let (code, out) = runajob(
        dir,
        &["-t", "MTT", "-un", "clean", "-fp", "jobs", "-w", "true"],
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("completed"), "{out}");
    let (code, out) = runajob(dir, &["-t", "MTT", "-un", "some_bad_rows", "-fp", "/jobs"]);
    assert_eq!(code, 1, "completed with errors is a warning: {out}");
    let (code, out) = runajob(dir, &["-t", "mtt", "-n", "broken", "-w", "true"]);
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("nope"), "the job's error is shown: {out}");
    let (code, out) = runajob(dir, &["-t", "WORKFLOW", "-un", "flow", "-fp", "jobs"]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = runajob(
        dir,
        &["-t", "MTT", "-un", "clean", "-fp", "jobs", "-w", "nowait"],
    );
    assert_eq!(code, 6, "nowait answers running: {out}");
    let (code, out) = runajob(dir, &["-t", "MTT", "-un", "missing"]);
    assert_eq!(code, 7, "{out}");
    let (code, out) = runajob(dir, &["-t", "DSS", "-un", "clean", "-fp", "jobs"]);
    assert_eq!(code, 7, "the wrong type does not start: {out}");
    // The command line overrides the file: a bad password is an error (5).
    let (code, out) = runajob(
        dir,
        &["-t", "MTT", "-un", "clean", "-u", ADMIN, "-p", "wrong"],
    );
    assert_eq!(code, 5, "{out}");
    let (code, out) = runajob(dir, &["-t", "MTT"]);
    assert_eq!(code, 5, "{out}");
    // A server that is not there: RunAJob's exception code, -1.
    let (code, out) = runajob(
        dir,
        &["-t", "MTT", "-un", "clean", "-bu", "http://127.0.0.1:9/ma"],
    );
    assert_eq!(code, 255, "{out}");
}
