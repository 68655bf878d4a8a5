//! `sluice audit`: the audit log (sign-ins, failed ones, and changes to users, orgs and
//! connections), newest first. Admins only; the server decides which orgs' events they see.

use super::client::{Client, decode};
use super::output::{Table, emit, emit_json, fmt_time};
use super::{AuditArgs, GlobalOpts};
use anyhow::{Result, bail};
use chrono::{DateTime, Utc};
use sluice_types::{AuditEventView, AuditList};
use std::process::ExitCode;

pub async fn list(global: &GlobalOpts, args: AuditArgs) -> Result<ExitCode> {
    let mut query = Vec::new();
    if let Some(since) = &args.since {
        query.push(("since", fmt_time(&since_time(since, Utc::now())?)));
    }
    if let Some(action) = args.action {
        query.push(("action", action));
    }
    if let Some(actor) = args.actor {
        query.push(("actor", actor));
    }
    if let Some(limit) = args.limit {
        query.push(("limit", limit.to_string()));
    }
    if let Some(offset) = args.offset {
        query.push(("offset", offset.to_string()));
    }
    let client = Client::connect(global).await?;
    let raw = client.get_raw("/audit", &query).await?;
    if global.json {
        emit_json(&raw);
        return Ok(ExitCode::SUCCESS);
    }
    let list: AuditList = decode(raw)?;
    if list.events.is_empty() {
        eprintln!("no events");
    } else {
        emit(&audit_table(&list.events));
    }
    if let Some(next) = list.next_offset {
        eprintln!("more events: add --offset {next}");
    }
    Ok(ExitCode::SUCCESS)
}

/// `--since`: a time (`2026-03-01T00:00:00Z`, or a date) or an age (`30m`, `12h`, `7d`).
fn since_time(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>> {
    let t = text.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(t) {
        return Ok(at.with_timezone(&Utc));
    }
    if let Ok(day) = chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return Ok(day.and_time(chrono::NaiveTime::MIN).and_utc());
    }
    let split = t.len().saturating_sub(1);
    let (number, unit) = (t.get(..split).unwrap_or(""), t.get(split..).unwrap_or(""));
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => 0,
    };
    match number.parse::<i64>() {
        Ok(n) if n >= 0 && seconds > 0 => {
            Ok(now - chrono::Duration::seconds(n.saturating_mul(seconds)))
        }
        _ => bail!(
            "--since `{text}`: expected a time (2026-03-01T00:00:00Z), a date (2026-03-01) or an age (30m, 12h, 7d)"
        ),
    }
}

fn audit_table(events: &[AuditEventView]) -> String {
    let mut table = Table::new(&[
        "TIME", "ORG", "ACTOR", "ACTION", "TARGET", "SURFACE", "ADDRESS", "OUTCOME", "DETAIL",
    ]);
    for e in events {
        table.row(vec![
            fmt_time(&e.at),
            e.org_name.clone().unwrap_or_else(|| "-".into()),
            e.actor.clone(),
            e.action.clone(),
            e.target.clone(),
            e.surface.clone(),
            e.client_addr.clone().unwrap_or_else(|| "-".into()),
            e.outcome.clone(),
            e.detail.clone(),
        ]);
    }
    table.render()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_times_dates_and_ages() {
        let now: DateTime<Utc> = "2026-03-10T12:00:00Z".parse().unwrap();
        let at = |s: &str| since_time(s, now).unwrap().to_rfc3339();
        assert_eq!(at("2026-03-01T08:30:00Z"), "2026-03-01T08:30:00+00:00");
        assert_eq!(at("2026-03-01"), "2026-03-01T00:00:00+00:00");
        assert_eq!(at("90m"), "2026-03-10T10:30:00+00:00");
        assert_eq!(at("2d"), "2026-03-08T12:00:00+00:00");
        for bad in ["yesterday", "5", "-3h", "h", ""] {
            assert!(since_time(bad, now).is_err(), "{bad}");
        }
    }
}
