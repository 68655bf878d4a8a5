//! Code tasks (IICS `CODE`): user code Sluice runs as a program on the node. This part holds the
//! `process` engine's definition (a program, its arguments as a list, never a shell line); Spark
//! applications are submitted through the same runner. Pure.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeDef {
    /// `process`: run `program` on the Sluice node.
    pub engine: CodeEngine,
    /// The program: a path, or a name looked up in `PATH`.
    pub program: String,
    /// Arguments, in order; parameters (`${name}`) are substituted in each one alone, so a value
    /// stays one argument whatever it holds.
    #[serde(default)]
    pub args: Vec<String>,
    /// Where the program runs; relative to the definitions directory. Default: that directory.
    #[serde(default)]
    pub working_dir: Option<String>,
    /// Environment variables added to Sluice's own.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Seconds the program may run before the run fails (IICS `overrideTaskTimeout`; -1 or unset:
    /// no limit).
    #[serde(default)]
    pub timeout_secs: Option<i64>,
    /// Seconds a graceful stop waits after SIGTERM before SIGKILL (default 10).
    #[serde(default)]
    pub stop_grace_secs: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CodeEngine {
    Process,
}

impl CodeDef {
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if self.program.trim().is_empty() {
            p.push("program: must name a program".into());
        }
        if self.timeout_secs.is_some_and(|t| t == 0 || t < -1) {
            p.push("timeout_secs: a number of seconds, or -1 for none".into());
        }
        for k in self.env.keys() {
            if k.is_empty() || k.contains('=') || k.contains('\0') {
                p.push(format!("env: `{k}` is not a variable name"));
            }
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_definition_and_its_problems() {
        let def: CodeDef = serde_json::from_value(serde_json::json!({
            "engine": "process", "program": "/bin/echo", "args": ["a", "${x}"],
            "env": {"A": "1", "B=C": "2"}, "timeout_secs": 0
        }))
        .unwrap();
        assert_eq!(def.args, vec!["a", "${x}"]);
        let p = def.problems();
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(
            serde_json::from_value::<CodeDef>(
                serde_json::json!({"engine": "cobol", "program": "x"})
            )
            .is_err()
        );
    }
}
