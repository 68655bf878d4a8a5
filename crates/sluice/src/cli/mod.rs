//! The command line: clap types for every subcommand and the dispatch from a parsed command to the
//! module that carries it out; also where errors become `error: ...` on stderr and an exit code.

mod audit;
mod client;
mod defs;
mod logs;
mod output;
mod run;
mod runajob;
mod runs;
mod schedules;
mod secrets;
mod serve;
mod tasks;
mod token;

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use uuid::Uuid;

/// Sluice: a self-hosted data-integration job server and its command line client.
#[derive(Debug, Parser)]
#[command(name = "sluice", version, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalOpts,
    #[command(subcommand)]
    pub command: Command,
}

/// How the client commands reach and authenticate to a server.
#[derive(Debug, Clone, Args)]
pub struct GlobalOpts {
    /// Base URL of the Sluice server.
    #[arg(
        long,
        global = true,
        env = "SLUICE_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    pub url: String,
    /// API token, sent as `Authorization: Bearer <token>`.
    #[arg(long, global = true, env = "SLUICE_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// User to log in as when no token is given (needs --password).
    #[arg(long, global = true, env = "SLUICE_USER")]
    pub user: Option<String>,
    /// Password for --user.
    #[arg(long, global = true, env = "SLUICE_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// Print the server's JSON answers instead of tables and summaries.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the Sluice server.
    Serve(ServeArgs),
    /// Start a run of a task (exit codes: 0 completed, 1 completed with errors, 3 failed or
    /// stopped, 4 timed out waiting, 6 started and not waited for, 7 failed to start).
    Run(RunArgs),
    /// List runs, newest first.
    Runs(RunsArgs),
    /// Show one run.
    Status {
        /// The run's id, or the external id it was started with.
        run_id: String,
    },
    /// Print a run's log.
    Logs(LogsArgs),
    /// Stop a run.
    Stop {
        /// The run's id, or the external id it was started with.
        run_id: String,
        /// Stop at once instead of finishing the current batch.
        #[arg(long)]
        immediate: bool,
    },
    /// Test a connection: exits 0 when it works, 1 with the reason when it does not.
    Check {
        /// The connection's name or id.
        connection: String,
    },
    /// List tasks.
    Tasks {
        /// Only the tasks in this folder.
        #[arg(long)]
        folder: Option<String>,
    },
    /// List schedules (name, rule, zone, next fire); pause, resume, or show the coming fires
    /// of one.
    Schedules {
        #[command(subcommand)]
        command: Option<schedules::SchedulesCommand>,
    },
    /// Create or update the definitions in every `*.toml` file under a directory.
    Apply {
        /// The definitions directory.
        dir: PathBuf,
    },
    /// Write every definition as a file under a directory.
    Export {
        /// Where to write (created when missing; existing files are overwritten).
        dir: PathBuf,
    },
    /// Informatica's RunAJob command line over the IICS API: `sluice runajob -t MTT -un task
    /// [-fp folder] [-w true|nowait] [-u user -p password -bu http://host/ma]` (or
    /// restenv.properties). Exit codes: 0 success, 1 warning, 3 failure, 4 timeout, 5 error,
    /// 6 running (nowait), 7 failed to start, 255 (-1) exception.
    #[command(disable_help_flag = true)]
    Runajob {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Print the audit log, newest first: sign-ins (failed ones too) and changes to users, orgs
    /// and connections (Admins only).
    Audit(AuditArgs),
    /// Manage the key that seals connection secrets at rest (run where the server runs).
    Secrets {
        #[command(subcommand)]
        command: SecretsCommand,
    },
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Configuration file (TOML).
    #[arg(long, env = "SLUICE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to listen on, e.g. 0.0.0.0:8080.
    #[arg(long)]
    pub listen: Option<String>,
    /// Directory for the database and run files.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Directory of definition files to load at start.
    #[arg(long)]
    pub definitions: Option<PathBuf>,
    /// The store: `postgres://user:password@host/database` for one several nodes share; unset =
    /// the embedded SQLite store in the data directory (also `SLUICE_STORE`).
    #[arg(long)]
    pub store: Option<String>,
    /// This node's name, unique among the nodes of one store (also `SLUICE_NODE_NAME`).
    #[arg(long)]
    pub node_name: Option<String>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The task: its name, `folder/name`, or its id.
    pub task: String,
    /// A parameter value for this run, as `name=value` (repeatable).
    #[arg(long = "param", value_name = "NAME=VALUE", value_parser = run::parse_param)]
    pub params: Vec<(String, String)>,
    /// Wait for the run to end; the exit code then tells how it ended.
    #[arg(long)]
    pub wait: bool,
    /// URL the server POSTs the run's final state to.
    #[arg(long)]
    pub callback_url: Option<String>,
    /// Your own id for the run; starting again with the same id returns the same run.
    #[arg(long)]
    pub external_id: Option<String>,
    /// Stop waiting after this many seconds (exit code 4); implies --wait.
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<u64>,
}

#[derive(Debug, Args)]
pub struct RunsArgs {
    /// Only runs of this task (name, `folder/name` or id).
    #[arg(long)]
    pub task: Option<String>,
    /// Only runs in this state (queued, running, completed, failed, ...).
    #[arg(long)]
    pub state: Option<String>,
    /// At most this many runs.
    #[arg(long)]
    pub limit: Option<u32>,
    /// Only runs older than this run (for paging).
    #[arg(long, value_name = "RUN_ID")]
    pub before: Option<Uuid>,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only events since this time (2026-03-01T00:00:00Z, 2026-03-01) or age (30m, 12h, 7d).
    #[arg(long)]
    pub since: Option<String>,
    /// Only events of this action (signin, signin.throttled, user.create, user.role,
    /// user.password, org.create, connection.create, connection.update, connection.delete).
    #[arg(long)]
    pub action: Option<String>,
    /// Only events of this actor (a user name, or anonymous).
    #[arg(long)]
    pub actor: Option<String>,
    /// At most this many events (default 100, at most 1000).
    #[arg(long)]
    pub limit: Option<u32>,
    /// Skip this many of the newest events (for paging).
    #[arg(long)]
    pub offset: Option<u32>,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The run's id, or the external id it was started with.
    pub run_id: String,
    /// Only lines at this level or above (debug, info, warn, error).
    #[arg(long)]
    pub level: Option<String>,
    /// Keep printing new lines until the run ends.
    #[arg(long, short = 'f')]
    pub follow: bool,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an API token for the current user and print it.
    Create {
        /// A label for the token.
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Seal every connection secret with a new key in `<data dir>/secret.key` (stop the server
    /// first). Safe to run again after a crash: it finishes the rotation it began.
    Rotate {
        /// Configuration file (TOML), for the data directory.
        #[arg(long, env = "SLUICE_CONFIG")]
        config: Option<PathBuf>,
        /// The server's data directory.
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
}

/// Runs the command; errors are printed as `error: ...` and exit with 1 (`run` has its own codes).
pub async fn dispatch(cli: Cli) -> ExitCode {
    let global = cli.global;
    let result = match cli.command {
        Command::Serve(args) => serve::serve(args).await,
        Command::Run(args) => return run::run(&global, args).await,
        Command::Runs(args) => runs::list(&global, args).await,
        Command::Status { run_id } => runs::status(&global, run_id).await,
        Command::Logs(args) => logs::logs(&global, args).await,
        Command::Stop { run_id, immediate } => runs::stop(&global, run_id, immediate).await,
        Command::Tasks { folder } => tasks::list(&global, folder).await,
        Command::Check { connection } => tasks::check(&global, &connection).await,
        Command::Schedules { command } => schedules::run(&global, command).await,
        Command::Apply { dir } => defs::apply(&global, &dir).await,
        Command::Export { dir } => defs::export(&global, &dir).await,
        Command::Runajob { args } => return runajob::main(args).await,
        Command::Audit(args) => audit::list(&global, args).await,
        Command::Secrets {
            command: SecretsCommand::Rotate { config, data_dir },
        } => secrets::rotate(config, data_dir).await,
        Command::Token {
            command: TokenCommand::Create { name },
        } => token::create(&global, name).await,
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            report_error(&e);
            ExitCode::FAILURE
        }
    }
}

/// `sluice runajob ...`, with its arguments as given.
pub async fn runajob_main(args: Vec<String>) -> ExitCode {
    runajob::main(args).await
}

/// Prints an error and its causes on one line.
pub fn report_error(e: &anyhow::Error) {
    output::clear_progress();
    eprintln!("error: {e:#}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn parses_run_with_params() {
        let cli = Cli::try_parse_from([
            "sluice",
            "--url",
            "http://x:1",
            "run",
            "f/t",
            "--param",
            "a=1",
            "--param",
            "b=x=y",
            "--wait",
        ])
        .unwrap();
        assert_eq!(cli.global.url, "http://x:1");
        let Command::Run(args) = cli.command else {
            panic!("not run")
        };
        assert_eq!(args.task, "f/t");
        assert!(args.wait);
        assert_eq!(
            args.params,
            vec![
                ("a".to_string(), "1".to_string()),
                ("b".to_string(), "x=y".to_string())
            ]
        );
    }

    #[test]
    fn rejects_bad_param() {
        assert!(Cli::try_parse_from(["sluice", "run", "t", "--param", "novalue"]).is_err());
    }

    #[test]
    fn global_flags_after_subcommand() {
        let cli = Cli::try_parse_from(["sluice", "runs", "--json", "--token", "t"]).unwrap();
        assert!(cli.global.json);
        assert_eq!(cli.global.token.as_deref(), Some("t"));
    }
}
