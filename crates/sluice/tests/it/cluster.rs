//! Several nodes on one PostgreSQL store: any node answers for any run, a stop through one node
//! reaches a run on another, a node killed with SIGKILL loses nothing (its runs end `failed`
//! within the lease, the queued work and every callback carry on elsewhere, nothing runs twice),
//! it rejoins under its name, and a second live node of one name is refused.

use super::support::*;
use sluice_types::{Readiness, RunView, StartRun};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::{Duration, Instant};

const LEASE_SECS: u64 = 5;
/// The same key on every node: each opens the secrets another sealed.
const SECRET_KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

struct Cluster {
    db: PgDatabase,
    defs: tempfile::TempDir,
    _out: tempfile::TempDir,
    /// Each node's data directory, kept across its restarts.
    dirs: tempfile::TempDir,
}

impl Cluster {
    async fn new() -> Option<Cluster> {
        let db = pg_database().await?;
        let out = tempfile::tempdir().unwrap();
        // 600 rows, one every 50 ms: a run that lasts half a minute unless stopped.
        let slow = format!(
            "type = \"MTT\"\nallow_parallel = true\n[[tables]]\nname = \"ticks\"\nconnection = \"pg\"\nquery = \"SELECT g AS id, (SELECT 1 FROM pg_sleep(0.05 * sign(g))) AS paced FROM generate_series(1, 600) AS g\"\n[target]\nformat = \"csv\"\npath = \"{}/slow-${{n}}.csv\"\n",
            out.path().display()
        );
        let quick = format!(
            "type = \"MTT\"\nallow_parallel = true\n[[sources]]\nname = \"o\"\nformat = \"csv\"\npath = \"{}\"\n[target]\nformat = \"parquet\"\npath = \"{}/quick-${{n}}.parquet\"\n",
            examples_dir().join("data/orders.csv").display(),
            out.path().display()
        );
        let defs = defs_dir(&[
            ("connections/pg.toml", &pg_connection_file()),
            ("work/slow.toml", &slow),
            ("work/quick.toml", &quick),
        ]);
        Some(Cluster {
            db,
            defs,
            _out: out,
            dirs: tempfile::tempdir().unwrap(),
        })
    }

    fn env<'a>(&'a self, name: &'a str) -> Vec<(&'a str, &'a str)> {
        vec![
            ("SLUICE_STORE", self.db.url.as_str()),
            ("SLUICE_NODE_NAME", name),
            ("SLUICE_SECRET_KEY", SECRET_KEY),
            ("SLUICE_WORKER__CONCURRENCY", "1"),
            ("SLUICE_WORKER__LEASE_SECS", "5"),
            ("SLUICE_WORKER__POLL_MS", "200"),
        ]
    }

    fn dir(&self, name: &str) -> PathBuf {
        self.dirs.path().join(name)
    }

    async fn node(&self, name: &str) -> TestApp {
        TestApp::spawn_with(self.defs.path(), Some(&self.dir(name)), &self.env(name)).await
    }
}

async fn start(app: &TestApp, task: &str, n: usize, callback: String) -> RunView {
    app.runs()
        .start(&StartRun {
            task: task.into(),
            parameters: BTreeMap::from([("n".to_string(), n.to_string())]),
            callback_url: Some(callback),
            external_id: None,
            trigger: None,
        })
        .expect(201)
        .await
}

async fn ready(app: &TestApp) -> Readiness {
    let said = app.anonymous().get("/readyz").expect_json(200).await;
    serde_json::from_value(said).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_nodes_share_work_and_survive_losing_one() {
    let Some(cluster) = Cluster::new().await else {
        return;
    };
    let cluster = std::sync::Arc::new(cluster);
    // All three at once: they migrate, load the same definitions and make the admin together.
    let starting = ["node-a", "node-b", "node-c"].map(|name| {
        let c = cluster.clone();
        tokio::spawn(async move { c.node(name).await })
    });
    let mut nodes = Vec::new();
    for s in starting {
        nodes.push(s.await.expect("a node starts"));
    }
    let [a, mut b, c]: [TestApp; 3] = nodes.try_into().ok().unwrap();
    for (app, name) in [(&a, "node-a"), (&b, "node-b"), (&c, "node-c")] {
        let r = ready(app).await;
        assert_eq!((r.status.as_str(), r.node.as_str()), ("ready", name));
        let tasks = app.tasks().list("").expect(200).await;
        assert_eq!(tasks.len(), 2, "each task once, whoever loaded it");
    }
    // A session made on A works on B.
    b.signed_in_as(&a.token).runs().list("").expect(200).await;

    let receiver = Receiver::start().await;
    let hook = |what: &str| receiver.url(&format!("/{what}"));
    // One slot per node: three long runs take one node each.
    let mut slow = Vec::new();
    for n in 0..3 {
        slow.push(start(&a, "work/slow", n, hook("slow")).await);
    }
    let mut held: HashMap<String, RunView> = HashMap::new();
    for run in &slow {
        let r = c.wait_for(run, 60, |r| r.state == "running").await;
        held.insert(r.node.clone().expect("a running run names its node"), r);
    }
    assert_eq!(held.len(), 3, "each node runs one: {held:?}");
    // Queued behind them, through another node.
    let mut quick = Vec::new();
    for n in 0..6 {
        quick.push(start(&b, "work/quick", n, hook("quick")).await);
    }

    // B dies mid-run, before any run has ended (so no callback can be in B's hands).
    let on_b = held["node-b"].clone();
    b.kill();
    let killed_at = Instant::now();
    let lost = a.wait_end(&on_b, LEASE_SECS * 2 + 20).await;
    let took = killed_at.elapsed();
    assert_eq!(lost.state, "failed", "{lost:?}");
    assert!(
        lost.error.as_deref().unwrap_or("").contains("interrupted"),
        "{lost:?}"
    );
    assert!(
        took <= Duration::from_secs(LEASE_SECS * 2 + 5),
        "resolved after {took:?}"
    );
    // The survivor that resolved it counted it, once between them.
    let mut lost_counted = 0.0;
    for node in [&a, &c] {
        let text = node.anonymous().get("/metrics").expect_text(200).await;
        lost_counted += super::metrics::total(
            &super::metrics::samples(&text),
            "sluice_runs_lost_total",
            &[],
        );
    }
    assert_eq!(lost_counted, 1.0);

    // A stop through C reaches the run A holds; A's slot then takes queued work.
    let on_a = &held["node-a"];
    c.runs().stop(on_a, Some("immediate")).expect(200).await;
    let stopped = a.wait_end(on_a, 30).await;
    assert_eq!(stopped.state, "stopped", "{stopped:?}");

    // The queued work runs on the survivors, each run once.
    for run in &quick {
        let done = c.wait_end(run, 120).await;
        assert_eq!(done.state, "completed", "{done:?}");
        let node = done.node.as_deref().unwrap();
        assert!(node == "node-a" || node == "node-c", "{done:?}");
        let starts = a
            .messages(run, "info")
            .await
            .into_iter()
            .filter(|m| m.contains("started on node"))
            .count();
        assert_eq!(starts, 1, "run {} started {starts} times", done.id);
    }
    let on_c = &held["node-c"];
    a.runs().stop(on_c, Some("immediate")).expect(200).await;
    a.wait_end(on_c, 30).await;

    // Every run's callback arrives exactly once, whichever node delivers it.
    let all: Vec<&RunView> = slow.iter().chain(&quick).collect();
    let got = receiver.received(all.len(), Duration::from_secs(60)).await;
    let mut per_run: HashMap<String, usize> = HashMap::new();
    for r in &got {
        *per_run
            .entry(r.json()["id"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    for run in &all {
        assert_eq!(
            per_run.get(&run.id.to_string()),
            Some(&1),
            "callbacks: {per_run:?}"
        );
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(receiver.count(), all.len(), "no callback twice");

    // Restarted under its name, B rejoins and takes work.
    let b = cluster.node("node-b").await;
    assert_eq!(ready(&b).await.status, "ready");
    let again = start(&b, "work/quick", 9, hook("quick")).await;
    assert_eq!(b.wait_end(&again, 60).await.state, "completed");

    // A second live node named node-a is refused, saying why.
    let (status, log) = refused_start(
        cluster.defs.path(),
        &cluster.dir("impostor"),
        &cluster.env("node-a"),
    );
    assert!(!status.success());
    assert!(log.contains("another node named `node-a`"), "{log}");
    drop((a, b, c));
}

/// Starts `task` with parameter `n`, retrying while the store is down (503): answers the run once
/// a node accepted it.
async fn start_when_up(app: &TestApp, n: usize) -> RunView {
    let body = StartRun {
        task: "work/quick".into(),
        parameters: BTreeMap::from([("n".to_string(), n.to_string())]),
        callback_url: None,
        external_id: None,
        trigger: None,
    };
    eventually(secs(60), async || {
        let resp = app
            .http
            .post(app.endpoint("/api/v1/runs"))
            .bearer_auth(&app.token)
            .json(&body)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        match resp.status().as_u16() {
            201 => Ok(resp.json::<RunView>().await.unwrap()),
            503 => Err("the store is down".to_string()),
            other => panic!("a start answered {other}: {}", resp.text().await.unwrap()),
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_database_restart_mid_work_ends_no_node_and_loses_no_accepted_run() {
    let Some(pg) = PrivatePg::start() else {
        return;
    };
    let Some(cluster) = Cluster::new().await else {
        return;
    };
    let url = pg.url();
    let env = |name: &'static str| {
        let mut env = cluster.env(name);
        env.retain(|(k, _)| *k != "SLUICE_STORE" && *k != "SLUICE_WORKER__LEASE_SECS");
        env.push(("SLUICE_STORE", url.as_str()));
        env
    };
    let dir = |name: &str| cluster.dir(name);
    let mut one = TestApp::spawn_with(cluster.defs.path(), Some(&dir("one")), &env("one")).await;
    let mut two = TestApp::spawn_with(cluster.defs.path(), Some(&dir("two")), &env("two")).await;
    let mut accepted = Vec::new();
    for n in 0..8 {
        accepted.push(start_when_up(if n % 2 == 0 { &one } else { &two }, n).await);
    }
    pg.stop();
    // Down: each node says so (not ready, 503 to calls that need the store) and stays up.
    for app in [&one, &two] {
        app.anonymous().get("/readyz").expect_status(503).await;
        app.runs().list("").expect_status(503).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    pg.start_server();
    for n in 8..16 {
        accepted.push(start_when_up(if n % 2 == 0 { &two } else { &one }, n).await);
    }
    for run in &accepted {
        let done = one.wait_end(run, 120).await;
        assert_eq!(done.state, "completed", "{done:?}");
    }
    for app in [&mut one, &mut two] {
        assert!(app.alive(), "a node ended with the database restart");
        assert_eq!(ready(app).await.status, "ready");
    }
}

#[tokio::test]
async fn a_node_whose_store_is_unreachable_refuses_to_start_naming_it_without_the_password() {
    let defs = defs_dir(&[]);
    let data = tempfile::tempdir().unwrap();
    let env = [
        (
            "SLUICE_STORE",
            "postgres://sluice:hunter2@127.0.0.1:1/sluice",
        ),
        ("SLUICE_SECRET_KEY", SECRET_KEY),
    ];
    let (status, log) = refused_start(defs.path(), data.path(), &env);
    assert!(!status.success());
    assert!(
        log.contains("postgres://sluice:***@127.0.0.1:1/sluice"),
        "{log}"
    );
    assert!(!log.contains("hunter2"), "{log}");
}
