//! The audit log: every field kept as given, newest first, each filter, paging, org isolation.

use super::*;
use crate::domain::audit::{AuditAction, AuditEvent, AuditOutcome, Surface};

fn event(org: Option<Uuid>, at: DateTime<Utc>, actor: &str, action: AuditAction) -> AuditEvent {
    AuditEvent {
        at,
        org_id: org,
        actor: actor.into(),
        action,
        target: format!("target-of-{actor}"),
        client_addr: Some("127.0.0.1".parse().unwrap()),
        surface: Surface::Native,
        outcome: AuditOutcome::Success,
        detail: "a detail".into(),
    }
}

fn filter(org: Option<Uuid>) -> AuditFilter {
    AuditFilter {
        org_id: org,
        limit: 100,
        ..Default::default()
    }
}

pub(super) async fn audit(store: &dyn Store, org: Uuid) {
    let other = store.create_org("audit-elsewhere").await.unwrap();
    let t0 = now_micros() - chrono::Duration::minutes(10);
    let at = |s: i64| t0 + chrono::Duration::seconds(s);
    let odd = AuditEvent {
        client_addr: Some("2001:db8::7".parse().unwrap()),
        surface: Surface::IicsV3,
        outcome: AuditOutcome::Failure,
        detail: "wrong password; ünïcode kept".into(),
        ..event(None, at(1), "anonymous", AuditAction::Signin)
    };
    let events = [
        event(Some(org), at(0), "alice", AuditAction::Signin),
        odd.clone(),
        event(Some(other.id), at(2), "bob", AuditAction::UserCreate),
        // The same time as the next: the one kept later comes first.
        event(Some(org), at(3), "alice", AuditAction::ConnectionCreate),
        AuditEvent {
            client_addr: None,
            surface: Surface::Server,
            ..event(Some(org), at(3), "sluice", AuditAction::UserRole)
        },
    ];
    let mut seqs = Vec::new();
    for e in &events {
        seqs.push(store.append_audit(e).await.unwrap());
    }
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "numbers grow: {seqs:?}"
    );

    let all = store.list_audit(&filter(None)).await.unwrap();
    let order: Vec<i64> = all.iter().map(|(s, _)| *s).collect();
    assert_eq!(order, [seqs[4], seqs[3], seqs[2], seqs[1], seqs[0]]);
    assert_eq!(all[3].1, odd, "every field reads back as kept");
    assert_eq!(all[0].1, events[4]);

    // An org sees its own events only (not another org's, nor those of no org).
    let mine = store.list_audit(&filter(Some(org))).await.unwrap();
    assert_eq!(mine.len(), 3);
    assert!(mine.iter().all(|(_, e)| e.org_id == Some(org)));
    let theirs = store.list_audit(&filter(Some(other.id))).await.unwrap();
    assert_eq!(theirs.len(), 1);
    assert_eq!(theirs[0].1.actor, "bob");

    let by_action = AuditFilter {
        action: Some(AuditAction::Signin),
        ..filter(None)
    };
    let found = store.list_audit(&by_action).await.unwrap();
    assert_eq!(
        found.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
        [seqs[1], seqs[0]]
    );
    let by_actor = AuditFilter {
        actor: Some("alice".into()),
        ..filter(Some(org))
    };
    let found = store.list_audit(&by_actor).await.unwrap();
    assert_eq!(
        found.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
        [seqs[3], seqs[0]]
    );
    let since = AuditFilter {
        since: Some(at(2)),
        ..filter(None)
    };
    assert_eq!(
        store.list_audit(&since).await.unwrap().len(),
        3,
        "since is inclusive"
    );

    // Pages of two, newest first, meet without a gap or an overlap.
    let page = |offset| AuditFilter {
        limit: 2,
        offset,
        ..filter(None)
    };
    let mut paged = Vec::new();
    for offset in [0, 2, 4, 6] {
        paged.extend(store.list_audit(&page(offset)).await.unwrap());
    }
    assert_eq!(paged, all);
}
