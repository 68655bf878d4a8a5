//! The IICS surface over real HTTP, as its clients use it: v2 and v3 login (the documented objects,
//! `serverUrl` pointing back here), the session id in any of the three headers in any case, and the
//! error objects with their statuses.

use super::support::*;
use serde_json::json;

/// POSTs `body` as JSON text without a session.
fn post_raw(app: &TestApp, path: &str, body: &str) -> Call {
    let req = app
        .http
        .post(app.endpoint(path))
        .header("content-type", "application/json")
        .body(body.to_string());
    Call::new(req, format!("POST {path}"))
}

/// `GET /saas/api/v2/server/serverTime` with `session` in `header`, if any.
fn server_time(app: &TestApp, header: &str, session: Option<&str>) -> Call {
    let mut req = app.http.get(app.endpoint("/saas/api/v2/server/serverTime"));
    if let Some(s) = session {
        req = req.header(header, s);
    }
    Call::new(req, format!("GET serverTime ({header})"))
}

#[tokio::test]
async fn v2_and_v3_login_answer_the_documented_objects() {
    let app = TestApp::spawn().await;
    // Informatica's own example carries a trailing comma.
    let body =
        format!(r#"{{"@type": "login", "username": "{ADMIN}", "password": "{ADMIN_PASSWORD}",}}"#);
    let user = post_raw(&app, "/ma/api/v2/user/login", &body)
        .expect(200)
        .await;
    assert_eq!(user["@type"], "user");
    assert_eq!(user["name"], ADMIN);
    assert_eq!(user["serverUrl"], app.endpoint("/saas"));
    assert_eq!(user["orgId"].as_str().unwrap().len(), 20, "{user}");
    let session = user["icSessionId"].as_str().unwrap().to_string();

    let v3 = post_raw(
        &app,
        "/saas/public/core/v3/login",
        &format!(r#"{{"username": "{ADMIN}", "password": "{ADMIN_PASSWORD}"}}"#),
    )
    .expect(200)
    .await;
    assert_eq!(v3["products"][0]["baseApiUrl"], app.endpoint("/saas"));
    assert_eq!(v3["userInfo"]["name"], ADMIN);
    assert_eq!(v3["userInfo"]["status"], "Active");
    assert!(v3["userInfo"]["sessionId"].as_str().is_some());

    // One session id, any of the three headers, any case.
    for header in [
        "icSessionId",
        "icsessionid",
        "INFA-SESSION-ID",
        "ids-session-id",
    ] {
        let body = server_time(&app, header, Some(&session)).expect(200).await;
        assert_eq!(body["@type"], "serverTime", "{header}");
    }
}

#[tokio::test]
async fn iics_errors_are_the_documented_objects() {
    let app = TestApp::spawn().await;
    let e = post_raw(
        &app,
        "/ma/api/v2/user/login",
        r#"{"@type": "login", "username": "admin", "password": "wrong"}"#,
    )
    .expect(403)
    .await;
    assert_eq!(
        e,
        json!({"@type": "error", "code": "UI_10000", "description": "User name or password is not valid.", "statusCode": 403})
    );
    let e = post_raw(&app, "/ma/api/v2/user/login", "{not json")
        .expect(400)
        .await;
    assert_eq!(e["@type"], "error");
    assert_eq!(e["statusCode"], 400);
    post_raw(&app, "/ma/api/v2/user/login", r#"{"username": "admin"}"#)
        .expect_status(400)
        .await;
    let e = post_raw(
        &app,
        "/saas/public/core/v3/login",
        r#"{"username": "admin", "password": "wrong"}"#,
    )
    .expect(401)
    .await;
    assert_eq!(e["error"]["code"], "AUTH_01");
    assert!(e["error"]["requestId"].as_str().is_some());

    // No session, or an unknown one: 401 with the v2 object, so clients log in again.
    for session in [None, Some("not-a-session")] {
        let e = server_time(&app, "icSessionId", session).expect(401).await;
        assert_eq!(e["@type"], "error");
        assert_eq!(e["statusCode"], 401);
    }
}
