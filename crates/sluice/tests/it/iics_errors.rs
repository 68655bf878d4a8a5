//! IICS error paths (each with its status and error object) and sessions: validSessionId,
//! logout, logoutall, and sessions outliving a server restart.

use super::iics_jobs::Iics;
use super::support::*;
use serde_json::{Value, json};

fn v2_error(status: u16, e: &Value, expected: u16) {
    assert_eq!(status, expected, "{e}");
    assert_eq!(e["@type"], "error", "{e}");
    assert_eq!(e["statusCode"], expected, "{e}");
    assert!(!e["description"].as_str().unwrap().is_empty(), "{e}");
}

fn v3_error(status: u16, e: &Value, expected: u16) {
    assert_eq!(status, expected, "{e}");
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
    let server = TestServer::start_with(defs.path(), None, &[]).await;
    let c = Iics::login(&server).await;

    let (s, e) = c
        .post("/api/v2/job", json!({"@type": "job", "taskType": "MTT"}))
        .await;
    v2_error(s, &e, 400);
    let (s, e) = c
        .post(
            "/api/v2/job",
            json!({"taskName": "nope", "taskType": "MTT"}),
        )
        .await;
    v2_error(s, &e, 404);
    let (s, e) = c
        .post(
            "/api/v2/job",
            json!({"taskName": "twin", "taskType": "MTT"}),
        )
        .await;
    v2_error(s, &e, 400);
    let d = e["description"].as_str().unwrap();
    assert!(
        d.contains("a/twin") && d.contains("b/twin"),
        "names both: {d}"
    );
    let (s, e) = c
        .post(
            "/api/v2/job",
            json!({"taskName": "a/twin", "taskType": "DSS"}),
        )
        .await;
    v2_error(s, &e, 400);
    assert!(e["description"].as_str().unwrap().contains("MTT"), "{e}");
    let (s, e) = c
        .post(
            "/api/v2/job",
            json!({"taskName": "a/twin", "taskType": "XYZ"}),
        )
        .await;
    v2_error(s, &e, 400);
    let (s, e) = c.post_text("/api/v2/job", "{\"taskName\": ").await;
    v2_error(s, &e, 400);
    let (s, e) = c.post_text("/api/v2/job", "[1, 2]").await;
    v2_error(s, &e, 400);
    let (s, e) = c
        .post(
            "/api/v2/job",
            json!({"taskName": "a/twin", "callbackURL": "ftp://x"}),
        )
        .await;
    v2_error(s, &e, 400);
    let (s, e) = c
        .post(
            "/api/v2/job/stop?cleanStop=maybe",
            json!({"taskName": "a/twin"}),
        )
        .await;
    v2_error(s, &e, 400);

    for q in [
        "rowLimit=5000",
        "rowLimit=0",
        "offset=-1",
        "runId=1",
        "rowLimit=ten",
        "taskId=nope",
    ] {
        let (s, e) = c.get(&format!("/api/v2/activity/activityLog?{q}")).await;
        v2_error(s, &e, if q == "taskId=nope" { 404 } else { 400 });
    }
    let (s, e) = c
        .get("/api/v2/activity/activityMonitor?details=perhaps")
        .await;
    v2_error(s, &e, 400);
    for id in ["nope", "0192f0c0-0000-7000-8000-000000000000"] {
        let (s, e) = c.get(&format!("/api/v2/activity/activityLog/{id}")).await;
        v2_error(s, &e, 404);
    }
    let (s, e) = c.get("/api/v2/task?type=NOPE").await;
    v2_error(s, &e, 400);

    let (s, e) = c
        .post(
            "/public/core/v3/lookup",
            json!({"objects": [{"path": "a/none", "type": "MTT"}]}),
        )
        .await;
    v3_error(s, &e, 404);
    let (s, e) = c
        .post("/public/core/v3/lookup", json!({"objects": []}))
        .await;
    v3_error(s, &e, 400);
    let (s, e) = c.get("/public/core/v3/objects?q=owner=='me'").await;
    v3_error(s, &e, 400);
    let (s, e) = c.get("/public/core/v3/objects?limit=500").await;
    v3_error(s, &e, 400);

    // Without a session: 401, v2 object on v2 routes and v3 object on v3 routes.
    let resp = c
        .http
        .post(format!("{}/api/v2/job", c.server_url))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    v2_error(status, &resp.json().await.unwrap(), 401);
    let resp = c
        .http
        .get(format!("{}/public/core/v3/objects", c.server_url))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    v3_error(status, &resp.json().await.unwrap(), 401);
}

#[tokio::test]
async fn sessions_validate_log_out_and_survive_a_restart() {
    let data = tempfile::tempdir().unwrap();
    let mut server = TestServer::start_with(&examples_dir(), Some(data.path()), &[]).await;
    let c = Iics::login(&server).await;
    let (s, v) = c
        .post(
            "/api/v2/user/validSessionId",
            json!({"@type": "validatedToken", "userName": ADMIN, "icToken": c.session}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["@type"], "validatedToken");
    assert_eq!(v["isValidToken"], true);
    let left = v["timeUntilExpire"].as_i64().unwrap();
    assert!((29..=30).contains(&left), "30 minutes idle: {v}");

    // Restart: the session is in the store, not in memory.
    server.terminate();
    let server = TestServer::start_with(&examples_dir(), Some(data.path()), &[]).await;
    let c = Iics {
        server_url: format!("{}/saas", server.url),
        ..c
    };
    let (s, t) = c.get("/api/v2/server/serverTime").await;
    assert_eq!(s, 200, "{t}");

    // v2 logout ends it; asking about it afterwards answers "not valid", not an error.
    let (s, _) = c.post("/api/v2/user/logout", json!({})).await;
    assert_eq!(s, 200);
    let (s, e) = c.get("/api/v2/server/serverTime").await;
    v2_error(s, &e, 401);
    let (s, v) = c
        .post(
            "/api/v2/user/validSessionId",
            json!({"userName": ADMIN, "icToken": c.session}),
        )
        .await;
    assert_eq!((s, v["isValidToken"].clone()), (200, json!(false)), "{v}");

    // logoutall ends every IICS session of the user (a native token stays good).
    let a = Iics::login(&server).await;
    let b = Iics::login(&server).await;
    let resp = server
        .http
        .post(format!("{}/ma/api/v2/user/logoutall", server.url))
        .json(&json!({"@type": "logout", "username": ADMIN, "password": "wrong"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403);
    let resp = server
        .http
        .post(format!("{}/ma/api/v2/user/logoutall", server.url))
        .json(&json!({"@type": "logout", "username": ADMIN, "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    for s in [&a, &b] {
        let (status, e) = s.get("/api/v2/server/serverTime").await;
        v2_error(status, &e, 401);
    }
    let (status, _) = server.get("/api/v1/tasks").await;
    assert_eq!(status, 200);

    // v3 logout with INFA-SESSION-ID.
    let v3 = Iics::login(&server).await;
    let resp = server
        .http
        .post(format!("{}/saas/public/core/v3/logout", server.url))
        .header("INFA-SESSION-ID", &v3.session)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let (status, e) = v3.get("/api/v2/server/serverTime").await;
    v2_error(status, &e, 401);
}
