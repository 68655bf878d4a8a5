//! IICS error paths (each with its status and error object) and sessions: validSessionId,
//! logout, logoutall, and sessions outliving a server restart.

use super::support::*;
use serde_json::{Value, json};

/// Sends `call`; it must answer `expected` with the v2 error object. Answers that object.
async fn v2_error(call: Call, expected: u16) -> Value {
    let e = call.expect(expected).await;
    assert_eq!(e["@type"], "error", "{e}");
    assert_eq!(e["statusCode"], expected, "{e}");
    assert!(!e["description"].as_str().unwrap().is_empty(), "{e}");
    e
}

/// Sends `call`; it must answer `expected` with the v3 error object.
async fn v3_error(call: Call, expected: u16) {
    let e = call.expect(expected).await;
    assert!(e["error"]["code"].as_str().is_some(), "{e}");
    assert!(e["error"]["message"].as_str().is_some(), "{e}");
}

#[tokio::test]
async fn every_error_path_answers_its_status_and_object() {
    let defs = defs_dir(&[
        (
            "a/twin.toml",
            "type = \"MTT\"\n[[sources]]\nname = \"o\"\nformat = \"csv\"\npath = \"x.csv\"\n[target]\nformat = \"csv\"\npath = \"${sluice.data_dir}/o.csv\"\n",
        ),
        (
            "b/twin.toml",
            "type = \"MTT\"\n[[sources]]\nname = \"o\"\nformat = \"csv\"\npath = \"x.csv\"\n[target]\nformat = \"csv\"\npath = \"${sluice.data_dir}/o.csv\"\n",
        ),
        ("x.csv", "a\n1\n"),
    ]);
    let app = TestApp::spawn_with(defs.path(), None, &[]).await;
    let c = app.iics().await;
    let job = |body: Value| c.post("/api/v2/job", body);

    v2_error(job(json!({"@type": "job", "taskType": "MTT"})), 400).await;
    v2_error(job(json!({"taskName": "nope", "taskType": "MTT"})), 404).await;
    let e = v2_error(job(json!({"taskName": "twin", "taskType": "MTT"})), 400).await;
    let d = e["description"].as_str().unwrap();
    assert!(
        d.contains("a/twin") && d.contains("b/twin"),
        "names both: {d}"
    );
    let e = v2_error(job(json!({"taskName": "a/twin", "taskType": "DSS"})), 400).await;
    assert!(e["description"].as_str().unwrap().contains("MTT"), "{e}");
    v2_error(job(json!({"taskName": "a/twin", "taskType": "XYZ"})), 400).await;
    v2_error(c.post_text("/api/v2/job", "{\"taskName\": "), 400).await;
    v2_error(c.post_text("/api/v2/job", "[1, 2]"), 400).await;
    let bad_callback = json!({"taskName": "a/twin", "callbackURL": "ftp://x"});
    v2_error(job(bad_callback), 400).await;
    let stop = c.post(
        "/api/v2/job/stop?cleanStop=maybe",
        json!({"taskName": "a/twin"}),
    );
    v2_error(stop, 400).await;

    for q in [
        "rowLimit=5000",
        "rowLimit=0",
        "offset=-1",
        "runId=1",
        "rowLimit=ten",
        "taskId=nope",
    ] {
        let expected = if q == "taskId=nope" { 404 } else { 400 };
        v2_error(
            c.get(&format!("/api/v2/activity/activityLog?{q}")),
            expected,
        )
        .await;
    }
    let monitor = c.get("/api/v2/activity/activityMonitor?details=perhaps");
    v2_error(monitor, 400).await;
    for id in ["nope", "0192f0c0-0000-7000-8000-000000000000"] {
        v2_error(c.get(&format!("/api/v2/activity/activityLog/{id}")), 404).await;
    }
    v2_error(c.get("/api/v2/task?type=NOPE"), 400).await;

    let lookup = |body: Value| c.post("/public/core/v3/lookup", body);
    let missing = json!({"objects": [{"path": "a/none", "type": "MTT"}]});
    v3_error(lookup(missing), 404).await;
    v3_error(lookup(json!({"objects": []})), 400).await;
    v3_error(c.get("/public/core/v3/objects?q=owner=='me'"), 400).await;
    v3_error(c.get("/public/core/v3/objects?limit=500"), 400).await;

    // Without a session: 401, v2 object on v2 routes and v3 object on v3 routes.
    let no_session = c.http.post(format!("{}/api/v2/job", c.server_url));
    v2_error(
        Call::new(no_session.json(&json!({})), "POST /api/v2/job"),
        401,
    )
    .await;
    let no_session = c
        .http
        .get(format!("{}/public/core/v3/objects", c.server_url));
    v3_error(Call::new(no_session, "GET /public/core/v3/objects"), 401).await;
}

#[tokio::test]
async fn sessions_validate_log_out_and_survive_a_restart() {
    let data = tempfile::tempdir().unwrap();
    let mut app = TestApp::spawn_with(&examples_dir(), Some(data.path()), &[]).await;
    let c = app.iics().await;
    let v = c
        .post(
            "/api/v2/user/validSessionId",
            json!({"@type": "validatedToken", "userName": ADMIN, "icToken": c.session}),
        )
        .expect(200)
        .await;
    assert_eq!(v["@type"], "validatedToken");
    assert_eq!(v["isValidToken"], true);
    let left = v["timeUntilExpire"].as_i64().unwrap();
    assert!((29..=30).contains(&left), "30 minutes idle: {v}");

    // Restart: the session is in the store, not in memory.
    app.terminate().await;
    let app = TestApp::spawn_with(&examples_dir(), Some(data.path()), &[]).await;
    let c = c.at(app.endpoint("/saas"));
    c.get("/api/v2/server/serverTime").expect_status(200).await;

    // v2 logout ends it; asking about it afterwards answers "not valid", not an error.
    c.post("/api/v2/user/logout", json!({}))
        .expect_status(200)
        .await;
    v2_error(c.get("/api/v2/server/serverTime"), 401).await;
    let v = c
        .post(
            "/api/v2/user/validSessionId",
            json!({"userName": ADMIN, "icToken": c.session}),
        )
        .expect(200)
        .await;
    assert_eq!(v["isValidToken"], false, "{v}");

    // logoutall ends every IICS session of the user (a native token stays good).
    let a = app.iics().await;
    let b = app.iics().await;
    let logout_all = |password: &str| {
        let body = json!({"@type": "logout", "username": ADMIN, "password": password});
        app.anonymous().post("/ma/api/v2/user/logoutall", body)
    };
    logout_all("wrong").expect_status(403).await;
    logout_all(ADMIN_PASSWORD).expect_status(200).await;
    for s in [&a, &b] {
        v2_error(s.get("/api/v2/server/serverTime"), 401).await;
    }
    app.get("/api/v1/tasks").expect_status(200).await;

    // v3 logout with INFA-SESSION-ID.
    let v3 = app.iics().await;
    app.anonymous()
        .request(reqwest::Method::POST, "/saas/public/core/v3/logout")
        .header("INFA-SESSION-ID", &v3.session)
        .expect_status(200)
        .await;
    v2_error(v3.get("/api/v2/server/serverTime"), 401).await;
}
