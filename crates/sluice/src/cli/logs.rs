//! `sluice logs`: pages through a run's log (`<at> <LEVEL> <message>` per line) and, with
//! `--follow`, keeps polling until the run has ended and every line is printed.

use super::client::{Client, segment};
use super::output::{emit, fmt_time_ms};
use super::{GlobalOpts, LogsArgs};
use anyhow::Result;
use sluice_types::{LogLineView, LogPage};
use std::process::ExitCode;
use std::time::Duration;

/// Lines asked for per request.
const PAGE: usize = 500;
/// Pause between polls when following and nothing new has come.
const FOLLOW_POLL: Duration = Duration::from_millis(500);

pub async fn logs(global: &GlobalOpts, args: LogsArgs) -> Result<ExitCode> {
    let client = Client::connect(global).await?;
    let path = format!("/runs/{}/log", segment(&args.run_id)?);
    let mut after: i64 = 0;
    loop {
        let mut query = vec![("after", after.to_string()), ("limit", PAGE.to_string())];
        if let Some(level) = &args.level {
            query.push(("level", level.clone()));
        }
        let page: LogPage = client.get(&path, &query).await?;
        let got = page.lines.len();
        if got > 0 {
            let text: String = page
                .lines
                .iter()
                .map(|l| render(l, global.json) + "\n")
                .collect();
            emit(&text);
        }
        // Never go backwards (or stand still past lines printed), whatever the server says.
        let last_seq = page.lines.last().map_or(after, |l| l.seq);
        after = after.max(page.next_after).max(last_seq);
        if got > 0 {
            continue;
        }
        if !args.follow || page.finished {
            break;
        }
        tokio::time::sleep(FOLLOW_POLL).await;
    }
    Ok(ExitCode::SUCCESS)
}

/// One line as `<at> <LEVEL> <message>`, or as one line of JSON.
fn render(line: &LogLineView, json: bool) -> String {
    if json {
        serde_json::to_string(line).unwrap_or_default()
    } else {
        format!(
            "{} {} {}",
            fmt_time_ms(&line.at),
            line.level.to_uppercase(),
            line.message
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    #[test]
    fn renders_a_line() {
        let line = LogLineView {
            seq: 3,
            at: Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap(),
            level: "warn".into(),
            message: "3 rows rejected".into(),
        };
        assert_eq!(
            render(&line, false),
            "2024-05-01T12:00:00.000Z WARN 3 rows rejected"
        );
        assert!(render(&line, true).starts_with(r#"{"seq":3,"#));
    }
}
