//! Finding tasks by any of their ids or names, and the task and connection CRUD behind the APIs.

use super::definitions::{Change, ConnectionSpec, TaskSpec};
use super::{App, Principal, Result, ServiceError};
use crate::domain::audit::AuditAction;
use crate::domain::{Connection, Origin, Role, Task};
use crate::store::TaskFilter;
use uuid::Uuid;

impl App {
    /// Finds a task of the org by its UUID, its 20-character IICS id, its 22-character federated
    /// id, `folder/name`, or its bare name when exactly one folder has a task of that name (a name
    /// in several folders is refused, naming them).
    pub async fn resolve_task(&self, org_id: Uuid, reference: &str) -> Result<Task> {
        Ok(crate::store::lookup::resolve_task(self.store.as_ref(), org_id, reference).await?)
    }

    pub async fn list_tasks(&self, org_id: Uuid, filter: &TaskFilter) -> Result<Vec<Task>> {
        Ok(self.store.list_tasks(org_id, filter).await?)
    }

    /// Creates a task over the API; an existing task at the same path is a conflict.
    pub async fn create_task(&self, who: &Principal, spec: TaskSpec) -> Result<Task> {
        who.require(Role::Designer)?;
        let org_id = who.org_id();
        if self
            .store
            .get_task_by_path(org_id, &spec.folder, &spec.name)
            .await?
            .is_some()
        {
            return Err(ServiceError::Conflict(format!(
                "a task named `{}` exists in folder `{}`",
                spec.name, spec.folder
            )));
        }
        let (folder, name) = (spec.folder.clone(), spec.name.clone());
        self.put_task(who, spec, Origin::Api, None).await?;
        self.resolve_task(org_id, &format!("{folder}/{name}")).await
    }

    pub async fn update_task(&self, who: &Principal, id: Uuid, spec: TaskSpec) -> Result<Task> {
        self.put_task(who, spec, Origin::Api, Some(id)).await?;
        self.store
            .get_task(who.org_id(), id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("task {id} not found")))
    }

    pub async fn delete_task(&self, who: &Principal, id: Uuid) -> Result<()> {
        who.require(Role::Designer)?;
        Ok(self.store.delete_task(who.org_id(), id).await?)
    }

    pub async fn resolve_connection(&self, org_id: Uuid, reference: &str) -> Result<Connection> {
        let found = match Uuid::parse_str(reference) {
            Ok(id) => self.store.get_connection(org_id, id).await?,
            Err(_) => self.store.get_connection_by_name(org_id, reference).await?,
        };
        found.ok_or_else(|| ServiceError::NotFound(format!("connection `{reference}` not found")))
    }

    pub async fn list_connections(&self, org_id: Uuid) -> Result<Vec<Connection>> {
        Ok(self.store.list_connections(org_id).await?)
    }

    /// Creates (`existing` None) or replaces a connection over the API.
    pub async fn save_connection(
        &self,
        who: &Principal,
        spec: ConnectionSpec,
        existing: Option<&Connection>,
    ) -> Result<Connection> {
        who.require(Role::Admin)?;
        let org_id = who.org_id();
        let name = spec.name.clone();
        match existing {
            None => {
                if self
                    .store
                    .get_connection_by_name(org_id, &name)
                    .await?
                    .is_some()
                {
                    return Err(ServiceError::Conflict(format!(
                        "a connection named `{name}` exists"
                    )));
                }
                self.put_connection(who, spec, Origin::Api).await?;
            }
            Some(old) if old.name != name => {
                // A rename: the new name must be free, then the old row takes it.
                if self
                    .store
                    .get_connection_by_name(org_id, &name)
                    .await?
                    .is_some()
                {
                    return Err(ServiceError::Conflict(format!(
                        "a connection named `{name}` exists"
                    )));
                }
                let mut renamed = old.clone();
                renamed.name = name.clone();
                self.store.update_connection(&renamed).await?;
                let detail = format!("renamed from `{}`", old.name);
                self.audit_change(who, org_id, AuditAction::ConnectionUpdate, &name, detail)
                    .await;
                self.put_connection(who, spec, Origin::Api).await?;
            }
            Some(_) => {
                let _: Change = self.put_connection(who, spec, Origin::Api).await?;
            }
        }
        self.resolve_connection(org_id, &name).await
    }

    /// The runtime environment an IICS client names by `runtimeEnvironmentName` (its name) or
    /// `agentGroupId` (its `agent_group_id`, or its name).
    pub fn runtime_environment_named(
        &self,
        name: Option<&str>,
        agent_group_id: Option<&str>,
    ) -> Result<String> {
        let envs = &self.config.runtime_environments;
        let found = match (name, agent_group_id) {
            (Some(n), _) => envs.contains_key(n).then(|| n.to_string()),
            (None, Some(id)) => envs
                .iter()
                .find(|(n, e)| e.agent_group_id.as_deref() == Some(id) || n.as_str() == id)
                .map(|(n, _)| n.clone()),
            (None, None) => {
                return Err(ServiceError::Invalid(
                    "runtimeEnvironmentName or agentGroupId is required".into(),
                ));
            }
        };
        found.ok_or_else(|| {
            ServiceError::Invalid(format!(
                "runtime environment `{}` is not defined on this server",
                name.or(agent_group_id).unwrap_or_default()
            ))
        })
    }

    pub async fn delete_connection(&self, who: &Principal, id: Uuid) -> Result<()> {
        who.require(Role::Admin)?;
        let org_id = who.org_id();
        let name = match self.store.get_connection(org_id, id).await? {
            Some(c) => c.name,
            None => return Err(ServiceError::NotFound(format!("connection {id} not found"))),
        };
        self.store.delete_connection(org_id, id).await?;
        let detail = String::new();
        self.audit_change(who, org_id, AuditAction::ConnectionDelete, &name, detail)
            .await;
        Ok(())
    }
}
