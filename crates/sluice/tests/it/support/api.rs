//! The native API (`/api/v1`) as one signed-in user (or nobody) calls it: raw calls by path, the
//! typed resources of [`super::resources`], and the steps most tests share — start a run, wait for
//! it, read its log.

use super::app::TestApp;
use super::call::Call;
use super::eventually::{eventually, secs};
use super::resources::{Auth, Connections, Orgs, Runs, Tasks, Users};
use reqwest::Method;
use serde::Serialize;
use serde_json::Value;
use sluice_types::{AuditList, LogLineView, RunView, StartRun, UserView};
use std::path::PathBuf;

/// The native API as the holder of one token, or of none.
#[derive(Clone, Copy)]
pub struct Api<'a> {
    app: &'a TestApp,
    token: Option<&'a str>,
}

/// Whatever names a run: its view, or its id (or external id).
pub trait RunRef {
    fn run_id(&self) -> String;
}

impl RunRef for RunView {
    fn run_id(&self) -> String {
        self.id.to_string()
    }
}

impl RunRef for str {
    fn run_id(&self) -> String {
        self.to_string()
    }
}

impl RunRef for String {
    fn run_id(&self) -> String {
        self.clone()
    }
}

impl RunRef for uuid::Uuid {
    fn run_id(&self) -> String {
        self.to_string()
    }
}

impl<'a> Api<'a> {
    pub(super) fn new(app: &'a TestApp, token: Option<&'a str>) -> Api<'a> {
        Api { app, token }
    }

    /// `method` on `path` (from the server's root, e.g. `/api/v1/runs`), with the token.
    pub fn request(self, method: Method, path: &str) -> Call {
        Call::new(self.builder(&method, path), format!("{method} {path}"))
    }

    fn builder(self, method: &Method, path: &str) -> reqwest::RequestBuilder {
        let req = self
            .app
            .http
            .request(method.clone(), self.app.endpoint(path));
        match self.token {
            Some(token) => req.bearer_auth(token),
            None => req,
        }
    }

    pub fn get(self, path: &str) -> Call {
        self.request(Method::GET, path)
    }

    pub fn post(self, path: &str, body: impl Serialize) -> Call {
        self.send(Method::POST, path, body)
    }

    /// `method` on `path` with a JSON body.
    pub fn send(self, method: Method, path: &str, body: impl Serialize) -> Call {
        let req = self.builder(&method, path).json(&body);
        Call::new(req, format!("{method} {path}"))
    }

    pub fn runs(self) -> Runs<'a> {
        Runs(self)
    }

    pub fn tasks(self) -> Tasks<'a> {
        Tasks(self)
    }

    pub fn users(self) -> Users<'a> {
        Users(self)
    }

    pub fn orgs(self) -> Orgs<'a> {
        Orgs(self)
    }

    pub fn auth(self) -> Auth<'a> {
        Auth(self)
    }

    pub fn connections(self) -> Connections<'a> {
        Connections(self)
    }

    /// `GET /api/v1/audit<query>` (`query` empty or starting with `?`).
    pub fn audit(self, query: &str) -> Call<AuditList> {
        self.get(&format!("/api/v1/audit{query}")).typed()
    }

    /// Starts a run of `task` with `params`; panics unless it was accepted (201).
    pub async fn start_run(self, task: &str, params: &[(&str, &str)]) -> RunView {
        let parameters = params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let start = StartRun {
            task: task.into(),
            parameters,
            ..StartRun::default()
        };
        self.runs().start(&start).expect(201).await
    }

    /// Waits until the run has ended (up to `limit` seconds), through the server's long poll.
    pub async fn wait_end(self, run: &(impl RunRef + ?Sized), limit: u64) -> RunView {
        let id = run.run_id();
        eventually(secs(limit), async || {
            let r = self.runs().wait(&id, 10).expect(200).await;
            if r.finished {
                Ok(r)
            } else {
                Err(format!("run did not end: {r:?}"))
            }
        })
        .await
    }

    /// Polls the run until `pred` holds for it (up to `limit` seconds).
    pub async fn wait_for(
        self,
        run: &(impl RunRef + ?Sized),
        limit: u64,
        pred: impl Fn(&RunView) -> bool,
    ) -> RunView {
        let id = run.run_id();
        eventually(secs(limit), async || {
            let r = self.runs().get(&id).expect(200).await;
            if pred(&r) {
                Ok(r)
            } else {
                Err(format!("condition not reached: {r:?}"))
            }
        })
        .await
    }

    /// Every log line of the run at `level` or above.
    pub async fn log(self, run: &(impl RunRef + ?Sized), level: &str) -> Vec<LogLineView> {
        let query = format!("?level={level}&limit=5000");
        self.runs().log(run, &query).expect(200).await.lines
    }

    /// The messages of every log line of the run at `level` or above.
    pub async fn messages(self, run: &(impl RunRef + ?Sized), level: &str) -> Vec<String> {
        let lines = self.log(run, level).await;
        lines.into_iter().map(|l| l.message).collect()
    }

    /// The signed-in user.
    pub async fn me(self) -> UserView {
        self.get("/api/v1/me").typed().expect(200).await
    }

    /// The file area of the signed-in user's org (`<data_dir>/files/<org id>`), where that org's
    /// API-defined tasks read and write; created empty.
    pub async fn org_area(self) -> PathBuf {
        let me = self.me().await;
        let area = self.app.data_dir.join("files").join(me.org_id.to_string());
        std::fs::create_dir_all(&area).unwrap();
        area
    }

    /// `POST /api/v1/definitions/apply` with `bundle` (untyped: tests send broken ones too).
    pub fn apply_definitions(self, bundle: Value) -> Call<sluice_types::ApplyReport> {
        self.post("/api/v1/definitions/apply", bundle).typed()
    }
}
