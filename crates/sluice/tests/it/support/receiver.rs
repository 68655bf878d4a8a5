//! The one test receiver for callbacks and webhooks: an HTTP server on loopback that records every
//! request it gets (method, path, headers, body) and answers each with the next scripted reply,
//! then with a fixed status.

use super::eventually::eventually;
use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How the receiver answers one request.
#[derive(Clone, Debug)]
pub enum Reply {
    Status(u16),
    /// 302 to this URL.
    Redirect(String),
    /// 200, only after this long.
    Hang(Duration),
}

/// One request as the receiver got it.
#[derive(Clone, Debug)]
pub struct Received {
    pub method: Method,
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!("{e}: {}", String::from_utf8_lossy(&self.body));
        })
    }

    /// A header's value; panics when it is missing.
    pub fn header(&self, name: &str) -> &str {
        self.headers[name].to_str().unwrap()
    }
}

#[derive(Default)]
struct State {
    script: VecDeque<Reply>,
    got: Vec<Received>,
}

/// A running receiver; it stops when dropped.
pub struct Receiver {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    server: tokio::task::JoinHandle<()>,
}

/// How a receiver will listen and answer.
pub struct ReceiverBuilder {
    addr: SocketAddr,
    script: Vec<Reply>,
    otherwise: u16,
}

impl ReceiverBuilder {
    /// Listen on `addr` (by default a free port on 127.0.0.1).
    pub fn at(mut self, addr: SocketAddr) -> Self {
        self.addr = addr;
        self
    }

    /// Answer the first requests with these, in order.
    pub fn script(mut self, replies: impl IntoIterator<Item = Reply>) -> Self {
        self.script.extend(replies);
        self
    }

    /// Answer every request after the script with `status` (200 unless told).
    pub fn otherwise(mut self, status: u16) -> Self {
        self.otherwise = status;
        self
    }

    pub async fn start(self) -> Receiver {
        let state = Arc::new(Mutex::new(State {
            script: self.script.into(),
            got: Vec::new(),
        }));
        let (s, otherwise) = (state.clone(), self.otherwise);
        let app = Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let s = s.clone();
                async move {
                    let reply = {
                        let mut s = s.lock().unwrap();
                        let path = uri.path().to_string();
                        s.got.push(Received {
                            method,
                            path,
                            headers,
                            body,
                        });
                        s.script.pop_front()
                    };
                    answer(reply.unwrap_or(Reply::Status(otherwise))).await
                }
            },
        );
        let listener = tokio::net::TcpListener::bind(self.addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver {
            addr,
            state,
            server,
        }
    }
}

async fn answer(reply: Reply) -> Response {
    match reply {
        Reply::Status(code) => StatusCode::from_u16(code).unwrap().into_response(),
        Reply::Redirect(to) => (StatusCode::FOUND, [(header::LOCATION, to)]).into_response(),
        Reply::Hang(d) => {
            tokio::time::sleep(d).await;
            StatusCode::OK.into_response()
        }
    }
}

impl Receiver {
    pub fn builder() -> ReceiverBuilder {
        ReceiverBuilder {
            addr: "127.0.0.1:0".parse().unwrap(),
            script: Vec::new(),
            otherwise: 200,
        }
    }

    /// A receiver on a free port answering 200 to everything.
    pub async fn start() -> Receiver {
        Self::builder().start().await
    }

    /// `http://<addr><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Every request so far, in the order they came.
    pub fn requests(&self) -> Vec<Received> {
        self.state.lock().unwrap().got.clone()
    }

    pub fn count(&self) -> usize {
        self.state.lock().unwrap().got.len()
    }

    /// Waits (up to `timeout`) until at least `n` requests came; answers all of them.
    pub async fn received(&self, n: usize, timeout: Duration) -> Vec<Received> {
        eventually(timeout, async || {
            let got = self.requests();
            if got.len() >= n {
                Ok(got)
            } else {
                Err(format!("{} of {n} requests received", got.len()))
            }
        })
        .await
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}
