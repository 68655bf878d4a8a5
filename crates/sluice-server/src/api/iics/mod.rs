//! The Informatica Cloud (IICS) compatibility surface: the paths, bodies and error objects that
//! existing IICS scripts and tools call, translated to and from the native model. No logic of its
//! own lives here: every operation is a `service` call.

mod error;
mod json;
mod login;
mod session;

pub use error::{V2Error, V3Error};

use crate::service::App;
use axum::Router;

/// The IICS routes, served at the root (`/ma/...`, `/saas/...`).
pub fn routes() -> Router<App> {
    login::routes()
}
