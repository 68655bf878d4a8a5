//! Connections: named, typed endpoints whose secrets never leave the server.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionType {
    Files,
    Postgres,
    Mysql,
    Sqlite,
    /// A named secret (e.g. the key of deterministic masking rules), kept out of task files.
    Secret,
}

impl ConnectionType {
    pub const ALL: [ConnectionType; 5] = [
        ConnectionType::Files,
        ConnectionType::Postgres,
        ConnectionType::Mysql,
        ConnectionType::Sqlite,
        ConnectionType::Secret,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionType::Files => "files",
            ConnectionType::Postgres => "postgres",
            ConnectionType::Mysql => "mysql",
            ConnectionType::Sqlite => "sqlite",
            ConnectionType::Secret => "secret",
        }
    }
}

impl fmt::Display for ConnectionType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ConnectionType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ConnectionType::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                format!(
                    "unknown connection type `{s}`; expected one of files, postgres, mysql, sqlite, secret"
                )
            })
    }
}

/// A secret value: written in the definition, or read from an environment variable when used.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Secret {
    FromEnv { env: String },
    Value(String),
}

impl Secret {
    /// The secret's value, read at the moment of use so that a rotated variable takes effect.
    pub fn resolve(&self) -> Result<String, String> {
        match self {
            Secret::Value(v) => Ok(v.clone()),
            Secret::FromEnv { env } => {
                std::env::var(env).map_err(|_| format!("environment variable `{env}` is not set"))
            }
        }
    }
}

/// A setting written in the definition, or read from an environment variable (with an optional
/// default) when used: `url = { env = "WAREHOUSE_URL", default = "postgres://localhost/dw" }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Setting {
    FromEnv {
        env: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        default: Option<String>,
    },
    Value(String),
}

impl Setting {
    pub fn resolve(&self) -> Result<String, String> {
        match self {
            Setting::Value(v) => Ok(v.clone()),
            Setting::FromEnv { env, default } => match (std::env::var(env), default) {
                (Ok(v), _) if !v.is_empty() => Ok(v),
                (_, Some(d)) => Ok(d.clone()),
                _ => Err(format!("environment variable `{env}` is not set")),
            },
        }
    }
}

/// Never prints the value: a `Debug` of a connection ends up in logs.
impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Secret::FromEnv { env } => write!(f, "Secret(env:{env})"),
            Secret::Value(_) => f.write_str("Secret(***)"),
        }
    }
}

/// The settings of a connection. Every type has an optional `url`-like locator and an optional
/// secret; databases take either a URL or host/port/database/user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ConnectionConfig {
    /// `files`: the root directory; `sqlite`: the database file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Databases: a URL without the password (put that in `password`), or where to read it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<Setting>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
    /// `secret` connections: the secret's value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<Secret>,
}

impl ConnectionConfig {
    /// The config as an API may show it: a literal secret is masked, an env reference shown.
    pub fn redacted(&self) -> ConnectionConfig {
        let mut c = self.clone();
        if let Some(Secret::Value(_)) = c.password {
            c.password = Some(Secret::Value("***".into()));
        }
        if let Some(Secret::Value(_)) = c.secret {
            c.secret = Some(Secret::Value("***".into()));
        }
        c
    }

    pub fn validate(&self, kind: ConnectionType) -> Result<(), (String, String)> {
        let need = |field: &str, v: &Option<String>| match v {
            Some(s) if !s.trim().is_empty() => Ok(()),
            _ => Err((
                field.to_string(),
                format!("required for a {kind} connection"),
            )),
        };
        match kind {
            ConnectionType::Files | ConnectionType::Sqlite => need("path", &self.path),
            ConnectionType::Secret => match &self.secret {
                Some(_) => Ok(()),
                None => Err((
                    "secret".into(),
                    "required for a secret connection (a value or `{ env = \"VAR\" }`)".into(),
                )),
            },
            ConnectionType::Postgres | ConnectionType::Mysql => {
                if self.url.is_none() && self.host.is_none() {
                    return Err(("url".into(), "give a url or a host".into()));
                }
                if let Some(Setting::Value(url)) = &self.url
                    && url.contains('@')
                    && url
                        .split('@')
                        .next()
                        .is_some_and(|userinfo| userinfo.matches(':').count() > 1)
                {
                    return Err((
                        "url".into(),
                        "must not carry a password; use the `password` field (it may read an environment variable)".into(),
                    ));
                }
                Ok(())
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Connection {
    pub id: Uuid,
    pub org_id: Uuid,
    pub name: String,
    pub conn_type: ConnectionType,
    pub description: String,
    pub config: ConnectionConfig,
    pub origin: super::task::Origin,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_do_not_print() {
        let s = Secret::Value("hunter2".into());
        assert!(!format!("{s:?}").contains("hunter2"));
        let c = ConnectionConfig {
            password: Some(s),
            ..Default::default()
        };
        assert!(!format!("{c:?}").contains("hunter2"));
        assert!(
            !serde_json::to_string(&c.redacted())
                .unwrap()
                .contains("hunter2")
        );
    }

    #[test]
    fn env_secrets_resolve_late() {
        let s = Secret::FromEnv {
            env: "SLUICE_TEST_SURELY_UNSET_VAR".into(),
        };
        assert!(
            s.resolve()
                .unwrap_err()
                .contains("SLUICE_TEST_SURELY_UNSET_VAR")
        );
    }

    #[test]
    fn urls_with_passwords_are_refused() {
        let c = ConnectionConfig {
            url: Some(Setting::Value("postgres://u:pw@localhost/db".into())),
            ..Default::default()
        };
        assert!(c.validate(ConnectionType::Postgres).is_err());
        let c = ConnectionConfig {
            url: Some(Setting::Value("postgres://u@localhost/db".into())),
            ..Default::default()
        };
        assert!(c.validate(ConnectionType::Postgres).is_ok());
    }
}
