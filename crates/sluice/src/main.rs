//! The `sluice` binary: parses the command line, sets up logging and hands over to [`cli`], which
//! runs the server (`sluice serve`) or talks to one over the native HTTP API.

mod cli;

use clap::Parser;
use std::io::IsTerminal;
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

/// The stack of every runtime thread. Planning and running a query recurse once per level of its
/// expression tree; the server accepts trees up to `sql_guard::MAX_DEPTH` levels, which need
/// more than the 2 MiB default in DataFusion's optimiser. Only the pages touched are committed.
const THREAD_STACK: usize = 32 << 20;

fn main() -> ExitCode {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(THREAD_STACK)
        .build()
        .expect("starting the async runtime")
        .block_on(run())
}

async fn run() -> ExitCode {
    // RunAJob's single-dash word options (`-un`) are not clap's: hand them over untouched.
    let raw: Vec<String> = std::env::args().collect();
    if raw.get(1).map(String::as_str) == Some("runajob") {
        init_tracing();
        return cli::runajob_main(raw[2..].to_vec()).await;
    }
    let args = cli::Cli::parse();
    init_tracing();
    cli::dispatch(args).await
}

/// Logs to stderr, filtered by `RUST_LOG` (default `info`); colours only on a terminal.
fn init_tracing() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}
