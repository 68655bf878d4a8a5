//! Sign-in throttling on every surface that takes a password, and the audit log (API and CLI).
//! One server: each surface signs in as its own user, so their lockouts stay apart; the
//! per-address limit is raised so that the attempts of all surfaces from 127.0.0.1 do not lock
//! the address (the throttle's unit tests cover it).

use super::support::*;
use reqwest::Method;
use serde_json::{Value, json};
use std::process::Command;

const RIGHT: &str = "right-password-1";

#[derive(Debug, Clone, Copy)]
enum Via {
    Native,
    IicsV2,
    IicsV3,
    Starfish,
    Basic,
    LogoutAll,
}

struct Answer {
    status: u16,
    retry_after: Option<u64>,
    body: Value,
}

async fn attempt(server: &TestServer, via: Via, user: &str, password: &str) -> Answer {
    let url = |path: &str| format!("{}{path}", server.url);
    let creds = json!({"username": user, "password": password});
    let http = &server.http;
    let req = match via {
        Via::Native => http.post(url("/api/v1/auth/login")).json(&creds),
        Via::IicsV2 => http.post(url("/ma/api/v2/user/login")).json(&creds),
        Via::IicsV3 => http.post(url("/saas/public/core/v3/login")).json(&creds),
        Via::LogoutAll => http.post(url("/ma/api/v2/user/logoutall")).json(&creds),
        Via::Starfish => http
            .post(url("/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!(
                "grant_type=password&username={user}&password={password}"
            )),
        Via::Basic => http
            .get(url("/active-bpel/services/tf/status"))
            .basic_auth(user, Some(password)),
    };
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let retry_after = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().parse().expect("Retry-After in seconds"));
    let text = resp.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Answer {
        status,
        retry_after,
        body,
    }
}

/// Five wrong passwords are answered as each surface answers a wrong password; then the right
/// one is refused with a 429 and `Retry-After`. Answers the refusal's body.
async fn lock_out(server: &TestServer, via: Via, user: &str, wrong_status: u16) -> Value {
    for i in 1..=5 {
        let a = attempt(server, via, user, "wrong-password").await;
        assert_eq!(a.status, wrong_status, "{via:?} failure {i}: {}", a.body);
        assert_eq!(a.retry_after, None, "{via:?}");
    }
    let a = attempt(server, via, user, RIGHT).await;
    assert_eq!(
        a.status, 429,
        "{via:?}: the right password while locked: {}",
        a.body
    );
    let wait = a.retry_after.expect("Retry-After");
    assert!((1..=60).contains(&wait), "{via:?}: Retry-After {wait}");
    a.body
}

async fn create_user(server: &TestServer, name: &str, role: &str) -> Value {
    let (status, user) = server
        .post(
            "/api/v1/users",
            json!({"username": name, "password": RIGHT, "role": role}),
        )
        .await;
    assert_eq!(status, 201, "{user}");
    user
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_sign_ins_are_throttled_everywhere_and_audited() {
    let server = TestServer::start_with(
        &examples_dir(),
        None,
        &[("SLUICE_SIGNIN__ADDRESS_FAILURES", "1000")],
    )
    .await;
    for (name, role) in [
        ("alice", "designer"),
        ("v2user", "operator"),
        ("v3user", "operator"),
        ("sfuser", "operator"),
        ("basicuser", "operator"),
        ("watcher", "designer"),
    ] {
        create_user(&server, name, role).await;
    }

    // A successful sign-in is never throttled, however often.
    for _ in 0..8 {
        assert_eq!(
            attempt(&server, Via::Native, "alice", RIGHT).await.status,
            200
        );
    }
    let body = lock_out(&server, Via::Native, "alice", 401).await;
    assert_eq!(body["code"], "too_many_requests", "{body}");
    // Locked for every surface and address-independent: the same name on IICS is refused too.
    let other = attempt(&server, Via::IicsV2, "alice", RIGHT).await;
    assert_eq!(other.status, 429, "{}", other.body);

    let body = lock_out(&server, Via::IicsV2, "v2user", 403).await;
    assert_eq!(
        (&body["@type"], &body["code"], &body["statusCode"]),
        (&json!("error"), &json!("CMN_429"), &json!(429)),
        "{body}"
    );
    let logout_all = attempt(&server, Via::LogoutAll, "v2user", RIGHT).await;
    assert_eq!(
        logout_all.status, 429,
        "logoutall takes a password: {}",
        logout_all.body
    );
    assert!(logout_all.retry_after.is_some());

    let body = lock_out(&server, Via::IicsV3, "v3user", 401).await;
    assert_eq!(body["error"]["code"], "CMN_429", "{body}");
    assert!(body["error"]["requestId"].is_string(), "{body}");

    let body = lock_out(&server, Via::Starfish, "sfuser", 400).await;
    assert_eq!(body["error"], "temporarily_unavailable", "{body}");

    let body = lock_out(&server, Via::Basic, "basicuser", 401).await;
    assert_eq!(body["code"], "CMN_429", "{body}");

    // A user name nobody has is throttled like any other.
    let body = lock_out(&server, Via::Native, "nobody", 401).await;
    assert_eq!(body["code"], "too_many_requests", "{body}");

    audit_log(&server).await;
}

/// What the audit log kept of the test above, through the API and the CLI.
async fn audit_log(server: &TestServer) {
    let (status, role) = server
        .call(
            Method::PUT,
            &format!("/api/v1/users/{}/role", user_id(server, "watcher").await),
            Some(json!({"role": "monitor"})),
        )
        .await;
    assert_eq!(status, 200, "{role}");
    let (status, conn) = server
        .post(
            "/api/v1/connections",
            json!({"name": "warehouse", "type": "postgres", "config": {
                "host": "db.example", "database": "dw", "user": "etl",
                "password": "pg-secret-value-123"}}),
        )
        .await;
    assert_eq!(status, 201, "{conn}");

    let (status, page) = server.get("/api/v1/audit?limit=1000").await;
    assert_eq!(status, 200, "{page}");
    let events = page["events"].as_array().unwrap();
    assert!(
        !page.to_string().contains("pg-secret-value-123") && !page.to_string().contains(RIGHT),
        "no secret in the log"
    );
    let find = |action: &str, target: &str, outcome: &str| -> Vec<&Value> {
        events
            .iter()
            .filter(|e| e["action"] == action && e["target"] == target && e["outcome"] == outcome)
            .collect()
    };
    let admin_in = find("signin", ADMIN, "success");
    assert_eq!(admin_in[0]["actor"], ADMIN);
    assert_eq!(admin_in[0]["surface"], "native");
    assert_eq!(admin_in[0]["client_addr"], "127.0.0.1");
    for (user, surface) in [
        ("alice", "native"),
        ("v2user", "iics_v2"),
        ("v3user", "iics_v3"),
        ("sfuser", "starfish"),
        ("basicuser", "iics_v2"),
        ("nobody", "native"),
    ] {
        let failed = find("signin", user, "failure");
        // One row per password checked; the refused attempts have none of their own.
        assert_eq!(failed.len(), 5, "{user}: {failed:?}");
        for e in &failed {
            assert_eq!(
                (&e["actor"], &e["surface"], &e["client_addr"]),
                (&json!("anonymous"), &json!(surface), &json!("127.0.0.1")),
                "{e}"
            );
        }
        assert!(
            failed[0]["detail"]
                .as_str()
                .unwrap()
                .contains("further attempts refused for 60 s"),
            "the newest failure started the lockout: {}",
            failed[0]
        );
    }
    assert!(
        find("signin", "basicuser", "failure")[0]["detail"]
            .as_str()
            .unwrap()
            .starts_with("HTTP Basic")
    );
    assert!(find("signin", "nobody", "failure")[0]["org_id"].is_null());
    assert_eq!(find("signin", "alice", "success").len(), 8);
    let created = find("user.create", "alice", "success");
    assert_eq!(
        (&created[0]["actor"], &created[0]["org_name"]),
        (&json!(ADMIN), &json!("default"))
    );
    let role_change = find("user.role", "watcher", "success");
    assert_eq!(role_change[0]["detail"], "Designer -> Monitor");
    let conn = find("connection.create", "warehouse", "success");
    assert_eq!(conn[0]["detail"], "type postgres");
    assert_eq!(conn[0]["client_addr"], "127.0.0.1");
    // Newest first.
    assert_eq!(events[0]["action"], "connection.create");

    let (status, only) = server.get("/api/v1/audit?action=user.role").await;
    assert_eq!(status, 200);
    assert_eq!(only["events"].as_array().unwrap().len(), 1, "{only}");
    let (status, bad) = server.get("/api/v1/audit?action=login").await;
    assert_eq!((status, &bad["code"]), (400, &json!("invalid_request")));

    // Only Admins read the log.
    let watcher = attempt(server, Via::Native, "watcher", RIGHT).await;
    let token = watcher.body["token"].as_str().unwrap();
    let (status, denied) = server
        .call_as(token, Method::GET, "/api/v1/audit", None)
        .await;
    assert_eq!(
        (status, &denied["code"]),
        (403, &json!("forbidden")),
        "{denied}"
    );

    let everything = cli(server, &["audit", "--since", "1h", "--limit", "500"]);
    for needle in [
        "ACTION",
        "signin",
        "127.0.0.1",
        "iics_v3",
        "starfish",
        "nobody",
        "failure",
        "user.create",
        "user.role",
        "watcher",
        "connection.create",
        "warehouse",
    ] {
        assert!(everything.contains(needle), "`{needle}` in\n{everything}");
    }
    let roles = cli(server, &["audit", "--action", "user.role"]);
    assert!(roles.contains("Designer -> Monitor"), "{roles}");
    assert!(!roles.contains("signin"), "filtered by action:\n{roles}");
}

/// `sluice <args>` as the admin (by token); its standard output.
fn cli(server: &TestServer, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(args)
        .env("SLUICE_URL", &server.url)
        .env("SLUICE_TOKEN", &server.token)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{args:?}: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

async fn user_id(server: &TestServer, name: &str) -> String {
    let (_, users) = server.get("/api/v1/users").await;
    users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == name)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}
