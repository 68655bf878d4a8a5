//! `sluice runajob`: Informatica's RunAJob command line (`-t`, `-un`/`-n`, `-fp`, `-w`, `-u`, `-p`,
//! `-bu`, and `restenv.properties`), talking to the server only through the IICS endpoints, as
//! Informatica's tool does: v2 login, `/api/v2/job`, then activityMonitor until the run leaves it
//! and activityLog for its state. Exits with RunAJob's codes.
//!
//! The options are single-dash words (`-un`), which clap does not parse; they are read here.

use anyhow::{Context, Result, anyhow};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// RunAJob's exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    Exception = -1,
    Success = 0,
    Warning = 1,
    Failure = 3,
    Timeout = 4,
    Error = 5,
    Running = 6,
    StartFailed = 7,
}

impl Code {
    fn exit(self) -> ExitCode {
        // -1 is 255 to the shell, as a JVM's System.exit(-1) is.
        ExitCode::from((self as i32).rem_euclid(256) as u8)
    }
}

const USAGE: &str = "usage: sluice runajob -t <task type> -un <task name> [-fp <folder path>] \
[-w true|nowait] [-wt <seconds>] [-u <user> -p <password>] [-bu <login URL ending in /ma>] \
[-rp <restenv.properties>]";

#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    pub task_type: String,
    pub name: String,
    pub folder: Option<String>,
    pub wait: bool,
    pub timeout: Option<Duration>,
    pub user: String,
    pub password: String,
    /// The login base URL, ending in `/ma`.
    pub base_url: String,
    /// Between two looks at activityMonitor.
    pub poll: Duration,
}

/// `key=value` (or `key: value`) lines; `#` and `!` start comments.
pub fn properties(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('!'))
        .filter_map(|l| l.split_once(['=', ':']))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

/// Reads the options; values missing from the command line come from `restenv.properties`
/// (`-rp FILE`, else `./restenv.properties`, else `./conf/restenv.properties`).
pub fn parse(args: &[String], cwd: &Path) -> Result<Options, String> {
    let mut flags: BTreeMap<String, String> = BTreeMap::new();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let key = flag.trim_start_matches('-').to_ascii_lowercase();
        if !flag.starts_with('-') || key.is_empty() {
            return Err(format!("`{flag}` is not an option"));
        }
        if !["t", "un", "n", "fp", "w", "wt", "u", "p", "bu", "rp"].contains(&key.as_str()) {
            return Err(format!("unknown option `{flag}`"));
        }
        let value = it.next().ok_or_else(|| format!("`{flag}` needs a value"))?;
        flags.insert(key, value.clone());
    }
    let file = match flags.get("rp") {
        Some(p) => Some(PathBuf::from(p)),
        None => [
            cwd.join("restenv.properties"),
            cwd.join("conf/restenv.properties"),
        ]
        .into_iter()
        .find(|p| p.is_file()),
    };
    let props = match &file {
        Some(p) => {
            properties(&std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?)
        }
        None => BTreeMap::new(),
    };
    let pick = |flag: &str, prop: &str| flags.get(flag).or_else(|| props.get(prop)).cloned();
    let need = |v: Option<String>, what: &str| {
        v.filter(|s| !s.is_empty())
            .ok_or(format!("{what} is required"))
    };
    let wait = match flags.get("w").map(|w| w.to_ascii_lowercase()).as_deref() {
        None | Some("true") => true,
        Some("nowait") | Some("false") => false,
        Some(other) => return Err(format!("-w takes true or nowait, not `{other}`")),
    };
    let seconds = |v: Option<&String>, what: &str| -> Result<Option<u64>, String> {
        v.map(|s| {
            s.trim()
                .parse::<u64>()
                .map_err(|_| format!("{what} must be a whole number"))
        })
        .transpose()
    };
    let poll_ms = seconds(props.get("ACTIVITYMONITORWAIT"), "ACTIVITYMONITORWAIT")?.unwrap_or(5000);
    let mut base_url = need(pick("bu", "baseUrl"), "the login URL (-bu or baseUrl)")?;
    base_url = base_url.trim_end_matches('/').to_string();
    if !base_url.ends_with("/ma") {
        base_url.push_str("/ma");
    }
    Ok(Options {
        task_type: need(flags.get("t").cloned(), "the task type (-t)")?,
        name: need(
            flags.get("un").or(flags.get("n")).cloned(),
            "the task name (-un)",
        )?,
        folder: flags
            .get("fp")
            .map(|f| f.trim_matches('/').to_string())
            .filter(|f| !f.is_empty()),
        wait,
        timeout: seconds(flags.get("wt"), "-wt")?.map(Duration::from_secs),
        user: need(pick("u", "username"), "the user (-u or username)")?,
        password: need(pick("p", "password"), "the password (-p or password)")?,
        base_url,
        poll: Duration::from_millis(poll_ms.max(100)),
    })
}

/// An IICS session: what login answered.
struct Session {
    http: reqwest::Client,
    server_url: String,
    id: String,
}

async fn login(http: &reqwest::Client, o: &Options) -> Result<Result<Session, String>> {
    let resp = http
        .post(format!("{}/api/v2/user/login", o.base_url))
        .json(&json!({"@type": "login", "username": o.user, "password": o.password}))
        .send()
        .await
        .with_context(|| format!("cannot reach {}", o.base_url))?;
    let ok = resp.status().is_success();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    if !ok {
        return Ok(Err(describe(&body)));
    }
    let field = |k: &str| {
        body[k]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| anyhow!("the login answer has no {k}"))
    };
    Ok(Ok(Session {
        http: http.clone(),
        server_url: field("serverUrl")?,
        id: field("icSessionId")?,
    }))
}

fn describe(body: &Value) -> String {
    body["description"]
        .as_str()
        .or(body["error"]["message"].as_str())
        .map(str::to_string)
        .unwrap_or_else(|| body.to_string())
}

impl Session {
    async fn get(&self, path: &str) -> Result<(u16, Value)> {
        let resp = self
            .http
            .get(format!("{}{path}", self.server_url))
            .header("icSessionId", &self.id)
            .send()
            .await
            .with_context(|| format!("cannot reach {}", self.server_url))?;
        let status = resp.status().as_u16();
        Ok((status, resp.json().await.unwrap_or(Value::Null)))
    }
}

pub async fn main(args: Vec<String>) -> ExitCode {
    let cwd = std::env::current_dir().unwrap_or_default();
    let options = match parse(&args, &cwd) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}\n{USAGE}");
            return Code::Error.exit();
        }
    };
    match run(&options).await {
        Ok(code) => code.exit(),
        Err(e) => {
            eprintln!("error: {e:#}");
            Code::Exception.exit()
        }
    }
}

pub async fn run(o: &Options) -> Result<Code> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?;
    let mut session = match login(&http, o).await? {
        Ok(s) => s,
        Err(why) => {
            eprintln!("Login failed: {why}");
            return Ok(Code::Error);
        }
    };
    let task_name = match &o.folder {
        Some(f) => format!("{f}/{}", o.name),
        None => o.name.clone(),
    };
    let resp = http
        .post(format!("{}/api/v2/job", session.server_url))
        .header("icSessionId", &session.id)
        .json(&json!({"@type": "job", "taskName": task_name, "taskType": o.task_type}))
        .send()
        .await
        .context("starting the job")?;
    let ok = resp.status().is_success();
    let job: Value = resp.json().await.unwrap_or(Value::Null);
    if !ok {
        eprintln!("The job could not start: {}", describe(&job));
        return Ok(Code::StartFailed);
    }
    let (task_id, run_id) = (
        job["taskId"].as_str().unwrap_or_default().to_string(),
        job["runId"].clone(),
    );
    println!(
        "Started {} `{task_name}`: task id {task_id}, run id {run_id}",
        o.task_type
    );
    if !o.wait {
        return Ok(Code::Running);
    }
    let started = Instant::now();
    let mut last_state = String::new();
    loop {
        if o.timeout.is_some_and(|t| started.elapsed() >= t) {
            println!(
                "Stopped waiting after {}s; the job is still running",
                started.elapsed().as_secs()
            );
            return Ok(Code::Timeout);
        }
        let (status, monitor) = session.get("/api/v2/activity/activityMonitor").await?;
        if status == 401 {
            // A wait can outlive the session's 30 idle minutes: log in again, as RunAJob does.
            session = login(&http, o)
                .await?
                .map_err(|why| anyhow!("logging in again: {why}"))?;
            continue;
        }
        let entry = monitor.as_array().and_then(|list| {
            list.iter()
                .find(|e| e["taskId"] == task_id.as_str() && e["runId"] == run_id)
        });
        if let Some(e) = entry {
            let state = e["executionState"].as_str().unwrap_or_default().to_string();
            if state != last_state {
                println!("Job state: {state}");
                last_state = state;
            }
        } else {
            let (_, log) = session
                .get(&format!(
                    "/api/v2/activity/activityLog?taskId={task_id}&runId={run_id}"
                ))
                .await?;
            if let Some(entry) = log.as_array().and_then(|l| l.first()) {
                return Ok(report(entry));
            }
        }
        tokio::time::sleep(o.poll).await;
    }
}

/// Prints how the job ended and answers its exit code.
fn report(entry: &Value) -> Code {
    let rows = format!(
        "success rows {}, failed rows {}",
        entry["successTargetRows"], entry["failedTargetRows"]
    );
    let (word, code) = match entry["state"].as_i64() {
        Some(1) => ("completed", Code::Success),
        Some(2) => ("completed with errors", Code::Warning),
        _ => ("failed", Code::Failure),
    };
    println!("Job {word}: {rows}");
    if let Some(msg) = entry["errorMsg"].as_str() {
        println!("Error: {msg}");
    }
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn options_and_restenv() {
        let dir = std::env::temp_dir().join(format!("runajob-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("conf")).unwrap();
        std::fs::write(
            dir.join("conf/restenv.properties"),
            "# the login\nbaseUrl=http://h:1/ma\nusername=u1\npassword = p=1\nACTIVITYMONITORWAIT=250\n",
        )
        .unwrap();
        let o = parse(&args("-t MTT -un load -fp /Sales/Daily/ -w nowait"), &dir).unwrap();
        assert_eq!((o.task_type.as_str(), o.name.as_str()), ("MTT", "load"));
        assert_eq!(o.folder.as_deref(), Some("Sales/Daily"));
        assert_eq!((o.user.as_str(), o.password.as_str()), ("u1", "p=1"));
        assert_eq!(o.base_url, "http://h:1/ma");
        assert_eq!(o.poll, Duration::from_millis(250));
        assert!(!o.wait);
        let o = parse(&args("-t DSS -n x -u me -p pw -bu http://h:2/"), &dir).unwrap();
        assert_eq!(
            (o.user.as_str(), o.base_url.as_str(), o.wait),
            ("me", "http://h:2/ma", true)
        );
        for bad in [
            "-t MTT",
            "-t MTT -un x -w maybe",
            "-t MTT -un x -zz 1",
            "-t",
            "un x",
        ] {
            assert!(parse(&args(bad), &dir).is_err(), "{bad}");
        }
        assert_eq!(Code::Exception.exit(), ExitCode::from(255));
    }
}
