//! Sign-in throttling on every surface that takes a password, and the audit log (API and CLI).
//! One server: each surface signs in as its own user, so their lockouts stay apart; the
//! per-address limit is raised so that the attempts of all surfaces from 127.0.0.1 do not lock
//! the address (the throttle's unit tests cover it).

use super::support::*;
use serde_json::{Value, json};
use sluice_types::{AuditEventView, AuditList, NewUser, UserView};
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

struct Attempt {
    status: u16,
    retry_after: Option<u64>,
    body: Value,
}

async fn attempt(app: &TestApp, via: Via, user: &str, password: &str) -> Attempt {
    let url = |path: &str| app.endpoint(path);
    let creds = json!({"username": user, "password": password});
    let http = &app.http;
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
    let answer = Call::<Value>::new(req, format!("{via:?} sign-in"))
        .send()
        .await;
    let retry_after = answer
        .headers
        .get("retry-after")
        .map(|v| v.to_str().unwrap().parse().expect("Retry-After in seconds"));
    Attempt {
        status: answer.status,
        retry_after,
        body: answer.value(),
    }
}

/// Five wrong passwords are answered as each surface answers a wrong password; then the right
/// one is refused with a 429 and `Retry-After`. Answers the refusal's body.
async fn lock_out(app: &TestApp, via: Via, user: &str, wrong_status: u16) -> Value {
    for i in 1..=5 {
        let a = attempt(app, via, user, "wrong-password").await;
        assert_eq!(a.status, wrong_status, "{via:?} failure {i}: {}", a.body);
        assert_eq!(a.retry_after, None, "{via:?}");
    }
    let a = attempt(app, via, user, RIGHT).await;
    assert_eq!(
        a.status, 429,
        "{via:?}: the right password while locked: {}",
        a.body
    );
    let wait = a.retry_after.expect("Retry-After");
    assert!((1..=60).contains(&wait), "{via:?}: Retry-After {wait}");
    a.body
}

async fn create_user(app: &TestApp, name: &str, role: &str) -> UserView {
    let user = NewUser {
        username: name.into(),
        password: RIGHT.into(),
        org: None,
        role: Some(role.into()),
        is_admin: false,
    };
    app.users().create(&user).expect(201).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_sign_ins_are_throttled_everywhere_and_audited() {
    let app = TestApp::spawn_with(
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
        create_user(&app, name, role).await;
    }

    // A successful sign-in is never throttled, however often.
    for _ in 0..8 {
        assert_eq!(attempt(&app, Via::Native, "alice", RIGHT).await.status, 200);
    }
    let body = lock_out(&app, Via::Native, "alice", 401).await;
    assert_eq!(body["code"], "too_many_requests", "{body}");
    // Locked for every surface and address-independent: the same name on IICS is refused too.
    let other = attempt(&app, Via::IicsV2, "alice", RIGHT).await;
    assert_eq!(other.status, 429, "{}", other.body);

    let body = lock_out(&app, Via::IicsV2, "v2user", 403).await;
    assert_eq!(
        (&body["@type"], &body["code"], &body["statusCode"]),
        (&json!("error"), &json!("CMN_429"), &json!(429)),
        "{body}"
    );
    let logout_all = attempt(&app, Via::LogoutAll, "v2user", RIGHT).await;
    assert_eq!(
        logout_all.status, 429,
        "logoutall takes a password: {}",
        logout_all.body
    );
    assert!(logout_all.retry_after.is_some());

    let body = lock_out(&app, Via::IicsV3, "v3user", 401).await;
    assert_eq!(body["error"]["code"], "CMN_429", "{body}");
    assert!(body["error"]["requestId"].is_string(), "{body}");

    let body = lock_out(&app, Via::Starfish, "sfuser", 400).await;
    assert_eq!(body["error"], "temporarily_unavailable", "{body}");

    let body = lock_out(&app, Via::Basic, "basicuser", 401).await;
    assert_eq!(body["code"], "CMN_429", "{body}");

    // A user name nobody has is throttled like any other.
    let body = lock_out(&app, Via::Native, "nobody", 401).await;
    assert_eq!(body["code"], "too_many_requests", "{body}");

    audit_log(&app).await;
}

/// What the audit log kept of the test above, through the API and the CLI.
async fn audit_log(app: &TestApp) {
    let watcher_id = user_id(app, "watcher").await;
    app.users()
        .set_role(&watcher_id, "monitor")
        .expect(200)
        .await;
    app.connections()
        .create(json!({"name": "warehouse", "type": "postgres", "config": {
            "host": "db.example", "database": "dw", "user": "etl",
            "password": "pg-secret-value-123"}}))
        .expect(201)
        .await;

    let page = app.audit("?limit=1000").expect_status(200).await;
    assert!(
        !page.text.contains("pg-secret-value-123") && !page.text.contains(RIGHT),
        "no secret in the log"
    );
    let events = page.json::<AuditList>().events;
    let find = |action: &str, target: &str, outcome: &str| -> Vec<&AuditEventView> {
        events
            .iter()
            .filter(|e| e.action == action && e.target == target && e.outcome == outcome)
            .collect()
    };
    let admin_in = find("signin", ADMIN, "success");
    assert_eq!(admin_in[0].actor, ADMIN);
    assert_eq!(admin_in[0].surface, "native");
    assert_eq!(admin_in[0].client_addr.as_deref(), Some("127.0.0.1"));
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
                (
                    e.actor.as_str(),
                    e.surface.as_str(),
                    e.client_addr.as_deref()
                ),
                ("anonymous", surface, Some("127.0.0.1")),
                "{e:?}"
            );
        }
        assert!(
            failed[0]
                .detail
                .contains("further attempts refused for 60 s"),
            "the newest failure started the lockout: {:?}",
            failed[0]
        );
    }
    assert!(
        find("signin", "basicuser", "failure")[0]
            .detail
            .starts_with("HTTP Basic")
    );
    assert!(find("signin", "nobody", "failure")[0].org_id.is_none());
    assert_eq!(find("signin", "alice", "success").len(), 8);
    let created = find("user.create", "alice", "success");
    assert_eq!(
        (created[0].actor.as_str(), created[0].org_name.as_deref()),
        (ADMIN, Some("default"))
    );
    let role_change = find("user.role", "watcher", "success");
    assert_eq!(role_change[0].detail, "Designer -> Monitor");
    let conn = find("connection.create", "warehouse", "success");
    assert_eq!(conn[0].detail, "type postgres");
    assert_eq!(conn[0].client_addr.as_deref(), Some("127.0.0.1"));
    // Newest first.
    assert_eq!(events[0].action, "connection.create");

    let only = app.audit("?action=user.role").expect(200).await;
    assert_eq!(only.events.len(), 1, "{only:?}");
    let bad = app.audit("?action=login").expect_error(400).await;
    assert_eq!(bad.code, "invalid_request");

    // Only Admins read the log.
    let watcher = attempt(app, Via::Native, "watcher", RIGHT).await;
    let token = watcher.body["token"].as_str().unwrap();
    let denied = app.signed_in_as(token).audit("").expect_error(403).await;
    assert_eq!(denied.code, "forbidden", "{denied:?}");

    let everything = cli(app, &["audit", "--since", "1h", "--limit", "500"]);
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
    let roles = cli(app, &["audit", "--action", "user.role"]);
    assert!(roles.contains("Designer -> Monitor"), "{roles}");
    assert!(!roles.contains("signin"), "filtered by action:\n{roles}");
}

/// `sluice <args>` as the admin (by token); its standard output.
fn cli(app: &TestApp, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(args)
        .env("SLUICE_URL", &app.url)
        .env("SLUICE_TOKEN", &app.token)
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

async fn user_id(app: &TestApp, name: &str) -> String {
    let users = app.users().list().expect(200).await;
    let user = users.iter().find(|u| u.username == name).unwrap();
    user.id.to_string()
}
