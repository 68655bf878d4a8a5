//! `sluice schedules`: the schedule table (name, rule, zone, next fire), pausing and resuming
//! one, and a schedule's coming fires in its own time zone.

use super::GlobalOpts;
use super::client::{Client, decode};
use super::output::{Table, emit, emit_json};
use super::tasks::urlencode as segment;
use anyhow::Result;
use sluice_types::{BackfillReport, ScheduleFires, ScheduleView};
use std::process::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub enum SchedulesCommand {
    /// Pause a schedule: it does not fire until resumed.
    Pause { name: String },
    /// Resume a paused schedule: it fires next at its first fire from now.
    Resume { name: String },
    /// Run a schedule's fires between two times now (fires already made are not made again).
    Backfill {
        name: String,
        /// From (included): 2026-11-01T00:00:00Z.
        #[arg(long)]
        from: String,
        /// To (included).
        #[arg(long)]
        to: String,
        /// all (default), last or none.
        #[arg(long)]
        catch_up: Option<String>,
    },
    /// A schedule's coming fires.
    Next {
        name: String,
        /// How many (at most 1000).
        #[arg(long, default_value_t = 10)]
        count: usize,
    },
}

pub async fn run(global: &GlobalOpts, command: Option<SchedulesCommand>) -> Result<ExitCode> {
    let client = Client::connect(global).await?;
    let raw = match &command {
        None => client.get_raw("/schedules", &[]).await?,
        Some(SchedulesCommand::Pause { name }) => {
            let path = format!("/schedules/{}/pause", segment(name));
            client.post_raw(&path, &serde_json::json!({})).await?
        }
        Some(SchedulesCommand::Resume { name }) => {
            let path = format!("/schedules/{}/resume", segment(name));
            client.post_raw(&path, &serde_json::json!({})).await?
        }
        Some(SchedulesCommand::Backfill {
            name,
            from,
            to,
            catch_up,
        }) => {
            let path = format!("/schedules/{}/backfill", segment(name));
            let body = serde_json::json!({"from": from, "to": to, "catch_up": catch_up});
            client.post_raw(&path, &body).await?
        }
        Some(SchedulesCommand::Next { name, count }) => {
            let path = format!("/schedules/{}/next", segment(name));
            client
                .get_raw(&path, &[("count", count.to_string())])
                .await?
        }
    };
    if global.json {
        emit_json(&raw);
        return Ok(ExitCode::SUCCESS);
    }
    match command {
        None => {
            let all: Vec<ScheduleView> = decode(raw)?;
            if all.is_empty() {
                eprintln!("no schedules");
            } else {
                emit(&table(&all));
            }
        }
        Some(SchedulesCommand::Next { .. }) => {
            let fires: ScheduleFires = decode(raw)?;
            emit(&fires_table(&fires));
        }
        Some(SchedulesCommand::Backfill { .. }) => {
            let report: BackfillReport = decode(raw)?;
            println!("{} fires, {} runs made", report.fires, report.runs.len());
            for r in &report.refused {
                eprintln!("not run: {r}");
            }
        }
        Some(_) => {
            let one: ScheduleView = decode(raw)?;
            emit(&table(&[one]));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn table(schedules: &[ScheduleView]) -> String {
    let mut table = Table::new(&["NAME", "WHEN", "TIMEZONE", "STATE", "NEXT FIRE (UTC)"]);
    for s in schedules {
        let when = match (&s.cron, &s.frequency) {
            (Some(c), _) => format!("cron {c}"),
            (None, Some(f)) => format!(
                "every {}",
                f.get("every").and_then(|v| v.as_str()).unwrap_or("?")
            ),
            (None, None) => String::new(),
        };
        table.row(vec![
            s.name.clone(),
            when,
            s.timezone.clone(),
            if s.paused { "paused" } else { "active" }.into(),
            s.next_fire_at
                .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                .unwrap_or_else(|| "-".into()),
        ]);
    }
    table.render()
}

fn fires_table(fires: &ScheduleFires) -> String {
    let mut table = Table::new(&["UTC", "LOCAL"]);
    for (at, local) in fires.fires.iter().zip(&fires.local) {
        table.row(vec![
            at.format("%Y-%m-%d %H:%M:%S").to_string(),
            local.clone(),
        ]);
    }
    table.render()
}
