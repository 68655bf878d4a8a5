//! Login, tokens, the caller, orgs and users.

use super::{ApiError, ApiJson, ApiPath, ApiResult, Auth, RequestClient};
use crate::domain::{Org, Role, User};
use crate::service::{App, Principal};
use axum::extract::State;
use axum::http::StatusCode;
use axum::{Json, Router, routing::get, routing::post, routing::put};
use sluice_types::{
    LoginRequest, LoginResponse, NewOrg, NewToken, NewUser, OrgView, RoleChange, UserView,
};

pub fn routes() -> Router<App> {
    Router::new()
        .route("/auth/login", post(login))
        .route("/auth/tokens", post(create_token))
        .route("/me", get(me))
        .route("/orgs", get(list_orgs).post(create_org))
        .route("/users", get(list_users).post(create_user))
        .route("/users/{id}/role", put(set_role))
}

fn user_view(u: &User, org_name: &str) -> UserView {
    UserView {
        id: u.id,
        username: u.username.clone(),
        org_id: u.org_id,
        org_name: org_name.into(),
        role: u.role.as_str().into(),
        is_admin: u.is_admin(),
        created_at: u.created_at,
    }
}

fn org_view(o: &Org) -> OrgView {
    OrgView {
        id: o.id,
        name: o.name.clone(),
        created_at: o.created_at,
    }
}

/// Exchanges a user name and password for a session token. Failed sign-ins are throttled per user
/// name and per client address: once locked, every attempt (the right password too) is answered
/// 429 with `Retry-After` until the lockout ends.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = 401, body = sluice_types::ErrorBody),
        (status = 429, body = sluice_types::ErrorBody,
            headers(("Retry-After" = u64, description = "seconds until sign-ins are taken again")))))]
pub async fn login(
    State(app): State<App>,
    RequestClient(client): RequestClient,
    ApiJson(req): ApiJson<LoginRequest>,
) -> ApiResult<Json<LoginResponse>> {
    let (token, who) = app.login(&req.username, &req.password, client).await?;
    let expires_at =
        Some(chrono::Utc::now() + chrono::Duration::hours(app.config.session_hours as i64));
    Ok(Json(LoginResponse {
        token,
        expires_at,
        user: user_view(&who.user, &who.org_name),
    }))
}

/// Creates a long-lived API token for the caller.
#[utoipa::path(post, path = "/api/v1/auth/tokens", tag = "auth", request_body = NewToken,
    security(("bearer" = [])), responses((status = 201, body = LoginResponse)))]
pub async fn create_token(
    State(app): State<App>,
    Auth(who): Auth,
    ApiJson(req): ApiJson<NewToken>,
) -> ApiResult<(StatusCode, Json<LoginResponse>)> {
    let token = app.issue_token(&who.user, &req.name, None, None).await?;
    Ok((
        StatusCode::CREATED,
        Json(LoginResponse {
            token,
            expires_at: None,
            user: user_view(&who.user, &who.org_name),
        }),
    ))
}

#[utoipa::path(get, path = "/api/v1/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = UserView)))]
pub async fn me(Auth(who): Auth) -> Json<UserView> {
    Json(user_view(&who.user, &who.org_name))
}

#[utoipa::path(get, path = "/api/v1/orgs", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = Vec<OrgView>)))]
pub async fn list_orgs(State(app): State<App>, Auth(who): Auth) -> ApiResult<Json<Vec<OrgView>>> {
    Ok(Json(
        app.list_orgs(&who).await?.iter().map(org_view).collect(),
    ))
}

/// Creates an org (admins of the default org only).
#[utoipa::path(post, path = "/api/v1/orgs", tag = "auth", request_body = NewOrg,
    security(("bearer" = [])), responses((status = 201, body = OrgView)))]
pub async fn create_org(
    State(app): State<App>,
    Auth(who): Auth,
    ApiJson(req): ApiJson<NewOrg>,
) -> ApiResult<(StatusCode, Json<OrgView>)> {
    let org = app.create_org(&who, &req.name).await?;
    Ok((StatusCode::CREATED, Json(org_view(&org))))
}

#[utoipa::path(get, path = "/api/v1/users", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = Vec<UserView>)))]
pub async fn list_users(State(app): State<App>, Auth(who): Auth) -> ApiResult<Json<Vec<UserView>>> {
    let users = app.list_users(&who).await?;
    Ok(Json(
        users.iter().map(|u| user_view(u, &who.org_name)).collect(),
    ))
}

/// Creates a user (admins only; in another org: admins of the default org only).
#[utoipa::path(post, path = "/api/v1/users", tag = "auth", request_body = NewUser,
    security(("bearer" = [])), responses((status = 201, body = UserView)))]
pub async fn create_user(
    State(app): State<App>,
    Auth(who): Auth,
    ApiJson(req): ApiJson<NewUser>,
) -> ApiResult<(StatusCode, Json<UserView>)> {
    let role = match (&req.role, req.is_admin) {
        (Some(r), _) => r.parse::<Role>().map_err(ApiError::invalid)?,
        (None, true) => Role::Admin,
        (None, false) => Role::Designer,
    };
    let user = app
        .create_user(&who, &req.username, &req.password, req.org.as_deref(), role)
        .await?;
    let org_name = org_name_of(&app, &who, &user).await;
    Ok((StatusCode::CREATED, Json(user_view(&user, &org_name))))
}

/// Gives a user of the caller's org another role (the org's last Admin cannot step down).
#[utoipa::path(put, path = "/api/v1/users/{id}/role", tag = "auth", request_body = RoleChange,
    params(("id" = uuid::Uuid, Path, description = "The user's id")),
    security(("bearer" = [])), responses((status = 200, body = UserView)))]
pub async fn set_role(
    State(app): State<App>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<uuid::Uuid>,
    ApiJson(req): ApiJson<RoleChange>,
) -> ApiResult<Json<UserView>> {
    let role = req.role.parse::<Role>().map_err(ApiError::invalid)?;
    let user = app.set_role(&who, id, role).await?;
    Ok(Json(user_view(&user, &who.org_name)))
}

async fn org_name_of(app: &App, who: &Principal, user: &User) -> String {
    if user.org_id == who.org_id() {
        return who.org_name.clone();
    }
    app.list_orgs(who)
        .await
        .ok()
        .and_then(|orgs| orgs.into_iter().find(|o| o.id == user.org_id))
        .map(|o| o.name)
        .unwrap_or_default()
}
