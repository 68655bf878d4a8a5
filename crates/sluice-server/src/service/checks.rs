//! Testing a connection: can Sluice reach it now, and if not, why (in the server's own words).

use super::App;
use crate::domain::connection::{Connection, ConnectionType};
use crate::domain::task::Origin;
use crate::engine::db::{self, Endpoint};
use sluice_types::ConnectionCheck;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// A check that takes longer than this has failed: a firewall that drops packets never refuses.
const CHECK_TIMEOUT: Duration = Duration::from_secs(15);

impl App {
    /// Where a connection's relative paths resolve: its definitions directory, or the data dir.
    pub fn connection_base(&self, conn: &Connection) -> PathBuf {
        match &conn.origin {
            Origin::File { root, .. } => PathBuf::from(root),
            Origin::Api => crate::domain::identity::org_area(&self.config.data_dir, conn.org_id),
        }
    }

    /// Tries a connection now (Designers and Admins: it reaches out from the server).
    pub async fn check_connection(
        &self,
        who: &super::Principal,
        conn: &Connection,
    ) -> super::Result<ConnectionCheck> {
        who.require(crate::domain::Role::Designer)?;
        let started = Instant::now();
        let result = match self.as_a_run_sees_it(conn, &who.org_name) {
            Ok(conn) => self.try_connection(&conn).await,
            Err(refused) => Err(refused),
        };
        let (ok, message) = match result {
            Ok(m) => (true, m),
            Err(m) => (false, m),
        };
        Ok(ConnectionCheck {
            ok,
            message,
            elapsed_ms: started.elapsed().as_millis() as u64,
        })
    }

    /// The connection as a run would use it: the data directory in a path named, and for one
    /// defined through an API, only what its org may reach (its paths confined, the server's
    /// variables it names granted), by the rule runs follow, so a check reveals nothing a run
    /// could not reach.
    fn as_a_run_sees_it(&self, conn: &Connection, org_name: &str) -> Result<Connection, String> {
        let mut conn = conn.clone();
        let what = format!("connection `{}`", conn.name);
        if conn.origin != Origin::Api {
            if let Some(path) = conn.config.path.as_deref() {
                let dir = self.config.data_dir.display().to_string();
                conn.config.path = Some(path.replace("${sluice.data_dir}", &dir));
            }
            return Ok(conn);
        }
        let grants = self.config.orgs.get(org_name).cloned().unwrap_or_default();
        if let Some((field, var)) = crate::domain::org_grants::env_references(&conn.config)
            .into_iter()
            .find(|(_, v)| !grants.allows_env(v))
        {
            return Err(format!(
                "{what}: {field}: the server's environment variable `{var}` is not granted to this org"
            ));
        }
        if matches!(
            conn.conn_type,
            ConnectionType::Files | ConnectionType::Sqlite
        ) && let Some(path) = conn.config.path.as_deref()
        {
            // Refused unless reachable; the path stays as written (resolved against the same
            // base below), so what the check says names no server directory.
            crate::engine::context::confine(path, &self.connection_base(&conn), &grants, &what)?;
        }
        Ok(conn)
    }

    async fn try_connection(&self, conn: &Connection) -> Result<String, String> {
        match conn.conn_type {
            ConnectionType::Files => {
                let written = conn.config.path.as_deref().unwrap_or("");
                let root = self.connection_base(conn).join(written);
                // An org's user sees the path they wrote, not where the server keeps it.
                let shown = match conn.origin {
                    Origin::Api => written.to_string(),
                    Origin::File { .. } => root.display().to_string(),
                };
                match std::fs::metadata(&root) {
                    Ok(m) if m.is_dir() => Ok(format!("directory {shown}")),
                    Ok(_) => Err(format!("{shown} is not a directory")),
                    Err(e) => Err(format!("{shown}: {}", e.kind())),
                }
            }
            ConnectionType::Secret => match conn.config.secret.as_ref().map(|s| s.resolve()) {
                Some(Ok(v)) if !v.is_empty() => Ok("the secret is set".to_string()),
                Some(Ok(_)) => Err("the secret is empty".to_string()),
                Some(Err(e)) => Err(e),
                None => Err("no secret is configured".to_string()),
            },
            _ => match Endpoint::resolve(conn, &self.connection_base(conn)) {
                Err(e) => Err(e.to_string()),
                Ok(ep) => match tokio::time::timeout(CHECK_TIMEOUT, db::check(&ep)).await {
                    Ok(Ok(m)) => Ok(m),
                    Ok(Err(e)) => Err(e.to_string()),
                    Err(_) => Err(format!("no answer within {} s", CHECK_TIMEOUT.as_secs())),
                },
            },
        }
    }
}
