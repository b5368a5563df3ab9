//! Who is calling: a Bearer token, a dashboard session cookie, or nobody (allowed only on
//! an open loopback server), and what their role lets them do.

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;

use super::error::ApiError;
use super::{AppState, Session};
use crate::auth::Role;

/// On an open loopback server, the local user a CLI client says it runs as: recorded as
/// who made a change, as the CLI records its user when it opens the file itself.
pub const USER_HEADER: &str = "x-incident-user";

/// The session cookie of the dashboard.
pub(crate) const SESSION_COOKIE: &str = "incident_session";

/// An authenticated caller.
#[derive(Clone, Debug)]
pub struct Caller {
    /// Token name; `anonymous` without a token on an open loopback server.
    pub name: String,
    pub role: Role,
}

impl Caller {
    /// Refuses (403) a caller whose role is below `role`.
    pub fn need(&self, role: Role) -> Result<(), ApiError> {
        if self.role >= role {
            return Ok(());
        }
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "token {} has role {}; this needs role {role}",
                self.name, self.role
            ),
        ))
    }
}

pub(crate) fn cookie(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

pub(crate) fn session(state: &AppState, parts: &Parts) -> Option<(String, Session)> {
    let id = cookie(&parts.headers, SESSION_COOKIE)?;
    let sessions = state.0.sessions.lock().ok()?;
    sessions.get(&id).cloned().map(|s| (id, s))
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .map(|v| v.to_str().unwrap_or_default().to_string());
        if let Some(h) = header {
            let Some(secret) = h.strip_prefix("Bearer ").map(str::trim) else {
                return Err(unauthorized(
                    "the Authorization header must be `Bearer TOKEN`",
                ));
            };
            let st = state.clone();
            let secret = secret.to_string();
            let found = tokio::task::spawn_blocking(move || {
                crate::auth::authenticate(st.manager(), &secret)
            })
            .await
            .map_err(|e| ApiError::internal(e.to_string()))??;
            return match found {
                Some(t) => Ok(Caller {
                    name: t.name,
                    role: t.role,
                }),
                None => Err(unauthorized("the token is not valid (unknown or revoked)")),
            };
        }
        if let Some((_, s)) = session(state, parts)
            && session_alive(state, &s.name).await?
        {
            return Ok(Caller {
                name: s.name,
                role: s.role,
            });
        }
        if state.0.auth_required {
            return Err(unauthorized(
                "this server needs a token: pass --token or set INCIDENT_TOKEN \
                 (Authorization: Bearer TOKEN)",
            ));
        }
        let claimed = parts
            .headers
            .get(USER_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|u| !u.is_empty() && u.chars().count() <= 64)
            .filter(|u| !u.chars().any(char::is_control));
        Ok(Caller {
            name: claimed.unwrap_or("anonymous").to_string(),
            role: Role::Admin,
        })
    }
}

fn unauthorized(message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
}

/// Whether a session's token still exists: a revoked token ends its sessions.
pub(crate) async fn session_alive(state: &AppState, name: &str) -> Result<bool, ApiError> {
    if name == "anonymous" {
        return Ok(true);
    }
    let st = state.clone();
    let name = name.to_string();
    tokio::task::spawn_blocking(move || {
        crate::auth::list_tokens(st.manager()).map(|ts| ts.iter().any(|t| t.name == name))
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))?
    .map_err(ApiError::from)
}
