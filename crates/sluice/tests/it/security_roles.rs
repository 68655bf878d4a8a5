//! Security findings, part 2: roles. A Monitor only reads, an Operator also starts and stops,
//! a Designer also defines tasks, an Admin also manages users and connections — on the native API,
//! IICS and Starfish alike; roles change only by an Admin, and an org keeps its last Admin.

use super::support::*;
use reqwest::Method;
use serde_json::{Value, json};

/// Creates a user of `org` with `role` (as the default org's admin) and answers their token.
pub async fn user_with_role(server: &TestServer, org: &str, name: &str, role: &str) -> String {
    let (status, body) = server
        .post(
            "/api/v1/users",
            json!({"username": name, "password": "password-of-test", "org": org, "role": role}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["role"], role);
    let (status, login) = server
        .post(
            "/api/v1/auth/login",
            json!({"username": name, "password": "password-of-test"}),
        )
        .await;
    assert_eq!(status, 200, "{login}");
    login["token"].as_str().unwrap().to_string()
}

const TASK: &str = r#"{"folder": "roles", "name": "copy", "type": "MTT", "allow_parallel": true,
  "definition": {"sources": [{"name": "s", "format": "csv", "path": "in.csv"}],
                 "target": {"format": "csv", "path": "out.csv"}}}"#;

#[tokio::test]
async fn each_role_may_do_what_it_allows_and_nothing_more_on_every_surface() {
    let server = TestServer::start().await;
    let (status, _) = server.post("/api/v1/orgs", json!({"name": "acme"})).await;
    assert_eq!(status, 201);
    let mut tokens = std::collections::BTreeMap::new();
    for role in ["monitor", "operator", "designer", "admin"] {
        let t = user_with_role(&server, "acme", &format!("acme-{role}"), role).await;
        tokens.insert(role, t);
    }
    let area = server.org_area(&tokens["admin"]).await;
    std::fs::write(area.join("in.csv"), "a\n1\n").unwrap();
    let task: Value = serde_json::from_str(TASK).unwrap();

    // Defining tasks: Designers and Admins.
    for role in ["monitor", "operator"] {
        let (status, body) = server
            .call_as(
                &tokens[role],
                Method::POST,
                "/api/v1/tasks",
                Some(task.clone()),
            )
            .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (403, Some("forbidden")),
            "{role}: {body}"
        );
        assert!(
            body["message"].as_str().unwrap().contains("Designer"),
            "{body}"
        );
    }
    let (status, body) = server
        .call_as(
            &tokens["designer"],
            Method::POST,
            "/api/v1/tasks",
            Some(task.clone()),
        )
        .await;
    assert_eq!(status, 201, "{body}");

    // Reading: everyone.
    for (role, token) in &tokens {
        let (status, tasks) = server
            .call_as(token, Method::GET, "/api/v1/tasks", None)
            .await;
        assert_eq!(
            (status, tasks.as_array().map(Vec::len)),
            (200, Some(1)),
            "{role}"
        );
    }

    // Starting and stopping: Operators and above.
    let start = json!({"task": "roles/copy"});
    let (status, body) = server
        .call_as(
            &tokens["monitor"],
            Method::POST,
            "/api/v1/runs",
            Some(start.clone()),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    let (status, run) = server
        .call_as(
            &tokens["operator"],
            Method::POST,
            "/api/v1/runs",
            Some(start.clone()),
        )
        .await;
    assert_eq!(status, 201, "{run}");
    let stop = format!("/api/v1/runs/{}/stop", run["id"].as_str().unwrap());
    let (status, _) = server
        .call_as(&tokens["monitor"], Method::POST, &stop, Some(json!({})))
        .await;
    assert_eq!(status, 403);

    // Connections and users: Admins only.
    let conn = json!({"name": "landing", "type": "files", "config": {"path": "landing"}});
    for role in ["monitor", "operator", "designer"] {
        let (status, _) = server
            .call_as(
                &tokens[role],
                Method::POST,
                "/api/v1/connections",
                Some(conn.clone()),
            )
            .await;
        assert_eq!(status, 403, "{role} creates a connection");
        let (status, _) = server
            .call_as(&tokens[role], Method::GET, "/api/v1/users", None)
            .await;
        assert_eq!(status, 403, "{role} lists users");
    }
    let (status, body) = server
        .call_as(
            &tokens["admin"],
            Method::POST,
            "/api/v1/connections",
            Some(conn),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, users) = server
        .call_as(&tokens["admin"], Method::GET, "/api/v1/users", None)
        .await;
    assert_eq!((status, users.as_array().unwrap().len()), (200, 4));

    iics_and_starfish_check_roles(&server, &tokens).await;
    roles_change_only_by_admins(&server, &tokens, &users).await;
}

async fn iics_and_starfish_check_roles(
    server: &TestServer,
    tokens: &std::collections::BTreeMap<&str, String>,
) {
    let job = json!({"@type": "job", "taskName": "roles/copy", "taskType": "MTT"});
    for (name, expected) in [("acme-monitor", 403), ("acme-operator", 200)] {
        let session = server.iics_session(name, "password-of-test").await;
        let resp = server
            .http
            .post(format!("{}/saas/api/v2/job", server.url))
            .header("icSessionId", &session)
            .json(&job)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap();
        assert_eq!(status, expected, "{name}: {body}");
        if expected == 403 {
            assert_eq!(
                (body["@type"].as_str(), body["statusCode"].as_u64()),
                (Some("error"), Some(403))
            );
        }
    }
    // Starfish: a Monitor's token may read results but not execute.
    let (_, task) = server
        .call_as(
            &tokens["monitor"],
            Method::GET,
            "/api/v1/tasks/roles%2Fcopy",
            None,
        )
        .await;
    let body = json!({
        "runID": uuid_like(), "projectID": task["starfish_project_id"],
        "jobID": task["starfish_job_id"]
    });
    let resp = server
        .http
        .post(format!("{}/v1/ExecuteJobAsync", server.url))
        .bearer_auth(&tokens["monitor"])
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403);
    let answer: Value = resp.json().await.unwrap();
    assert!(
        answer["Message"].as_str().unwrap().contains("Operator"),
        "{answer}"
    );
}

fn uuid_like() -> String {
    format!("{:08x}-0000-4000-8000-{:012x}", std::process::id(), 42)
}

async fn roles_change_only_by_admins(
    server: &TestServer,
    tokens: &std::collections::BTreeMap<&str, String>,
    users: &Value,
) {
    let id_of = |name: &str| {
        users
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["username"] == name)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let monitor = format!("/api/v1/users/{}/role", id_of("acme-monitor"));
    let (status, _) = server
        .call_as(
            &tokens["designer"],
            Method::PUT,
            &monitor,
            Some(json!({"role": "admin"})),
        )
        .await;
    assert_eq!(status, 403, "a Designer cannot hand out roles");
    let (status, body) = server
        .call_as(
            &tokens["admin"],
            Method::PUT,
            &monitor,
            Some(json!({"role": "operator"})),
        )
        .await;
    assert_eq!(
        (status, body["role"].as_str()),
        (200, Some("operator")),
        "{body}"
    );
    // The promoted user may now start runs with the token they already had.
    let (status, body) = server
        .call_as(
            &tokens["monitor"],
            Method::POST,
            "/api/v1/runs",
            Some(json!({"task": "roles/copy"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = server
        .call_as(
            &tokens["admin"],
            Method::PUT,
            &monitor,
            Some(json!({"role": "root"})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let me = format!("/api/v1/users/{}/role", id_of("acme-admin"));
    let (status, body) = server
        .call_as(
            &tokens["admin"],
            Method::PUT,
            &me,
            Some(json!({"role": "monitor"})),
        )
        .await;
    assert_eq!(status, 409, "the last Admin stays: {body}");
}
