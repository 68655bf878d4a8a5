//! One request to a test server and what it answered. The expected status is an argument of every
//! way of reading the answer, so a test states it once and gets the body back typed: the success
//! type of the call, an `ErrorBody`, untyped JSON, or text.

use reqwest::header::HeaderMap;
use serde::de::DeserializeOwned;
use serde_json::Value;
use sluice_types::ErrorBody;
use std::marker::PhantomData;

/// A request ready to send; `T` is the body its expected answer carries.
#[must_use = "a Call is sent only by awaiting one of its expect methods or send"]
pub struct Call<T = Value> {
    req: reqwest::RequestBuilder,
    /// `METHOD path`, for failure messages.
    what: String,
    _answer: PhantomData<fn() -> T>,
}

/// An answer of any status, read whole.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
    what: String,
}

impl<T: DeserializeOwned> Call<T> {
    pub fn new(req: reqwest::RequestBuilder, what: impl Into<String>) -> Call<T> {
        Call {
            req,
            what: what.into(),
            _answer: PhantomData,
        }
    }

    /// The same request, its answer read as `U`.
    pub fn typed<U: DeserializeOwned>(self) -> Call<U> {
        Call::new(self.req, self.what)
    }

    pub fn header(mut self, name: &str, value: &str) -> Call<T> {
        self.req = self.req.header(name, value);
        self
    }

    /// Sends it; any status is an answer.
    pub async fn send(self) -> Answer {
        let resp = self
            .req
            .send()
            .await
            .unwrap_or_else(|e| panic!("{}: no answer: {e}", self.what));
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp
            .text()
            .await
            .unwrap_or_else(|e| panic!("{}: unreadable body: {e}", self.what));
        Answer {
            status,
            headers,
            text,
            what: self.what,
        }
    }

    /// Sends it; panics unless answered `status`; the body as `T`.
    pub async fn expect(self, status: u16) -> T {
        self.send().await.expect(status).json()
    }

    /// Sends it; panics unless answered `status` with the native API's error body.
    pub async fn expect_error(self, status: u16) -> ErrorBody {
        self.send().await.expect(status).json()
    }

    /// Sends it; panics unless answered `status`; the body as untyped JSON (null when empty).
    pub async fn expect_json(self, status: u16) -> Value {
        self.send().await.expect(status).json()
    }

    /// Sends it; panics unless answered `status`; the body as text.
    pub async fn expect_text(self, status: u16) -> String {
        self.send().await.expect(status).text
    }

    /// Sends it; panics unless answered `status`; the whole answer (for its headers).
    pub async fn expect_status(self, status: u16) -> Answer {
        self.send().await.expect(status)
    }
}

impl Answer {
    /// Panics unless the status is `status`, showing the body.
    pub fn expect(self, status: u16) -> Answer {
        assert_eq!(
            self.status, status,
            "{}: expected HTTP {status}, got {}: {}",
            self.what, self.status, self.text
        );
        self
    }

    /// The body as `U`; an empty body reads as JSON `null`.
    pub fn json<U: DeserializeOwned>(&self) -> U {
        let text = if self.text.is_empty() {
            "null"
        } else {
            &self.text
        };
        serde_json::from_str(text).unwrap_or_else(|e| {
            panic!(
                "{}: HTTP {} body is not a {}: {e}: {}",
                self.what,
                self.status,
                std::any::type_name::<U>(),
                self.text
            )
        })
    }

    /// The body as JSON, or as a JSON string of the text when it is not JSON.
    pub fn value(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|_| Value::String(self.text.clone()))
    }

    /// A header's value; panics when it is missing or not text.
    pub fn header(&self, name: &str) -> &str {
        let value = self
            .headers
            .get(name)
            .unwrap_or_else(|| panic!("{}: no `{name}` header", self.what));
        value.to_str().unwrap()
    }
}
