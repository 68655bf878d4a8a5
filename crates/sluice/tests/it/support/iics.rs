//! The IICS surfaces as their clients call them: a v2 session against the `serverUrl` its login
//! answered (the session in `icSessionId` on posts and `INFA-SESSION-ID` on gets, as clients mix
//! them), the code task API (`IDS-SESSION-ID`), and the taskflow service API with HTTP Basic.

use super::app::TestApp;
use super::call::Call;
use super::eventually::{eventually, secs};
use super::{ADMIN, ADMIN_PASSWORD};
use reqwest::Method;
use serde_json::{Value, json};

/// An IICS client of a test server: a v2 session and the `serverUrl` its login answered.
#[derive(Clone)]
pub struct Iics {
    pub http: reqwest::Client,
    /// The server's root, where the code task API lives.
    pub root: String,
    pub server_url: String,
    pub session: String,
}

impl TestApp {
    /// An IICS v2 session of the admin.
    pub async fn iics(&self) -> Iics {
        Iics::login(self, ADMIN, ADMIN_PASSWORD).await
    }

    /// The taskflow service API as the admin (HTTP Basic).
    pub fn taskflows(&self) -> Taskflows {
        Taskflows {
            http: self.http.clone(),
            url: self.url.clone(),
            user: ADMIN.into(),
            password: ADMIN_PASSWORD.into(),
        }
    }
}

impl Iics {
    /// A v2 login of `user` at `/ma/api/v2/user/login`; panics unless it succeeds.
    pub async fn login(app: &TestApp, user: &str, password: &str) -> Iics {
        let body = json!({"@type": "login", "username": user, "password": password});
        let login = app.anonymous().post("/ma/api/v2/user/login", body);
        let user = login.expect(200).await;
        Iics {
            http: app.http.clone(),
            root: app.url.clone(),
            server_url: user["serverUrl"].as_str().unwrap().to_string(),
            session: user["icSessionId"].as_str().unwrap().to_string(),
        }
    }

    /// The same session against another `serverUrl` (a restarted server).
    pub fn at(self, server_url: String) -> Iics {
        Iics { server_url, ..self }
    }

    /// POSTs raw text to `<serverUrl><path>` with the session in `icSessionId`.
    pub fn post_text(&self, path: &str, body: &str) -> Call {
        let req = self
            .http
            .post(format!("{}{path}", self.server_url))
            .header("icSessionId", &self.session)
            .header("content-type", "application/json")
            .body(body.to_string());
        Call::new(req, format!("IICS POST {path}"))
    }

    pub fn post(&self, path: &str, body: Value) -> Call {
        self.post_text(path, &body.to_string())
    }

    /// GETs `<serverUrl><path>` with the session in `INFA-SESSION-ID`.
    pub fn get(&self, path: &str) -> Call {
        let req = self
            .http
            .get(format!("{}{path}", self.server_url))
            .header("INFA-SESSION-ID", &self.session);
        Call::new(req, format!("IICS GET {path}"))
    }

    /// `method` on `url` (a full URL) with the session in `IDS-SESSION-ID`, as code task
    /// clients send it.
    pub fn code_call(&self, method: Method, url: &str) -> Call {
        let req = self
            .http
            .request(method.clone(), url)
            .header("IDS-SESSION-ID", &self.session);
        Call::new(req, format!("IICS {method} {url}"))
    }

    /// The URL of `<root>/disnext/api/v1/CodeTask<path>`.
    pub fn code_url(&self, path: &str) -> String {
        format!("{}/disnext/api/v1/CodeTask{path}", self.root)
    }

    /// Polls activityMonitor until the run of `task_id` numbered `run_id` has left it.
    pub async fn wait_gone(&self, task_id: &str, run_id: i64, limit: u64) {
        eventually(secs(limit), async || {
            let list = self
                .get("/api/v2/activity/activityMonitor?details=true")
                .expect(200)
                .await;
            let here = list
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["taskId"] == task_id && e["runId"] == run_id);
            if here {
                Err(format!("run {run_id} still in activityMonitor"))
            } else {
                Ok(())
            }
        })
        .await
    }

    /// The activityLog entry of one run (an empty answer would mean it still runs).
    pub async fn log_entry(&self, task_id: &str, run_id: i64) -> Value {
        let path = format!("/api/v2/activity/activityLog?taskId={task_id}&runId={run_id}");
        let list = self.get(&path).expect(200).await;
        assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
        list[0].clone()
    }
}

/// The taskflow service API (`/active-bpel`) with HTTP Basic.
pub struct Taskflows {
    http: reqwest::Client,
    url: String,
    user: String,
    password: String,
}

impl Taskflows {
    /// The same API as another user.
    pub fn signed_in_as(&self, user: &str, password: &str) -> Taskflows {
        Taskflows {
            http: self.http.clone(),
            url: self.url.clone(),
            user: user.into(),
            password: password.into(),
        }
    }

    /// `method` on `path`, asking for JSON; `body` is sent as JSON text.
    pub fn call(&self, method: Method, path: &str, body: Option<String>) -> Call {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.url))
            .basic_auth(&self.user, Some(&self.password))
            .header("accept", "application/json");
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b);
        }
        Call::new(req, format!("taskflow {method} {path}"))
    }

    pub fn get(&self, path: &str) -> Call {
        self.call(Method::GET, path, None)
    }

    /// Runs a taskflow by name; answers its `RunId`, which must be a wide string of digits.
    pub async fn start(&self, name: &str) -> String {
        let path = format!("/active-bpel/rt/{name}");
        let body = self.call(Method::POST, &path, None).expect(200).await;
        let id = body["RunId"].as_str().expect("RunId is a string");
        assert!(id.len() > 20 && id.parse::<u128>().is_ok(), "{body}");
        id.to_string()
    }

    /// The status of one run through `?runId=`: exactly one element.
    pub async fn one(&self, id: &str) -> Value {
        let path = format!("/active-bpel/services/tf/status?runId={id}");
        let list = self.get(&path).expect(200).await;
        let list = list.as_array().unwrap();
        assert_eq!(list.len(), 1, "{list:?}");
        list[0].clone()
    }

    /// The status of one run through its path.
    pub async fn status(&self, id: &str) -> Value {
        let path = format!("/active-bpel/services/tf/status/{id}");
        self.get(&path).expect(200).await
    }

    /// Polls the run's status (through `?runId=`) until it is no longer RUNNING.
    pub async fn until_ended(&self, id: &str) -> Value {
        eventually(secs(120), async || ended(self.one(id).await)).await
    }

    /// Polls the run's status (through its path) until it is no longer RUNNING.
    pub async fn until_ended_by_path(&self, id: &str) -> Value {
        eventually(secs(120), async || ended(self.status(id).await)).await
    }
}

fn ended(status: Value) -> Result<Value, Value> {
    if status["status"] != "RUNNING" {
        Ok(status)
    } else {
        Err(status)
    }
}
