//! The audit log's events: who did what to which target, from where (API surface and client
//! address), and how it went. Pure types; the store keeps them, the service writes them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use uuid::Uuid;

/// The actor of an event nobody signed in for (a failed sign-in).
pub const ANONYMOUS: &str = "anonymous";

/// Where a request came in: one of the APIs, or the server itself (its configuration and
/// definitions directory, acted on at start-up).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Surface {
    Native,
    IicsV2,
    IicsV3,
    Starfish,
    Server,
}

impl Surface {
    pub const ALL: [Surface; 5] = [
        Surface::Native,
        Surface::IicsV2,
        Surface::IicsV3,
        Surface::Starfish,
        Surface::Server,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Surface::Native => "native",
            Surface::IicsV2 => "iics_v2",
            Surface::IicsV3 => "iics_v3",
            Surface::Starfish => "starfish",
            Surface::Server => "server",
        }
    }
}

/// Who is calling from where: the surface of the request and the client's address (None when
/// the server acts on its own, or the connection's peer is not known).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Client {
    pub surface: Surface,
    pub addr: Option<IpAddr>,
}

impl Client {
    /// The server itself (start-up: the configured admin, the definitions directory).
    pub const SERVER: Client = Client {
        surface: Surface::Server,
        addr: None,
    };
}

/// What happened. Names are stable: clients filter on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AuditAction {
    /// A password was checked (login on any surface, HTTP Basic, a password grant, `logoutall`).
    Signin,
    /// Attempts refused while a user name or address was locked, counted into one event.
    SigninThrottled,
    UserCreate,
    UserRole,
    UserPassword,
    OrgCreate,
    ConnectionCreate,
    ConnectionUpdate,
    ConnectionDelete,
}

impl AuditAction {
    pub const ALL: [AuditAction; 9] = [
        AuditAction::Signin,
        AuditAction::SigninThrottled,
        AuditAction::UserCreate,
        AuditAction::UserRole,
        AuditAction::UserPassword,
        AuditAction::OrgCreate,
        AuditAction::ConnectionCreate,
        AuditAction::ConnectionUpdate,
        AuditAction::ConnectionDelete,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::Signin => "signin",
            AuditAction::SigninThrottled => "signin.throttled",
            AuditAction::UserCreate => "user.create",
            AuditAction::UserRole => "user.role",
            AuditAction::UserPassword => "user.password",
            AuditAction::OrgCreate => "org.create",
            AuditAction::ConnectionCreate => "connection.create",
            AuditAction::ConnectionUpdate => "connection.update",
            AuditAction::ConnectionDelete => "connection.delete",
        }
    }
}

/// How it went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AuditOutcome {
    Success,
    /// A wrong password (or an unknown user name).
    Failure,
    /// Refused by sign-in throttling without the password being looked at.
    Refused,
}

impl AuditOutcome {
    pub const ALL: [AuditOutcome; 3] = [
        AuditOutcome::Success,
        AuditOutcome::Failure,
        AuditOutcome::Refused,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuditOutcome::Success => "success",
            AuditOutcome::Failure => "failure",
            AuditOutcome::Refused => "refused",
        }
    }
}

macro_rules! text_enum {
    ($t:ty, $what:literal) => {
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $t {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                <$t>::ALL
                    .into_iter()
                    .find(|v| v.as_str() == s.trim())
                    .ok_or_else(|| {
                        let known: Vec<&str> = <$t>::ALL.iter().map(|v| v.as_str()).collect();
                        format!(
                            "unknown {} `{s}`; expected one of {}",
                            $what,
                            known.join(", ")
                        )
                    })
            }
        }
    };
}

text_enum!(Surface, "surface");
text_enum!(AuditAction, "action");
text_enum!(AuditOutcome, "outcome");

/// One event of the audit log. Never holds a secret: passwords and connection secrets stay out
/// of `detail`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub at: DateTime<Utc>,
    /// The org the event concerns; None for a sign-in as a user name nobody has.
    pub org_id: Option<Uuid>,
    /// The signed-in user who acted, or [`ANONYMOUS`].
    pub actor: String,
    pub action: AuditAction,
    /// What was acted on: a user name, an org or connection name.
    pub target: String,
    pub client_addr: Option<IpAddr>,
    pub surface: Surface,
    pub outcome: AuditOutcome,
    pub detail: String,
}

/// The longest text kept in an event's fields: user names are at most 255 bytes, so a longer
/// one was never a user's, and nobody can grow a row by sending a huge name.
pub const MAX_FIELD: usize = 256;

/// `s` cut to at most [`MAX_FIELD`] bytes, at a character boundary.
pub fn bounded(s: &str) -> String {
    if s.len() <= MAX_FIELD {
        return s.to_string();
    }
    let mut end = MAX_FIELD;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_back() {
        for a in AuditAction::ALL {
            assert_eq!(a.as_str().parse::<AuditAction>(), Ok(a));
        }
        for s in Surface::ALL {
            assert_eq!(s.to_string().parse::<Surface>(), Ok(s));
        }
        for o in AuditOutcome::ALL {
            assert_eq!(o.as_str().parse::<AuditOutcome>(), Ok(o));
        }
        let err = "login".parse::<AuditAction>().unwrap_err();
        assert!(err.contains("signin.throttled"), "{err}");
    }

    #[test]
    fn long_text_is_cut_at_a_character() {
        assert_eq!(bounded("alice"), "alice");
        let long = "é".repeat(200);
        let cut = bounded(&long);
        assert!(cut.len() <= MAX_FIELD && cut.len() >= MAX_FIELD - 1);
        assert!(long.starts_with(&cut));
    }
}
