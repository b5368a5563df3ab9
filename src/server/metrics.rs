//! `GET /metrics` (Prometheus text) and the middleware that times every routed request.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::api::blocking;
use super::auth::Caller;
use super::error::ApiError;
use crate::auth::Role;
use crate::model::Timestamp;
use crate::observe::{CONTENT_TYPE, Exposition};

/// Prometheus text exposition. A read token suffices (scrapers send `Authorization:
/// Bearer`); an open loopback server answers without one, like every read.
pub(crate) async fn metrics(State(state): State<AppState>, caller: Caller) -> Response {
    if let Err(e) = caller.need(Role::Read) {
        return e.into_response();
    }
    let exposition = Exposition {
        http: state.0.http_metrics.clone(),
        delivery: state.0.delivery.get().cloned(),
    };
    let sla = state.options().sla;
    let text = blocking(&state, move |m| {
        exposition
            .render(m, &sla, Timestamp::now())
            .map_err(ApiError::from)
    });
    match text.await {
        Ok(t) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], t).into_response(),
        Err(e) => e.into_response(),
    }
}

/// Records each routed request's latency under its route pattern (`/api/v1/incidents/{id}`),
/// never the raw path, so ids do not make new series.
pub(crate) async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "(unmatched)".to_string(), |p| p.as_str().to_string());
    let method = req.method().as_str().to_string();
    let start = Instant::now();
    let resp = next.run(req).await;
    state
        .0
        .http_metrics
        .observe(&method, &route, resp.status().as_u16(), start.elapsed());
    resp
}
