//! Run logs: numbering, levels, paging.

use super::*;

pub(super) async fn logs(store: &dyn Store, org: Uuid) {
    let t = sample_task(org, "logs", "t", true);
    store.create_task(&t).await.unwrap();
    let r = store
        .create_run(&t, new_run("a"), Utc::now())
        .await
        .unwrap();
    let line = |level, msg: &str| NewLogLine {
        at: Utc::now(),
        level,
        message: msg.into(),
    };
    store
        .append_log(
            r.id,
            &[line(LogLevel::Info, "one"), line(LogLevel::Debug, "two")],
        )
        .await
        .unwrap();
    store
        .append_log(r.id, &[line(LogLevel::Error, "three")])
        .await
        .unwrap();
    let all = store.read_log(r.id, 0, LogLevel::Debug, 100).await.unwrap();
    assert_eq!(all.iter().map(|l| l.seq).collect::<Vec<_>>(), vec![1, 2, 3]);
    let info = store.read_log(r.id, 0, LogLevel::Info, 100).await.unwrap();
    assert_eq!(
        info.iter().map(|l| l.message.as_str()).collect::<Vec<_>>(),
        vec!["one", "three"]
    );
    let after = store.read_log(r.id, 1, LogLevel::Debug, 1).await.unwrap();
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].message, "two");
    store
        .request_stop(org, r.id, StopMode::Graceful, "cleanup", Utc::now())
        .await
        .unwrap();
    lines_written_with_the_end(store, &t).await;
}

/// A run's last lines are written with its end, after the lines before them; a node that no
/// longer holds the run writes neither.
async fn lines_written_with_the_end(store: &dyn Store, t: &Task) {
    let r = store.create_run(t, new_run("a"), Utc::now()).await.unwrap();
    let claimed = store
        .claim_run("n1", Duration::from_secs(30), Utc::now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claimed.id, r.id);
    let line = |msg: &str| NewLogLine {
        at: Utc::now(),
        level: LogLevel::Info,
        message: msg.into(),
    };
    store.append_log(r.id, &[line("first")]).await.unwrap();
    let with_lines = |lines: Vec<NewLogLine>| RunEnd {
        log: lines,
        ..end(RunEvent::Finish(crate::domain::Outcome::Completed))
    };
    let stranger = store
        .finish_run(r.id, "n2", with_lines(vec![line("not mine")]), Utc::now())
        .await;
    assert!(matches!(stranger, Err(StoreError::NotHeld { .. })));
    let lines = vec![line("second"), line("last")];
    store
        .finish_run(r.id, "n1", with_lines(lines), Utc::now())
        .await
        .unwrap();
    let all = store.read_log(r.id, 0, LogLevel::Debug, 100).await.unwrap();
    let said: Vec<(i64, &str)> = all.iter().map(|l| (l.seq, l.message.as_str())).collect();
    assert_eq!(said, vec![(1, "first"), (2, "second"), (3, "last")]);
}

/// Files a run leaves: chunks kept in order, replaced by number, listed by name.
pub(super) async fn run_files(store: &dyn Store, org: Uuid) {
    let t = sample_task(org, "files", "t", true);
    store.create_task(&t).await.unwrap();
    let r = store
        .create_run(&t, new_run("a"), Utc::now())
        .await
        .unwrap();
    assert!(store.list_run_files(r.id).await.unwrap().is_empty());
    let binary: Vec<u8> = (0..=255u8).collect();
    store
        .put_run_file_chunk(r.id, "rejects.jsonl", 0, b"{\"a\":1}\n")
        .await
        .unwrap();
    store
        .put_run_file_chunk(r.id, "rejects.jsonl", 1, &binary)
        .await
        .unwrap();
    store
        .put_run_file_chunk(r.id, "rejects/t1.jsonl", 0, b"x")
        .await
        .unwrap();
    store
        .put_run_file_chunk(r.id, "rejects/t1.jsonl", 0, b"y")
        .await
        .unwrap();
    assert_eq!(
        store.list_run_files(r.id).await.unwrap(),
        vec![
            ("rejects.jsonl".to_string(), 2),
            ("rejects/t1.jsonl".to_string(), 1)
        ]
    );
    let chunk = |name: &'static str, n| store.read_run_file_chunk(r.id, name, n);
    assert_eq!(chunk("rejects.jsonl", 1).await.unwrap(), Some(binary));
    assert_eq!(
        chunk("rejects/t1.jsonl", 0).await.unwrap(),
        Some(b"y".to_vec())
    );
    assert_eq!(chunk("rejects.jsonl", 2).await.unwrap(), None);
    store
        .request_stop(org, r.id, StopMode::Immediate, "cleanup", now_micros())
        .await
        .unwrap();
    store
        .purge_runs(now_micros() + chrono::Duration::seconds(1), 100)
        .await
        .unwrap();
    assert!(
        store.list_run_files(r.id).await.unwrap().is_empty(),
        "retention takes them"
    );
}
