//! A run's reject file: one JSON line per rejected row, `{"reason": ..., "row": {...}}`, created
//! on the first reject. The first few rejects are also logged, so the run log says what went wrong
//! without opening the file.

use super::RunLog;
use super::db::{RejectedRow, RowReject};
use datafusion::arrow::json::LineDelimitedWriter;
use datafusion::arrow::record_batch::RecordBatch;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

/// Rejects logged one by one; the rest are only counted in the log.
const LOGGED: u64 = 20;

pub struct Rejects {
    path: PathBuf,
    file: Option<BufWriter<File>>,
    count: u64,
    log: RunLog,
    /// Names the object in log lines when a run loads several (replication).
    label: String,
}

impl Rejects {
    pub fn new(path: PathBuf, log: RunLog, label: impl Into<String>) -> Rejects {
        Rejects {
            path,
            file: None,
            count: 0,
            log,
            label: label.into(),
        }
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    /// Records rejects of rows of `batch` (or rows read back as JSON).
    pub fn add(
        &mut self,
        batch: Option<&RecordBatch>,
        rejects: &[RowReject],
    ) -> std::io::Result<()> {
        for r in rejects {
            let row = match (&r.row, batch) {
                (RejectedRow::Json(j), _) => j.clone(),
                (RejectedRow::Index(i), Some(b)) => row_json(b, *i),
                (RejectedRow::Index(_), None) => "null".into(),
            };
            self.count += 1;
            if self.count <= LOGGED {
                self.log
                    .warn(format!("{}row rejected: {}", self.label, r.reason));
            }
            let line = format!(
                "{{\"reason\":{},\"row\":{}}}\n",
                serde_json::Value::String(r.reason.clone()),
                row
            );
            self.writer()?.write_all(line.as_bytes())?;
        }
        Ok(())
    }

    /// Records a source row that did not parse (already counted and logged by its reader): where
    /// it is, and its raw fields.
    pub fn add_source(
        &mut self,
        file: &std::path::Path,
        line: u64,
        reason: &str,
        fields: &[&str],
    ) -> std::io::Result<()> {
        self.count += 1;
        let row = serde_json::json!({
            "file": file.display().to_string(),
            "line": line,
            "fields": fields,
        });
        let line = format!(
            "{{\"reason\":{},\"row\":{}}}\n",
            serde_json::Value::String(reason.to_string()),
            row
        );
        self.writer()?.write_all(line.as_bytes())
    }

    fn writer(&mut self) -> std::io::Result<&mut BufWriter<File>> {
        if self.file.is_none() {
            if let Some(dir) = self.path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)?;
            self.file = Some(BufWriter::new(f));
        }
        Ok(self.file.as_mut().expect("just opened"))
    }

    /// Flushes the file and says where it is.
    pub fn finish(&mut self) -> std::io::Result<()> {
        if let Some(f) = self.file.as_mut() {
            f.flush()?;
        }
        if self.count > 0 {
            if self.count > LOGGED {
                self.log.warn(format!(
                    "{}{} more rejected rows were not logged one by one",
                    self.label,
                    self.count - LOGGED
                ));
            }
            self.log.warn(format!(
                "{}{} rejected rows written to {}",
                self.label,
                self.count,
                self.path.display()
            ));
        }
        Ok(())
    }
}

/// One row of a batch as a JSON object.
pub(crate) fn row_json(batch: &RecordBatch, i: usize) -> String {
    let row = batch.slice(i, 1);
    let mut out = Vec::new();
    {
        let mut w = LineDelimitedWriter::new(&mut out);
        if w.write(&row).and_then(|_| w.finish()).is_err() {
            return "null".into();
        }
    }
    String::from_utf8_lossy(&out).trim_end().to_string()
}
