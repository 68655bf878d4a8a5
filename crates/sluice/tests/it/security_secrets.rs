//! Secrets at rest: a connection's password is in no file of the data directory (database,
//! write-ahead log, server log), yet the connection works; `sluice secrets rotate` seals it with a
//! new key; a server without the key refuses to start instead of running blind.

use super::support::*;
use serde_json::json;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

/// The files under `dir` whose bytes contain `needle`.
fn files_holding(dir: &Path, needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if std::fs::read(&path)
                .unwrap()
                .windows(needle.len())
                .any(|w| w == needle.as_bytes())
            {
                found.push(path.display().to_string());
            }
        }
    }
    found
}

fn sluice(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sluice"));
    cmd.args(args).stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

#[tokio::test]
async fn connection_secrets_are_sealed_at_rest_and_rotate() {
    let Some(mut db) = mysql().await else { return };
    use mysql_async::prelude::Queryable;
    let tag = table_name("sec");
    let password = format!("pw-{tag}-only-in-the-request");
    let secret = format!("masking-key-{tag}");
    db.query_drop(format!("DROP USER IF EXISTS '{tag}'@'%'"))
        .await
        .unwrap();
    db.query_drop(format!(
        "CREATE USER '{tag}'@'%' IDENTIFIED BY '{password}'"
    ))
    .await
    .unwrap();
    db.query_drop(format!("GRANT SELECT ON test.* TO '{tag}'@'%'"))
        .await
        .unwrap();

    let defs = defs_dir(&[]);
    let data = tempfile::tempdir().unwrap();
    let mut app = TestApp::spawn_with(defs.path(), Some(data.path()), &[]).await;
    let created = [
        json!({"name": "mdb", "type": "mysql", "config": {"host": "127.0.0.1", "port": 3306,
               "database": "test", "user": tag, "password": password}}),
        json!({"name": "key", "type": "secret", "config": {"secret": secret}}),
    ];
    for c in created {
        let answer = app.connections().create(c).expect_status(201).await;
        assert!(!answer.text.contains(&password), "{}", answer.text);
    }
    // The sealed password opens where it is used: MariaDB accepts it.
    let ok = app.connections().check("mdb").expect(200).await;
    assert!(ok.ok, "{ok:?}");
    let shown = app.connections().get("mdb").expect(200).await;
    assert_eq!(shown.config["password"], "***", "{shown:?}");

    let key_file = data.path().join("secret.key");
    let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    for needle in [&password, &secret] {
        let found = files_holding(data.path(), needle);
        assert!(found.is_empty(), "plain secret in {found:?}");
    }

    // Rotation needs the server stopped: it must not hold the key while it changes.
    let dir = data.path().to_str().unwrap();
    let busy = sluice(&["secrets", "rotate", "--data-dir", dir], &[]);
    assert!(!busy.status.success());
    assert!(String::from_utf8_lossy(&busy.stderr).contains("stop the server first"));
    assert!(app.terminate().await.success());

    let old_key = std::fs::read_to_string(&key_file).unwrap();
    let rotated = sluice(&["secrets", "rotate", "--data-dir", dir], &[]);
    let said = String::from_utf8_lossy(&rotated.stdout);
    assert!(rotated.status.success(), "{rotated:?}");
    assert!(said.contains("sealed with the new key"), "{said}");
    assert_ne!(std::fs::read_to_string(&key_file).unwrap(), old_key);
    assert!(!data.path().join("secret.key.new").exists());

    // A server given a key that sealed nothing here says so and does not start.
    let stranger = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    let refused = sluice(
        &["serve", "--listen", "127.0.0.1:0", "--data-dir", dir],
        &[("SLUICE_SECRET_KEY", stranger)],
    );
    let why = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(why.contains("does not have"), "{why}");

    let app = TestApp::spawn_with(defs.path(), Some(data.path()), &[]).await;
    let ok = app.connections().check("mdb").expect(200).await;
    assert!(ok.ok, "after rotation: {ok:?}");
    for needle in [&password, &secret] {
        let found = files_holding(data.path(), needle);
        assert!(found.is_empty(), "plain secret in {found:?}");
    }
    drop(app);
    // The killed server's sessions go away once MariaDB notices; then the user can go.
    let sessions =
        format!("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = '{tag}'");
    eventually(secs(10), async || {
        let n: Option<i64> = db.query_first(&sessions).await.unwrap();
        n == Some(0)
    })
    .await;
    db.query_drop(format!("DROP USER '{tag}'@'%'"))
        .await
        .unwrap();
}
