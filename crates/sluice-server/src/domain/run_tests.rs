use super::*;
use proptest::prelude::*;

fn any_event() -> impl Strategy<Value = RunEvent> {
    prop_oneof![
        Just(RunEvent::Claim),
        Just(RunEvent::Begin),
        Just(RunEvent::RequestStop(StopMode::Graceful)),
        Just(RunEvent::RequestStop(StopMode::Immediate)),
        Just(RunEvent::Finish(Outcome::Completed)),
        Just(RunEvent::Finish(Outcome::CompletedWithErrors)),
        Just(RunEvent::Finish(Outcome::Failed)),
        Just(RunEvent::Halted),
        Just(RunEvent::Fail),
        Just(RunEvent::LeaseLost),
    ]
}

#[test]
fn happy_path() {
    let s = RunState::Queued
        .apply(RunEvent::Claim)
        .and_then(|s| s.apply(RunEvent::Begin))
        .and_then(|s| s.apply(RunEvent::Finish(Outcome::Completed)))
        .unwrap();
    assert_eq!(s, RunState::Completed);
}

#[test]
fn stop_paths() {
    assert_eq!(
        RunState::Queued.apply(RunEvent::RequestStop(StopMode::Graceful)),
        Ok(RunState::Stopped)
    );
    let stopping = RunState::Running
        .apply(RunEvent::RequestStop(StopMode::Graceful))
        .unwrap();
    assert_eq!(stopping, RunState::Stopping);
    assert_eq!(stopping.apply(RunEvent::Halted), Ok(RunState::Stopped));
    assert_eq!(
        stopping.apply(RunEvent::Finish(Outcome::Completed)),
        Ok(RunState::Completed)
    );
    assert!(RunState::Running.apply(RunEvent::Halted).is_err());
}

#[test]
fn lease_loss_fails_only_claimed_runs() {
    assert!(RunState::Queued.apply(RunEvent::LeaseLost).is_err());
    for s in [RunState::Starting, RunState::Running, RunState::Stopping] {
        assert_eq!(s.apply(RunEvent::LeaseLost), Ok(RunState::Failed));
    }
}

#[test]
fn names_round_trip() {
    for s in RunState::ALL {
        assert_eq!(s.as_str().parse::<RunState>(), Ok(s));
    }
    assert!("bogus".parse::<RunState>().is_err());
}

proptest! {
    /// Terminal states are absorbing: no event moves a run out of one.
    #[test]
    fn terminal_states_absorb(event in any_event()) {
        for s in RunState::ALL.into_iter().filter(|s| s.is_terminal()) {
            prop_assert!(s.apply(event).is_err());
        }
    }

    /// Whatever events arrive, in any order, a run only ever visits valid states, never goes back
    /// to queued, and a run that was claimed is never unclaimed without ending.
    #[test]
    fn random_walks_stay_valid(events in proptest::collection::vec(any_event(), 0..40)) {
        let mut state = RunState::Queued;
        let mut was_claimed = false;
        for event in events {
            if let Ok(next) = state.apply(event) {
                prop_assert!(next != RunState::Queued);
                if was_claimed {
                    prop_assert!(next.is_claimed() || next.is_terminal());
                }
                was_claimed |= next.is_claimed();
                state = next;
            }
        }
    }

    /// Every active state can always reach an end: failing works from anywhere that is not final.
    #[test]
    fn every_active_state_can_end(idx in 0usize..4) {
        let s = RunState::ACTIVE[idx];
        prop_assert!(s.apply(RunEvent::Fail).unwrap().is_terminal());
    }
}

#[test]
fn a_state_list_names_each_state_once_in_order() {
    let states = RunState::parse_list(" failed,queued, FAILED,,failed ").unwrap();
    assert_eq!(states, vec![RunState::Queued, RunState::Failed]);
    assert_eq!(RunState::parse_list("").unwrap(), vec![]);
    let err = RunState::parse_list("queued,done").unwrap_err();
    assert!(err.contains("`done`"), "{err}");
    let every = RunState::ALL.map(|s| s.as_str()).join(",");
    assert_eq!(
        RunState::parse_list(&every).unwrap(),
        RunState::ALL.to_vec()
    );
}
