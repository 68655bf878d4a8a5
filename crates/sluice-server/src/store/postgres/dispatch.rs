//! The [`Store`] trait on PostgreSQL: each method handed to the module of its resource.

use super::*;

#[async_trait]
impl Store for PgStore {
    async fn close(&self) {
        self.pool.close().await;
    }

    fn observe(&self, telemetry: crate::telemetry::Telemetry) {
        self.meter.observe(telemetry);
    }

    async fn pending_migrations(&self) -> Result<Vec<i64>> {
        let applied: Vec<i64> =
            sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
                .fetch_all(&self.pool)
                .await?;
        Ok(missing_migrations(
            &sqlx::migrate!("migrations/postgres"),
            &applied,
        ))
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn hold_node_name(&self, node: &str) -> Result<NodeHold> {
        self.meter
            .time("hold_node_name", nodes::hold_node_name(self, node))
            .await
    }

    fn watch(&self) -> Option<tokio::sync::mpsc::Receiver<Wake>> {
        Some(wake::watch(self))
    }

    // --- identity -----------------------------------------------------------------------------
    async fn ensure_org(&self, id: Uuid, name: &str) -> Result<Org> {
        self.meter
            .time("ensure_org", identity::ensure_org(self, id, name))
            .await
    }

    async fn create_org(&self, name: &str) -> Result<Org> {
        self.meter
            .time("create_org", identity::create_org(self, name))
            .await
    }

    async fn list_orgs(&self) -> Result<Vec<Org>> {
        self.meter
            .time("list_orgs", identity::list_orgs(self))
            .await
    }

    async fn create_user(
        &self,
        org_id: Uuid,
        username: &str,
        password_hash: &str,
        role: Role,
    ) -> Result<User> {
        self.meter
            .time(
                "create_user",
                identity::create_user(self, org_id, username, password_hash, role),
            )
            .await
    }

    async fn set_user_role(&self, org_id: Uuid, user_id: Uuid, role: Role) -> Result<User> {
        self.meter
            .time(
                "set_user_role",
                identity::set_user_role(self, org_id, user_id, role),
            )
            .await
    }

    async fn set_password(&self, user_id: Uuid, password_hash: &str) -> Result<()> {
        self.meter
            .time(
                "set_password",
                identity::set_password(self, user_id, password_hash),
            )
            .await
    }

    async fn user_credentials(&self, username: &str) -> Result<Option<(User, String)>> {
        self.meter
            .time(
                "user_credentials",
                identity::user_credentials(self, username),
            )
            .await
    }

    async fn list_users(&self, org_id: Uuid) -> Result<Vec<User>> {
        self.meter
            .time("list_users", identity::list_users(self, org_id))
            .await
    }

    async fn create_token(&self, token: &NewToken<'_>) -> Result<()> {
        self.meter
            .time("create_token", identity::create_token(self, token))
            .await
    }

    async fn user_for_token(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<(User, Option<DateTime<Utc>>)>> {
        self.meter
            .time(
                "user_for_token",
                identity::user_for_token(self, token_hash, now),
            )
            .await
    }

    async fn revoke_token(&self, token_hash: &str) -> Result<bool> {
        self.meter
            .time("revoke_token", identity::revoke_token(self, token_hash))
            .await
    }

    async fn revoke_user_tokens(&self, user_id: Uuid, name: &str) -> Result<u64> {
        self.meter
            .time(
                "revoke_user_tokens",
                identity::revoke_user_tokens(self, user_id, name),
            )
            .await
    }

    // --- tasks --------------------------------------------------------------------------------
    async fn create_task(&self, t: &Task) -> Result<()> {
        self.meter
            .time("create_task", tasks::create_task(self, t))
            .await
    }

    async fn update_task(&self, t: &Task) -> Result<()> {
        self.meter
            .time("update_task", tasks::update_task(self, t))
            .await
    }

    async fn delete_task(&self, org_id: Uuid, id: Uuid) -> Result<()> {
        self.meter
            .time("delete_task", tasks::delete_task(self, org_id, id))
            .await
    }

    async fn get_task(&self, org_id: Uuid, id: Uuid) -> Result<Option<Task>> {
        self.meter
            .time("get_task", tasks::get_task(self, org_id, id))
            .await
    }

    async fn get_task_any_org(&self, id: Uuid) -> Result<Option<Task>> {
        self.meter
            .time("get_task_any_org", tasks::get_task_any_org(self, id))
            .await
    }

    async fn get_task_by_short_id(&self, org_id: Uuid, short_id: &str) -> Result<Option<Task>> {
        self.meter
            .time(
                "get_task_by_short_id",
                tasks::get_task_by_short_id(self, org_id, short_id),
            )
            .await
    }

    async fn get_task_by_path(
        &self,
        org_id: Uuid,
        folder: &str,
        name: &str,
    ) -> Result<Option<Task>> {
        self.meter
            .time(
                "get_task_by_path",
                tasks::get_task_by_path(self, org_id, folder, name),
            )
            .await
    }

    async fn list_tasks(&self, org_id: Uuid, f: &TaskFilter) -> Result<Vec<Task>> {
        self.meter
            .time("list_tasks", tasks::list_tasks(self, org_id, f))
            .await
    }

    async fn create_connection(&self, c: &Connection) -> Result<()> {
        self.meter
            .time("create_connection", tasks::create_connection(self, c))
            .await
    }

    async fn update_connection(&self, c: &Connection) -> Result<()> {
        self.meter
            .time("update_connection", tasks::update_connection(self, c))
            .await
    }

    async fn delete_connection(&self, org_id: Uuid, id: Uuid) -> Result<()> {
        self.meter
            .time(
                "delete_connection",
                tasks::delete_connection(self, org_id, id),
            )
            .await
    }

    async fn get_connection(&self, org_id: Uuid, id: Uuid) -> Result<Option<Connection>> {
        self.meter
            .time("get_connection", tasks::get_connection(self, org_id, id))
            .await
    }

    async fn get_connection_by_name(&self, org_id: Uuid, name: &str) -> Result<Option<Connection>> {
        self.meter
            .time(
                "get_connection_by_name",
                tasks::get_connection_by_name(self, org_id, name),
            )
            .await
    }

    async fn list_connections(&self, org_id: Uuid) -> Result<Vec<Connection>> {
        self.meter
            .time("list_connections", tasks::list_connections(self, org_id))
            .await
    }

    // --- runs ---------------------------------------------------------------------------------
    async fn create_run(&self, task: &Task, new: NewRun, now: DateTime<Utc>) -> Result<Run> {
        self.meter
            .time("create_run", runs::create_run(self, task, new, now))
            .await
    }

    async fn get_run(&self, org_id: Uuid, id: Uuid) -> Result<Option<Run>> {
        self.meter
            .time("get_run", runs::get_run(self, org_id, id))
            .await
    }

    async fn get_run_any_org(&self, id: Uuid) -> Result<Option<Run>> {
        self.meter
            .time("get_run_any_org", runs::get_run_any_org(self, id))
            .await
    }

    async fn get_run_by_external_id(&self, org_id: Uuid, external_id: &str) -> Result<Option<Run>> {
        self.meter
            .time(
                "get_run_by_external_id",
                runs::get_run_by_external_id(self, org_id, external_id),
            )
            .await
    }

    async fn get_run_by_number(&self, task_id: Uuid, run_number: i64) -> Result<Option<Run>> {
        self.meter
            .time(
                "get_run_by_number",
                runs::get_run_by_number(self, task_id, run_number),
            )
            .await
    }

    async fn count_runs(&self, org_id: Uuid, f: &RunFilter) -> Result<Vec<(RunState, i64)>> {
        self.meter
            .time("count_runs", run_lists::count_runs(self, org_id, f))
            .await
    }

    async fn latest_runs(&self, org_id: Uuid) -> Result<Vec<Run>> {
        self.meter
            .time("latest_runs", run_lists::latest_runs(self, org_id))
            .await
    }

    async fn count_active_runs(&self) -> Result<Vec<(RunState, i64)>> {
        self.meter
            .time("count_active_runs", run_lists::count_active_runs(self))
            .await
    }

    async fn list_runs(&self, org_id: Uuid, f: &RunFilter) -> Result<Vec<Run>> {
        self.meter
            .time("list_runs", run_lists::list_runs(self, org_id, f))
            .await
    }

    async fn claim_runs(
        &self,
        node: &str,
        lease: Duration,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Run>> {
        self.meter
            .time(
                "claim_runs",
                runs::claim_runs(self, node, lease, now, limit),
            )
            .await
    }

    async fn begin_run(&self, id: Uuid, node: &str) -> Result<Run> {
        self.meter
            .time("begin_run", runs::begin_run(self, id, node))
            .await
    }

    async fn heartbeat(
        &self,
        id: Uuid,
        node: &str,
        lease: Duration,
        c: Counters,
        now: DateTime<Utc>,
    ) -> Result<Heartbeat> {
        self.meter
            .time("heartbeat", runs::heartbeat(self, id, node, lease, c, now))
            .await
    }

    async fn request_stop(
        &self,
        org_id: Uuid,
        id: Uuid,
        mode: StopMode,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<Run> {
        self.meter
            .time(
                "request_stop",
                runs::request_stop(self, org_id, id, mode, by, now),
            )
            .await
    }

    async fn finish_run(
        &self,
        id: Uuid,
        node: &str,
        end: RunEnd,
        now: DateTime<Utc>,
    ) -> Result<Run> {
        self.meter
            .time("finish_run", runs::finish_run(self, id, node, end, now))
            .await
    }

    async fn resolve_lost_runs(
        &self,
        now: DateTime<Utc>,
        node: Option<&str>,
        reason: &str,
    ) -> Result<Vec<Run>> {
        self.meter
            .time(
                "resolve_lost_runs",
                runs::resolve_lost_runs(self, now, node, reason),
            )
            .await
    }

    async fn put_run_file_chunk(
        &self,
        run_id: Uuid,
        name: &str,
        chunk: i64,
        data: &[u8],
    ) -> Result<()> {
        self.meter
            .time(
                "put_run_file_chunk",
                records::put_run_file_chunk(self, run_id, name, chunk, data),
            )
            .await
    }

    async fn list_run_files(&self, run_id: Uuid) -> Result<Vec<(String, i64)>> {
        self.meter
            .time("list_run_files", records::list_run_files(self, run_id))
            .await
    }

    async fn read_run_file_chunk(
        &self,
        run_id: Uuid,
        name: &str,
        chunk: i64,
    ) -> Result<Option<Vec<u8>>> {
        self.meter
            .time(
                "read_run_file_chunk",
                records::read_run_file_chunk(self, run_id, name, chunk),
            )
            .await
    }

    async fn purge_runs(&self, before: DateTime<Utc>, limit: i64) -> Result<Vec<Uuid>> {
        self.meter
            .time("purge_runs", runs::purge_runs(self, before, limit))
            .await
    }

    // --- logs, children, progress -------------------------------------------------------------
    async fn append_log(&self, run_id: Uuid, lines: &[NewLogLine]) -> Result<()> {
        self.meter
            .time("append_log", records::append_log(self, run_id, lines))
            .await
    }

    async fn search_log(&self, run_id: Uuid, q: &LogSearch) -> Result<Vec<LogLine>> {
        self.meter
            .time("search_log", records::search_log(self, run_id, q))
            .await
    }

    async fn read_log(
        &self,
        run_id: Uuid,
        after_seq: i64,
        min_level: LogLevel,
        limit: i64,
    ) -> Result<Vec<LogLine>> {
        self.meter
            .time(
                "read_log",
                records::read_log(self, run_id, after_seq, min_level, limit),
            )
            .await
    }

    async fn put_run_child(&self, child: &RunChild) -> Result<()> {
        self.meter
            .time("put_run_child", records::put_run_child(self, child))
            .await
    }

    async fn list_run_children(&self, run_id: Uuid) -> Result<Vec<RunChild>> {
        self.meter
            .time(
                "list_run_children",
                records::list_run_children(self, run_id),
            )
            .await
    }

    async fn set_spark_progress(
        &self,
        run_id: Uuid,
        node: &str,
        progress: &SparkProgress,
    ) -> Result<bool> {
        self.meter
            .time(
                "set_spark_progress",
                records::set_spark_progress(self, run_id, node, progress),
            )
            .await
    }

    // --- watermarks, webhook keys, audit ------------------------------------------------------
    async fn get_watermark(&self, task_id: Uuid, object: &str) -> Result<Option<String>> {
        self.meter
            .time(
                "get_watermark",
                records::get_watermark(self, task_id, object),
            )
            .await
    }

    async fn set_watermark(
        &self,
        task_id: Uuid,
        object: &str,
        value: &str,
        run_id: Uuid,
    ) -> Result<()> {
        self.meter
            .time(
                "set_watermark",
                records::set_watermark(self, task_id, object, value, run_id),
            )
            .await
    }

    async fn clear_watermarks(&self, task_id: Uuid) -> Result<u64> {
        self.meter
            .time("clear_watermarks", records::clear_watermarks(self, task_id))
            .await
    }

    async fn set_webhook_key(&self, task_id: Uuid, key_hash: &str) -> Result<()> {
        self.meter
            .time(
                "set_webhook_key",
                records::set_webhook_key(self, task_id, key_hash),
            )
            .await
    }

    async fn webhook_key_matches(&self, task_id: Uuid, key_hash: &str) -> Result<bool> {
        self.meter
            .time(
                "webhook_key_matches",
                records::webhook_key_matches(self, task_id, key_hash),
            )
            .await
    }

    async fn append_audit(&self, event: &AuditEvent) -> Result<i64> {
        self.meter
            .time("append_audit", records::append_audit(self, event))
            .await
    }

    async fn list_audit(&self, filter: &AuditFilter) -> Result<Vec<(i64, AuditEvent)>> {
        self.meter
            .time("list_audit", records::list_audit(self, filter))
            .await
    }

    // --- callbacks ----------------------------------------------------------------------------
    async fn create_schedule(&self, schedule: &Schedule) -> Result<()> {
        self.meter
            .time(
                "create_schedule",
                schedules::create_schedule(self, schedule),
            )
            .await
    }

    async fn update_schedule(&self, schedule: &Schedule) -> Result<()> {
        self.meter
            .time(
                "update_schedule",
                schedules::update_schedule(self, schedule),
            )
            .await
    }

    async fn delete_schedule(&self, org_id: Uuid, id: Uuid) -> Result<()> {
        self.meter
            .time(
                "delete_schedule",
                schedules::delete_schedule(self, org_id, id),
            )
            .await
    }

    async fn find_schedules(
        &self,
        org_id: Uuid,
        id: Option<Uuid>,
        name: Option<&str>,
    ) -> Result<Vec<Schedule>> {
        self.meter
            .time(
                "find_schedules",
                schedules::find_schedules(self, org_id, id, name),
            )
            .await
    }

    async fn fire_schedules(&self, now: DateTime<Utc>, limit: i64) -> Result<Fired> {
        self.meter
            .time(
                "fire_schedules",
                schedules::fire_schedules(self, now, limit),
            )
            .await
    }

    async fn next_schedule_fire(&self) -> Result<Option<DateTime<Utc>>> {
        self.meter
            .time("next_schedule_fire", schedules::next_schedule_fire(self))
            .await
    }

    async fn put_blackout(&self, blackout: &Blackout) -> Result<()> {
        self.meter
            .time("put_blackout", schedules::put_blackout(self, blackout))
            .await
    }

    async fn delete_blackout(&self, org_id: Uuid, id: Uuid) -> Result<()> {
        self.meter
            .time(
                "delete_blackout",
                schedules::delete_blackout(self, org_id, id),
            )
            .await
    }

    async fn list_blackouts(&self, org_id: Uuid) -> Result<Vec<Blackout>> {
        self.meter
            .time("list_blackouts", schedules::list_blackouts(self, org_id))
            .await
    }

    async fn backfill_schedule(
        &self,
        schedule: &Schedule,
        fires: &[DateTime<Utc>],
        now: DateTime<Utc>,
    ) -> Result<Fired> {
        self.meter
            .time(
                "backfill_schedule",
                schedules::backfill_schedule(self, schedule, fires, now),
            )
            .await
    }

    async fn claim_callbacks(
        &self,
        node: &str,
        now: DateTime<Utc>,
        limit: i64,
        lease: Duration,
    ) -> Result<Vec<Callback>> {
        self.meter
            .time(
                "claim_callbacks",
                callbacks::claim_callbacks(self, node, now, limit, lease),
            )
            .await
    }

    async fn release_callbacks(&self, node: &str) -> Result<u64> {
        self.meter
            .time(
                "release_callbacks",
                callbacks::release_callbacks(self, node),
            )
            .await
    }

    async fn next_callback_due(&self) -> Result<Option<DateTime<Utc>>> {
        self.meter
            .time("next_callback_due", callbacks::next_callback_due(self))
            .await
    }

    async fn record_delivery(&self, id: Uuid, attempt: &Attempt, delivery: Delivery) -> Result<()> {
        self.meter
            .time(
                "record_delivery",
                callbacks::record_delivery(self, id, attempt, delivery),
            )
            .await
    }

    async fn get_callback(&self, id: Uuid) -> Result<Option<Callback>> {
        self.meter
            .time("get_callback", callbacks::get_callback(self, id))
            .await
    }

    async fn list_callbacks(&self, run_id: Uuid) -> Result<Vec<(Callback, Vec<Attempt>)>> {
        self.meter
            .time("list_callbacks", callbacks::list_callbacks(self, run_id))
            .await
    }

    async fn resend_callback(&self, id: Uuid, now: DateTime<Utc>) -> Result<Callback> {
        self.meter
            .time("resend_callback", callbacks::resend_callback(self, id, now))
            .await
    }
}
