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
        Ok(self.check_connection_now(conn).await)
    }

    async fn check_connection_now(&self, conn: &Connection) -> ConnectionCheck {
        let started = Instant::now();
        let result = match conn.conn_type {
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
        };
        let (ok, message) = match result {
            Ok(m) => (true, m),
            Err(m) => (false, m),
        };
        ConnectionCheck {
            ok,
            message,
            elapsed_ms: started.elapsed().as_millis() as u64,
        }
    }
}
