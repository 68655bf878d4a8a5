//! The HTTP client for the native API: builds URLs under `--url`, authenticates (bearer token, or a
//! login with user and password), and turns failures into readable errors — the server's
//! `ErrorBody` as [`ApiError`], network trouble as "cannot reach Sluice at ...".

use super::GlobalOpts;
use anyhow::{Context, Result, bail};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sluice_types::{ErrorBody, LoginRequest, LoginResponse, RunView};
use std::fmt;
use std::time::Duration;
use uuid::Uuid;

/// How long an ordinary request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the server may hold a `wait` request past its own timeout.
const WAIT_SLACK: Duration = Duration::from_secs(30);

/// An error answer from the server.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.code)
    }
}

impl std::error::Error for ApiError {}

impl ApiError {
    /// Reads an error answer: the `ErrorBody` when there is one, else the status and body text.
    fn from_answer(status: StatusCode, body: &str) -> ApiError {
        if let Ok(e) = serde_json::from_str::<ErrorBody>(body) {
            return ApiError {
                status,
                code: e.code,
                message: e.message,
            };
        }
        let text = body.trim();
        let message = if text.is_empty() || text.len() > 300 {
            format!(
                "HTTP {} {}",
                status.as_u16(),
                status.canonical_reason().unwrap_or("")
            )
            .trim_end()
            .to_string()
        } else {
            text.to_string()
        };
        ApiError {
            status,
            code: format!("http_{}", status.as_u16()),
            message,
        }
    }
}

/// Whether an error may go away by asking again (network trouble, server-side failure).
pub fn is_transient(e: &anyhow::Error) -> bool {
    if let Some(api) = e.downcast_ref::<ApiError>() {
        return api.status.is_server_error();
    }
    e.downcast_ref::<TransportError>().is_some()
}

/// The request never got an answer.
#[derive(Debug)]
pub struct TransportError(String);

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TransportError {}

pub struct Client {
    http: reqwest::Client,
    /// `--url` without a trailing `/`.
    base: String,
    token: Option<String>,
}

impl Client {
    /// A client for `url`, not yet authenticated.
    pub fn new(url: &str) -> Result<Client> {
        let base = url.trim().trim_end_matches('/').to_string();
        let parsed = reqwest::Url::parse(&base)
            .with_context(|| format!("invalid server URL {base:?} (--url / SLUICE_URL)"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            bail!("invalid server URL {base:?}: expected http:// or https://");
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("sluice-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("setting up the HTTP client")?;
        Ok(Client {
            http,
            base,
            token: None,
        })
    }

    /// A client for `--url`, authenticated with `--token`, or by logging in with `--user` and
    /// `--password`.
    pub async fn connect(opts: &GlobalOpts) -> Result<Client> {
        let mut client = Client::new(&opts.url)?;
        let non_empty = |s: &Option<String>| s.clone().filter(|s| !s.is_empty());
        match (
            non_empty(&opts.token),
            non_empty(&opts.user),
            opts.password.clone(),
        ) {
            (Some(token), _, _) => client.token = Some(token),
            (None, Some(user), Some(password)) => {
                let answer: LoginResponse = client
                    .post(
                        "/auth/login",
                        &LoginRequest {
                            username: user,
                            password,
                        },
                    )
                    .await?;
                client.token = Some(answer.token);
            }
            (None, Some(_), None) => {
                bail!("--user needs --password (or SLUICE_PASSWORD)")
            }
            (None, None, _) => bail!(
                "not authenticated: pass --token (or set SLUICE_TOKEN), or --user and --password \
                 (SLUICE_USER and SLUICE_PASSWORD)"
            ),
        }
        Ok(client)
    }

    /// `GET /api/v1{path}` with query parameters, as JSON.
    pub async fn get_raw(&self, path: &str, query: &[(&str, String)]) -> Result<serde_json::Value> {
        let req = self.request(Method::GET, path).query(query);
        self.send(req).await
    }

    /// `GET /api/v1{path}` with query parameters.
    pub async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T> {
        decode(self.get_raw(path, query).await?)
    }

    /// `POST /api/v1{path}` with a JSON body, as JSON.
    pub async fn post_raw<B: Serialize + ?Sized>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<serde_json::Value> {
        let req = self.request(Method::POST, path).json(body);
        self.send(req).await
    }

    /// `POST /api/v1{path}` with a JSON body, as JSON; the error statuses in `accept` are answers
    /// too (for endpoints whose error answers carry a normal body).
    pub async fn post_raw_accepting<B: Serialize + ?Sized>(
        &self,
        path: &str,
        body: &B,
        accept: &[StatusCode],
    ) -> Result<serde_json::Value> {
        let req = self.request(Method::POST, path).json(body);
        self.send_accepting(req, accept).await
    }

    /// `POST /api/v1{path}` with a JSON body.
    pub async fn post<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T> {
        decode(self.post_raw(path, body).await?)
    }

    /// `GET /api/v1/runs/{id}`.
    pub async fn run(&self, id: Uuid) -> Result<RunView> {
        self.get(&format!("/runs/{id}"), &[]).await
    }

    /// `GET /api/v1/runs/{id}/wait`: the run once it has ended or `secs` have passed.
    pub async fn wait_run(&self, id: Uuid, secs: u64) -> Result<RunView> {
        let req = self
            .request(Method::GET, &format!("/runs/{id}/wait"))
            .query(&[("timeout", secs)])
            .timeout(Duration::from_secs(secs) + WAIT_SLACK);
        decode(self.send(req).await?)
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.base)
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let req = self
            .http
            .request(method, self.url(path))
            .timeout(REQUEST_TIMEOUT);
        match &self.token {
            Some(token) => req.bearer_auth(token),
            None => req,
        }
    }

    async fn send(&self, req: RequestBuilder) -> Result<serde_json::Value> {
        self.send_accepting(req, &[]).await
    }

    async fn send_accepting(
        &self,
        req: RequestBuilder,
        accept: &[StatusCode],
    ) -> Result<serde_json::Value> {
        let answer = req.send().await.map_err(|e| self.transport_error(&e))?;
        let status = answer.status();
        let url = answer.url().to_string();
        let body = answer.text().await.map_err(|e| {
            anyhow::Error::new(TransportError(format!(
                "reading the answer from {url}: {e}"
            )))
        })?;
        if !status.is_success() && !accept.contains(&status) {
            return Err(ApiError::from_answer(status, &body).into());
        }
        if body.trim().is_empty() {
            return Ok(serde_json::Value::Null);
        }
        serde_json::from_str(&body)
            .with_context(|| format!("unexpected answer from {url} (is --url a Sluice server?)"))
    }

    fn transport_error(&self, e: &reqwest::Error) -> anyhow::Error {
        let cause = root_cause(e);
        let msg = if e.is_timeout() {
            format!("Sluice at {} did not answer in time", self.base)
        } else if e.is_connect() {
            format!("cannot reach Sluice at {}: {cause}", self.base)
        } else if e.is_builder() {
            format!("invalid request: {cause}")
        } else {
            format!("request to Sluice at {} failed: {cause}", self.base)
        };
        anyhow::Error::new(TransportError(msg))
    }
}

/// A value (a run's id or external id) as one URL path segment, percent-encoded.
pub fn segment(value: &str) -> Result<String> {
    if value.is_empty() || value == "." || value == ".." {
        bail!("invalid run reference {value:?}");
    }
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    Ok(out)
}

/// Reads a JSON answer as `T`.
pub fn decode<T: DeserializeOwned>(value: serde_json::Value) -> Result<T> {
    serde_json::from_value(value)
        .context("unexpected answer from the server (different Sluice version?)")
}

/// The innermost cause of an error, tidied: "connection refused" rather than
/// "Connection refused (os error 111)".
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut inner = e;
    while let Some(source) = inner.source() {
        inner = source;
    }
    let text = inner.to_string();
    let text = match text.find(" (os error") {
        Some(i) => &text[..i],
        None => &text,
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::anyhow;

    #[test]
    fn api_error_from_error_body() {
        let e = ApiError::from_answer(
            StatusCode::NOT_FOUND,
            r#"{"code":"not_found","message":"no task named x"}"#,
        );
        assert_eq!(e.to_string(), "no task named x (not_found)");
    }

    #[test]
    fn api_error_from_other_body() {
        let e = ApiError::from_answer(StatusCode::BAD_GATEWAY, "");
        assert_eq!(e.to_string(), "HTTP 502 Bad Gateway (http_502)");
        let e = ApiError::from_answer(StatusCode::BAD_REQUEST, "bad thing\n");
        assert_eq!(e.to_string(), "bad thing (http_400)");
    }

    #[test]
    fn base_url_is_trimmed() {
        let c = Client::new("http://h:1/prefix/").unwrap();
        assert_eq!(c.url("/runs"), "http://h:1/prefix/api/v1/runs");
        assert!(Client::new("h:1").is_err());
        assert!(Client::new("not a url").is_err());
    }

    #[test]
    fn segments_are_encoded() {
        let id = "0190f0a0-0000-7000-8000-000000000001";
        assert_eq!(segment(id).unwrap(), id);
        assert_eq!(segment("job 1/ä?").unwrap(), "job%201%2F%C3%A4%3F");
        assert!(segment("..").is_err());
        assert!(segment("").is_err());
    }

    #[test]
    fn transient_errors() {
        let server: anyhow::Error =
            ApiError::from_answer(StatusCode::SERVICE_UNAVAILABLE, "").into();
        let client: anyhow::Error = ApiError::from_answer(StatusCode::NOT_FOUND, "").into();
        let net: anyhow::Error = TransportError("x".into()).into();
        assert!(is_transient(&server));
        assert!(!is_transient(&client));
        assert!(is_transient(&net));
        assert!(!is_transient(&anyhow!("other")));
    }

    #[tokio::test]
    async fn connection_refused_names_the_url() {
        // Bind then drop a listener so the port is (almost certainly) closed.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let url = format!("http://127.0.0.1:{port}");
        let c = Client::new(&url).unwrap();
        let err = c.get_raw("/tasks", &[]).await.unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("cannot reach Sluice at {url}: ")),
            "{err}"
        );
        assert!(is_transient(&c.get_raw("/tasks", &[]).await.unwrap_err()));
    }
}
