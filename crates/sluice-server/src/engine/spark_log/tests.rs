//! The parser against lines Spark 4's driver really wrote (local mode and a standalone cluster).

use super::*;

const LOCAL_RUN: &str = "\
26/11/29 03:35:28 INFO SparkContext: Submitted application: spark_country_revenue
26/11/29 03:35:30 INFO JettyUtils: Start Jetty 0.0.0.0:4041 for SparkUI
26/11/29 03:35:30 INFO Utils: Successfully started service 'SparkUI' on port 4041.
26/11/29 03:35:44 INFO DAGScheduler: Got job 0 (csv at NativeMethodAccessorImpl.java:0) with 1 output partitions
26/11/29 03:35:44 INFO DAGScheduler: Final stage: ResultStage 0 (csv at NativeMethodAccessorImpl.java:0)
26/11/29 03:35:44 INFO DAGScheduler: Submitting ResultStage 0 (MapPartitionsRDD[3] at csv at NativeMethodAccessorImpl.java:0), which has no missing parents
26/11/29 03:35:45 INFO DAGScheduler: Submitting 1 missing tasks from ResultStage 0 (MapPartitionsRDD[3] at csv at NativeMethodAccessorImpl.java:0) (first 15 tasks are for partitions Vector(0))
26/11/29 03:35:45 INFO TaskSetManager: Starting task 0.0 in stage 0.0 (TID 0) (192.0.2.2,executor driver, partition 0, PROCESS_LOCAL, 10236 bytes)
26/11/29 03:35:46 INFO TaskSetManager: Finished task 0.0 in stage 0.0 (TID 0) in 940 ms on 192.0.2.2 (executor driver) (1/1)
26/11/29 03:35:46 INFO DAGScheduler: ResultStage 0 (csv at NativeMethodAccessorImpl.java:0) finished in 1452 ms
26/11/29 03:35:46 INFO DAGScheduler: Job 0 is finished. Cancelling potential speculative or zombie tasks for this job
26/11/29 03:35:46 INFO DAGScheduler: Job 0 finished: csv at NativeMethodAccessorImpl.java:0, took 1636.227493 ms
26/11/29 03:35:51 INFO DAGScheduler: Got map stage job 2 ($anonfun$withThreadLocalCaptured$1 at CompletableFuture.java:1768) with 1 output partitions
26/11/29 03:35:51 INFO DAGScheduler: Final stage: ShuffleMapStage 2 ($anonfun$withThreadLocalCaptured$1 at CompletableFuture.java:1768)
26/11/29 03:35:51 INFO DAGScheduler: Parents of final stage: List()
26/11/29 03:35:51 INFO DAGScheduler: Submitting ShuffleMapStage 2 (MapPartitionsRDD[13] at $anonfun$withThreadLocalCaptured$1 at CompletableFuture.java:1768), which has no missing parents
26/11/29 03:35:51 INFO DAGScheduler: Submitting 3 missing tasks from ShuffleMapStage 2 (MapPartitionsRDD[13] at $anonfun$withThreadLocalCaptured$1 at CompletableFuture.java:1768) (first 15 tasks are for partitions Vector(0, 1, 2))
26/11/29 03:35:51 INFO DAGScheduler: Got map stage job 3 ($anonfun$withThreadLocalCaptured$1 at CompletableFuture.java:1768) with 1 output partitions
26/11/29 03:35:51 INFO DAGScheduler: Final stage: ShuffleMapStage 4 ($anonfun$withThreadLocalCaptured$1 at CompletableFuture.java:1768)
26/11/29 03:35:51 INFO DAGScheduler: Parents of final stage: List(ShuffleMapStage 3)
26/11/29 03:35:51 INFO DAGScheduler: Submitting ShuffleMapStage 4 (MapPartitionsRDD[16] at $anonfun$withThreadLocalCaptured$1 at CompletableFuture.java:1768), which has no missing parents
26/11/29 03:35:52 INFO DAGScheduler: ShuffleMapStage 4 ($anonfun$withThreadLocalCaptured$1 at CompletableFuture.java:1768) finished in 409 ms
26/11/29 03:35:52 INFO TaskSetManager: Finished task 0.0 in stage 2.0 (TID 2) in 401 ms on 192.0.2.2 (executor driver) (1/3)
26/11/29 03:35:52 WARN TaskSetManager: Lost task 1.0 in stage 2.0 (TID 3) (192.0.2.2 executor driver): java.lang.RuntimeException: boom
26/11/29 03:35:53 INFO DAGScheduler: ShuffleMapStage 2 ($anonfun$withThreadLocalCaptured$1 at CompletableFuture.java:1768) failed in 1.2 s due to Job aborted due to stage failure: Task 1 (of stage 2) finished in error
26/11/29 03:35:53 INFO DAGScheduler: Job 2 failed: $anonfun$withThreadLocalCaptured$1 at CompletableFuture.java:1768, took 1.3 s
";

#[test]
fn a_local_run_read_from_its_log() {
    let mut t = LogTally::default();
    let told: Vec<bool> = LOCAL_RUN.lines().map(|l| t.observe(l)).collect();
    assert!(!told[0], "a line about something else tells nothing");
    assert_eq!(t.ui_port, Some(4041));
    assert!(t.driver_up);
    assert_eq!(t.app_id, None, "local mode does not log its id");
    // Map-stage jobs never log their end: their one stage's end is theirs.
    assert_eq!(
        t.jobs(),
        Tally {
            total: 3,
            completed: 2,
            active: 0,
            failed: 1,
            skipped: 0
        }
    );
    assert_eq!(
        t.stages(),
        Tally {
            total: 3,
            completed: 2,
            active: 0,
            failed: 1,
            skipped: 0
        },
        "a stage that failed `in` is failed even though its reason says `finished in`"
    );
    assert_eq!(
        t.tasks(),
        Tally {
            total: 4,
            completed: 2,
            active: 2,
            failed: 1,
            skipped: 0
        }
    );
    // `Job 0 is finished.` and the `finished:` line are one job (job 0 and the map-stage job 3).
    assert_eq!(t.jobs().completed, 2);
    // Lines seen twice tell nothing new.
    assert!(!t.observe(LOCAL_RUN.lines().nth(3).unwrap()));
}

#[test]
fn a_standalone_cluster_names_the_application() {
    let mut t = LogTally::default();
    assert!(t.observe(
        "26/11/29 03:40:01 INFO StandaloneSchedulerBackend: Connected to Spark cluster with app ID app-20261129034001-0000"
    ));
    assert_eq!(t.app_id.as_deref(), Some("app-20261129034001-0000"));
    // The program's own output is not the driver's.
    let mut quiet = LogTally::default();
    assert!(!quiet.observe("countries: 4"));
    assert!(!quiet.observe("Job 3 finished: mine"));
    assert!(!quiet.driver_up);
}

#[test]
fn the_monitoring_api_answer() {
    let app: ApiApplication = serde_json::from_str(
        r#"{"id":"local-1795923421867","name":"slow.py","attempts":[{"completed":false}]}"#,
    )
    .unwrap();
    let jobs: Vec<ApiJob> = serde_json::from_str(
        r#"[{"jobId":1,"name":"sum","stageIds":[1,2],"status":"RUNNING","numTasks":8,
             "numActiveTasks":2,"numCompletedTasks":1,"numSkippedTasks":4,"numFailedTasks":0,
             "numKilledTasks":0,"numCompletedIndices":1,"numActiveStages":1,
             "numCompletedStages":0,"numSkippedStages":1,"numFailedStages":0,
             "killedTasksSummary":{}},
            {"jobId":0,"name":"sum","stageIds":[0],"status":"SUCCEEDED","numTasks":4,
             "numActiveTasks":0,"numCompletedTasks":4,"numSkippedTasks":0,"numFailedTasks":1,
             "numKilledTasks":0,"numCompletedIndices":4,"numActiveStages":0,
             "numCompletedStages":1,"numSkippedStages":0,"numFailedStages":0,
             "killedTasksSummary":{}}]"#,
    )
    .unwrap();
    let s = ApiSnapshot::new(app, &jobs);
    assert_eq!(s.app_id, "local-1795923421867");
    assert_eq!((s.jobs.total, s.jobs.completed, s.jobs.active), (2, 1, 1));
    assert_eq!(
        s.stages,
        Tally {
            total: 3,
            completed: 1,
            active: 1,
            failed: 0,
            skipped: 1
        }
    );
    assert_eq!(
        s.tasks,
        Tally {
            total: 12,
            completed: 5,
            active: 2,
            failed: 1,
            skipped: 4
        }
    );
}
