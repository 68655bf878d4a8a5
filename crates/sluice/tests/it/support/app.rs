//! A test server: the real `sluice` binary on a random port with its own data directory, signed
//! in as the admin; stopped (SIGKILL) when dropped. Its API calls go through [`Api`], which this
//! hands out as the admin, as another user, or as nobody.

use super::api::{Api, RunRef};
use super::call::Call;
use super::eventually::{eventually, secs};
use super::resources::{Auth, Connections, Orgs, Runs, Tasks, Users};
use super::{ADMIN, ADMIN_PASSWORD, examples_dir};
use reqwest::Method;
use serde::Serialize;
use sluice_types::{AuditList, LogLineView, LoginResponse, RunView};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct TestApp {
    child: Option<Child>,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    pub data_dir: PathBuf,
    /// The admin's session token.
    pub token: String,
    pub http: reqwest::Client,
    _tmp: Option<tempfile::TempDir>,
}

impl TestApp {
    /// A server on the bundled examples and a fresh data directory.
    pub async fn spawn() -> TestApp {
        Self::spawn_with(&examples_dir(), None, &[]).await
    }

    /// A server on `defs`, with `data_dir` (a fresh one when None) and extra environment.
    pub async fn spawn_with(defs: &Path, data_dir: Option<&Path>, env: &[(&str, &str)]) -> TestApp {
        let (tmp, data_dir) = match data_dir {
            Some(d) => (None, d.to_path_buf()),
            None => {
                let t = tempfile::tempdir().unwrap();
                let d = t.path().to_path_buf();
                (Some(t), d)
            }
        };
        std::fs::create_dir_all(&data_dir).unwrap();
        let (child, url) = launch(defs, &data_dir, env);
        let http = reqwest::Client::new();
        let login: LoginResponse = Call::<LoginResponse>::new(
            http.post(format!("{url}/api/v1/auth/login"))
                .json(&serde_json::json!({"username": ADMIN, "password": ADMIN_PASSWORD})),
            "POST /api/v1/auth/login",
        )
        .expect(200)
        .await;
        TestApp {
            child: Some(child),
            url,
            data_dir,
            token: login.token,
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

    /// Whether the server process is still running.
    pub fn alive(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().unwrap().is_none())
    }

    /// SIGTERM, then wait for the process to exit.
    pub async fn terminate(&mut self) -> std::process::ExitStatus {
        let mut c = self.child.take().unwrap();
        Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status()
            .unwrap();
        eventually(secs(30), async || {
            c.try_wait()
                .unwrap()
                .ok_or("the server did not exit after SIGTERM")
        })
        .await
    }

    pub fn server_log(&self) -> String {
        std::fs::read_to_string(self.data_dir.join("server.log")).unwrap_or_default()
    }

    /// The full URL of `path` on this server.
    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// The native API as the admin.
    pub fn api(&self) -> Api<'_> {
        Api::new(self, Some(&self.token))
    }

    /// The native API as the holder of `token`.
    pub fn signed_in_as<'a>(&'a self, token: &'a str) -> Api<'a> {
        Api::new(self, Some(token))
    }

    /// The native API without a token.
    pub fn anonymous(&self) -> Api<'_> {
        Api::new(self, None)
    }

    // The admin's API, one call away (`app.runs()` rather than `app.api().runs()`).

    pub fn request(&self, method: Method, path: &str) -> Call {
        self.api().request(method, path)
    }

    pub fn get(&self, path: &str) -> Call {
        self.api().get(path)
    }

    pub fn send(&self, method: Method, path: &str, body: impl Serialize) -> Call {
        self.api().send(method, path, body)
    }

    pub fn runs(&self) -> Runs<'_> {
        self.api().runs()
    }

    pub fn tasks(&self) -> Tasks<'_> {
        self.api().tasks()
    }

    pub fn users(&self) -> Users<'_> {
        self.api().users()
    }

    pub fn orgs(&self) -> Orgs<'_> {
        self.api().orgs()
    }

    pub fn auth(&self) -> Auth<'_> {
        self.api().auth()
    }

    pub fn connections(&self) -> Connections<'_> {
        self.api().connections()
    }

    pub fn audit(&self, query: &str) -> Call<AuditList> {
        self.api().audit(query)
    }

    pub async fn start_run(&self, task: &str, params: &[(&str, &str)]) -> RunView {
        self.api().start_run(task, params).await
    }

    pub async fn wait_end(&self, run: &(impl RunRef + ?Sized), limit: u64) -> RunView {
        self.api().wait_end(run, limit).await
    }

    pub async fn wait_for(
        &self,
        run: &(impl RunRef + ?Sized),
        limit: u64,
        pred: impl Fn(&RunView) -> bool,
    ) -> RunView {
        self.api().wait_for(run, limit, pred).await
    }

    pub async fn log(&self, run: &(impl RunRef + ?Sized), level: &str) -> Vec<LogLineView> {
        self.api().log(run, level).await
    }

    pub async fn messages(&self, run: &(impl RunRef + ?Sized), level: &str) -> Vec<String> {
        self.api().messages(run, level).await
    }

    pub async fn org_area(&self) -> PathBuf {
        self.api().org_area().await
    }
}

/// Starts `sluice serve` expecting it to refuse: answers its exit status and what it logged.
pub fn refused_start(
    defs: &Path,
    data_dir: &Path,
    env: &[(&str, &str)],
) -> (std::process::ExitStatus, String) {
    std::fs::create_dir_all(data_dir).unwrap();
    let log_path = data_dir.join("server.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut child = serve_command(defs, data_dir, env)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("the sluice binary runs");
    let said = || std::fs::read_to_string(&log_path).unwrap_or_default();
    // A server that should have refused but serves would wait for ever: a minute is plenty.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the server started instead of refusing:\n{}", said());
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    (status, said())
}

fn serve_command(defs: &Path, data_dir: &Path, env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sluice"));
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .arg("--definitions")
        .arg(defs)
        .env("SLUICE_ADMIN_USER", ADMIN)
        .env("SLUICE_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("SLUICE_WORKER__HEARTBEAT_MS", "200")
        .env("SLUICE_WORKER__SHUTDOWN_GRACE_SECS", "5")
        .env("RUST_LOG", "info");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// Starts `sluice serve` and reads the URL it says it listens on.
fn launch(defs: &Path, data_dir: &Path, env: &[(&str, &str)]) -> (Child, String) {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(data_dir.join("server.log"))
        .unwrap();
    let mut cmd = serve_command(defs, data_dir, env);
    cmd.stdout(Stdio::piped()).stderr(log);
    let mut child = cmd.spawn().expect("the sluice binary starts");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    // Reads on for the process's life, so the server never blocks writing to a full pipe.
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
    (child, url)
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
