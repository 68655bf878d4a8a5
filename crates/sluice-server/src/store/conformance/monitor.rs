//! What the monitor reads: runs by folder, trigger and node, their counts by state, and searches
//! of a run's log (its last lines, text in any case).

use super::*;

pub(super) async fn run_lists(store: &dyn Store, org: Uuid) {
    let sales = sample_task(org, "sales", "a", true);
    let ops = sample_task(org, "ops", "b", true);
    store.create_task(&sales).await.unwrap();
    store.create_task(&ops).await.unwrap();
    let cli = NewRun {
        trigger: Some(Trigger::Cli),
        ..new_run("x")
    };
    let s1 = store
        .create_run(&sales, new_run("x"), Utc::now())
        .await
        .unwrap();
    let s2 = store.create_run(&sales, cli, Utc::now()).await.unwrap();
    let o1 = store
        .create_run(&ops, new_run("x"), Utc::now())
        .await
        .unwrap();
    let idle = sample_task(org, "ops", "never-run", true);
    store.create_task(&idle).await.unwrap();
    // One claimed by node n1: it is `starting`, the others `queued`.
    let claimed = store
        .claim_run("n1", Duration::from_secs(30), Utc::now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claimed.id, s1.id);

    let counts = |f: RunFilter| async move {
        let mut c = store.count_runs(org, &f).await.unwrap();
        c.sort_by_key(|(s, _)| s.as_str());
        c
    };
    let all = counts(RunFilter::default()).await;
    assert_eq!(all, vec![(RunState::Queued, 2), (RunState::Starting, 1)]);
    let in_sales = RunFilter {
        folder: Some("sales".into()),
        ..Default::default()
    };
    assert_eq!(
        counts(in_sales.clone()).await,
        vec![(RunState::Queued, 1), (RunState::Starting, 1)]
    );
    // The filter's states are left aside by counts, not by lists.
    let listed = store
        .list_runs(
            org,
            &RunFilter {
                states: vec![RunState::Queued],
                ..in_sales
            },
        )
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].trigger, Trigger::Cli);
    // A state named twice (or in another order) lists each run once, newest first.
    let repeated = RunFilter {
        states: vec![RunState::Starting, RunState::Queued, RunState::Queued],
        ..Default::default()
    };
    let listed = store.list_runs(org, &repeated).await.unwrap();
    let mut ids: Vec<Uuid> = listed.iter().map(|r| r.id).collect();
    assert_eq!(ids.len(), 3, "each run once");
    assert!(ids.is_sorted_by(|a, b| a > b), "newest first");
    ids.dedup();
    assert_eq!(ids.len(), 3);
    let by_cli = RunFilter {
        trigger: Some(Trigger::Cli),
        ..Default::default()
    };
    assert_eq!(counts(by_cli).await, vec![(RunState::Queued, 1)]);
    let on_n1 = RunFilter {
        node: Some("n1".into()),
        ..Default::default()
    };
    let on_n1 = store.list_runs(org, &on_n1).await.unwrap();
    assert_eq!(on_n1.iter().map(|r| r.id).collect::<Vec<_>>(), vec![s1.id]);

    // Unfinished runs of every org, for metrics.
    let other = store.create_org("other-monitor").await.unwrap();
    let theirs = sample_task(other.id, "sales", "a", true);
    store.create_task(&theirs).await.unwrap();
    store
        .create_run(&theirs, new_run("y"), Utc::now())
        .await
        .unwrap();
    let mut active = store.count_active_runs().await.unwrap();
    active.sort_by_key(|(s, _)| s.as_str());
    assert_eq!(active, vec![(RunState::Queued, 3), (RunState::Starting, 1)]);
    // An org's counts stay its own.
    assert_eq!(counts(RunFilter::default()).await, all);

    // Each task's newest run, in the org only; a task never run has none.
    let mut latest: Vec<(Uuid, Uuid)> = store
        .latest_runs(org)
        .await
        .unwrap()
        .iter()
        .map(|r| (r.task_id, r.id))
        .collect();
    latest.sort();
    let mut want = vec![(sales.id, s2.id), (ops.id, o1.id)];
    want.sort();
    assert_eq!(latest, want);
}

pub(super) async fn log_search(store: &dyn Store, org: Uuid) {
    let t = sample_task(org, "logs", "search", true);
    store.create_task(&t).await.unwrap();
    let r = store
        .create_run(&t, new_run("a"), Utc::now())
        .await
        .unwrap();
    let lines: Vec<NewLogLine> = (1..=10)
        .map(|i| NewLogLine {
            at: Utc::now(),
            level: if i % 5 == 0 {
                LogLevel::Warn
            } else {
                LogLevel::Info
            },
            message: format!("Line {i} of TEN"),
        })
        .collect();
    store.append_log(r.id, &lines).await.unwrap();
    let search = |after, before, level, contains: Option<&str>, limit, last| LogSearch {
        after,
        before,
        min_level: level,
        contains: contains.map(str::to_string),
        limit,
        last,
    };
    let seqs = |lines: Vec<LogLine>| lines.iter().map(|l| l.seq).collect::<Vec<_>>();
    let tail = store
        .search_log(r.id, &search(0, None, LogLevel::Debug, None, 3, true))
        .await
        .unwrap();
    assert_eq!(seqs(tail), vec![8, 9, 10], "the last lines, oldest first");
    let before = store
        .search_log(r.id, &search(0, Some(8), LogLevel::Debug, None, 3, true))
        .await
        .unwrap();
    assert_eq!(seqs(before), vec![5, 6, 7]);
    let warn = store
        .search_log(r.id, &search(0, None, LogLevel::Warn, None, 100, false))
        .await
        .unwrap();
    assert_eq!(seqs(warn), vec![5, 10]);
    let text = store
        .search_log(
            r.id,
            &search(0, None, LogLevel::Debug, Some("line 1"), 100, false),
        )
        .await
        .unwrap();
    assert_eq!(seqs(text), vec![1, 10], "any case");
    // Wildcards are text: `%` matches only a `%`.
    let none = store
        .search_log(
            r.id,
            &search(0, None, LogLevel::Debug, Some("%"), 100, false),
        )
        .await
        .unwrap();
    assert!(none.is_empty());
    let after = store
        .search_log(
            r.id,
            &search(8, None, LogLevel::Debug, Some("ten"), 100, false),
        )
        .await
        .unwrap();
    assert_eq!(seqs(after), vec![9, 10]);
}
