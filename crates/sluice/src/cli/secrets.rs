//! `sluice secrets rotate`: a new key for the secrets at rest, on the server's own machine.

use anyhow::{Context, Result};
use sluice_server::config::{Config, Overrides};
use sluice_server::server::{lock_data_dir, open_store};
use sluice_server::store::secret_key;
use std::path::PathBuf;
use std::process::ExitCode;

pub async fn rotate(config: Option<PathBuf>, data_dir: Option<PathBuf>) -> Result<ExitCode> {
    let overrides = Overrides {
        data_dir,
        ..Default::default()
    };
    let config = Config::load(config.as_deref(), overrides)?;
    let dir = &config.data_dir;
    if config.store.is_none() && !dir.join("sluice.db").exists() {
        anyhow::bail!("{} holds no Sluice database", dir.display());
    }
    // The server must not hold the keys while they change under it.
    let _lock = lock_data_dir(dir).context("stop the server first")?;
    secret_key::begin_rotation(dir)?;
    open_store(dir, &config.store_url()).await?.close().await;
    let kid = secret_key::load(dir)?.keyring.current_kid().to_string();
    println!("connection secrets are sealed with the new key {kid}");
    Ok(ExitCode::SUCCESS)
}
