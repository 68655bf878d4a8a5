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
}
