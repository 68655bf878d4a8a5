//! What the OpenAPI document says of every operation beyond its own annotation: the role it needs
//! (`x-required-role`, and a line in its description) and every error status it can answer, each
//! with the native error body. Written once here so no operation can forget one.

use crate::domain::Role;
use utoipa::Modify;
use utoipa::openapi::path::{HttpMethod, Operation};
use utoipa::openapi::{
    ContentBuilder, OpenApi, Ref, RefOr, Response, ResponseBuilder, extensions::Extensions,
};

/// The role each operation needs; `None`: anyone, signed in or not. The service enforces these
/// (a test checks that every documented operation is listed here).
pub const ROLES: &[(&str, &str, Option<Role>)] = &[
    ("get", "/healthz", None),
    ("get", "/readyz", None),
    ("post", "/api/v1/auth/login", None),
    ("post", "/api/v1/auth/tokens", Some(Role::Monitor)),
    ("get", "/api/v1/me", Some(Role::Monitor)),
    ("get", "/api/v1/orgs", Some(Role::Monitor)),
    ("post", "/api/v1/orgs", Some(Role::Admin)),
    ("get", "/api/v1/users", Some(Role::Admin)),
    ("post", "/api/v1/users", Some(Role::Admin)),
    ("put", "/api/v1/users/{id}/role", Some(Role::Admin)),
    ("get", "/api/v1/audit", Some(Role::Admin)),
    ("get", "/api/v1/tasks", Some(Role::Monitor)),
    ("post", "/api/v1/tasks", Some(Role::Designer)),
    ("get", "/api/v1/tasks/{task}", Some(Role::Monitor)),
    ("put", "/api/v1/tasks/{task}", Some(Role::Designer)),
    ("delete", "/api/v1/tasks/{task}", Some(Role::Designer)),
    ("get", "/api/v1/tasks/{task}/export", Some(Role::Monitor)),
    (
        "post",
        "/api/v1/tasks/{task}/webhook-key",
        Some(Role::Designer),
    ),
    ("get", "/api/v1/connections", Some(Role::Monitor)),
    ("post", "/api/v1/connections", Some(Role::Admin)),
    (
        "get",
        "/api/v1/connections/{connection}",
        Some(Role::Monitor),
    ),
    ("put", "/api/v1/connections/{connection}", Some(Role::Admin)),
    (
        "delete",
        "/api/v1/connections/{connection}",
        Some(Role::Admin),
    ),
    (
        "post",
        "/api/v1/connections/{connection}/check",
        Some(Role::Designer),
    ),
    ("post", "/api/v1/definitions/apply", Some(Role::Designer)),
    ("get", "/api/v1/definitions/export", Some(Role::Monitor)),
    ("get", "/api/v1/schedules", Some(Role::Monitor)),
    ("post", "/api/v1/schedules", Some(Role::Designer)),
    ("get", "/api/v1/schedules/{schedule}", Some(Role::Monitor)),
    ("put", "/api/v1/schedules/{schedule}", Some(Role::Designer)),
    (
        "delete",
        "/api/v1/schedules/{schedule}",
        Some(Role::Designer),
    ),
    (
        "post",
        "/api/v1/schedules/{schedule}/pause",
        Some(Role::Operator),
    ),
    (
        "post",
        "/api/v1/schedules/{schedule}/resume",
        Some(Role::Operator),
    ),
    (
        "get",
        "/api/v1/schedules/{schedule}/next",
        Some(Role::Monitor),
    ),
    (
        "post",
        "/api/v1/schedules/{schedule}/backfill",
        Some(Role::Operator),
    ),
    ("get", "/api/v1/blackouts", Some(Role::Monitor)),
    ("put", "/api/v1/blackouts", Some(Role::Admin)),
    ("delete", "/api/v1/blackouts/{blackout}", Some(Role::Admin)),
    ("post", "/api/v1/runs", Some(Role::Operator)),
    ("get", "/api/v1/runs", Some(Role::Monitor)),
    ("get", "/api/v1/runs/{run}", Some(Role::Monitor)),
    ("post", "/api/v1/runs/{run}/stop", Some(Role::Operator)),
    ("post", "/api/v1/runs/{run}/rerun", Some(Role::Operator)),
    ("get", "/api/v1/runs/{run}/log", Some(Role::Monitor)),
    ("get", "/api/v1/runs/{run}/rejects", Some(Role::Monitor)),
    ("get", "/api/v1/runs/{run}/wait", Some(Role::Monitor)),
    ("get", "/api/v1/runs/{run}/callbacks", Some(Role::Monitor)),
    (
        "post",
        "/api/v1/runs/{run}/callbacks/{callback}/resend",
        Some(Role::Operator),
    ),
];

fn method_name(m: &HttpMethod) -> &'static str {
    match m {
        HttpMethod::Get => "get",
        HttpMethod::Post => "post",
        HttpMethod::Put => "put",
        HttpMethod::Delete => "delete",
        HttpMethod::Patch => "patch",
        HttpMethod::Head => "head",
        HttpMethod::Options => "options",
        HttpMethod::Trace => "trace",
    }
}

pub fn role_of(method: &str, path: &str) -> Option<Option<Role>> {
    ROLES
        .iter()
        .find(|(m, p, _)| *m == method && *p == path)
        .map(|(_, _, r)| *r)
}

pub struct Policy;

impl Modify for Policy {
    fn modify(&self, openapi: &mut OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            let ops = [
                (HttpMethod::Get, &mut item.get),
                (HttpMethod::Post, &mut item.post),
                (HttpMethod::Put, &mut item.put),
                (HttpMethod::Delete, &mut item.delete),
                (HttpMethod::Patch, &mut item.patch),
            ];
            for (method, op) in ops {
                if let Some(op) = op {
                    let role = role_of(method_name(&method), path).flatten();
                    describe(op, path, role);
                }
            }
        }
    }
}

fn error_response(what: &str) -> RefOr<Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(what)
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                    .build(),
            )
            .build(),
    )
}

/// Adds the role and the error answers an operation can give.
fn describe(op: &mut Operation, path: &str, role: Option<Role>) {
    let mut errors = vec![(
        "400",
        "The request is not valid (body, path or query); the message says why",
    )];
    if op.request_body.is_some() {
        errors.push(("413", "The body is larger than the server's limit"));
        errors.push(("415", "The body is not JSON"));
        errors.push(("422", "The body reads but does not hold together"));
    }
    let names_things = op.parameters.as_ref().is_some_and(|p| !p.is_empty());
    if path.contains('{') || op.request_body.is_some() || names_things {
        errors.push((
            "404",
            "Something the request names does not exist in the org",
        ));
    }
    if path.contains('{') {
        // `/connections//check` is routed as `/connections/{connection}`: an empty path
        // parameter can reach a neighbouring route that does not take this method.
        errors.push((
            "405",
            "A path parameter is empty, and the path it leaves does not take this method",
        ));
    }
    if role.is_some() {
        errors.push(("401", "No valid bearer token"));
        errors.push(("403", "The caller's role does not allow this"));
    }
    if op.request_body.is_some() && role.is_some() {
        errors.push(("409", "The request conflicts with what exists"));
    }
    if path == "/api/v1/auth/login" {
        errors.push(("401", "The user name or password is not valid"));
        errors.push((
            "429",
            "Too many failed sign-ins; retry after `Retry-After` seconds",
        ));
    }
    if path != "/healthz" {
        errors.push((
            "503",
            "The store does not answer now (a database restart); retry after `Retry-After`",
        ));
    }
    for (status, what) in errors {
        op.responses
            .responses
            .entry(status.to_string())
            .or_insert_with(|| error_response(what));
    }
    let needs = match role {
        Some(r) => format!("Needs the {r} role (or a role above it)."),
        None => "Needs no sign-in.".to_string(),
    };
    op.description = Some(match op.description.take() {
        Some(d) if !d.is_empty() => format!("{d}\n\n{needs}"),
        _ => needs,
    });
    let mut ext = Extensions::default();
    ext.insert(
        "x-required-role".to_string(),
        serde_json::Value::from(role.map(|r| r.as_str())),
    );
    match op.extensions.as_mut() {
        Some(e) => e.merge(ext),
        None => op.extensions = Some(ext),
    }
}
