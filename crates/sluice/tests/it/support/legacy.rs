//! The harness before `TestApp`: `(status, JSON)` calls, kept only while tests move off it.

use super::{ADMIN, ADMIN_PASSWORD, examples_dir};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct TestServer {
    child: Option<Child>,
    pub url: String,
    pub data_dir: PathBuf,
    pub token: String,
    pub http: reqwest::Client,
    _tmp: Option<tempfile::TempDir>,
}

impl TestServer {
    /// A server on the bundled examples and a fresh data directory.
    pub async fn start() -> TestServer {
        Self::start_with(&examples_dir(), None, &[]).await
    }

    /// A server on `defs`, with `data_dir` (a fresh one when None) and extra environment.
    pub async fn start_with(
        defs: &Path,
        data_dir: Option<&Path>,
        env: &[(&str, &str)],
    ) -> TestServer {
        let (tmp, data_dir) = match data_dir {
            Some(d) => (None, d.to_path_buf()),
            None => {
                let t = tempfile::tempdir().unwrap();
                let d = t.path().to_path_buf();
                (Some(t), d)
            }
        };
        std::fs::create_dir_all(&data_dir).unwrap();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(data_dir.join("server.log"))
            .unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_sluice"));
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(&data_dir)
            .arg("--definitions")
            .arg(defs)
            .env("SLUICE_ADMIN_USER", ADMIN)
            .env("SLUICE_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("SLUICE_WORKER__HEARTBEAT_MS", "200")
            .env("SLUICE_WORKER__SHUTDOWN_GRACE_SECS", "5")
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(log);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("the sluice binary starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("sluice listening on ") {
                    let _ = tx.send(url.to_string());
                }
            }
        });
        let url = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| {
                let log = std::fs::read_to_string(data_dir.join("server.log")).unwrap_or_default();
                panic!("the server did not start:\n{log}")
            });
        let http = reqwest::Client::new();
        let login: Value = http
            .post(format!("{url}/api/v1/auth/login"))
            .json(&json!({"username": ADMIN, "password": ADMIN_PASSWORD}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = login["token"]
            .as_str()
            .expect("login answers a token")
            .to_string();
        TestServer {
            child: Some(child),
            url,
            data_dir,
            token,
            http,
            _tmp: tmp,
        }
    }

    /// kill -9: no chance to clean up.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }

    /// SIGTERM, then wait for the process to exit.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let mut c = self.child.take().unwrap();
        Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = c.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the server did not exit after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn server_log(&self) -> String {
        std::fs::read_to_string(self.data_dir.join("server.log")).unwrap_or_default()
    }

    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        self.call_as(&self.token.clone(), method, path, body).await
    }

    pub async fn call_as(
        &self,
        token: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, value)
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    /// Starts a run; panics unless it was accepted.
    pub async fn start_run(&self, task: &str, params: Value) -> Value {
        let (status, run) = self
            .post("/api/v1/runs", json!({"task": task, "parameters": params}))
            .await;
        assert_eq!(status, 201, "start {task}: {run}");
        run
    }

    /// Waits until the run ended (up to `secs`).
    pub async fn wait_end(&self, run: &Value, secs: u64) -> Value {
        let id = run["id"].as_str().unwrap();
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let (status, r) = self
                .get(&format!("/api/v1/runs/{id}/wait?timeout=10"))
                .await;
            assert_eq!(status, 200, "{r}");
            if r["finished"] == true {
                return r;
            }
            assert!(Instant::now() < deadline, "run did not end in {secs}s: {r}");
        }
    }

    /// Polls until `pred` holds for the run (up to `secs`).
    pub async fn wait_for(&self, run: &Value, secs: u64, pred: impl Fn(&Value) -> bool) -> Value {
        let id = run["id"].as_str().unwrap();
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let (_, r) = self.get(&format!("/api/v1/runs/{id}")).await;
            if pred(&r) {
                return r;
            }
            assert!(
                Instant::now() < deadline,
                "condition not reached in {secs}s: {r}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The file area of the org of the user behind `token` (`<data_dir>/files/<org id>`), where
    /// that org's API-defined tasks read and write; created empty.
    pub async fn org_area(&self, token: &str) -> PathBuf {
        let (status, me) = self
            .call_as(token, reqwest::Method::GET, "/api/v1/me", None)
            .await;
        assert_eq!(status, 200, "{me}");
        let area = self
            .data_dir
            .join("files")
            .join(me["org_id"].as_str().unwrap());
        std::fs::create_dir_all(&area).unwrap();
        area
    }

    /// A new IICS session of `user` (v2 login).
    pub async fn iics_session(&self, user: &str, password: &str) -> String {
        let (status, login) = self
            .post(
                "/ma/api/v2/user/login",
                json!({"@type": "login", "username": user, "password": password}),
            )
            .await;
        assert_eq!(status, 200, "{login}");
        login["icSessionId"].as_str().unwrap().to_string()
    }

    /// All log lines of a run at `level` or above.
    pub async fn log(&self, run: &Value, level: &str) -> Vec<Value> {
        let id = run["id"].as_str().unwrap();
        let (status, page) = self
            .get(&format!("/api/v1/runs/{id}/log?level={level}&limit=5000"))
            .await;
        assert_eq!(status, 200, "{page}");
        page["lines"].as_array().unwrap().clone()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
