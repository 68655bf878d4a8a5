//! Every route but health, login and the OpenAPI document needs auth; orgs never see each other.

use super::support::*;
use serde_json::{Value, json};
use sluice_types::NewUser;

#[tokio::test]
async fn routes_need_a_valid_token() {
    let app = TestApp::spawn().await;
    app.anonymous().get("/healthz").expect_status(200).await;
    let doc = app
        .anonymous()
        .get("/api/v1/openapi.json")
        .expect_json(200)
        .await;
    assert!(doc["paths"]["/api/v1/runs"]["post"].is_object());

    for path in [
        "/api/v1/tasks",
        "/api/v1/runs",
        "/api/v1/connections",
        "/api/v1/me",
    ] {
        let answer = app.anonymous().get(path).expect_status(401).await;
        assert!(answer.headers.contains_key("www-authenticate"));
        assert_eq!(answer.json::<Value>()["code"], "unauthorized");
        app.signed_in_as("slc_not-a-token")
            .get(path)
            .expect_status(401)
            .await;
    }
    let err = app.auth().login(ADMIN, "wrong").expect_error(401).await;
    assert_eq!(err.code, "unauthorized");

    // A long-lived token works like a session.
    let tok = app.auth().new_token("ci").expect(201).await;
    let me = app.signed_in_as(&tok.token).me().await;
    assert_eq!(me.username, ADMIN);
}

#[tokio::test]
async fn one_org_never_sees_another_orgs_tasks_or_runs() {
    let app = TestApp::spawn().await;
    app.orgs().create("acme").expect(201).await;
    let wile = NewUser {
        username: "wile".into(),
        password: "coyote-pass".into(),
        org: Some("acme".into()),
        role: None,
        is_admin: true,
    };
    app.users().create(&wile).expect(201).await;
    let login = app.auth().login("wile", "coyote-pass").expect(200).await;
    let acme = app.signed_in_as(&login.token);

    let run = app.start_run("orders_by_country", &[]).await;
    let task = app.tasks().get("sales/orders_by_country").expect(200).await;
    assert!(acme.tasks().list("").expect(200).await.is_empty());
    for path in [
        format!("/api/v1/tasks/{}", task.id),
        format!("/api/v1/tasks/{}", task.iics_task_id),
        format!("/api/v1/runs/{}", run.id),
        format!("/api/v1/runs/{}/log", run.id),
    ] {
        let e = acme.get(&path).expect_error(404).await;
        assert_eq!(e.code, "not_found", "{path}");
    }
    acme.post("/api/v1/runs", json!({"task": "orders_by_country"}))
        .expect_status(404)
        .await;
    acme.runs().stop(&run, None).expect_status(404).await;
    assert!(acme.runs().list("").expect(200).await.runs.is_empty());
    // Only admins of the default org create orgs.
    acme.orgs().create("evil").expect_status(403).await;
    app.wait_end(&run, 120).await;
}
