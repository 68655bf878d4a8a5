//! `sluice token create`: makes an API token for the current user and prints it.

use super::GlobalOpts;
use super::client::{Client, decode};
use super::output::{emit_json, emit_line, fmt_time};
use anyhow::Result;
use sluice_types::{LoginResponse, NewToken};
use std::process::ExitCode;

pub async fn create(global: &GlobalOpts, name: String) -> Result<ExitCode> {
    let client = Client::connect(global).await?;
    let raw = client.post_raw("/auth/tokens", &NewToken { name }).await?;
    if global.json {
        emit_json(&raw);
        return Ok(ExitCode::SUCCESS);
    }
    let answer: LoginResponse = decode(raw)?;
    // The token alone on stdout, so `export SLUICE_TOKEN=$(sluice token create ci)` works.
    emit_line(&answer.token);
    match answer.expires_at {
        Some(at) => eprintln!(
            "token for {} (org {}), expires {}",
            answer.user.username,
            answer.user.org_name,
            fmt_time(&at)
        ),
        None => eprintln!(
            "token for {} (org {}), does not expire",
            answer.user.username, answer.user.org_name
        ),
    }
    Ok(ExitCode::SUCCESS)
}
