//! Security findings, part 2: roles. A Monitor only reads, an Operator also starts and stops,
//! a Designer also defines tasks, an Admin also manages users and connections — on the native API,
//! IICS and Starfish alike; roles change only by an Admin, and an org keeps its last Admin.

use super::support::*;
use serde_json::{Value, json};
use sluice_types::{StartRun, UserView};
use std::collections::BTreeMap;

const TASK: &str = r#"{"folder": "roles", "name": "copy", "type": "MTT", "allow_parallel": true,
  "definition": {"sources": [{"name": "s", "format": "csv", "path": "in.csv"}],
                 "target": {"format": "csv", "path": "out.csv"}}}"#;

#[tokio::test]
async fn each_role_may_do_what_it_allows_and_nothing_more_on_every_surface() {
    let app = TestApp::spawn().await;
    app.orgs().create("acme").expect(201).await;
    let mut tokens = BTreeMap::new();
    for role in ["monitor", "operator", "designer", "admin"] {
        let t = app
            .user_with_role("acme", &format!("acme-{role}"), role)
            .await;
        tokens.insert(role, t);
    }
    let as_role = |role: &str| app.signed_in_as(&tokens[role]);
    let area = as_role("admin").org_area().await;
    std::fs::write(area.join("in.csv"), "a\n1\n").unwrap();
    let task: Value = serde_json::from_str(TASK).unwrap();

    // Defining tasks: Designers and Admins.
    for role in ["monitor", "operator"] {
        let e = as_role(role)
            .tasks()
            .create(task.clone())
            .expect_error(403)
            .await;
        assert_eq!(e.code, "forbidden", "{role}: {e:?}");
        assert!(e.message.contains("Designer"), "{e:?}");
    }
    as_role("designer")
        .tasks()
        .create(task.clone())
        .expect(201)
        .await;

    // Reading: everyone.
    for (role, token) in &tokens {
        let tasks = app.signed_in_as(token).tasks().list("").expect(200).await;
        assert_eq!(tasks.len(), 1, "{role}");
    }

    // Starting and stopping: Operators and above.
    let start = StartRun {
        task: "roles/copy".into(),
        ..StartRun::default()
    };
    as_role("monitor")
        .runs()
        .start(&start)
        .expect_status(403)
        .await;
    let run = as_role("operator").runs().start(&start).expect(201).await;
    as_role("monitor")
        .runs()
        .stop(&run, None)
        .expect_status(403)
        .await;

    // Connections and users: Admins only.
    let conn = json!({"name": "landing", "type": "files", "config": {"path": "landing"}});
    for role in ["monitor", "operator", "designer"] {
        let user = as_role(role);
        let created = user.connections().create(conn.clone()).send().await;
        assert_eq!(created.status, 403, "{role} creates a connection");
        let listed = user.users().list().send().await;
        assert_eq!(listed.status, 403, "{role} lists users");
    }
    as_role("admin")
        .connections()
        .create(conn)
        .expect(201)
        .await;
    let users = as_role("admin").users().list().expect(200).await;
    assert_eq!(users.len(), 4);

    iics_and_starfish_check_roles(&app, &tokens).await;
    roles_change_only_by_admins(&app, &tokens, &users).await;
}

async fn iics_and_starfish_check_roles(app: &TestApp, tokens: &BTreeMap<&str, String>) {
    let job = json!({"@type": "job", "taskName": "roles/copy", "taskType": "MTT"});
    for (name, expected) in [("acme-monitor", 403), ("acme-operator", 200)] {
        let c = Iics::login(app, name, USER_PASSWORD).await;
        let body = c
            .at(app.endpoint("/saas"))
            .post("/api/v2/job", job.clone())
            .expect_json(expected)
            .await;
        if expected == 403 {
            assert_eq!(
                (body["@type"].as_str(), body["statusCode"].as_u64()),
                (Some("error"), Some(403))
            );
        }
    }
    // Starfish: a Monitor's token may read results but not execute.
    let monitor = &tokens["monitor"];
    let task = app
        .signed_in_as(monitor)
        .tasks()
        .get("roles/copy")
        .expect(200)
        .await;
    let body = json!({
        "runID": uuid_like(), "projectID": task.starfish_project_id,
        "jobID": task.starfish_job_id
    });
    let answer = Starfish::with_token(app, monitor)
        .json("/v1/ExecuteJobAsync", body)
        .expect(403)
        .await;
    assert!(
        answer["Message"].as_str().unwrap().contains("Operator"),
        "{answer}"
    );
}

fn uuid_like() -> String {
    format!("{:08x}-0000-4000-8000-{:012x}", std::process::id(), 42)
}

async fn roles_change_only_by_admins(
    app: &TestApp,
    tokens: &BTreeMap<&str, String>,
    users: &[UserView],
) {
    let id_of = |name: &str| {
        let user = users.iter().find(|u| u.username == name).unwrap();
        user.id.to_string()
    };
    let as_role = |role: &str| app.signed_in_as(&tokens[role]);
    let monitor = id_of("acme-monitor");
    let refused = as_role("designer").users().set_role(&monitor, "admin");
    let refused = refused.send().await;
    assert_eq!(refused.status, 403, "a Designer cannot hand out roles");
    let promoted = as_role("admin")
        .users()
        .set_role(&monitor, "operator")
        .expect(200)
        .await;
    assert_eq!(promoted.role, "operator", "{promoted:?}");
    // The promoted user may now start runs with the token they already had.
    let start = StartRun {
        task: "roles/copy".into(),
        ..StartRun::default()
    };
    as_role("monitor").runs().start(&start).expect(201).await;
    as_role("admin")
        .users()
        .set_role(&monitor, "root")
        .expect_status(400)
        .await;
    let me = id_of("acme-admin");
    let last = as_role("admin")
        .users()
        .set_role(&me, "monitor")
        .send()
        .await;
    assert_eq!(last.status, 409, "the last Admin stays: {}", last.text);
}
