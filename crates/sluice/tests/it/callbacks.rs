//! Callback URLs are POSTed the ended run, and retried until the receiver answers 200.

use super::support::*;
use axum::{Json, Router, http::StatusCode, routing::post};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

#[tokio::test]
async fn callbacks_are_retried_until_received() {
    let got: Arc<Mutex<Vec<Value>>> = Arc::default();
    let calls = Arc::new(Mutex::new(0u32));
    let (g, c) = (got.clone(), calls.clone());
    let receiver = Router::new().route(
        "/hook",
        post(move |Json(body): Json<Value>| {
            let (g, c) = (g.clone(), c.clone());
            async move {
                let mut n = c.lock().unwrap();
                *n += 1;
                // The first attempt fails: the notifier must try again.
                if *n == 1 {
                    return StatusCode::INTERNAL_SERVER_ERROR;
                }
                g.lock().unwrap().push(body);
                StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, receiver).await.unwrap() });

    let server = TestServer::start().await;
    let (status, run) = server
        .post(
            "/api/v1/runs",
            json!({"task": "gift_orders", "callback_url": format!("http://{addr}/hook")}),
        )
        .await;
    assert_eq!(status, 201, "{run}");
    server.wait_end(&run, 120).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while got.lock().unwrap().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "callback never delivered"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(*calls.lock().unwrap(), 2);
    let body = got.lock().unwrap()[0].clone();
    assert_eq!(body["id"], run["id"]);
    assert_eq!(body["state"], "completed");
    assert_eq!(body["finished"], true);
    let messages: Vec<String> = server
        .log(&run, "info")
        .await
        .iter()
        .map(|l| l["message"].as_str().unwrap().to_string())
        .collect();
    assert!(
        messages.iter().any(|m| m.contains("failed (attempt 1)")),
        "{messages:?}"
    );
    assert!(
        messages.iter().any(|m| m.contains("delivered (attempt 2)")),
        "{messages:?}"
    );
}
