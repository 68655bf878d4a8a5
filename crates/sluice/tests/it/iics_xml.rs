//! v2 in XML: the same resources with `Content-Type`/`Accept: application/xml`.

use super::iics_jobs::Iics;
use super::support::*;
use std::time::{Duration, Instant};

/// The text of the first `<tag>` in `xml`.
fn field<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{tag}>"))? + start;
    Some(&xml[start..end])
}

async fn xml_call(
    server: &TestServer,
    method: reqwest::Method,
    path: &str,
    session: Option<&str>,
    body: Option<&str>,
) -> (u16, String, String) {
    let mut req = server
        .http
        .request(method, format!("{}{path}", server.url))
        .header("accept", "application/xml");
    if let Some(s) = session {
        req = req.header("icSessionId", s);
    }
    if let Some(b) = body {
        req = req
            .header("content-type", "application/xml")
            .body(b.to_string());
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let ct = resp.headers()["content-type"].to_str().unwrap().to_string();
    (status, ct, resp.text().await.unwrap())
}

#[tokio::test]
async fn v2_round_trips_in_xml() {
    let server = TestServer::start().await;
    let post = reqwest::Method::POST;
    let login = format!(
        "<?xml version=\"1.0\"?><login><username>{ADMIN}</username><password>{ADMIN_PASSWORD}</password></login>"
    );
    let (status, ct, user) = xml_call(
        &server,
        post.clone(),
        "/ma/api/v2/user/login",
        None,
        Some(&login),
    )
    .await;
    assert_eq!(status, 200, "{user}");
    assert!(ct.starts_with("application/xml"), "{ct}");
    assert!(user.contains("<user>"), "{user}");
    let session = field(&user, "icSessionId").unwrap().to_string();
    assert_eq!(
        field(&user, "serverUrl").unwrap(),
        format!("{}/saas", server.url)
    );

    let job = "<job><taskName>gift_orders</taskName><taskType>MTT</taskType></job>";
    let (status, _, answer) = xml_call(
        &server,
        post.clone(),
        "/saas/api/v2/job",
        Some(&session),
        Some(job),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer.contains("<job>"), "{answer}");
    assert_eq!(field(&answer, "runId"), Some("1"));
    assert_eq!(field(&answer, "runInParallel"), Some("true"));
    let task_id = field(&answer, "taskId").unwrap().to_string();

    // The JSON client sees the same run finish; the XML log says so too.
    let c = Iics {
        http: server.http.clone(),
        server_url: format!("{}/saas", server.url),
        session: session.clone(),
    };
    c.wait_gone(&task_id, 1, 120).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let log = loop {
        let (status, _, log) = xml_call(
            &server,
            reqwest::Method::GET,
            &format!("/saas/api/v2/activity/activityLog?taskId={task_id}&runId=1"),
            Some(&session),
            None,
        )
        .await;
        assert_eq!(status, 200, "{log}");
        if log.contains("<activityLogEntry>") || Instant::now() > deadline {
            break log;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(log.starts_with("<?xml"), "{log}");
    assert!(log.contains("<list><activityLogEntry>"), "{log}");
    assert_eq!(field(&log, "state"), Some("1"));
    assert_eq!(field(&log, "runId"), Some("1"));

    // Errors in XML too: a malformed document, then a task that does not exist.
    let (status, ct, e) = xml_call(
        &server,
        post.clone(),
        "/saas/api/v2/job",
        Some(&session),
        Some("<job><taskName>x</job>"),
    )
    .await;
    assert_eq!(status, 400, "{e}");
    assert!(ct.starts_with("application/xml"));
    assert!(e.contains("<error>"), "{e}");
    assert_eq!(field(&e, "statusCode"), Some("400"));
    let (status, _, e) = xml_call(
        &server,
        post,
        "/saas/api/v2/job",
        Some(&session),
        Some("<job><taskName>nope</taskName><taskType>MTT</taskType></job>"),
    )
    .await;
    assert_eq!(status, 404, "{e}");
    assert_eq!(field(&e, "code"), Some("CMN_404"));
}
