//! Retention: ended runs older than a time go, oldest first, in batches, with everything they
//! own; active runs and newer ones stay.

use super::*;

pub(super) async fn retention(store: &dyn Store, org: Uuid) {
    let t = sample_task(org, "keep", "t", true);
    store.create_task(&t).await.unwrap();
    let t0 = now_micros() - chrono::Duration::days(10);
    let mut ended = Vec::new();
    for i in 0..3 {
        let new = NewRun {
            callback_url: Some("http://receiver.example/done".into()),
            ..new_run("old")
        };
        let r = store.create_run(&t, new, t0).await.unwrap();
        let at = t0 + chrono::Duration::days(i);
        let line = NewLogLine {
            at,
            level: LogLevel::Info,
            message: "kept until purged".into(),
        };
        store.append_log(r.id, &[line]).await.unwrap();
        store
            .request_stop(org, r.id, StopMode::Immediate, "old", at)
            .await
            .unwrap();
        ended.push(r.id);
    }
    let active = store.create_run(&t, new_run("new"), t0).await.unwrap().id;
    let cutoff = t0 + chrono::Duration::hours(36);
    let first = store.purge_runs(cutoff, 1).await.unwrap();
    assert_eq!(first, vec![ended[0]], "the oldest first, a batch at a time");
    let second = store.purge_runs(cutoff, 10).await.unwrap();
    assert_eq!(second, vec![ended[1]], "only what ended before the cutoff");
    assert!(store.purge_runs(cutoff, 10).await.unwrap().is_empty());
    for gone in &ended[..2] {
        assert!(store.get_run(org, *gone).await.unwrap().is_none());
        assert!(
            store
                .read_log(*gone, 0, LogLevel::Debug, 10)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(store.list_callbacks(*gone).await.unwrap().is_empty());
    }
    let kept = store.get_run(org, ended[2]).await.unwrap().unwrap();
    assert_eq!(kept.state, RunState::Stopped);
    assert_eq!(store.list_callbacks(ended[2]).await.unwrap().len(), 1);
    let far = now_micros() + chrono::Duration::days(1);
    store.purge_runs(far, 10).await.unwrap();
    let still = store.get_run(org, active).await.unwrap().unwrap();
    assert_eq!(
        still.state,
        RunState::Queued,
        "an active run is never purged"
    );
    store
        .request_stop(org, active, StopMode::Immediate, "cleanup", now_micros())
        .await
        .unwrap();
}
