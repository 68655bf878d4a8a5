//! Identities: password hashing (argon2), login, bearer tokens, the first admin, orgs and users.

use super::signin::SigninKind;
use super::{App, Result, ServiceError};
use crate::domain::audit::{AuditAction, Client};
use crate::domain::{Role, User};
use crate::store::{NewToken, StoreError};
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use chrono::{Duration, Utc};
use rand::distributions::Alphanumeric;
use rand::{Rng, rngs::OsRng};
use sha2::{Digest, Sha256};
use std::path::Path;
use uuid::Uuid;

/// The kinds of login session: each API's sessions live by its own rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    /// `/api/v1/auth/login`: valid for `session_hours`.
    Native,
    /// IICS v2/v3 login: ends after `iics.session_idle_minutes` without use.
    Iics,
}

impl SessionKind {
    fn token_name(self) -> &'static str {
        match self {
            SessionKind::Native => "session",
            SessionKind::Iics => "iics-session",
        }
    }
}

/// Who is calling: a user of an org, and from where (for the audit log).
#[derive(Debug, Clone)]
pub struct Principal {
    pub user: User,
    pub org_name: String,
    pub client: Client,
}

impl Principal {
    pub fn org_id(&self) -> uuid::Uuid {
        self.user.org_id
    }

    /// Refuses (403) a caller whose role does not allow what `needed` may do.
    pub fn require(&self, needed: Role) -> Result<()> {
        if self.user.role.allows(needed) {
            Ok(())
        } else {
            Err(ServiceError::Forbidden(format!(
                "this needs the {needed} role; `{}` has the {} role",
                self.user.username, self.user.role
            )))
        }
    }

    /// The operator's own identity: definitions loaded from the server's definitions directory
    /// act as an Admin of the org they load into.
    pub fn operator(org_id: Uuid, org_name: &str) -> Principal {
        Principal {
            user: User {
                id: Uuid::nil(),
                org_id,
                username: "sluice".into(),
                role: Role::Admin,
                created_at: Utc::now(),
            },
            org_name: org_name.into(),
            client: Client::SERVER,
        }
    }
}

pub fn hash_password(password: &str) -> Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ServiceError::Internal(format!("hashing a password: {e}")))
}

pub(super) fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Tokens are stored only as their SHA-256, so a copy of the database grants nothing.
fn token_hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

pub(super) fn random_string(len: usize) -> String {
    OsRng
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

impl App {
    /// Creates the default org and its first admin when the store has none.
    ///
    /// The admin's name and password come from the config (`SLUICE_ADMIN_USER`,
    /// `SLUICE_ADMIN_PASSWORD`); with neither, a password is generated, printed once, and kept in
    /// `<data_dir>/admin-password` readable by the owner only.
    pub async fn bootstrap_admin(&self, data_dir: &Path) -> Result<()> {
        let cfg = &self.config;
        let username = cfg.admin_user.clone().unwrap_or_else(|| "admin".into());
        let operator = Principal::operator(self.default_org, crate::domain::identity::DEFAULT_ORG);
        if let Some((user, hash)) = self.store.user_credentials(&username).await? {
            // An explicitly configured password is the source of truth: keep the store in step.
            if let Some(pw) = &cfg.admin_password {
                self.keep_admin_password(&operator, &user, hash, pw).await?;
            }
            return Ok(());
        }
        let password = match &cfg.admin_password {
            Some(pw) => pw.clone(),
            None => {
                let pw = random_string(24);
                let file = data_dir.join("admin-password");
                write_owner_only(&file, &format!("{username}\n{pw}\n"))
                    .map_err(|e| ServiceError::Internal(format!("{}: {e}", file.display())))?;
                println!(
                    "Sluice created the admin user `{username}` with password: {pw}\n(kept in {}, readable by its owner only)",
                    file.display()
                );
                pw
            }
        };
        let made = self
            .store
            .create_user(
                self.default_org,
                &username,
                &hash_password(&password)?,
                Role::Admin,
            )
            .await;
        match made {
            Ok(_) => {}
            // Another node sharing the store, starting at the same time, made it first: theirs
            // stands, and a password generated here was never in force.
            Err(StoreError::NameTaken(_)) => {
                if cfg.admin_password.is_none() {
                    let _ = std::fs::remove_file(data_dir.join("admin-password"));
                }
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        }
        tracing::info!(user = %username, "created the first admin");
        let detail = "the first admin, role admin".to_string();
        self.audit_change(
            &operator,
            self.default_org,
            AuditAction::UserCreate,
            &username,
            detail,
        )
        .await;
        Ok(())
    }

    /// Sets the admin's password to the configured one, if it is not that already (so the audit
    /// log tells real changes, not every start).
    async fn keep_admin_password(
        &self,
        operator: &Principal,
        admin: &User,
        hash: String,
        password: &str,
    ) -> Result<()> {
        let pw = password.to_string();
        let same = tokio::task::spawn_blocking(move || verify_password(&pw, &hash))
            .await
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        if same {
            return Ok(());
        }
        self.store
            .set_password(admin.id, &hash_password(password)?)
            .await?;
        let detail = "set to the configured admin password".to_string();
        let (org, name) = (admin.org_id, &admin.username);
        self.audit_change(operator, org, AuditAction::UserPassword, name, detail)
            .await;
        Ok(())
    }

    /// Checks a user name and password; answers a new native session token valid for
    /// `session_hours`.
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        client: Client,
    ) -> Result<(String, Principal)> {
        self.login_as(username, password, SessionKind::Native, client)
            .await
    }

    /// Checks a user name and password; answers a new session of `kind`.
    pub async fn login_as(
        &self,
        username: &str,
        password: &str,
        kind: SessionKind,
        client: Client,
    ) -> Result<(String, Principal)> {
        let user = self
            .check_password(username, password, client, SigninKind::Session(kind))
            .await?;
        let token = match kind {
            SessionKind::Native => {
                let expires = Utc::now() + Duration::hours(self.config.session_hours as i64);
                self.issue_token(&user, kind.token_name(), Some(expires), None)
                    .await?
            }
            SessionKind::Iics => {
                let idle = std::time::Duration::from_secs(
                    self.config.iics.session_idle_minutes.max(1) * 60,
                );
                self.issue_token(&user, kind.token_name(), None, Some(idle))
                    .await?
            }
        };
        let principal = self.principal(user, client).await?;
        Ok((token, principal))
    }

    /// The caller behind a user name and password (HTTP Basic, a password grant).
    pub async fn authenticate_password(
        &self,
        username: &str,
        password: &str,
        client: Client,
        kind: SigninKind,
    ) -> Result<Principal> {
        let user = self
            .check_password(username, password, client, kind)
            .await?;
        self.principal(user, client).await
    }

    /// A new bearer token for `user`; `expires_at` None = until revoked, `idle` None = no idle
    /// expiry.
    pub async fn issue_token(
        &self,
        user: &User,
        name: &str,
        expires_at: Option<chrono::DateTime<Utc>>,
        idle: Option<std::time::Duration>,
    ) -> Result<String> {
        let token = format!("slc_{}", random_string(40));
        self.store
            .create_token(&NewToken {
                user_id: user.id,
                hash: &token_hash(&token),
                name,
                created_at: Utc::now(),
                expires_at,
                idle,
            })
            .await?;
        Ok(token)
    }

    /// The caller behind a bearer token. Tokens are not throttled: 40 random characters cannot
    /// be guessed, whatever the rate.
    pub async fn authenticate(&self, token: &str, client: Client) -> Result<Principal> {
        Ok(self.session(token, client).await?.0)
    }

    /// The caller behind a token, and when the token now expires (None = not by time).
    pub async fn session(
        &self,
        token: &str,
        client: Client,
    ) -> Result<(Principal, Option<chrono::DateTime<Utc>>)> {
        let (user, expires) = self
            .store
            .user_for_token(&token_hash(token), Utc::now())
            .await?
            .ok_or_else(|| {
                ServiceError::Unauthorized("the token is not valid or has expired".into())
            })?;
        Ok((self.principal(user, client).await?, expires))
    }

    /// A new inbound webhook key for a task, replacing the old one; shown only now (the store
    /// keeps its SHA-256).
    pub async fn rotate_webhook_key(
        &self,
        who: &Principal,
        task: &crate::domain::Task,
    ) -> Result<String> {
        who.require(Role::Designer)?;
        if task.org_id != who.org_id() {
            return Err(ServiceError::NotFound(format!(
                "task {} not found",
                task.id
            )));
        }
        let key = format!("whk_{}", random_string(40));
        self.store
            .set_webhook_key(task.id, &token_hash(&key))
            .await?;
        Ok(key)
    }

    /// The caller behind a task's webhook key: a stand-in Operator named `webhook` of the task's
    /// org, allowed to start that task only (the caller checks the task).
    pub async fn webhook_principal(
        &self,
        task: &crate::domain::Task,
        key: &str,
        client: Client,
    ) -> Result<Principal> {
        if !self
            .store
            .webhook_key_matches(task.id, &token_hash(key.trim()))
            .await?
        {
            return Err(ServiceError::Unauthorized(
                "the webhook key is not valid for this job".into(),
            ));
        }
        self.principal(
            User {
                id: Uuid::nil(),
                org_id: task.org_id,
                username: "webhook".into(),
                role: Role::Operator,
                created_at: Utc::now(),
            },
            client,
        )
        .await
    }

    /// Ends one session (logout); answers whether it existed.
    pub async fn logout(&self, token: &str) -> Result<bool> {
        Ok(self.store.revoke_token(&token_hash(token)).await?)
    }

    /// Ends every session of `kind` the user has (IICS `logoutall`), after checking the password.
    pub async fn logout_all(
        &self,
        username: &str,
        password: &str,
        kind: SessionKind,
        client: Client,
    ) -> Result<u64> {
        let user = self
            .check_password(username, password, client, SigninKind::LogoutAll)
            .await?;
        Ok(self
            .store
            .revoke_user_tokens(user.id, kind.token_name())
            .await?)
    }

    async fn principal(&self, user: User, client: Client) -> Result<Principal> {
        let org_name = self
            .store
            .list_orgs()
            .await?
            .into_iter()
            .find(|o| o.id == user.org_id)
            .map(|o| o.name)
            .unwrap_or_default();
        Ok(Principal {
            user,
            org_name,
            client,
        })
    }

    /// Admins of the default org manage orgs.
    fn require_super_admin(&self, who: &Principal) -> Result<()> {
        if who.user.is_admin() && who.org_id() == self.default_org {
            Ok(())
        } else {
            Err(ServiceError::Forbidden(
                "only an admin of the default org may do this".into(),
            ))
        }
    }

    pub async fn create_org(&self, who: &Principal, name: &str) -> Result<crate::domain::Org> {
        self.require_super_admin(who)?;
        crate::domain::task::validate_name(name)
            .map_err(|e| ServiceError::Invalid(format!("name: {e}")))?;
        let org = self.store.create_org(name).await?;
        self.audit_change(who, org.id, AuditAction::OrgCreate, name, String::new())
            .await;
        Ok(org)
    }

    pub async fn list_orgs(&self, who: &Principal) -> Result<Vec<crate::domain::Org>> {
        let orgs = self.store.list_orgs().await?;
        if self.require_super_admin(who).is_ok() {
            Ok(orgs)
        } else {
            Ok(orgs.into_iter().filter(|o| o.id == who.org_id()).collect())
        }
    }

    /// Creates a user in the caller's org, or (for the default org's admins) in any org.
    pub async fn create_user(
        &self,
        who: &Principal,
        username: &str,
        password: &str,
        org: Option<&str>,
        role: Role,
    ) -> Result<User> {
        who.require(Role::Admin)?;
        crate::domain::task::validate_name(username)
            .map_err(|e| ServiceError::Invalid(format!("username: {e}")))?;
        if password.len() < 8 {
            return Err(ServiceError::Invalid(
                "password: must be at least 8 characters".into(),
            ));
        }
        let org_id = match org {
            None => who.org_id(),
            Some(name) if name == who.org_name => who.org_id(),
            Some(name) => {
                self.require_super_admin(who)?;
                self.store
                    .list_orgs()
                    .await?
                    .into_iter()
                    .find(|o| o.name == name)
                    .ok_or_else(|| ServiceError::NotFound(format!("org `{name}` not found")))?
                    .id
            }
        };
        let user = self
            .store
            .create_user(org_id, username, &hash_password(password)?, role)
            .await?;
        let detail = format!("role {role}");
        self.audit_change(who, org_id, AuditAction::UserCreate, username, detail)
            .await;
        Ok(user)
    }

    /// The users of the caller's org (Admins only: the list is who may do what).
    pub async fn list_users(&self, who: &Principal) -> Result<Vec<User>> {
        who.require(Role::Admin)?;
        Ok(self.store.list_users(who.org_id()).await?)
    }

    /// Gives a user of the caller's org another role. The last Admin of an org cannot step down:
    /// nobody would be left to manage it.
    pub async fn set_role(&self, who: &Principal, user_id: Uuid, role: Role) -> Result<User> {
        who.require(Role::Admin)?;
        let users = self.store.list_users(who.org_id()).await?;
        let target = users
            .iter()
            .find(|u| u.id == user_id)
            .ok_or_else(|| ServiceError::NotFound(format!("user {user_id} not found")))?;
        let admins = users.iter().filter(|u| u.is_admin()).count();
        if target.is_admin() && role != Role::Admin && admins <= 1 {
            return Err(ServiceError::Conflict(format!(
                "`{}` is the org's last Admin; make another user Admin first",
                target.username
            )));
        }
        let from = target.role;
        let user = self
            .store
            .set_user_role(who.org_id(), user_id, role)
            .await?;
        let detail = format!("{from} -> {role}");
        self.audit_change(
            who,
            who.org_id(),
            AuditAction::UserRole,
            &user.username,
            detail,
        )
        .await;
        Ok(user)
    }
}

fn write_owner_only(path: &Path, content: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(content.as_bytes())?;
    file.sync_all()
}
