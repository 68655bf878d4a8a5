//! The [`Store`] trait on SQLite: each method handed to the module of its resource.

use super::*;

#[async_trait]
impl Store for SqliteStore {
    /// Closes every connection, checkpointing the write-ahead log into the database file.
    async fn close(&self) {
        self.read.close().await;
        self.write.close().await;
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.read).await?;
        Ok(())
    }

    /// The data directory's lock already keeps a second process off this file.
    async fn hold_node_name(&self, _node: &str) -> Result<NodeHold> {
        Ok(NodeHold::none())
    }

    /// Only this process writes the file (its data directory is locked).
    fn watch(&self) -> Option<tokio::sync::mpsc::Receiver<Wake>> {
        None
    }

    // --- identity -----------------------------------------------------------------------------
    async fn ensure_org(&self, id: Uuid, name: &str) -> Result<Org> {
        identity::ensure_org(self, id, name).await
    }

    async fn create_org(&self, name: &str) -> Result<Org> {
        identity::create_org(self, name).await
    }

    async fn list_orgs(&self) -> Result<Vec<Org>> {
        identity::list_orgs(self).await
    }

    async fn create_user(
        &self,
        org_id: Uuid,
        username: &str,
        password_hash: &str,
        role: Role,
    ) -> Result<User> {
        identity::create_user(self, org_id, username, password_hash, role).await
    }

    async fn set_user_role(&self, org_id: Uuid, user_id: Uuid, role: Role) -> Result<User> {
        identity::set_user_role(self, org_id, user_id, role).await
    }

    async fn set_password(&self, user_id: Uuid, password_hash: &str) -> Result<()> {
        identity::set_password(self, user_id, password_hash).await
    }

    async fn user_credentials(&self, username: &str) -> Result<Option<(User, String)>> {
        identity::user_credentials(self, username).await
    }

    async fn list_users(&self, org_id: Uuid) -> Result<Vec<User>> {
        identity::list_users(self, org_id).await
    }

    async fn create_token(&self, token: &NewToken<'_>) -> Result<()> {
        identity::create_token(self, token).await
    }

    async fn user_for_token(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<(User, Option<DateTime<Utc>>)>> {
        identity::user_for_token(self, token_hash, now).await
    }

    async fn revoke_token(&self, token_hash: &str) -> Result<bool> {
        identity::revoke_token(self, token_hash).await
    }

    async fn revoke_user_tokens(&self, user_id: Uuid, name: &str) -> Result<u64> {
        identity::revoke_user_tokens(self, user_id, name).await
    }

    // --- tasks --------------------------------------------------------------------------------
    async fn create_task(&self, t: &Task) -> Result<()> {
        tasks::create_task(self, t).await
    }

    async fn update_task(&self, t: &Task) -> Result<()> {
        tasks::update_task(self, t).await
    }

    async fn delete_task(&self, org_id: Uuid, id: Uuid) -> Result<()> {
        tasks::delete_task(self, org_id, id).await
    }

    async fn get_task(&self, org_id: Uuid, id: Uuid) -> Result<Option<Task>> {
        tasks::get_task(self, org_id, id).await
    }

    async fn get_task_by_short_id(&self, org_id: Uuid, short_id: &str) -> Result<Option<Task>> {
        tasks::get_task_by_short_id(self, org_id, short_id).await
    }

    async fn get_task_by_path(
        &self,
        org_id: Uuid,
        folder: &str,
        name: &str,
    ) -> Result<Option<Task>> {
        tasks::get_task_by_path(self, org_id, folder, name).await
    }

    async fn list_tasks(&self, org_id: Uuid, f: &TaskFilter) -> Result<Vec<Task>> {
        tasks::list_tasks(self, org_id, f).await
    }

    async fn create_connection(&self, c: &Connection) -> Result<()> {
        tasks::create_connection(self, c).await
    }

    async fn update_connection(&self, c: &Connection) -> Result<()> {
        tasks::update_connection(self, c).await
    }

    async fn delete_connection(&self, org_id: Uuid, id: Uuid) -> Result<()> {
        tasks::delete_connection(self, org_id, id).await
    }

    async fn get_connection(&self, org_id: Uuid, id: Uuid) -> Result<Option<Connection>> {
        tasks::get_connection(self, org_id, id).await
    }

    async fn get_connection_by_name(&self, org_id: Uuid, name: &str) -> Result<Option<Connection>> {
        tasks::get_connection_by_name(self, org_id, name).await
    }

    async fn list_connections(&self, org_id: Uuid) -> Result<Vec<Connection>> {
        tasks::list_connections(self, org_id).await
    }

    // --- runs ---------------------------------------------------------------------------------
    async fn create_run(&self, task: &Task, new: NewRun, now: DateTime<Utc>) -> Result<Run> {
        runs::create_run(self, task, new, now).await
    }

    async fn get_run(&self, org_id: Uuid, id: Uuid) -> Result<Option<Run>> {
        runs::get_run(self, org_id, id).await
    }

    async fn get_run_any_org(&self, id: Uuid) -> Result<Option<Run>> {
        runs::get_run_any_org(self, id).await
    }

    async fn get_run_by_external_id(&self, org_id: Uuid, external_id: &str) -> Result<Option<Run>> {
        runs::get_run_by_external_id(self, org_id, external_id).await
    }

    async fn get_run_by_number(&self, task_id: Uuid, run_number: i64) -> Result<Option<Run>> {
        runs::get_run_by_number(self, task_id, run_number).await
    }

    async fn list_runs(&self, org_id: Uuid, f: &RunFilter) -> Result<Vec<Run>> {
        runs::list_runs(self, org_id, f).await
    }

    async fn claim_runs(
        &self,
        node: &str,
        lease: Duration,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Run>> {
        runs::claim_runs(self, node, lease, now, limit).await
    }

    async fn begin_run(&self, id: Uuid, node: &str) -> Result<Run> {
        runs::begin_run(self, id, node).await
    }

    async fn heartbeat(
        &self,
        id: Uuid,
        node: &str,
        lease: Duration,
        c: Counters,
        now: DateTime<Utc>,
    ) -> Result<Heartbeat> {
        runs::heartbeat(self, id, node, lease, c, now).await
    }

    async fn request_stop(
        &self,
        org_id: Uuid,
        id: Uuid,
        mode: StopMode,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<Run> {
        runs::request_stop(self, org_id, id, mode, by, now).await
    }

    async fn finish_run(
        &self,
        id: Uuid,
        node: &str,
        end: RunEnd,
        now: DateTime<Utc>,
    ) -> Result<Run> {
        runs::finish_run(self, id, node, end, now).await
    }

    async fn resolve_lost_runs(
        &self,
        now: DateTime<Utc>,
        node: Option<&str>,
        reason: &str,
    ) -> Result<Vec<Run>> {
        runs::resolve_lost_runs(self, now, node, reason).await
    }

    async fn put_run_file_chunk(
        &self,
        run_id: Uuid,
        name: &str,
        chunk: i64,
        data: &[u8],
    ) -> Result<()> {
        logs::put_run_file_chunk(self, run_id, name, chunk, data).await
    }

    async fn list_run_files(&self, run_id: Uuid) -> Result<Vec<(String, i64)>> {
        logs::list_run_files(self, run_id).await
    }

    async fn read_run_file_chunk(
        &self,
        run_id: Uuid,
        name: &str,
        chunk: i64,
    ) -> Result<Option<Vec<u8>>> {
        logs::read_run_file_chunk(self, run_id, name, chunk).await
    }

    async fn purge_runs(&self, before: DateTime<Utc>, limit: i64) -> Result<Vec<Uuid>> {
        runs::purge_runs(self, before, limit).await
    }

    // --- children -----------------------------------------------------------------------------
    async fn put_run_child(&self, child: &RunChild) -> Result<()> {
        children::put_run_child(self, child).await
    }

    async fn set_spark_progress(
        &self,
        run_id: Uuid,
        node: &str,
        progress: &SparkProgress,
    ) -> Result<bool> {
        children::set_spark_progress(self, run_id, node, progress).await
    }

    async fn list_run_children(&self, run_id: Uuid) -> Result<Vec<RunChild>> {
        children::list_run_children(self, run_id).await
    }

    // --- watermarks ---------------------------------------------------------------------------
    async fn get_watermark(&self, task_id: Uuid, object: &str) -> Result<Option<String>> {
        watermarks::get_watermark(self, task_id, object).await
    }

    async fn set_watermark(
        &self,
        task_id: Uuid,
        object: &str,
        value: &str,
        run_id: Uuid,
    ) -> Result<()> {
        watermarks::set_watermark(self, task_id, object, value, run_id).await
    }

    async fn clear_watermarks(&self, task_id: Uuid) -> Result<u64> {
        watermarks::clear_watermarks(self, task_id).await
    }

    // --- logs ---------------------------------------------------------------------------------
    async fn append_log(&self, run_id: Uuid, lines: &[NewLogLine]) -> Result<()> {
        logs::append_log(self, run_id, lines).await
    }

    async fn read_log(
        &self,
        run_id: Uuid,
        after_seq: i64,
        min_level: LogLevel,
        limit: i64,
    ) -> Result<Vec<LogLine>> {
        logs::read_log(self, run_id, after_seq, min_level, limit).await
    }

    async fn get_task_any_org(&self, id: Uuid) -> Result<Option<Task>> {
        sqlx::query("SELECT * FROM tasks WHERE id = ?")
            .bind(id.to_string())
            .fetch_optional(&self.read)
            .await?
            .map(|r| rows::task(&r))
            .transpose()
    }

    // --- webhook keys -------------------------------------------------------------------------
    async fn set_webhook_key(&self, task_id: Uuid, key_hash: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO webhook_keys (task_id, key_hash, created_at) VALUES (?, ?, ?)
             ON CONFLICT (task_id) DO UPDATE SET key_hash = excluded.key_hash,
                created_at = excluded.created_at",
        )
        .bind(task_id.to_string())
        .bind(key_hash)
        .bind(cells::micros(Utc::now()))
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn webhook_key_matches(&self, task_id: Uuid, key_hash: &str) -> Result<bool> {
        let found: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM webhook_keys WHERE task_id = ? AND key_hash = ?")
                .bind(task_id.to_string())
                .bind(key_hash)
                .fetch_optional(&self.read)
                .await?;
        Ok(found.is_some())
    }

    // --- audit log ----------------------------------------------------------------------------
    async fn append_audit(&self, event: &AuditEvent) -> Result<i64> {
        audit::append_audit(self, event).await
    }

    async fn list_audit(&self, filter: &AuditFilter) -> Result<Vec<(i64, AuditEvent)>> {
        audit::list_audit(self, filter).await
    }

    // --- callbacks ----------------------------------------------------------------------------
    async fn create_schedule(&self, schedule: &Schedule) -> Result<()> {
        schedules::create_schedule(self, schedule).await
    }

    async fn update_schedule(&self, schedule: &Schedule) -> Result<()> {
        schedules::update_schedule(self, schedule).await
    }

    async fn delete_schedule(&self, org_id: Uuid, id: Uuid) -> Result<()> {
        schedules::delete_schedule(self, org_id, id).await
    }

    async fn find_schedules(
        &self,
        org_id: Uuid,
        id: Option<Uuid>,
        name: Option<&str>,
    ) -> Result<Vec<Schedule>> {
        schedules::find_schedules(self, org_id, id, name).await
    }

    async fn fire_schedules(&self, now: DateTime<Utc>, limit: i64) -> Result<Fired> {
        schedules::fire_schedules(self, now, limit).await
    }

    async fn next_schedule_fire(&self) -> Result<Option<DateTime<Utc>>> {
        schedules::next_schedule_fire(self).await
    }

    async fn put_blackout(&self, blackout: &Blackout) -> Result<()> {
        schedules::put_blackout(self, blackout).await
    }

    async fn delete_blackout(&self, org_id: Uuid, id: Uuid) -> Result<()> {
        schedules::delete_blackout(self, org_id, id).await
    }

    async fn list_blackouts(&self, org_id: Uuid) -> Result<Vec<Blackout>> {
        schedules::list_blackouts(self, org_id).await
    }

    async fn backfill_schedule(
        &self,
        schedule: &Schedule,
        fires: &[DateTime<Utc>],
        now: DateTime<Utc>,
    ) -> Result<Fired> {
        schedules::backfill_schedule(self, schedule, fires, now).await
    }

    async fn claim_callbacks(
        &self,
        node: &str,
        now: DateTime<Utc>,
        limit: i64,
        lease: Duration,
    ) -> Result<Vec<Callback>> {
        callbacks::claim_callbacks(self, node, now, limit, lease).await
    }

    async fn release_callbacks(&self, node: &str) -> Result<u64> {
        callbacks::release_callbacks(self, node).await
    }

    async fn next_callback_due(&self) -> Result<Option<DateTime<Utc>>> {
        callbacks::next_callback_due(self).await
    }

    async fn record_delivery(&self, id: Uuid, attempt: &Attempt, delivery: Delivery) -> Result<()> {
        callbacks::record_delivery(self, id, attempt, delivery).await
    }

    async fn get_callback(&self, id: Uuid) -> Result<Option<Callback>> {
        callbacks::get_callback(self, id).await
    }

    async fn list_callbacks(&self, run_id: Uuid) -> Result<Vec<(Callback, Vec<Attempt>)>> {
        callbacks::list_callbacks(self, run_id).await
    }

    async fn resend_callback(&self, id: Uuid, now: DateTime<Utc>) -> Result<Callback> {
        callbacks::resend_callback(self, id, now).await
    }
}
