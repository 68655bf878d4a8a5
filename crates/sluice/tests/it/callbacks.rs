//! Callback URLs are POSTed the ended run, and retried until the receiver answers 200.

use super::support::*;
use sluice_types::{RunView, StartRun};

#[tokio::test]
async fn callbacks_are_retried_until_received() {
    // The first attempt fails: the notifier must try again.
    let receiver = Receiver::builder()
        .script([Reply::Status(500)])
        .start()
        .await;
    let app = TestApp::spawn().await;
    let start = StartRun {
        task: "gift_orders".into(),
        callback_url: Some(receiver.url("/hook")),
        ..StartRun::default()
    };
    let run = app.runs().start(&start).expect(201).await;
    app.wait_end(&run, 120).await;
    let got = receiver.received(2, secs(30)).await;
    assert_eq!(got.len(), 2);
    for r in &got {
        assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/hook"));
        assert!(r.header("content-type").starts_with("application/json"));
    }
    let body: RunView = serde_json::from_slice(&got[1].body).unwrap();
    assert_eq!(body.id, run.id);
    assert_eq!(body.state, "completed");
    assert!(body.finished);
    let messages = app.messages(&run, "info").await;
    assert!(
        messages.iter().any(|m| m.contains("failed (attempt 1)")),
        "{messages:?}"
    );
    assert!(
        messages.iter().any(|m| m.contains("delivered (attempt 2)")),
        "{messages:?}"
    );
}
