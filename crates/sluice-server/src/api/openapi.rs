//! The OpenAPI document of the native API, generated from the handlers' annotations.

use super::openapi_policy::Policy;
use super::{
    audit, auth, blackouts, callbacks, connections, definitions, health, runs, schedules, tasks,
};
use crate::service::App;
use axum::{Json, Router, routing::get};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "Sluice native API", description = "Start, watch and stop data integration jobs."),
    paths(
        health::health,
        health::ready,
        auth::login, auth::create_token, auth::me, auth::list_orgs, auth::create_org,
        auth::list_users, auth::create_user, auth::set_role, audit::list,
        tasks::list, tasks::create, tasks::read, tasks::update, tasks::remove, tasks::export,
        tasks::webhook_key,
        connections::list, connections::create, connections::read, connections::update,
        connections::remove, connections::check,
        definitions::apply, definitions::export,
        runs::start, runs::list, runs::read, runs::stop, runs::rerun, runs::log, runs::rejects, runs::wait,
        callbacks::list, callbacks::resend,
        schedules::list, schedules::create, schedules::read, schedules::update,
        schedules::remove, schedules::pause, schedules::resume, schedules::next,
        schedules::backfill,
        blackouts::list, blackouts::put, blackouts::remove,
    ),
    modifiers(&BearerAuth, &Policy)
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

pub fn routes() -> Router<App> {
    Router::new().route("/openapi.json", get(|| async { Json(ApiDoc::openapi()) }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_says_its_role_and_its_error_answers() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        let mut seen = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                seen += 1;
                let role = super::super::openapi_policy::role_of(method, path)
                    .unwrap_or_else(|| panic!("{method} {path} has no role in ROLES"));
                assert_eq!(
                    op["x-required-role"],
                    serde_json::json!(role.map(|r| r.as_str())),
                    "{method} {path}"
                );
                // A parameter said to be in the path must be one of the path's placeholders:
                // query structs default to `in: path` unless they say otherwise.
                for p in op["parameters"].as_array().into_iter().flatten() {
                    if p["in"] == "path" {
                        let name = p["name"].as_str().unwrap();
                        assert!(
                            path.contains(&format!("{{{name}}}")),
                            "{method} {path}: `{name}` is not in the path"
                        );
                    }
                }
                let responses = op["responses"].as_object().unwrap();
                assert!(responses.contains_key("400"), "{method} {path}");
                if role.is_some() {
                    for s in ["401", "403"] {
                        assert!(responses.contains_key(s), "{method} {path} lacks {s}");
                    }
                }
                if op.get("requestBody").is_some() {
                    for s in ["413", "415"] {
                        assert!(responses.contains_key(s), "{method} {path} lacks {s}");
                    }
                }
            }
        }
        assert_eq!(
            seen,
            super::super::openapi_policy::ROLES.len(),
            "ROLES lists only documented operations"
        );
    }

    #[test]
    fn run_view_schema_includes_its_children() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        let schemas = &doc["components"]["schemas"];
        assert!(
            schemas["RunView"]["properties"]["children"].is_object(),
            "{}",
            schemas["RunView"]
        );
        assert!(
            schemas["RunChildView"]["properties"]["counters"].is_object(),
            "the child's schema is in the document"
        );
    }
}
