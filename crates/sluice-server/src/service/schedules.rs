//! Schedules: defining them (definition files and the native API share one check), pausing and
//! resuming, their coming fires, and the schedules tasks name. When a schedule fires is the
//! domain's ([`crate::domain::schedule`]); making its fires is the store's firing pass, which
//! the worker's scheduler drives.

use super::{App, Change, Principal, Result, ServiceError};
use crate::domain::schedule::{
    CatchUp, DEFAULT_CATCH_UP_WINDOW_SECS, MAX_CATCH_UP_WINDOW_SECS, Rule, Schedule, Timing,
};
use crate::domain::task::{self, MAX_SCHEDULES_PER_TASK, ScheduleBinding};
use crate::domain::{Origin, Role};
use chrono::{DateTime, Utc};
use sluice_types::{ScheduleInput, TaskScheduleInput};
use uuid::Uuid;

/// A schedule as written by people (a definition file, the native API), before it is stored.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleSpec {
    pub name: String,
    pub description: String,
    pub timezone: String,
    pub rule: Rule,
    pub catch_up: CatchUp,
    pub catch_up_window_secs: u64,
    pub paused: bool,
}

/// Most coming fires one answer lists.
pub const MAX_NEXT_FIRES: usize = 1000;

/// Reads a schedule's fields, every problem as `field: message`.
pub fn spec_from_input(input: ScheduleInput) -> std::result::Result<ScheduleSpec, Vec<String>> {
    let mut problems = Vec::new();
    if let Err(e) = task::validate_name(&input.name) {
        problems.push(format!("name: {e}"));
    }
    let rule = match (input.cron, input.frequency) {
        (Some(cron), None) => Some(Rule::Cron(cron)),
        (None, Some(f)) => match serde_path_to_error::deserialize(f) {
            Ok(f) => Some(Rule::Frequency(f)),
            Err(e) => {
                problems.push(super::at_path(e.path(), e.inner()));
                None
            }
        },
        (Some(_), Some(_)) => {
            problems.push("cron: give a cron expression or frequency fields, not both".into());
            None
        }
        (None, None) => {
            problems.push("cron: missing (a cron expression, or frequency fields)".into());
            None
        }
    };
    let catch_up = match input.catch_up.as_deref().map(str::parse::<CatchUp>) {
        None => CatchUp::default(),
        Some(Ok(c)) => c,
        Some(Err(e)) => {
            problems.push(format!("catch_up: {e}"));
            CatchUp::default()
        }
    };
    let window = input
        .catch_up_window_secs
        .unwrap_or(DEFAULT_CATCH_UP_WINDOW_SECS);
    if window == 0 || window > MAX_CATCH_UP_WINDOW_SECS {
        problems.push(format!(
            "catch_up_window_secs: must be from 1 to {MAX_CATCH_UP_WINDOW_SECS} (31 days)"
        ));
    }
    let timezone = input.timezone.unwrap_or_else(|| "UTC".into());
    if let Some(rule) = &rule
        && let Err(e) = Timing::new(rule, &timezone)
    {
        problems.push(e.to_string());
    }
    match rule {
        Some(rule) if problems.is_empty() => Ok(ScheduleSpec {
            name: input.name,
            description: input.description.unwrap_or_default(),
            timezone,
            rule,
            catch_up,
            catch_up_window_secs: window,
            paused: input.paused.unwrap_or(false),
        }),
        _ => Err(problems),
    }
}

/// The schedules a task names, checked: each named once, at most [`MAX_SCHEDULES_PER_TASK`].
pub fn bindings(
    inputs: Vec<TaskScheduleInput>,
) -> std::result::Result<Vec<ScheduleBinding>, String> {
    if inputs.len() > MAX_SCHEDULES_PER_TASK {
        return Err(format!(
            "schedules: at most {MAX_SCHEDULES_PER_TASK} schedules"
        ));
    }
    let mut out: Vec<ScheduleBinding> = Vec::with_capacity(inputs.len());
    for input in inputs {
        let (schedule, parameters) = match input {
            TaskScheduleInput::Name(n) => (n, Default::default()),
            TaskScheduleInput::Binding {
                schedule,
                parameters,
            } => (schedule, parameters),
        };
        task::validate_name(&schedule).map_err(|e| format!("schedules: `{schedule}`: {e}"))?;
        if out.iter().any(|b| b.schedule == schedule) {
            return Err(format!("schedules: `{schedule}` is named twice"));
        }
        out.push(ScheduleBinding {
            schedule,
            parameters,
        });
    }
    Ok(out)
}

impl App {
    /// Creates or replaces the schedule named in `spec` (or, with `id`, that schedule). Its next
    /// fire is computed from now when it is new, its timing changed, or it is resumed: the fires
    /// a paused schedule would have made are not caught up.
    pub async fn put_schedule(
        &self,
        who: &Principal,
        spec: ScheduleSpec,
        origin: Origin,
        id: Option<Uuid>,
    ) -> Result<(Change, Schedule)> {
        who.require(Role::Designer)?;
        let org_id = who.org_id();
        let timing = Timing::new(&spec.rule, &spec.timezone)
            .map_err(|e| ServiceError::InvalidDefinition(vec![e.to_string()]))?;
        let existing = match id {
            Some(id) => Some(self.schedule_by_id(org_id, id).await?),
            None => self.schedule_named(org_id, &spec.name).await?,
        };
        let now = Utc::now();
        let mut schedule = Schedule {
            id: existing.as_ref().map(|s| s.id).unwrap_or_else(Uuid::now_v7),
            org_id,
            name: spec.name,
            description: spec.description,
            timezone: spec.timezone,
            rule: spec.rule,
            catch_up: spec.catch_up,
            catch_up_window_secs: spec.catch_up_window_secs,
            paused: spec.paused,
            origin,
            next_fire_at: timing.next_after(now),
            last_fire_at: None,
            created_at: now,
            updated_at: now,
        };
        let Some(old) = existing else {
            return match self.store.create_schedule(&schedule).await {
                Ok(()) => Ok((Change::Created, schedule)),
                Err(crate::store::StoreError::NameTaken(_)) if schedule.origin != Origin::Api => {
                    let made = self.schedule_named(org_id, &schedule.name).await?;
                    Ok((Change::Unchanged, made.unwrap_or(schedule)))
                }
                Err(e) => Err(e.into()),
            };
        };
        let same_timing = old.rule == schedule.rule && old.timezone == schedule.timezone;
        let resumed = old.paused && !schedule.paused;
        if same_timing && !resumed {
            schedule.next_fire_at = old.next_fire_at;
        }
        schedule.last_fire_at = old.last_fire_at;
        schedule.created_at = old.created_at;
        if (Schedule {
            updated_at: old.updated_at,
            ..schedule.clone()
        }) == old
        {
            return Ok((Change::Unchanged, old));
        }
        self.store.update_schedule(&schedule).await?;
        Ok((Change::Updated, schedule))
    }

    async fn schedule_by_id(&self, org_id: Uuid, id: Uuid) -> Result<Schedule> {
        self.store
            .find_schedules(org_id, Some(id), None)
            .await?
            .pop()
            .ok_or_else(|| ServiceError::NotFound(format!("schedule {id} not found")))
    }

    async fn schedule_named(&self, org_id: Uuid, name: &str) -> Result<Option<Schedule>> {
        Ok(self
            .store
            .find_schedules(org_id, None, Some(name))
            .await?
            .pop())
    }

    /// A schedule by id or name.
    pub async fn resolve_schedule(&self, org_id: Uuid, reference: &str) -> Result<Schedule> {
        if let Ok(id) = Uuid::parse_str(reference)
            && let Ok(found) = self.schedule_by_id(org_id, id).await
        {
            return Ok(found);
        }
        self.schedule_named(org_id, reference)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("schedule `{reference}` not found")))
    }

    pub async fn list_schedules(&self, org_id: Uuid) -> Result<Vec<Schedule>> {
        Ok(self.store.find_schedules(org_id, None, None).await?)
    }

    /// Deletes a schedule: its fires stop; the runs it made stay, and tasks naming it keep the
    /// name (a schedule made again under it fires them again).
    pub async fn delete_schedule(&self, who: &Principal, id: Uuid) -> Result<()> {
        who.require(Role::Designer)?;
        Ok(self.store.delete_schedule(who.org_id(), id).await?)
    }

    /// Pauses or resumes a schedule (an operator's call, like stopping a run). A resumed
    /// schedule fires next at its first fire from now.
    pub async fn set_schedule_paused(
        &self,
        who: &Principal,
        reference: &str,
        paused: bool,
    ) -> Result<Schedule> {
        who.require(Role::Operator)?;
        let mut schedule = self.resolve_schedule(who.org_id(), reference).await?;
        if schedule.paused == paused {
            return Ok(schedule);
        }
        let timing = schedule
            .timing()
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        let now = Utc::now();
        schedule.paused = paused;
        if !paused {
            schedule.next_fire_at = timing.next_after(now);
        }
        schedule.updated_at = now;
        self.store.update_schedule(&schedule).await?;
        Ok(schedule)
    }

    /// A schedule's next `count` fires from now (paused or not).
    pub fn next_fires(&self, schedule: &Schedule, count: usize) -> Result<Vec<DateTime<Utc>>> {
        let timing = schedule
            .timing()
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        Ok(timing.next_fires(Utc::now(), count.min(MAX_NEXT_FIRES)))
    }

    /// Makes a schedule's fires from `from` to `to` now, under `policy` (default `all`): fires
    /// already made (by the schedule or an earlier backfill) are not made again.
    pub async fn backfill(
        &self,
        who: &Principal,
        reference: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        policy: Option<CatchUp>,
    ) -> Result<(usize, crate::store::Fired)> {
        who.require(Role::Operator)?;
        let schedule = self.resolve_schedule(who.org_id(), reference).await?;
        let timing = schedule
            .timing()
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        let fires =
            crate::domain::firing::backfill(&timing, policy.unwrap_or(CatchUp::All), from, to)
                .map_err(ServiceError::Invalid)?;
        let fired = self
            .store
            .backfill_schedule(&schedule, &fires, Utc::now())
            .await?;
        if !fired.runs.is_empty() {
            self.events.run_queued();
        }
        Ok((fires.len(), fired))
    }

    /// Puts a task on the given schedules (replacing those it named), as IICS clients attach a
    /// schedule to a task. The task keeps its origin: a task from a definition file gets its
    /// file's schedules back when the directory is loaded again.
    pub async fn set_task_schedules(
        &self,
        who: &Principal,
        task: &crate::domain::Task,
        bindings: Vec<ScheduleBinding>,
    ) -> Result<crate::domain::Task> {
        who.require(Role::Designer)?;
        self.check_bindings(task.org_id, &bindings).await?;
        let mut changed = task.clone();
        changed.policy.schedules = bindings;
        changed.updated_at = Utc::now();
        self.store.update_task(&changed).await?;
        Ok(changed)
    }

    /// Refuses a task naming a schedule its org does not have.
    pub(super) async fn check_bindings(
        &self,
        org_id: Uuid,
        bindings: &[ScheduleBinding],
    ) -> Result<()> {
        let known = self.store.find_schedules(org_id, None, None).await?;
        let missing: Vec<String> = bindings
            .iter()
            .filter(|b| !known.iter().any(|s| s.name == b.schedule))
            .map(|b| format!("schedules: no schedule named `{}`", b.schedule))
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(ServiceError::InvalidDefinition(missing))
        }
    }
}
