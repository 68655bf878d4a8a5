//! Organisations, users and their roles.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

/// The organisation that owns definitions loaded from files, and to which the first admin belongs.
pub const DEFAULT_ORG: &str = "default";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Org {
    pub id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

/// What a user may do in their org, as IICS has it. Each role may do everything the ones before
/// it may: a Monitor reads; an Operator also starts, stops and reruns jobs; a Designer also
/// defines tasks, taskflows and schedules; an Admin also manages users, connections, runtime
/// environments and settings. An Admin of the default org also manages orgs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Monitor,
    Operator,
    Designer,
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Monitor, Role::Operator, Role::Designer, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Monitor => "monitor",
            Role::Operator => "operator",
            Role::Designer => "designer",
            Role::Admin => "admin",
        }
    }

    /// Whether this role may do what `needed` may.
    pub fn allows(self, needed: Role) -> bool {
        self >= needed
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // IICS writes role names capitalised; messages do too.
        let s = self.as_str();
        write!(f, "{}{}", s[..1].to_ascii_uppercase(), &s[1..])
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                format!("unknown role `{s}`; expected one of monitor, operator, designer, admin")
            })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: Uuid,
    pub org_id: Uuid,
    pub username: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
}

impl User {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

/// An org's own file area under the data directory: the only part of it the org's API-defined
/// tasks and connections reach.
pub fn org_area(data_dir: &std::path::Path, org_id: uuid::Uuid) -> std::path::PathBuf {
    data_dir.join("files").join(org_id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_and_read_in_any_case() {
        assert!(Role::Admin.allows(Role::Designer));
        assert!(Role::Designer.allows(Role::Operator));
        assert!(Role::Operator.allows(Role::Monitor));
        assert!(!Role::Monitor.allows(Role::Operator));
        assert!(!Role::Designer.allows(Role::Admin));
        assert_eq!("Operator".parse::<Role>(), Ok(Role::Operator));
        assert!("root".parse::<Role>().is_err());
        assert_eq!(Role::Designer.to_string(), "Designer");
    }
}
