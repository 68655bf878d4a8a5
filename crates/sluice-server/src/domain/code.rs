//! Code tasks (IICS `CODE`): user code Sluice runs as a program on the node: `process` (a program
//! and its arguments as a list, never a shell line) or `spark` (an application JAR with a main
//! class, or a PySpark file, submitted with spark-submit in client mode). Pure.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeDef {
    /// `process`: run `program` on the Sluice node; `spark`: submit `application`.
    pub engine: CodeEngine,
    /// The program (`process`): a path, or a name looked up in `PATH`.
    #[serde(default)]
    pub program: String,
    /// The Spark application (`spark`): a `.jar` (with `main_class`) or a `.py` file; relative
    /// paths resolve against the definitions directory.
    #[serde(default)]
    pub application: Option<String>,
    /// The JAR's main class (IICS `sparkMainClass`).
    #[serde(default)]
    pub main_class: Option<String>,
    /// The Spark master; default the server's `spark.master` (`local[*]`).
    #[serde(default)]
    pub master: Option<String>,
    /// Spark configuration (`--conf key=value`).
    #[serde(default)]
    pub conf: BTreeMap<String, String>,
    #[serde(default)]
    pub driver_memory: Option<String>,
    #[serde(default)]
    pub executor_memory: Option<String>,
    /// Extra files shipped with the application (`--files`).
    #[serde(default)]
    pub files: Vec<String>,
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
    /// The runtime environment (from the server's configuration) the task runs in; required for
    /// tasks defined through an API. IICS `runtimeEnvironmentName` / `agentGroupId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime_environment: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CodeEngine {
    Process,
    Spark,
}

impl CodeDef {
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        match self.engine {
            CodeEngine::Process => {
                if self.program.trim().is_empty() {
                    p.push("program: must name a program".into());
                }
            }
            CodeEngine::Spark => match self.application.as_deref().map(str::trim) {
                None | Some("") => p.push("application: must name a .jar or .py file".into()),
                Some(a) if a.ends_with(".jar") && self.main_class.is_none() => {
                    p.push("main_class: a JAR application needs its main class".into())
                }
                Some(a) if !a.ends_with(".jar") && !a.ends_with(".py") => p.push(format!(
                    "application: `{a}` is neither a .jar nor a .py file"
                )),
                _ => {}
            },
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
