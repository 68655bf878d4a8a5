//! What the server's operator lets an org's API-defined objects reach on the node: directories
//! its `files` and `sqlite` connections may name, and server environment variables its
//! connections may read (`[orgs.<name>]` in the configuration). Nothing by default: a task
//! defined through an API reads and writes only its org's own file area under the data
//! directory. Pure rules; the service checks them when an object is saved, the engine again when
//! it is used.

use super::connection::{ConnectionConfig, ConnectionType, Secret, Setting};
use super::runtime_env::is_plain_relative;
use serde::{Deserialize, Serialize};
use std::path::{Component, Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct OrgGrants {
    /// Absolute directories the org's `files` and `sqlite` connections may point into.
    #[serde(default)]
    pub file_roots: Vec<PathBuf>,
    /// Server environment variables the org's connections may read (`{ env = "NAME" }`).
    #[serde(default)]
    pub env: Vec<String>,
}

impl OrgGrants {
    /// Whether `path` (absolute, as written) lies inside a granted root. Lexical: links are
    /// checked where the file system is.
    pub fn allows_path(&self, path: &Path) -> bool {
        path.is_absolute()
            && !path.components().any(|c| c == Component::ParentDir)
            && self.file_roots.iter().any(|root| path.starts_with(root))
    }

    pub fn allows_env(&self, name: &str) -> bool {
        self.env.iter().any(|v| v == name)
    }

    /// Problems of a connection defined through an API against these grants (`field: message`).
    pub fn connection_problems(&self, kind: ConnectionType, c: &ConnectionConfig) -> Vec<String> {
        let mut p = Vec::new();
        if matches!(kind, ConnectionType::Files | ConnectionType::Sqlite)
            && let Some(path) = &c.path
            && !is_plain_relative(path)
            && !self.allows_path(Path::new(path))
        {
            p.push(format!(
                "config.path: `{path}` must be a relative path (inside the org's file area) or lie inside a directory the server's operator granted the org"
            ));
        }
        for (field, var) in env_references(c) {
            if !self.allows_env(var) {
                p.push(format!(
                    "config.{field}: the server's environment variable `{var}` is not granted to this org"
                ));
            }
        }
        p
    }
}

/// The environment variables a connection's settings read, with the field naming each.
pub fn env_references(c: &ConnectionConfig) -> Vec<(&'static str, &str)> {
    let mut out = Vec::new();
    if let Some(Setting::FromEnv { env, .. }) = &c.url {
        out.push(("url", env.as_str()));
    }
    for (field, secret) in [("password", &c.password), ("secret", &c.secret)] {
        if let Some(Secret::FromEnv { env }) = secret {
            out.push((field, env.as_str()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_connections_stay_within_their_grants() {
        let none = OrgGrants::default();
        let files = |path: &str| ConnectionConfig {
            path: Some(path.into()),
            ..Default::default()
        };
        assert!(
            none.connection_problems(ConnectionType::Files, &files("landing"))
                .is_empty()
        );
        for bad in ["/", "/etc", "../..", "/srv/acme/../other"] {
            assert_eq!(
                none.connection_problems(ConnectionType::Files, &files(bad))
                    .len(),
                1,
                "{bad}"
            );
        }
        let acme = OrgGrants {
            file_roots: vec!["/srv/acme".into()],
            env: vec!["ACME_PW".into()],
        };
        assert!(
            acme.connection_problems(ConnectionType::Sqlite, &files("/srv/acme/dw.db"))
                .is_empty()
        );
        assert!(!acme.allows_path(Path::new("/srv/acme/../other/x")));
        assert!(!acme.allows_path(Path::new("/srv/acmeX")));
        let pg = |env: &str| ConnectionConfig {
            host: Some("db".into()),
            password: Some(Secret::FromEnv { env: env.into() }),
            ..Default::default()
        };
        assert!(
            acme.connection_problems(ConnectionType::Postgres, &pg("ACME_PW"))
                .is_empty()
        );
        let p = acme.connection_problems(ConnectionType::Postgres, &pg("SLUICE_ADMIN_PASSWORD"));
        assert!(p[0].contains("SLUICE_ADMIN_PASSWORD"), "{p:?}");
    }
}
