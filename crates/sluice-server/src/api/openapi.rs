//! The OpenAPI document of the native API, generated from the handlers' annotations.

use super::{auth, callbacks, connections, definitions, health, runs, tasks};
use crate::service::App;
use axum::{Json, Router, routing::get};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "Sluice native API", description = "Start, watch and stop data integration jobs."),
    paths(
        health::health,
        auth::login, auth::create_token, auth::me, auth::list_orgs, auth::create_org,
        auth::list_users, auth::create_user,
        tasks::list, tasks::create, tasks::read, tasks::update, tasks::remove, tasks::export,
        tasks::webhook_key,
        connections::list, connections::create, connections::read, connections::update,
        connections::remove, connections::check,
        definitions::apply, definitions::export,
        runs::start, runs::list, runs::read, runs::stop, runs::log, runs::wait,
        callbacks::list, callbacks::resend,
    ),
    modifiers(&BearerAuth)
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
