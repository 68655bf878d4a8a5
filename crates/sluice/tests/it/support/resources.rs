//! The native API's resources as typed calls over `sluice-types`: runs, tasks, users, orgs,
//! sign-in and connections. Each method builds the request; the test awaits it with the status it
//! expects (`.expect(201)`, `.expect_error(409)`, ...).

use super::api::{Api, RunRef};
use super::call::Call;
use reqwest::Method;
use serde_json::{Value, json};
use sluice_types::{
    CallbackView, ConnectionCheck, ConnectionView, LogPage, LoginResponse, NewUser, OrgView,
    RunList, RunView, StartRun, TaskView, UserView, WebhookKey,
};

/// `/api/v1/runs`.
pub struct Runs<'a>(pub(super) Api<'a>);

impl Runs<'_> {
    pub fn start(self, start: &StartRun) -> Call<RunView> {
        self.0.post("/api/v1/runs", start).typed()
    }

    /// A run by its id or external id.
    pub fn get(self, run: &(impl RunRef + ?Sized)) -> Call<RunView> {
        let id = run.run_id();
        self.0.get(&format!("/api/v1/runs/{id}")).typed()
    }

    /// The server's long poll: answers when the run ends or after `timeout` seconds.
    pub fn wait(self, run: &(impl RunRef + ?Sized), timeout: u64) -> Call<RunView> {
        let id = run.run_id();
        let path = format!("/api/v1/runs/{id}/wait?timeout={timeout}");
        self.0.get(&path).typed()
    }

    /// Stops a run; `mode` None sends no mode (the server's default).
    pub fn stop(self, run: &(impl RunRef + ?Sized), mode: Option<&str>) -> Call<RunView> {
        let id = run.run_id();
        let body = match mode {
            Some(mode) => json!({"mode": mode}),
            None => json!({}),
        };
        self.0
            .post(&format!("/api/v1/runs/{id}/stop"), body)
            .typed()
    }

    /// `GET /api/v1/runs<query>` (`query` empty or starting with `?`).
    pub fn list(self, query: &str) -> Call<RunList> {
        self.0.get(&format!("/api/v1/runs{query}")).typed()
    }

    /// `GET /api/v1/runs/<run>/log<query>`.
    pub fn log(self, run: &(impl RunRef + ?Sized), query: &str) -> Call<LogPage> {
        let id = run.run_id();
        self.0.get(&format!("/api/v1/runs/{id}/log{query}")).typed()
    }

    pub fn callbacks(self, run: &(impl RunRef + ?Sized)) -> Call<Vec<CallbackView>> {
        let id = run.run_id();
        self.0.get(&format!("/api/v1/runs/{id}/callbacks")).typed()
    }

    pub fn resend(self, run: &(impl RunRef + ?Sized), callback: &str) -> Call<CallbackView> {
        let id = run.run_id();
        let path = format!("/api/v1/runs/{id}/callbacks/{callback}/resend");
        self.0.post(&path, json!({})).typed()
    }
}

/// `/api/v1/tasks`.
pub struct Tasks<'a>(pub(super) Api<'a>);

/// A task reference as one path segment (`folder/name` has its slash encoded).
fn segment(reference: &str) -> String {
    reference.replace('/', "%2F")
}

impl Tasks<'_> {
    /// `GET /api/v1/tasks<query>`.
    pub fn list(self, query: &str) -> Call<Vec<TaskView>> {
        self.0.get(&format!("/api/v1/tasks{query}")).typed()
    }

    /// A task by any of its ids, `folder/name`, or its name.
    pub fn get(self, reference: &str) -> Call<TaskView> {
        let path = format!("/api/v1/tasks/{}", segment(reference));
        self.0.get(&path).typed()
    }

    /// Creates a task (untyped: tests send invalid ones too).
    pub fn create(self, task: Value) -> Call<TaskView> {
        self.0.post("/api/v1/tasks", task).typed()
    }

    /// A new inbound webhook key for the task.
    pub fn webhook_key(self, reference: &str) -> Call<WebhookKey> {
        let path = format!("/api/v1/tasks/{}/webhook-key", segment(reference));
        self.0.post(&path, json!({})).typed()
    }
}

/// `/api/v1/users`.
pub struct Users<'a>(pub(super) Api<'a>);

impl Users<'_> {
    pub fn create(self, user: &NewUser) -> Call<UserView> {
        self.0.post("/api/v1/users", user).typed()
    }

    pub fn list(self) -> Call<Vec<UserView>> {
        self.0.get("/api/v1/users").typed()
    }

    /// Sets the role of the user with `id` (any text: tests send unknown roles too).
    pub fn set_role(self, id: &str, role: &str) -> Call<UserView> {
        let path = format!("/api/v1/users/{id}/role");
        self.0
            .send(Method::PUT, &path, json!({"role": role}))
            .typed()
    }
}

/// `/api/v1/orgs`.
pub struct Orgs<'a>(pub(super) Api<'a>);

impl Orgs<'_> {
    pub fn create(self, name: &str) -> Call<OrgView> {
        self.0.post("/api/v1/orgs", json!({"name": name})).typed()
    }
}

/// `/api/v1/auth`.
pub struct Auth<'a>(pub(super) Api<'a>);

impl Auth<'_> {
    pub fn login(self, username: &str, password: &str) -> Call<LoginResponse> {
        let body = json!({"username": username, "password": password});
        self.0.post("/api/v1/auth/login", body).typed()
    }

    /// A new long-lived token of the signed-in user.
    pub fn new_token(self, name: &str) -> Call<LoginResponse> {
        let body = json!({"name": name});
        self.0.post("/api/v1/auth/tokens", body).typed()
    }
}

/// `/api/v1/connections`.
pub struct Connections<'a>(pub(super) Api<'a>);

impl Connections<'_> {
    /// Creates a connection (untyped: tests send invalid ones too).
    pub fn create(self, connection: Value) -> Call<ConnectionView> {
        self.0.post("/api/v1/connections", connection).typed()
    }

    pub fn get(self, name: &str) -> Call<ConnectionView> {
        self.0.get(&format!("/api/v1/connections/{name}")).typed()
    }

    pub fn check(self, name: &str) -> Call<ConnectionCheck> {
        let path = format!("/api/v1/connections/{name}/check");
        self.0.post(&path, json!({})).typed()
    }
}
