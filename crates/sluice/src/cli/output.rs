//! Terminal output shared by the commands: writing to stdout (a closed pipe ends the program
//! quietly), aligned tables, the live progress line on stderr, and time formatting.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use std::io::{ErrorKind, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Whether a progress line is on stderr now (so it is wiped before anything else is printed).
static PROGRESS_SHOWN: AtomicBool = AtomicBool::new(false);

/// Writes to stdout. When the reader has gone (`sluice runs | head`), exits quietly.
pub fn emit(text: &str) {
    clear_progress();
    let mut out = std::io::stdout().lock();
    let result = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    match result {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => eprintln!("error: writing to stdout: {e}"),
    }
}

/// Writes one line to stdout.
pub fn emit_line(line: &str) {
    emit(&format!("{line}\n"));
}

/// Writes a value as pretty JSON to stdout.
pub fn emit_json<T: Serialize + ?Sized>(value: &T) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => emit_line(&text),
        Err(e) => eprintln!("error: encoding JSON: {e}"),
    }
}

/// Replaces the progress line on stderr with `line`.
pub fn draw_progress(line: &str) {
    let mut err = std::io::stderr().lock();
    // The line is cosmetic: a failure to draw it is not worth reporting.
    let _ = write!(err, "\r\x1b[2K{line}").and_then(|()| err.flush());
    PROGRESS_SHOWN.store(true, Ordering::Relaxed);
}

/// Wipes the progress line, if one is shown.
pub fn clear_progress() {
    if PROGRESS_SHOWN.swap(false, Ordering::Relaxed) {
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K").and_then(|()| err.flush());
    }
}

/// A table of left-aligned text columns; columns marked numeric are right-aligned.
pub struct Table {
    headers: Vec<&'static str>,
    numeric: Vec<bool>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// Columns named by `headers`; a header starting with `>` is a right-aligned (numeric) column.
    pub fn new(headers: &[&'static str]) -> Table {
        Table {
            headers: headers.iter().map(|h| h.trim_start_matches('>')).collect(),
            numeric: headers.iter().map(|h| h.starts_with('>')).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn render(&self) -> String {
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate().take(widths.len()) {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
        let mut out = String::new();
        let headers: Vec<String> = self.headers.iter().map(|h| h.to_string()).collect();
        for row in std::iter::once(&headers).chain(&self.rows) {
            let mut line = String::new();
            for (i, width) in widths.iter().enumerate() {
                let cell = row.get(i).map(String::as_str).unwrap_or("");
                let pad = " ".repeat(width - cell.chars().count().min(*width));
                if i > 0 {
                    line.push_str("  ");
                }
                if self.numeric[i] {
                    line.push_str(&pad);
                    line.push_str(cell);
                } else {
                    line.push_str(cell);
                    line.push_str(&pad);
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// A UTC time to the second: `2024-05-01T12:00:00Z`.
pub fn fmt_time(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A log line's time, to the millisecond.
pub fn fmt_time_ms(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A duration for people: `42s`, `3m07s`, `2h05m09s`.
pub fn fmt_elapsed(d: Duration) -> String {
    let secs = d.as_secs();
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("{h}h{m:02}m{s:02}s")
    } else if m > 0 {
        format!("{m}m{s:02}s")
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_columns() {
        let mut t = Table::new(&["NAME", ">ROWS", "NOTE"]);
        t.row(vec!["a".into(), "5".into(), "".into()]);
        t.row(vec!["long-name".into(), "12345".into(), "x".into()]);
        assert_eq!(
            t.render(),
            "NAME        ROWS  NOTE\n\
             a              5\n\
             long-name  12345  x\n"
        );
    }

    #[test]
    fn elapsed() {
        assert_eq!(fmt_elapsed(Duration::from_millis(42_900)), "42s");
        assert_eq!(fmt_elapsed(Duration::from_secs(187)), "3m07s");
        assert_eq!(fmt_elapsed(Duration::from_secs(7509)), "2h05m09s");
    }

    #[test]
    fn times() {
        let t = DateTime::parse_from_rfc3339("2024-05-01T12:00:00.123456Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(fmt_time(&t), "2024-05-01T12:00:00Z");
        assert_eq!(fmt_time_ms(&t), "2024-05-01T12:00:00.123Z");
    }
}
