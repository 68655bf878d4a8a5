//! `sluice tasks`: the task table (path, type, id, IICS task id).

use super::GlobalOpts;
use super::client::{Client, decode};
use super::output::{Table, emit, emit_json};
use anyhow::Result;
use sluice_types::TaskView;
use std::process::ExitCode;

pub async fn list(global: &GlobalOpts, folder: Option<String>) -> Result<ExitCode> {
    let client = Client::connect(global).await?;
    let query: Vec<(&str, String)> = folder.into_iter().map(|f| ("folder", f)).collect();
    let raw = client.get_raw("/tasks", &query).await?;
    if global.json {
        emit_json(&raw);
        return Ok(ExitCode::SUCCESS);
    }
    let tasks: Vec<TaskView> = decode(raw)?;
    if tasks.is_empty() {
        eprintln!("no tasks");
    } else {
        emit(&tasks_table(&tasks));
    }
    Ok(ExitCode::SUCCESS)
}

fn tasks_table(tasks: &[TaskView]) -> String {
    let mut table = Table::new(&["PATH", "TYPE", "ID", "IICS ID"]);
    for t in tasks {
        table.row(vec![
            t.path.clone(),
            t.task_type.clone(),
            t.id.to_string(),
            t.iics_task_id.clone(),
        ]);
    }
    table.render()
}
