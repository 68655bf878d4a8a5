//! The `sluice` binary: parses the command line, sets up logging and hands over to [`cli`], which
//! runs the server (`sluice serve`) or talks to one over the native HTTP API.

mod cli;

use clap::Parser;
use std::io::IsTerminal;
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
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
