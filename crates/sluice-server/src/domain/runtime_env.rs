//! Runtime environments: where and how code tasks may run, as the server's operator allows it.
//! Defined only in the server's configuration (`[runtime_environments.<name>]`), never through an
//! API: the programs (and Spark) an environment may run, its working directory, the variables it
//! sets or passes on, the OS user it runs as, and the orgs it is granted to. Pure rules here; the
//! service applies them when a task is saved and the worker again when it runs.

use super::code::{CodeDef, CodeEngine};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

/// Variables every code process gets from the server's own environment, whatever else is set:
/// enough to find programs and speak a language. Nothing else of the server's environment (its
/// admin password, its secrets' variables) reaches a task's program.
/// The server's variable for the key that opens every connection secret (and its `_PREVIOUS`
/// twin while rotating): never passed on to a program, whatever an environment passes.
pub const SECRET_KEY_ENV: &str = "SLUICE_SECRET_KEY";

pub const BASIC_ENV: [&str; 3] = ["PATH", "HOME", "LANG"];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RuntimeEnvironment {
    /// Programs a `process` task may run: absolute paths, or globs of them
    /// (`/opt/jobs/bin/*`). Empty: none.
    #[serde(default)]
    pub programs: Vec<String>,
    /// Whether `spark` tasks may submit applications here.
    #[serde(default)]
    pub spark: bool,
    /// The directory programs run in; a task's `working_dir`, Spark `application` and `files`
    /// are relative paths inside it. Unset: the task's definitions directory (operator's files
    /// only; a task defined through an API cannot use an environment without one).
    #[serde(default)]
    pub working_dir: Option<PathBuf>,
    /// Variables set for every program run here.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Variables passed on from the server's environment when set there (`JAVA_HOME`, ...).
    #[serde(default)]
    pub pass_env: Vec<String>,
    /// The OS user programs run as (the server must run as root to switch). Unset: the server's.
    #[serde(default)]
    pub user: Option<String>,
    /// Orgs whose API-defined tasks may use this environment. None by default.
    #[serde(default)]
    pub orgs: Vec<String>,
    /// The IICS agent group id clients send (`agentGroupId`) for this environment, besides its
    /// name (`runtimeEnvironmentName`).
    #[serde(default)]
    pub agent_group_id: Option<String>,
}

/// The environment of code tasks loaded from the operator's own definitions directory that name
/// none: any program, the task's definitions directory, and beside the basics the variables Spark
/// itself reads (none of them secret).
pub fn operator_default() -> RuntimeEnvironment {
    RuntimeEnvironment {
        programs: vec!["*".into()],
        spark: true,
        pass_env: [
            "JAVA_HOME",
            "SPARK_HOME",
            "SPARK_CONF_DIR",
            "HADOOP_CONF_DIR",
            "PYSPARK_PYTHON",
            "PYSPARK_DRIVER_PYTHON",
            "TMPDIR",
            "TZ",
        ]
        .map(String::from)
        .to_vec(),
        ..Default::default()
    }
}

impl RuntimeEnvironment {
    pub fn granted_to(&self, org: &str) -> bool {
        self.orgs.iter().any(|o| o == org)
    }

    /// Whether `program` (as the task names it) may run here. A bare name is looked for in no
    /// `PATH`: only the operator's `*` allows names; otherwise it must match a listed path.
    pub fn allows_program(&self, program: &str) -> bool {
        if Path::new(program)
            .components()
            .any(|c| c == Component::ParentDir)
        {
            return false;
        }
        self.programs.iter().any(|pattern| {
            pattern == "*"
                || pattern == program
                || (Path::new(program).is_absolute()
                    && glob::Pattern::new(pattern).is_ok_and(|p| {
                        p.matches_with(
                            program,
                            glob::MatchOptions {
                                require_literal_separator: true,
                                ..Default::default()
                            },
                        )
                    }))
        })
    }

    /// Problems with the environment as configured (reported at start-up).
    pub fn problems(&self, name: &str) -> Vec<String> {
        let mut p = Vec::new();
        let at = |m: String| format!("runtime_environments.{name}: {m}");
        for prog in &self.programs {
            if prog != "*" && !Path::new(prog).is_absolute() {
                p.push(at(format!(
                    "programs: `{prog}` must be an absolute path (or a glob of them)"
                )));
            }
        }
        if let Some(d) = &self.working_dir
            && !d.is_absolute()
        {
            p.push(at("working_dir: must be an absolute path".into()));
        }
        for k in self.env.keys().chain(&self.pass_env) {
            if k.is_empty() || k.contains('=') || k.contains('\0') {
                p.push(at(format!("`{k}` is not a variable name")));
            }
        }
        p
    }
}

/// The environment a code task runs in, checked against the operator's rules: the one it names
/// (which must exist; for a task defined through an API, be granted to its org and have a
/// working directory), else for the operator's own files [`operator_default`]. `program` is the
/// program as it will run (parameters substituted), None when it is not known yet (a definition
/// naming it by a parameter): then only the rest is checked.
pub fn environment_for(
    envs: &BTreeMap<String, RuntimeEnvironment>,
    def: &CodeDef,
    program: Option<&str>,
    from_api: bool,
    org: &str,
) -> Result<RuntimeEnvironment, String> {
    let env = match def.runtime_environment.as_deref() {
        None if from_api => {
            return Err(
                "runtime_environment: a code task defined through an API must name a runtime environment granted to its org"
                    .into(),
            );
        }
        None => operator_default(),
        Some(name) => {
            let env = envs.get(name).ok_or_else(|| {
                format!("runtime_environment: `{name}` is not defined on this server")
            })?;
            if from_api && !env.granted_to(org) {
                return Err(format!(
                    "runtime_environment: `{name}` is not granted to org `{org}`"
                ));
            }
            if from_api && env.working_dir.is_none() {
                return Err(format!(
                    "runtime_environment: `{name}` has no working directory, so only the operator's own task files may use it"
                ));
            }
            env.clone()
        }
    };
    let named = def
        .runtime_environment
        .as_deref()
        .unwrap_or("(the server's own)");
    match (def.engine, program) {
        (CodeEngine::Process, Some(program)) if !env.allows_program(program) => Err(format!(
            "program: `{program}` is not among the programs runtime environment `{named}` allows"
        )),
        (CodeEngine::Spark, _) if !env.spark => Err(format!(
            "engine: runtime environment `{named}` does not run Spark applications"
        )),
        _ => Ok(env),
    }
}

/// `rel` is a plain relative path: no root, no `..`, not empty (symbolic links are checked where
/// the file system is).
pub fn is_plain_relative(rel: &str) -> bool {
    let p = Path::new(rel);
    !rel.trim().is_empty()
        && p.components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programs_match_exactly_or_by_glob_and_names_only_with_a_star() {
        let env = RuntimeEnvironment {
            programs: vec!["/usr/bin/python3".into(), "/opt/jobs/bin/*".into()],
            ..Default::default()
        };
        assert!(env.allows_program("/usr/bin/python3"));
        assert!(env.allows_program("/opt/jobs/bin/load"));
        assert!(!env.allows_program("/opt/jobs/bin/sub/load"));
        assert!(!env.allows_program("/opt/jobs/bin/../../../bin/sh"));
        assert!(!env.allows_program("sh"));
        assert!(!env.allows_program("/bin/sh"));
        assert!(operator_default().allows_program("sh"));
        assert!(!RuntimeEnvironment::default().allows_program("/bin/true"));
    }

    #[test]
    fn relative_paths_stay_inside() {
        assert!(is_plain_relative("jobs/a.py"));
        assert!(is_plain_relative("./a.py"));
        for bad in ["/etc/passwd", "../x", "a/../../x", "", " "] {
            assert!(!is_plain_relative(bad), "{bad:?}");
        }
    }

    #[test]
    fn grants_and_configuration_problems() {
        let env = RuntimeEnvironment {
            orgs: vec!["acme".into()],
            programs: vec!["python3".into()],
            working_dir: Some("rel".into()),
            ..Default::default()
        };
        assert!(env.granted_to("acme") && !env.granted_to("other"));
        assert_eq!(env.problems("x").len(), 2, "{:?}", env.problems("x"));
    }
}
