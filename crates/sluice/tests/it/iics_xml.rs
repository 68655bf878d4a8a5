//! v2 in XML: the same resources with `Content-Type`/`Accept: application/xml`.

use super::support::*;

/// The text of the first `<tag>` in `xml`.
fn field<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{tag}>"))? + start;
    Some(&xml[start..end])
}

/// `method` on `path` asking for XML, with the session and an XML body when given. Answers the
/// status, the content type and the body.
async fn xml_call(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    session: Option<&str>,
    body: Option<&str>,
) -> (u16, String, String) {
    let mut req = app
        .http
        .request(method.clone(), app.endpoint(path))
        .header("accept", "application/xml");
    if let Some(s) = session {
        req = req.header("icSessionId", s);
    }
    if let Some(b) = body {
        req = req
            .header("content-type", "application/xml")
            .body(b.to_string());
    }
    let answer = Call::<()>::new(req, format!("{method} {path}"))
        .send()
        .await;
    let ct = answer.header("content-type").to_string();
    (answer.status, ct, answer.text)
}

#[tokio::test]
async fn v2_round_trips_in_xml() {
    let app = TestApp::spawn().await;
    let post = reqwest::Method::POST;
    let login = format!(
        "<?xml version=\"1.0\"?><login><username>{ADMIN}</username><password>{ADMIN_PASSWORD}</password></login>"
    );
    let (status, ct, user) = xml_call(
        &app,
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
    assert_eq!(field(&user, "serverUrl").unwrap(), app.endpoint("/saas"));

    let job = "<job><taskName>gift_orders</taskName><taskType>MTT</taskType></job>";
    let (status, _, answer) = xml_call(
        &app,
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
        http: app.http.clone(),
        root: app.url.clone(),
        server_url: app.endpoint("/saas"),
        session: session.clone(),
    };
    c.wait_gone(&task_id, 1, 120).await;
    let log_path = format!("/saas/api/v2/activity/activityLog?taskId={task_id}&runId=1");
    let log = eventually(secs(10), async || {
        let get = reqwest::Method::GET;
        let (status, _, log) = xml_call(&app, get, &log_path, Some(&session), None).await;
        assert_eq!(status, 200, "{log}");
        if log.contains("<activityLogEntry>") {
            Ok(log)
        } else {
            Err(log)
        }
    })
    .await;
    assert!(log.starts_with("<?xml"), "{log}");
    assert!(log.contains("<list><activityLogEntry>"), "{log}");
    assert_eq!(field(&log, "state"), Some("1"));
    assert_eq!(field(&log, "runId"), Some("1"));

    // Errors in XML too: a malformed document, then a task that does not exist.
    let (status, ct, e) = xml_call(
        &app,
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
        &app,
        post,
        "/saas/api/v2/job",
        Some(&session),
        Some("<job><taskName>nope</taskName><taskType>MTT</taskType></job>"),
    )
    .await;
    assert_eq!(status, 404, "{e}");
    assert_eq!(field(&e, "code"), Some("CMN_404"));
}
