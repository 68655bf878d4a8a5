//! The worker driven one step at a time on a real store and real files: what a run's end writes
//! and says, without a server.

use super::*;
use crate::domain::task::Origin;
use crate::domain::{NewRun, RunState, Task, TaskType, ids};
use crate::store::SqliteStore;
use crate::store::seal::Keyring;

struct Bench {
    worker: Worker,
    handle: WorkerHandle,
    store: Arc<dyn Store>,
    events: Events,
    org: Uuid,
    dir: tempfile::TempDir,
}

async fn bench() -> Bench {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&dir.path().join("sluice.db"), Keyring::ephemeral())
            .await
            .unwrap(),
    );
    let org = store
        .ensure_org(ids::default_org_id(), "default")
        .await
        .unwrap()
        .id;
    let events = Events::new();
    let worker = Worker {
        store: store.clone(),
        config: WorkerConfig::default(),
        node: "n1".into(),
        data_dir: dir.path().to_path_buf(),
        events: events.clone(),
        spark: Default::default(),
        runtime_envs: Arc::default(),
        grants: Arc::default(),
        telemetry: Default::default(),
    };
    Bench {
        worker,
        handle: Worker::idle_handle(),
        store,
        events,
        org,
        dir,
    }
}

/// A mapping task defined in `b.dir`: the CSV `in.csv` filtered into `out.csv`.
async fn mapping_task(b: &Bench, name: &str, sql: &str) -> Task {
    let now = Utc::now();
    let task = Task {
        id: Uuid::now_v7(),
        org_id: b.org,
        folder: "Default".into(),
        name: name.into(),
        task_type: TaskType::Mapping,
        description: String::new(),
        allow_parallel: true,
        chain: Vec::new(),
        parameters: Default::default(),
        policy: Default::default(),
        definition: serde_json::json!({
            "sources": [{"name": "people", "format": "csv", "path": "in.csv"}],
            "transform": {"sql": sql},
            "target": {"format": "csv", "path": "out.csv"},
        }),
        origin: Origin::File {
            path: format!("{name}.toml"),
            root: b.dir.path().display().to_string(),
        },
        created_at: now,
        updated_at: now,
    };
    b.store.create_task(&task).await.unwrap();
    task
}

async fn queue(b: &Bench, task: &Task, callback: Option<&str>) -> Uuid {
    let new = NewRun {
        started_by: "test".into(),
        callback_url: callback.map(str::to_string),
        ..NewRun::default()
    };
    b.store.create_run(task, new, Utc::now()).await.unwrap().id
}

#[tokio::test]
async fn a_step_runs_the_oldest_queued_run_to_its_end_and_says_so() {
    let b = bench().await;
    std::fs::write(
        b.dir.path().join("in.csv"),
        "name,age\nann,41\nbob,17\ncid,65\n",
    )
    .unwrap();
    let task = mapping_task(&b, "adults", "SELECT name FROM people WHERE age >= 18").await;
    let first = queue(&b, &task, Some("http://127.0.0.1:9/hook")).await;
    let mut ended = b.events.subscribe_ended();

    assert_eq!(b.worker.step(&b.handle).await.unwrap(), Some(first));

    let run = b.store.get_run(b.org, first).await.unwrap().unwrap();
    assert_eq!(run.state, RunState::Completed, "{:?}", run.error);
    assert_eq!(run.counters.target_rows_written, 2);
    assert_eq!(run.lease_owner, None);
    let out = std::fs::read_to_string(b.dir.path().join("out.csv")).unwrap();
    assert_eq!(out.lines().collect::<Vec<_>>(), ["name", "ann", "cid"]);
    assert_eq!(ended.try_recv().unwrap().run_id, first);
    let callbacks = b.store.list_callbacks(first).await.unwrap();
    assert_eq!(callbacks.len(), 1, "the end queued the run's callback");
    assert_eq!(
        b.worker.step(&b.handle).await.unwrap(),
        None,
        "nothing left"
    );
}

#[tokio::test]
async fn a_run_whose_work_fails_ends_failed_with_why_and_runs_stopped_while_queued_are_not_run() {
    let b = bench().await;
    // No in.csv: the source cannot be read.
    let task = mapping_task(&b, "broken", "SELECT * FROM people").await;
    let stopped = queue(&b, &task, None).await;
    b.store
        .request_stop(b.org, stopped, StopMode::Graceful, "ann", Utc::now())
        .await
        .unwrap();
    let failing = queue(&b, &task, None).await;

    assert_eq!(b.worker.step(&b.handle).await.unwrap(), Some(failing));
    let run = b.store.get_run(b.org, failing).await.unwrap().unwrap();
    assert_eq!(run.state, RunState::Failed);
    assert!(
        run.error.as_deref().unwrap_or_default().contains("in.csv"),
        "{:?}",
        run.error
    );
    let never = b.store.get_run(b.org, stopped).await.unwrap().unwrap();
    assert_eq!((never.state, never.started_at), (RunState::Stopped, None));
}

#[tokio::test]
async fn reject_files_move_into_the_store_and_retention_takes_old_runs_with_theirs() {
    let b = bench().await;
    std::fs::write(b.dir.path().join("in.csv"), "name,age\nann,41\n").unwrap();
    let task = mapping_task(&b, "kept", "SELECT name FROM people").await;
    let run = queue(&b, &task, None).await;
    let rejects = b.dir.path().join("rejects");
    std::fs::create_dir_all(rejects.join(run.to_string())).unwrap();
    std::fs::write(rejects.join(format!("{run}.jsonl")), "{\"reason\":\"a\"}\n").unwrap();
    std::fs::write(
        rejects.join(run.to_string()).join("t1.jsonl"),
        "{\"reason\":\"b\"}\n",
    )
    .unwrap();

    run_files::keep_rejects(b.store.as_ref(), b.dir.path(), run).await;
    let kept = b.store.list_run_files(run).await.unwrap();
    assert_eq!(
        kept,
        vec![
            ("rejects.jsonl".to_string(), 1),
            ("rejects/t1.jsonl".to_string(), 1)
        ]
    );
    let chunk = b
        .store
        .read_run_file_chunk(run, "rejects/t1.jsonl", 0)
        .await;
    assert_eq!(chunk.unwrap().unwrap(), b"{\"reason\":\"b\"}\n");
    assert!(
        !rejects.join(format!("{run}.jsonl")).exists(),
        "moved, not copied"
    );
    assert!(!rejects.join(run.to_string()).exists());

    // Ended ten days ago: a retention of one day takes it, and what it left on this disk.
    let long_ago = Utc::now() - chrono::Duration::days(10);
    b.store
        .request_stop(b.org, run, StopMode::Immediate, "test", long_ago)
        .await
        .unwrap();
    std::fs::write(rejects.join(format!("{run}.jsonl")), "left over\n").unwrap();
    let recent = queue(&b, &task, None).await;
    retention::purge(&b.store, b.dir.path(), 1, &CancellationToken::new()).await;
    assert!(b.store.get_run(b.org, run).await.unwrap().is_none());
    assert!(b.store.list_run_files(run).await.unwrap().is_empty());
    assert!(!rejects.join(format!("{run}.jsonl")).exists());
    assert!(
        b.store.get_run(b.org, recent).await.unwrap().is_some(),
        "a queued run stays"
    );
}
