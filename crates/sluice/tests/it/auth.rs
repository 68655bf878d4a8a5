//! Every route but health, login and the OpenAPI document needs auth; orgs never see each other.

use super::support::*;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn routes_need_a_valid_token() {
    let server = TestServer::start().await;
    let open = server
        .http
        .get(format!("{}/healthz", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(open.status(), 200);
    let doc = server
        .http
        .get(format!("{}/api/v1/openapi.json", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(doc.status(), 200);
    let doc: serde_json::Value = doc.json().await.unwrap();
    assert!(doc["paths"]["/api/v1/runs"]["post"].is_object());

    for path in [
        "/api/v1/tasks",
        "/api/v1/runs",
        "/api/v1/connections",
        "/api/v1/me",
    ] {
        let resp = server
            .http
            .get(format!("{}{path}", server.url))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401, "{path}");
        assert!(resp.headers().contains_key("www-authenticate"));
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(body["code"], "unauthorized");
        let (status, _) = server
            .call_as("slc_not-a-token", Method::GET, path, None)
            .await;
        assert_eq!(status, 401, "{path}");
    }
    let (status, err) = server
        .post(
            "/api/v1/auth/login",
            json!({"username": ADMIN, "password": "wrong"}),
        )
        .await;
    assert_eq!((status, err["code"].as_str()), (401, Some("unauthorized")));

    // A long-lived token works like a session.
    let (status, tok) = server
        .post("/api/v1/auth/tokens", json!({"name": "ci"}))
        .await;
    assert_eq!(status, 201, "{tok}");
    let (status, me) = server
        .call_as(
            tok["token"].as_str().unwrap(),
            Method::GET,
            "/api/v1/me",
            None,
        )
        .await;
    assert_eq!((status, me["username"].as_str()), (200, Some(ADMIN)));
}

#[tokio::test]
async fn one_org_never_sees_another_orgs_tasks_or_runs() {
    let server = TestServer::start().await;
    let (status, _) = server.post("/api/v1/orgs", json!({"name": "acme"})).await;
    assert_eq!(status, 201);
    let (status, user) = server
        .post(
            "/api/v1/users",
            json!({"username": "wile", "password": "coyote-pass", "org": "acme", "is_admin": true}),
        )
        .await;
    assert_eq!(status, 201, "{user}");
    let (_, login) = server
        .post(
            "/api/v1/auth/login",
            json!({"username": "wile", "password": "coyote-pass"}),
        )
        .await;
    let acme = login["token"].as_str().unwrap().to_string();

    let run = server.start_run("orders_by_country", json!({})).await;
    let (_, task) = server.get("/api/v1/tasks/sales%2Forders_by_country").await;
    let (status, tasks) = server
        .call_as(&acme, Method::GET, "/api/v1/tasks", None)
        .await;
    assert_eq!((status, tasks.as_array().unwrap().len()), (200, 0));
    for path in [
        format!("/api/v1/tasks/{}", task["id"].as_str().unwrap()),
        format!("/api/v1/tasks/{}", task["iics_task_id"].as_str().unwrap()),
        format!("/api/v1/runs/{}", run["id"].as_str().unwrap()),
        format!("/api/v1/runs/{}/log", run["id"].as_str().unwrap()),
    ] {
        let (status, body) = server.call_as(&acme, Method::GET, &path, None).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (404, Some("not_found")),
            "{path}"
        );
    }
    let (status, _) = server
        .call_as(
            &acme,
            Method::POST,
            "/api/v1/runs",
            Some(json!({"task": "orders_by_country"})),
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = server
        .call_as(
            &acme,
            Method::POST,
            &format!("/api/v1/runs/{}/stop", run["id"].as_str().unwrap()),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 404);
    let (_, runs) = server
        .call_as(&acme, Method::GET, "/api/v1/runs", None)
        .await;
    assert!(runs["runs"].as_array().unwrap().is_empty());
    // Only admins of the default org create orgs.
    let (status, _) = server
        .call_as(
            &acme,
            Method::POST,
            "/api/v1/orgs",
            Some(json!({"name": "evil"})),
        )
        .await;
    assert_eq!(status, 403);
    server.wait_end(&run, 120).await;
}
