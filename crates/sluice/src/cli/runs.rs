//! `sluice runs` (the run table), `sluice status` (one run in detail) and `sluice stop`.

use super::client::{Client, decode, segment};
use super::output::{Table, emit, emit_json, emit_line, fmt_elapsed, fmt_time};
use super::run::counters_text;
use super::{GlobalOpts, RunsArgs};
use anyhow::Result;
use sluice_types::{RunList, RunView, StopRun};
use std::process::ExitCode;

pub async fn list(global: &GlobalOpts, args: RunsArgs) -> Result<ExitCode> {
    let client = Client::connect(global).await?;
    let mut query = Vec::new();
    if let Some(task) = args.task {
        query.push(("task", task));
    }
    if let Some(state) = args.state {
        query.push(("state", state));
    }
    if let Some(limit) = args.limit {
        query.push(("limit", limit.to_string()));
    }
    if let Some(before) = args.before {
        query.push(("before", before.to_string()));
    }
    let raw = client.get_raw("/runs", &query).await?;
    if global.json {
        emit_json(&raw);
        return Ok(ExitCode::SUCCESS);
    }
    let list: RunList = decode(raw)?;
    if list.runs.is_empty() {
        eprintln!("no runs");
    } else {
        emit(&runs_table(&list.runs));
    }
    if let Some(before) = list.next_before {
        eprintln!("more runs: add --before {before}");
    }
    Ok(ExitCode::SUCCESS)
}

pub fn runs_table(runs: &[RunView]) -> String {
    let mut table = Table::new(&[
        "ID", "TASK", ">RUN", "STATE", "NODE", ">READ", ">WRITTEN", ">FAILED", "CREATED",
    ]);
    for r in runs {
        let c = &r.counters;
        table.row(vec![
            r.id.to_string(),
            r.task_path.clone(),
            r.run_number.to_string(),
            r.state.clone(),
            r.node.clone().unwrap_or_else(|| "-".into()),
            c.source_rows_read.to_string(),
            c.target_rows_written.to_string(),
            (c.source_rows_failed + c.target_rows_failed).to_string(),
            fmt_time(&r.created_at),
        ]);
    }
    table.render()
}

pub async fn status(global: &GlobalOpts, id: String) -> Result<ExitCode> {
    let client = Client::connect(global).await?;
    let raw = client
        .get_raw(&format!("/runs/{}", segment(&id)?), &[])
        .await?;
    if global.json {
        emit_json(&raw);
    } else {
        emit(&details(&decode(raw)?));
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn stop(global: &GlobalOpts, id: String, immediate: bool) -> Result<ExitCode> {
    let client = Client::connect(global).await?;
    let mode = if immediate { "immediate" } else { "graceful" };
    let body = StopRun {
        mode: Some(mode.to_string()),
    };
    let raw = client
        .post_raw(&format!("/runs/{}/stop", segment(&id)?), &body)
        .await?;
    if global.json {
        emit_json(&raw);
    } else {
        let run: RunView = decode(raw)?;
        let what = if run.finished {
            "had already ended"
        } else if mode == "immediate" {
            "immediate stop requested"
        } else {
            "graceful stop requested"
        };
        emit_line(&format!(
            "run {} of {} ({}): {} ({what})",
            run.run_number, run.task_path, run.id, run.state
        ));
    }
    Ok(ExitCode::SUCCESS)
}

/// One run as `name: value` lines.
pub fn details(r: &RunView) -> String {
    let mut fields: Vec<(&str, String)> = vec![
        ("id", r.id.to_string()),
        (
            "task",
            format!("{} ({}, {})", r.task_path, r.task_type, r.task_id),
        ),
        ("run number", r.run_number.to_string()),
        ("state", r.state.clone()),
        ("trigger", format!("{} by {}", r.trigger, r.started_by)),
    ];
    if let (Some(schedule), Some(at)) = (&r.schedule, &r.fire_at) {
        fields.push((
            "schedule",
            format!("{schedule} (fire due {})", fmt_time(at)),
        ));
    }
    if r.attempts > 1 {
        let of = r
            .retry_of
            .map(|id| format!(", retrying {id}"))
            .unwrap_or_default();
        fields.push(("attempt", format!("{} of {}{of}", r.attempt, r.attempts)));
    }
    if let Some(ext) = &r.external_id {
        fields.push(("external id", ext.clone()));
    }
    if !r.parameters.is_empty() {
        let params: Vec<String> = r
            .parameters
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        fields.push(("parameters", params.join(", ")));
    }
    if let Some(url) = &r.callback_url {
        fields.push(("callback url", url.clone()));
    }
    if let Some(node) = &r.node {
        fields.push(("node", node.clone()));
    }
    fields.push(("created", fmt_time(&r.created_at)));
    if let Some(t) = &r.started_at {
        fields.push(("started", fmt_time(t)));
    }
    if let Some(t) = &r.ended_at {
        fields.push(("ended", fmt_time(t)));
    }
    if let (Some(start), Some(end)) = (r.started_at, r.ended_at)
        && let Ok(d) = (end - start).to_std()
    {
        fields.push(("duration", fmt_elapsed(d)));
    }
    let c = &r.counters;
    fields.push(("rows", counters_text(c)));
    fields.push((
        "source rows",
        format!(
            "read {}, failed {}",
            c.source_rows_read, c.source_rows_failed
        ),
    ));
    fields.push((
        "target rows",
        format!(
            "written {}, failed {} (inserts {}, updates {}, deletes {}, skipped {})",
            c.target_rows_written, c.target_rows_failed, c.inserts, c.updates, c.deletes, c.skipped
        ),
    ));
    if let Some(sp) = &r.spark {
        fields.push((
            "spark",
            format!(
                "{} {}{}",
                sp.app_id.as_deref().unwrap_or("(no application id yet)"),
                sp.state,
                sp.ui_url
                    .as_deref()
                    .map(|u| format!(", UI {u}"))
                    .unwrap_or_default()
            ),
        ));
        fields.push((
            "spark jobs",
            format!(
                "{}/{} done, {} running, {} failed; stages {}/{} ({} skipped); tasks {}/{}",
                sp.jobs.completed,
                sp.jobs.total,
                sp.jobs.active,
                sp.jobs.failed,
                sp.stages.completed,
                sp.stages.total,
                sp.stages.skipped,
                sp.tasks.completed,
                sp.tasks.total
            ),
        ));
    }
    if let Some(mode) = &r.stop_mode {
        let by = r.stopped_by.as_deref().unwrap_or("?");
        fields.push(("stop", format!("{mode}, by {by}")));
    }
    if let Some(error) = &r.error {
        fields.push(("error", error.clone()));
    }
    // Wide enough for the longest name, `callback url:`.
    fields
        .iter()
        .map(|(k, v)| format!("{:<13} {v}\n", format!("{k}:")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use sluice_types::CountersView;
    use std::collections::BTreeMap;
    use uuid::Uuid;

    fn view() -> RunView {
        let t0 = Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap();
        RunView {
            id: Uuid::nil(),
            run_number: 2,
            external_id: Some("ext-1".into()),
            task_id: Uuid::nil(),
            task_path: "Sales/load".into(),
            task_type: "MTT".into(),
            state: "completed".into(),
            finished: true,
            trigger: "cli".into(),
            started_by: "admin".into(),
            parameters: BTreeMap::from([("a".to_string(), "1".to_string())]),
            callback_url: None,
            stop_mode: None,
            stopped_by: None,
            error: None,
            counters: CountersView {
                source_rows_read: 7,
                target_rows_written: 7,
                ..Default::default()
            },
            created_at: t0,
            started_at: Some(t0),
            ended_at: Some(t0 + chrono::Duration::seconds(3)),
            node: Some("node-a".into()),
            schedule: None,
            fire_at: None,
            attempt: 1,
            attempts: 1,
            retry_of: None,
            children: Vec::new(),
            spark: None,
        }
    }

    #[test]
    fn table_has_a_row_per_run() {
        let text = runs_table(&[view()]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("ID "));
        assert!(lines[1].contains("Sales/load"));
        assert!(lines[1].contains("completed"));
        assert!(lines[1].contains("node-a"), "{text}");
        assert!(lines[1].ends_with("2024-05-01T12:00:00Z"));
    }

    #[test]
    fn details_lists_fields() {
        let text = details(&view());
        assert!(text.contains("state:        completed\n"), "{text}");
        assert!(text.contains("external id:  ext-1\n"));
        assert!(text.contains("parameters:   a=1\n"));
        assert!(text.contains("duration:     3s\n"));
        assert!(text.contains("node:         node-a\n"), "{text}");
        assert!(!text.contains("error:"));
        assert!(!text.contains("spark:"));
    }

    #[test]
    fn details_show_a_spark_application() {
        let mut r = view();
        r.spark = Some(sluice_types::SparkView {
            app_id: Some("app-1".into()),
            app_name: Some("job".into()),
            ui_url: None,
            state: "succeeded".into(),
            jobs: sluice_types::TallyView {
                total: 3,
                completed: 3,
                ..Default::default()
            },
            stages: sluice_types::TallyView {
                total: 5,
                completed: 4,
                skipped: 1,
                ..Default::default()
            },
            tasks: Default::default(),
            updated_at: None,
        });
        let text = details(&r);
        assert!(text.contains("spark:        app-1 succeeded\n"), "{text}");
        assert!(
            text.contains("spark jobs:   3/3 done, 0 running, 0 failed; stages 4/5 (1 skipped)"),
            "{text}"
        );
    }
}
