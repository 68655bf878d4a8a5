//! Organisations and users.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The organisation that owns definitions loaded from files, and to which the first admin belongs.
pub const DEFAULT_ORG: &str = "default";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Org {
    pub id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: Uuid,
    pub org_id: Uuid,
    pub username: String,
    /// An admin manages users of the org; the admin of the default org also manages orgs.
    pub is_admin: bool,
    pub created_at: DateTime<Utc>,
}
