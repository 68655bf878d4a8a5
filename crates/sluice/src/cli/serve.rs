//! `sluice serve`: loads the configuration (file, environment, flags) and runs the server library
//! until SIGINT or SIGTERM (the library handles the signals).

use super::ServeArgs;
use anyhow::Result;
use sluice_server::config::{Config, Overrides};
use std::process::ExitCode;

pub async fn serve(args: ServeArgs) -> Result<ExitCode> {
    let overrides = Overrides {
        listen: args.listen,
        data_dir: args.data_dir,
        definitions: args.definitions,
        store: args.store,
        node_name: args.node_name,
    };
    let config = Config::load(args.config.as_deref(), overrides)?;
    sluice_server::server::run(config).await?;
    Ok(ExitCode::SUCCESS)
}
