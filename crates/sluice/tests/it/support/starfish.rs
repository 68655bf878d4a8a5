//! The Starfish v1 surface as its clients call it: a bearer token from `/token`, job requests in
//! JSON, XML or form bodies, results polled until the run is done.

use super::app::TestApp;
use super::call::Call;
use super::eventually::{eventually, secs};
use super::{ADMIN, ADMIN_PASSWORD};
use serde_json::Value;

/// A Starfish client of a test server, holding the token `/token` issued.
pub struct Starfish {
    pub url: String,
    pub http: reqwest::Client,
    pub token: String,
}

impl TestApp {
    /// A Starfish client signed in as the admin; checks the token answer's documented fields.
    pub async fn starfish(&self) -> Starfish {
        let req = self
            .http
            .post(self.endpoint("/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!(
                "grant_type=password&username={ADMIN}&password={ADMIN_PASSWORD}"
            ));
        let t: Value = Call::<Value>::new(req, "POST /token").expect(200).await;
        assert_eq!(t["token_type"], "bearer");
        assert_eq!(t["expires_in"], 5 * 24 * 3600);
        Starfish::with_token(self, t["access_token"].as_str().unwrap())
    }
}

impl Starfish {
    /// A client using `token` (any Sluice API token is a Starfish token).
    pub fn with_token(app: &TestApp, token: &str) -> Starfish {
        Starfish {
            url: app.url.clone(),
            http: app.http.clone(),
            token: token.into(),
        }
    }

    /// POSTs `body` with `content_type`, asking for `accept`.
    pub fn post(&self, path: &str, content_type: &str, accept: &str, body: String) -> Call {
        let req = self
            .http
            .post(format!("{}{path}", self.url))
            .bearer_auth(&self.token)
            .header("content-type", content_type)
            .header("accept", accept)
            .body(body);
        Call::new(req, format!("Starfish POST {path}"))
    }

    /// POSTs `body` as JSON, asking for JSON.
    pub fn json(&self, path: &str, body: Value) -> Call {
        let body = body.to_string();
        self.post(path, "application/json", "application/json", body)
    }

    /// `GET /v1/Results/<run>`.
    pub fn results(&self, run: &str) -> Call {
        let req = self
            .http
            .get(format!("{}/v1/Results/{run}", self.url))
            .bearer_auth(&self.token);
        Call::new(req, format!("Starfish GET /v1/Results/{run}"))
    }

    /// Polls the run's results until its first is neither Queued nor Running; answers that one.
    pub async fn until_done(&self, run: &str) -> Value {
        eventually(secs(60), async || {
            let r = self.results(run).expect(200).await;
            let status = r[0]["status"].as_str().unwrap();
            if ["Queued", "Running"].contains(&status) {
                Err(r)
            } else {
                Ok(r[0].clone())
            }
        })
        .await
    }

    /// POSTs `body` to the inbound webhook with `query` (after `?`), without the token.
    pub fn webhook(&self, query: &str, body: &str) -> Call {
        let url = format!("{}/v1/Webhook?{query}", self.url);
        let req = self.http.post(url).body(body.to_string());
        Call::new(req, "Starfish POST /v1/Webhook")
    }
}
