//! Code tasks: runs the task's program (or spark-submit, for a Spark application) on this node in a process group of its own, its output
//! streamed into the run's log line by line (stdout as info, stderr as warnings), its arguments
//! passed as a list (never through a shell). A stop ends the whole group (graceful: SIGTERM, then
//! SIGKILL after the grace period; immediate: SIGKILL), so no child survives the run; so does a
//! timeout, which fails the run. The exit status decides the outcome. A Spark application is
//! watched as it runs ([`spark_watch`]): its id, state and progress are kept on the run.

use super::spark_watch::{self, SparkFeed, SparkWatch};
use super::{EngineError, RunContext, os_user};
use crate::domain::code::{CodeDef, CodeEngine};
use crate::domain::runtime_env::{
    BASIC_ENV, RuntimeEnvironment, environment_for, is_plain_relative,
};
use crate::domain::spark::{SparkProgress, SparkState};
use crate::domain::{LogLevel, Outcome};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Child;

/// Longest log line kept from a program's output; the rest of a longer line is cut.
const MAX_LINE: usize = 8192;

enum End {
    Exited(ExitStatus),
    Stopped,
    TimedOut(i64),
}

pub async fn run(def: &CodeDef, ctx: &RunContext) -> Result<Outcome, EngineError> {
    // Each argument is substituted on its own: a parameter value stays one argument.
    let user_args = def
        .args
        .iter()
        .map(|a| ctx.substitute(a))
        .collect::<Result<Vec<_>, _>>()?;
    let program = match def.engine {
        CodeEngine::Process => ctx.substitute(&def.program)?,
        CodeEngine::Spark => String::new(),
    };
    // The operator's rules, checked again on what will really run (parameters substituted, and
    // the configuration as it is now).
    let env = environment_for(
        &ctx.runtime_envs,
        def,
        Some(&program),
        ctx.confined,
        &ctx.org_name,
    )
    .map_err(EngineError::Definition)?;
    let place = Place::new(&env, ctx);
    let (program, args, ui_port) = match def.engine {
        CodeEngine::Process => (program, user_args, None),
        CodeEngine::Spark => spark_submit(def, ctx, &place, user_args)?,
    };
    let spark = def.engine == CodeEngine::Spark;
    let dir = match &def.working_dir {
        Some(d) => place.inside(&ctx.substitute(d)?, "working_dir")?,
        None => place.root.clone(),
    };
    let mut cmd = tokio::process::Command::new(&program);
    cmd.args(&args)
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    environment(&mut cmd, &env, def, ctx)?;
    #[cfg(unix)]
    cmd.process_group(0);
    let mut child = cmd.spawn().map_err(|e| {
        EngineError::Data(format!(
            "could not start `{program}` in {}: {e}",
            place.show(&dir)
        ))
    })?;
    let pid = child.id().unwrap_or_default();
    let watch = spark.then(|| {
        let ask_every =
            Some(Duration::from_millis(ctx.spark.monitor_interval_ms)).filter(|d| !d.is_zero());
        SparkWatch::start(
            ui_port,
            ask_every,
            ctx.spark.ui_host(),
            ctx.journal.clone(),
            ctx.log.clone(),
        )
    });
    let feed = watch.as_ref().map(SparkWatch::feed);
    ctx.log.info(format!(
        "Started `{program}` (pid {pid}) with {} argument(s) in {}",
        args.len(),
        place.show(&dir)
    ));
    let pumps = [
        tokio::spawn(pump(
            child.stdout.take(),
            ctx.log.clone(),
            LogLevel::Info,
            feed.clone(),
        )),
        tokio::spawn(pump(
            child.stderr.take(),
            ctx.log.clone(),
            LogLevel::Warn,
            feed,
        )),
    ];
    let timeout = def.timeout_secs.filter(|t| *t > 0);
    let deadline = async {
        match timeout {
            Some(t) => tokio::time::sleep(Duration::from_secs(t as u64)).await,
            None => std::future::pending().await,
        }
    };
    let grace = Duration::from_secs(def.stop_grace_secs.unwrap_or(10));
    let end = tokio::select! {
        status = child.wait() => End::Exited(status?),
        _ = ctx.stop.immediate.cancelled() => {
            signal_group(pid, Signal::Kill);
            let _ = child.wait().await;
            End::Stopped
        }
        _ = ctx.stop.graceful.cancelled() => {
            terminate(&mut child, pid, grace, ctx).await;
            End::Stopped
        }
        _ = deadline => {
            terminate(&mut child, pid, grace, ctx).await;
            End::TimedOut(timeout.unwrap_or_default())
        }
    };
    // Whatever the program left behind in its group (children that outlived it) goes with it, and
    // their end closes the output pipes the pumps read.
    signal_group(pid, Signal::Kill);
    for p in pumps {
        let _ = p.await;
    }
    if let Some(watch) = watch {
        let state = match &end {
            End::Exited(s) if s.success() => SparkState::Succeeded,
            End::Exited(_) => SparkState::Failed,
            End::Stopped | End::TimedOut(_) => SparkState::Killed,
        };
        let p = watch.finish(state).await;
        ctx.log.info(spark_summary(&p));
    }
    match end {
        End::Exited(s) if s.success() => {
            ctx.log.info(format!("`{program}` exited with status 0"));
            Ok(Outcome::Completed)
        }
        End::Exited(s) => Err(EngineError::Data(match s.code() {
            Some(code) => format!("`{program}` exited with status {code}"),
            None => format!("`{program}` was ended by a signal ({s})"),
        })),
        End::Stopped => Err(EngineError::Stopped),
        End::TimedOut(t) => Err(EngineError::Data(format!(
            "`{program}` ran past its timeout of {t} s and was stopped"
        ))),
    }
}

/// Where a code task's program runs and its paths resolve: the runtime environment's working
/// directory, else (the operator's own files) the task's definitions directory.
struct Place {
    root: PathBuf,
    /// Paths must be plain relative ones that stay inside `root`, symbolic links included.
    confined: bool,
}

impl Place {
    fn new(env: &RuntimeEnvironment, ctx: &RunContext) -> Place {
        Place {
            root: env
                .working_dir
                .clone()
                .unwrap_or_else(|| ctx.base_dir.clone()),
            confined: ctx.confined || env.working_dir.is_some(),
        }
    }

    /// `rel` under the root; confined, refused unless it stays there once links are followed.
    fn inside(&self, rel: &str, field: &str) -> Result<PathBuf, EngineError> {
        if !self.confined {
            return Ok(self.root.join(rel));
        }
        let refuse = || {
            EngineError::Definition(format!(
                "{field}: `{rel}` must be a relative path inside the runtime environment's working directory"
            ))
        };
        if !is_plain_relative(rel) {
            return Err(refuse());
        }
        let path = self.root.join(rel);
        // What exists must resolve inside the root (a link out of it is refused); what does not
        // exist yet is reported missing by whoever needs it.
        if let (Ok(real), Ok(root)) = (path.canonicalize(), self.root.canonicalize())
            && !real.starts_with(&root)
        {
            return Err(refuse());
        }
        Ok(path)
    }

    /// A path as messages show it: relative to the root when confined, so the server's own
    /// directories are not shown to the task's users.
    fn show(&self, path: &Path) -> String {
        match path.strip_prefix(&self.root) {
            Ok(rel) if self.confined => format!("./{}", rel.display()).replace("/./", "/"),
            _ => path.display().to_string(),
        }
    }
}

/// The program's environment: never the server's own. The basics and what the runtime
/// environment passes on from the server, what it sets, then the task's own variables (a task
/// defined through an API may not set the dynamic loader's); and its OS user, when it names one.
fn environment(
    cmd: &mut tokio::process::Command,
    env: &RuntimeEnvironment,
    def: &CodeDef,
    ctx: &RunContext,
) -> Result<(), EngineError> {
    cmd.env_clear();
    for name in BASIC_ENV
        .iter()
        .copied()
        .chain(env.pass_env.iter().map(String::as_str))
        // The key that opens every connection secret stays with the server, whatever is passed.
        .filter(|name| !name.starts_with(crate::domain::runtime_env::SECRET_KEY_ENV))
    {
        if let Some(v) = std::env::var_os(name) {
            cmd.env(name, v);
        }
    }
    cmd.envs(&env.env);
    for (k, v) in &def.env {
        if ctx.confined && (k.starts_with("LD_") || k.starts_with("DYLD_")) {
            return Err(EngineError::Definition(format!(
                "env: `{k}` may only be set by the server's operator"
            )));
        }
        cmd.env(k, ctx.substitute(v)?);
    }
    if let Some(user) = &env.user {
        let account = os_user::lookup(user).map_err(EngineError::Definition)?;
        cmd.uid(account.uid)
            .gid(account.gid)
            .env("HOME", &account.home);
    }
    Ok(())
}

/// SIGTERM to the group, SIGKILL after `grace` (or at once when an immediate stop comes).
async fn terminate(child: &mut Child, pid: u32, grace: Duration, ctx: &RunContext) {
    signal_group(pid, Signal::Term);
    tokio::select! {
        _ = child.wait() => {}
        _ = tokio::time::sleep(grace) => {
            ctx.log.warn(format!("still running {} s after SIGTERM: killing it", grace.as_secs()));
        }
        _ = ctx.stop.immediate.cancelled() => {}
    }
    signal_group(pid, Signal::Kill);
    let _ = child.wait().await;
}

/// One line on how the application ended, for the run's log.
fn spark_summary(p: &SparkProgress) -> String {
    format!(
        "Spark application {} {}: jobs {}/{} ({} failed), stages {}/{} ({} skipped, {} failed), tasks {}/{}",
        p.app_id.as_deref().unwrap_or("(no id seen)"),
        p.state.as_str(),
        p.jobs.completed,
        p.jobs.total,
        p.jobs.failed,
        p.stages.completed,
        p.stages.total,
        p.stages.skipped,
        p.stages.failed,
        p.tasks.completed,
        p.tasks.total,
    )
}

/// The spark-submit command line for a `spark` task: client deploy mode (the driver runs in the
/// spark-submit process, in the run's process group, so a stop ends the application), and the
/// port its UI is asked to take (None when the task turned the UI off), which Sluice polls.
fn spark_submit(
    def: &CodeDef,
    ctx: &RunContext,
    place: &Place,
    user_args: Vec<String>,
) -> Result<(String, Vec<String>, Option<u16>), EngineError> {
    let app = def
        .application
        .as_deref()
        .ok_or_else(|| EngineError::Definition("application: missing".into()))?;
    let app = place.inside(&ctx.substitute(app)?, "application")?;
    if !app.is_file() {
        return Err(EngineError::Definition(format!(
            "application: {} was not found",
            place.show(&app)
        )));
    }
    let master = match &def.master {
        Some(m) => ctx.substitute(m)?,
        None => ctx.spark.master.clone(),
    };
    let name = format!(
        "sluice-{}-{}",
        ctx.params
            .get("sluice.task_name")
            .map(String::as_str)
            .unwrap_or("task"),
        ctx.params
            .get("sluice.run_number")
            .map(String::as_str)
            .unwrap_or("0")
    );
    let mut args: Vec<String> = vec![
        "--master".into(),
        master,
        "--deploy-mode".into(),
        "client".into(),
        "--name".into(),
        name,
    ];
    if let Some(class) = &def.main_class {
        args.extend(["--class".into(), ctx.substitute(class)?]);
    }
    if let Some(m) = &def.driver_memory {
        args.extend(["--driver-memory".into(), ctx.substitute(m)?]);
    }
    if let Some(m) = &def.executor_memory {
        args.extend(["--executor-memory".into(), ctx.substitute(m)?]);
    }
    let mut conf = BTreeMap::new();
    for (k, v) in &def.conf {
        conf.insert(k.as_str(), ctx.substitute(v)?);
    }
    // Sluice picks a free port for the driver's UI (so runs side by side do not race for 4040)
    // unless the task chose one or turned the UI off.
    let ui_port = if conf
        .get("spark.ui.enabled")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("false"))
    {
        None
    } else if let Some(p) = conf.get("spark.ui.port") {
        p.trim().parse().ok()
    } else {
        let port = spark_watch::free_port();
        if let Some(p) = port {
            args.extend(["--conf".into(), format!("spark.ui.port={p}")]);
        }
        port
    };
    for (k, v) in conf {
        args.extend(["--conf".into(), format!("{k}={v}")]);
    }
    if !def.files.is_empty() {
        let files = def
            .files
            .iter()
            .map(|f| {
                Ok(place
                    .inside(&ctx.substitute(f)?, "files")?
                    .display()
                    .to_string())
            })
            .collect::<Result<Vec<_>, EngineError>>()?;
        args.extend(["--files".into(), files.join(",")]);
    }
    args.push(app.display().to_string());
    args.extend(user_args);
    Ok((ctx.spark.submit_program(), args, ui_port))
}

/// The level of a line Spark's log4j wrote (`yy/MM/dd HH:mm:ss INFO Class: ...`); other lines keep
/// the pipe's level.
fn spark_level(line: &str, default: LogLevel) -> LogLevel {
    let head: String = line.chars().take(40).collect();
    if head.contains(" ERROR ") {
        LogLevel::Error
    } else if head.contains(" WARN ") {
        LogLevel::Warn
    } else if head.contains(" INFO ") {
        LogLevel::Info
    } else if head.contains(" DEBUG ") {
        LogLevel::Debug
    } else {
        default
    }
}

/// Copies a pipe into the log, a line at a time, as it comes; Spark's own lines keep their level
/// and go to the watch over the application too.
async fn pump(
    pipe: Option<impl AsyncRead + Unpin>,
    log: super::RunLog,
    level: LogLevel,
    spark: Option<SparkFeed>,
) {
    let Some(pipe) = pipe else { return };
    let mut reader = BufReader::new(pipe);
    let mut buf = Vec::new();
    while read_line_bounded(&mut reader, &mut buf).await {
        let line = String::from_utf8_lossy(&buf);
        let line = line.trim_end_matches(['\n', '\r']).to_string();
        let level = match &spark {
            Some(feed) => {
                feed.line(&line);
                spark_level(&line, level)
            }
            None => level,
        };
        log.log(level, line);
    }
}

/// Reads one line into `buf`, keeping at most [`MAX_LINE`] bytes of it and skipping the rest: a
/// program that writes gigabytes without a newline must not make Sluice hold them. Answers false
/// at the end of the pipe.
async fn read_line_bounded(
    reader: &mut BufReader<impl AsyncRead + Unpin>,
    buf: &mut Vec<u8>,
) -> bool {
    buf.clear();
    let mut seen = false;
    loop {
        let chunk = match reader.fill_buf().await {
            Ok(c) if !c.is_empty() => c,
            _ => return seen,
        };
        seen = true;
        let (part, ended) = match chunk.iter().position(|b| *b == b'\n') {
            Some(i) => (&chunk[..=i], true),
            None => (chunk, false),
        };
        let room = MAX_LINE.saturating_sub(buf.len());
        buf.extend_from_slice(&part[..part.len().min(room)]);
        let used = part.len();
        reader.consume(used);
        if ended {
            return true;
        }
    }
}

#[derive(Clone, Copy)]
enum Signal {
    Term,
    Kill,
}

/// Signals every process of the group the program leads (its pid is the group id).
fn signal_group(pid: u32, signal: Signal) {
    #[cfg(unix)]
    {
        let sig = match signal {
            Signal::Term => libc::SIGTERM,
            Signal::Kill => libc::SIGKILL,
        };
        if pid > 1 {
            // SAFETY: kill(2) with a negative pid signals a process group; no memory is involved.
            unsafe {
                libc::kill(-(pid as i32), sig);
            }
        }
    }
    #[cfg(not(unix))]
    let _ = (pid, signal);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn lines_are_cut_at_the_limit_and_the_rest_skipped_not_kept() {
        let mut input = vec![b'x'; MAX_LINE * 3];
        input.extend_from_slice(b"\nsecond\nlast without newline");
        let mut reader = BufReader::with_capacity(1024, &input[..]);
        let mut buf = Vec::new();
        assert!(read_line_bounded(&mut reader, &mut buf).await);
        assert_eq!(buf.len(), MAX_LINE);
        assert!(read_line_bounded(&mut reader, &mut buf).await);
        assert_eq!(buf, b"second\n");
        assert!(read_line_bounded(&mut reader, &mut buf).await);
        assert_eq!(buf, b"last without newline");
        assert!(!read_line_bounded(&mut reader, &mut buf).await);
    }
}
