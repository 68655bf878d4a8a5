//! The IICS surface over real HTTP, as its clients use it: v2 and v3 login (the documented objects,
//! `serverUrl` pointing back here), the session id in any of the three headers in any case, and the
//! error objects with their statuses.

use super::support::*;
use serde_json::{Value, json};

async fn post_raw(server: &TestServer, path: &str, body: &str) -> (u16, Value) {
    let resp = server
        .http
        .post(format!("{}{path}", server.url))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn v2_and_v3_login_answer_the_documented_objects() {
    let server = TestServer::start().await;
    // Informatica's own example carries a trailing comma.
    let body =
        format!(r#"{{"@type": "login", "username": "{ADMIN}", "password": "{ADMIN_PASSWORD}",}}"#);
    let (status, user) = post_raw(&server, "/ma/api/v2/user/login", &body).await;
    assert_eq!(status, 200, "{user}");
    assert_eq!(user["@type"], "user");
    assert_eq!(user["name"], ADMIN);
    assert_eq!(user["serverUrl"], format!("{}/saas", server.url));
    assert_eq!(user["orgId"].as_str().unwrap().len(), 20, "{user}");
    let session = user["icSessionId"].as_str().unwrap().to_string();

    let (status, v3) = post_raw(
        &server,
        "/saas/public/core/v3/login",
        &format!(r#"{{"username": "{ADMIN}", "password": "{ADMIN_PASSWORD}"}}"#),
    )
    .await;
    assert_eq!(status, 200, "{v3}");
    assert_eq!(
        v3["products"][0]["baseApiUrl"],
        format!("{}/saas", server.url)
    );
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
        let resp = server
            .http
            .get(format!("{}/saas/api/v2/server/serverTime", server.url))
            .header(header, &session)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200, "{header}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["@type"], "serverTime");
    }
}

#[tokio::test]
async fn iics_errors_are_the_documented_objects() {
    let server = TestServer::start().await;
    let (status, e) = post_raw(
        &server,
        "/ma/api/v2/user/login",
        r#"{"@type": "login", "username": "admin", "password": "wrong"}"#,
    )
    .await;
    assert_eq!(status, 403, "{e}");
    assert_eq!(
        e,
        json!({"@type": "error", "code": "UI_10000", "description": "User name or password is not valid.", "statusCode": 403})
    );
    let (status, e) = post_raw(&server, "/ma/api/v2/user/login", "{not json").await;
    assert_eq!(status, 400, "{e}");
    assert_eq!(e["@type"], "error");
    assert_eq!(e["statusCode"], 400);
    let (status, e) = post_raw(&server, "/ma/api/v2/user/login", r#"{"username": "admin"}"#).await;
    assert_eq!(status, 400, "{e}");
    let (status, e) = post_raw(
        &server,
        "/saas/public/core/v3/login",
        r#"{"username": "admin", "password": "wrong"}"#,
    )
    .await;
    assert_eq!(status, 401, "{e}");
    assert_eq!(e["error"]["code"], "AUTH_01");
    assert!(e["error"]["requestId"].as_str().is_some());

    // No session, or an unknown one: 401 with the v2 object, so clients log in again.
    for session in [None, Some("not-a-session")] {
        let mut req = server
            .http
            .get(format!("{}/saas/api/v2/server/serverTime", server.url));
        if let Some(s) = session {
            req = req.header("icSessionId", s);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 401);
        let e: Value = resp.json().await.unwrap();
        assert_eq!(e["@type"], "error");
        assert_eq!(e["statusCode"], 401);
    }
}
