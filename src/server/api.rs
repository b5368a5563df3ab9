//! `/api/v1`: handlers thin over the library, typed request and response bodies.

use std::convert::Infallible;
use std::io::Write;

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, FromRequest, Path, Query, RawQuery, Request, State};
use axum::http::{StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::{Stream, StreamExt};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;
use utoipa::ToSchema;

use super::auth::Caller;
use super::error::{ApiError, chain};
use super::{AppState, ChangeEvent};
use crate::auth::{Role, TokenInfo};
use crate::import::{ExportFormat, ImportSummary, MigrateOptions, MigrateSummary};
use crate::kb::ErrorTypes;
use crate::manager::{Applied, IncidentManager, NewIncident, Op, ResolveInput, Update};
use crate::metrics::OriginScope;
use crate::metrics::{MetricsOptions, Period, SlaTargets};
use crate::model::{Category, Incident, IncidentId, Origin, Pattern, Priority, Status, Timestamp};
use crate::patterns::{Analysis, AnalyzeOptions, PatternMatch};
use crate::store::{Filter, Order};

/// Largest page `GET /incidents` returns.
pub const MAX_PAGE: usize = 10_000;
const DEFAULT_PAGE: usize = 1_000;

pub(crate) fn routes(limit: usize) -> Router<AppState> {
    let uploads = Router::new()
        .route("/api/v1/migrate", post(migrate))
        .route("/api/v1/import", post(import))
        .layer(DefaultBodyLimit::disable());
    Router::new()
        .route("/api/v1/health", get(health))
        .route("/api/v1/openapi.json", get(super::openapi::document))
        .route("/api/v1/incidents", post(create).get(list))
        .route("/api/v1/incidents/{id}", get(show).patch(update))
        .route("/api/v1/incidents/{id}/resolve", post(resolve))
        .route("/api/v1/incidents/{id}/close", post(close))
        .route("/api/v1/incidents/{id}/reopen", post(reopen))
        .route("/api/v1/incidents/{id}/notes", post(note))
        .route("/api/v1/report", post(report))
        .route("/api/v1/patterns", get(patterns))
        .route("/api/v1/patterns/{id}", get(pattern))
        .route("/api/v1/analyze", post(analyze))
        .route("/api/v1/kb/inputs", get(kb_inputs_handler))
        .route("/api/v1/kb/suggest", get(kb_suggest))
        .route("/api/v1/export", get(export))
        .route("/api/v1/tokens", get(tokens).post(token_create))
        .route("/api/v1/tokens/{name}", axum::routing::delete(token_revoke))
        .route("/api/v1/events", get(events))
        .route("/api/v1/outbox", get(outbox))
        .route("/api/v1/outbox/retry", post(outbox_retry))
        .layer(DefaultBodyLimit::max(limit))
        .merge(uploads)
}

/// Runs `f` on a blocking thread with the store: redb calls block.
pub(crate) async fn blocking<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&IncidentManager) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let st = state.clone();
    tokio::task::spawn_blocking(move || f(st.manager()))
        .await
        .map_err(|e| ApiError::internal(format!("request task failed: {e}")))?
}

/// A JSON body whose errors name the field at fault (`title: invalid type ...`).
pub(crate) struct JsonBody<T>(pub(crate) T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(req, state).await.map_err(|r| {
            let status = r.status();
            let code = if status == StatusCode::PAYLOAD_TOO_LARGE {
                "too_large"
            } else {
                "invalid"
            };
            ApiError::new(status, code, format!("request body: {}", r.body_text()))
        })?;
        parse_json(&bytes).map(JsonBody)
    }
}

pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." || path.is_empty() {
            // serde names a missing field only in its message.
            let text = inner.to_string();
            let missing = text
                .strip_prefix("missing field `")
                .and_then(|r| r.split_once('`'))
                .map(|(f, _)| f.to_string());
            match missing {
                Some(f) => ApiError::invalid(&f, format!("{f}: {text}")),
                None => ApiError::invalid("body", format!("request body: {text}")),
            }
        } else {
            ApiError::invalid(&path, format!("{path}: {inner}"))
        }
    })
}

fn id_of(s: &str) -> Result<IncidentId, ApiError> {
    s.parse::<IncidentId>()
        .map_err(|e| ApiError::invalid("id", e.to_string()))
}

/// `GET /api/v1/health`.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct Health {
    pub status: String,
    pub incidents: u64,
}

#[utoipa::path(get, path = "/api/v1/health", tag = "server",
    responses((status = 200, body = Health)))]
async fn health(State(st): State<AppState>) -> Result<Json<Health>, ApiError> {
    let incidents = blocking(&st, |m| Ok(m.count()?)).await?;
    Ok(Json(Health {
        status: "ok".into(),
        incidents,
    }))
}

/// A new incident.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct CreateRequest {
    #[schema(value_type = String, example = "failure")]
    pub category: Category,
    #[schema(value_type = String, example = "high")]
    pub priority: Priority,
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub components: Vec<String>,
    #[serde(default)]
    pub impact: String,
    #[serde(default)]
    pub assignee: Option<String>,
    /// RFC 3339; default now.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub at: Option<Timestamp>,
}

/// The created incident with the known pattern it matched (the CLI's `create --format json`).
#[derive(Serialize, Deserialize, ToSchema)]
pub struct Created {
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub incident: Incident,
    #[schema(value_type = Option<Object>)]
    pub pattern_match: Option<PatternMatch>,
}

#[utoipa::path(post, path = "/api/v1/incidents", tag = "incidents", request_body = CreateRequest,
    responses((status = 201, body = Created), (status = 400, body = super::error::ErrorBody)))]
async fn create(
    State(st): State<AppState>,
    caller: Caller,
    JsonBody(r): JsonBody<CreateRequest>,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    caller.need(Role::Write)?;
    let new = NewIncident {
        category: r.category,
        priority: r.priority,
        title: r.title,
        description: r.description,
        components: r.components,
        impact: r.impact,
        assignee: r.assignee,
        at: r.at,
        by: Some(caller.name.clone()),
    };
    let Applied::Created(incident, pattern_match) = st.apply(Op::Create(new)).await? else {
        return Err(ApiError::internal("a create answered with a change"));
    };
    st.publish(ChangeEvent {
        action: "created".into(),
        id: Some(incident.id),
        by: caller.name,
    });
    Ok((
        StatusCode::CREATED,
        Json(Created {
            incident,
            pattern_match,
        }),
    ))
}

/// One page of incidents.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct Page {
    #[schema(value_type = Vec<Object>)]
    pub incidents: Vec<Incident>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

fn multi<T: std::str::FromStr>(pairs: &[(String, String)], key: &str) -> Result<Vec<T>, ApiError>
where
    T::Err: std::fmt::Display,
{
    pairs
        .iter()
        .filter(|(k, _)| k == key)
        .flat_map(|(_, v)| v.split(',').filter(|s| !s.is_empty()))
        .map(|v| {
            v.parse::<T>()
                .map_err(|e| ApiError::invalid(key, format!("{key}: {e}")))
        })
        .collect()
}

fn one<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn time_param(pairs: &[(String, String)], key: &str) -> Result<Option<Timestamp>, ApiError> {
    one(pairs, key)
        .map(|v| Timestamp::parse(v).map_err(|e| ApiError::invalid(key, format!("{key}: {e}"))))
        .transpose()
}

fn num_param(pairs: &[(String, String)], key: &str) -> Result<Option<usize>, ApiError> {
    one(pairs, key)
        .map(|v| {
            v.trim().parse::<usize>().map_err(|_| {
                ApiError::invalid(key, format!("{key}: expected a whole number, got {v:?}"))
            })
        })
        .transpose()
}

/// The list filter from a query string. Repeat a key (or separate values with commas)
/// for alternatives; components, assignees and patterns are repeated only.
pub(crate) fn filter_from_query(query: &str) -> Result<(Filter, usize), ApiError> {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let names = |key: &str| -> Vec<String> {
        pairs
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    };
    let order = match one(&pairs, "order") {
        None | Some("newest") => Order::NewestFirst,
        Some("oldest") => Order::OldestFirst,
        Some(o) => {
            return Err(ApiError::invalid(
                "order",
                format!("order: expected newest or oldest, got {o:?}"),
            ));
        }
    };
    let page = num_param(&pairs, "limit")?.unwrap_or(DEFAULT_PAGE);
    if page > MAX_PAGE {
        return Err(ApiError::invalid(
            "limit",
            format!("limit: at most {MAX_PAGE} incidents a page, got {page}"),
        ));
    }
    let after = one(&pairs, "after")
        .map(|v| {
            v.parse::<IncidentId>()
                .map_err(|e| ApiError::invalid("after", format!("after: {e}")))
        })
        .transpose()?;
    let filter = Filter {
        statuses: multi(&pairs, "status")?,
        categories: multi(&pairs, "category")?,
        priorities: multi(&pairs, "priority")?,
        components: names("component"),
        assignees: names("assignee"),
        patterns: names("pattern"),
        origins: multi(&pairs, "origin")?,
        since: time_param(&pairs, "since")?,
        until: time_param(&pairs, "until")?,
        limit: Some(page),
        order,
        after,
    };
    Ok((filter, page))
}

#[utoipa::path(get, path = "/api/v1/incidents", tag = "incidents",
    params(
        ("status" = Option<String>, Query, description = "repeatable; no status: every status"),
        ("category" = Option<String>, Query, description = "repeatable"),
        ("priority" = Option<String>, Query, description = "repeatable"),
        ("component" = Option<String>, Query, description = "repeatable"),
        ("assignee" = Option<String>, Query, description = "repeatable"),
        ("pattern" = Option<String>, Query, description = "repeatable"),
        ("origin" = Option<String>, Query, description = "repeatable"),
        ("since" = Option<String>, Query, description = "created at or after (RFC 3339)"),
        ("until" = Option<String>, Query, description = "created before"),
        ("order" = Option<String>, Query, description = "newest (default) or oldest"),
        ("limit" = Option<usize>, Query, description = "page size, default 1000, at most 10000"),
        ("after" = Option<String>, Query, description = "cursor: next_cursor of the previous page"),
    ),
    responses((status = 200, body = Page), (status = 400, body = super::error::ErrorBody)))]
async fn list(
    State(st): State<AppState>,
    caller: Caller,
    RawQuery(q): RawQuery,
) -> Result<Json<Page>, ApiError> {
    caller.need(Role::Read)?;
    let (filter, page) = filter_from_query(q.as_deref().unwrap_or(""))?;
    let incidents = blocking(&st, move |m| Ok(m.query(&filter)?)).await?;
    let next_cursor = (incidents.len() == page && page > 0)
        .then(|| incidents.last().map(|i| i.id.to_string()))
        .flatten();
    Ok(Json(Page {
        incidents,
        next_cursor,
    }))
}

#[utoipa::path(get, path = "/api/v1/incidents/{id}", tag = "incidents",
    params(("id" = String, Path, description = "INC-YYYYMMDD-NNNN")),
    responses((status = 200, body = Object), (status = 404, body = super::error::ErrorBody)))]
async fn show(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Incident>, ApiError> {
    caller.need(Role::Read)?;
    let id = id_of(&id)?;
    Ok(Json(blocking(&st, move |m| Ok(m.get(id)?)).await?))
}

/// Fields to change; absent fields stay.
#[derive(Serialize, Deserialize, ToSchema, Default)]
pub struct UpdateRequest {
    /// `open` or `in_progress`.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub status: Option<Status>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub priority: Option<Priority>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub category: Option<Category>,
    #[serde(default)]
    pub assignee: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub impact: Option<String>,
    #[serde(default)]
    pub add_components: Vec<String>,
    #[serde(default)]
    pub note: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub at: Option<Timestamp>,
}

/// Applies a change (in the next group commit) and tells subscribers.
async fn change(
    st: &AppState,
    caller: &Caller,
    action: &str,
    op: Op,
) -> Result<Json<Incident>, ApiError> {
    caller.need(Role::Write)?;
    let Applied::Changed(inc) = st.apply(op).await? else {
        return Err(ApiError::internal("a change answered with a create"));
    };
    st.publish(ChangeEvent {
        action: action.into(),
        id: Some(inc.id),
        by: caller.name.clone(),
    });
    Ok(Json(inc))
}

#[utoipa::path(patch, path = "/api/v1/incidents/{id}", tag = "incidents", request_body = UpdateRequest,
    params(("id" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = super::error::ErrorBody),
        (status = 409, body = super::error::ErrorBody)))]
async fn update(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(r): JsonBody<UpdateRequest>,
) -> Result<Json<Incident>, ApiError> {
    let id = id_of(&id)?;
    let u = Update {
        status: r.status,
        priority: r.priority,
        category: r.category,
        assignee: r.assignee,
        title: r.title,
        description: r.description,
        impact: r.impact,
        add_components: r.add_components,
        note: r.note,
        at: r.at,
        by: Some(caller.name.clone()),
    };
    change(&st, &caller, "updated", Op::Update(id, u)).await
}

/// What resolving records.
#[derive(Serialize, Deserialize, ToSchema, Default)]
pub struct ResolveRequest {
    pub actions: Vec<String>,
    pub root_cause: String,
    #[serde(default)]
    pub preventive: Vec<String>,
    #[serde(default)]
    pub knowledge: Vec<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub at: Option<Timestamp>,
}

#[utoipa::path(post, path = "/api/v1/incidents/{id}/resolve", tag = "incidents",
    request_body = ResolveRequest, params(("id" = String, Path)),
    responses((status = 200, body = Object), (status = 409, body = super::error::ErrorBody)))]
async fn resolve(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(r): JsonBody<ResolveRequest>,
) -> Result<Json<Incident>, ApiError> {
    let id = id_of(&id)?;
    let input = ResolveInput {
        actions: r.actions,
        root_cause: r.root_cause,
        preventive: r.preventive,
        knowledge: r.knowledge,
        at: r.at,
        by: Some(caller.name.clone()),
    };
    change(&st, &caller, "resolved", Op::Resolve(id, input)).await
}

/// When a change happened (default now).
#[derive(Serialize, Deserialize, ToSchema, Default)]
pub struct AtRequest {
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub at: Option<Timestamp>,
}

#[utoipa::path(post, path = "/api/v1/incidents/{id}/close", tag = "incidents",
    request_body = AtRequest, params(("id" = String, Path)),
    responses((status = 200, body = Object), (status = 409, body = super::error::ErrorBody)))]
async fn close(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(r): JsonBody<AtRequest>,
) -> Result<Json<Incident>, ApiError> {
    let id = id_of(&id)?;
    let op = Op::Close {
        id,
        at: r.at,
        by: Some(caller.name.clone()),
    };
    change(&st, &caller, "closed", op).await
}

/// Why and when an incident is reopened.
#[derive(Serialize, Deserialize, ToSchema, Default)]
pub struct ReopenRequest {
    #[serde(default)]
    pub note: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub at: Option<Timestamp>,
}

#[utoipa::path(post, path = "/api/v1/incidents/{id}/reopen", tag = "incidents",
    request_body = ReopenRequest, params(("id" = String, Path)),
    responses((status = 200, body = Object), (status = 409, body = super::error::ErrorBody)))]
async fn reopen(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(r): JsonBody<ReopenRequest>,
) -> Result<Json<Incident>, ApiError> {
    let id = id_of(&id)?;
    let op = Op::Reopen {
        id,
        note: r.note,
        at: r.at,
        by: Some(caller.name.clone()),
    };
    change(&st, &caller, "reopened", op).await
}

/// A timeline note.
#[derive(Serialize, Deserialize, ToSchema, Default)]
pub struct NoteRequest {
    pub text: String,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub at: Option<Timestamp>,
}

#[utoipa::path(post, path = "/api/v1/incidents/{id}/notes", tag = "incidents",
    request_body = NoteRequest, params(("id" = String, Path)),
    responses((status = 200, body = Object), (status = 400, body = super::error::ErrorBody)))]
async fn note(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(r): JsonBody<NoteRequest>,
) -> Result<Json<Incident>, ApiError> {
    let id = id_of(&id)?;
    let op = Op::Note {
        id,
        text: r.text,
        at: r.at,
        by: Some(caller.name.clone()),
    };
    change(&st, &caller, "note", op).await
}

/// Report rendering.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ReportFormat {
    #[default]
    Json,
    Markdown,
    /// The one-screen summary (`incident stats`).
    Terminal,
    Html,
}

/// A metrics report request.
#[derive(Serialize, Deserialize, ToSchema, Default)]
pub struct ReportRequest {
    #[serde(default)]
    pub format: ReportFormat,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub since: Option<Timestamp>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub until: Option<Timestamp>,
    /// The report's "now"; default the current time.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub at: Option<Timestamp>,
    /// `week` (default) or `month`.
    #[serde(default)]
    pub trend: Option<String>,
    #[serde(default)]
    pub top: Option<usize>,
    /// Only these origins; empty: handled incidents, migrated errors apart.
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    pub origins: Vec<Origin>,
    /// The text of an SLA config file (`{"sla": {...}}`); default the server's targets.
    #[serde(default)]
    pub sla_config: Option<String>,
    /// Where `sla_config` came from, for its error messages.
    #[serde(default)]
    pub sla_config_name: Option<String>,
    /// Offset of local time for trend periods and times, in seconds east of UTC.
    #[serde(default)]
    pub utc_offset_seconds: Option<i32>,
}

pub(crate) fn metrics_for(
    m: &IncidentManager,
    r: &ReportRequest,
    default_sla: SlaTargets,
) -> Result<crate::metrics::Metrics, ApiError> {
    let targets = match &r.sla_config {
        Some(text) => {
            SlaTargets::from_json(text, r.sla_config_name.as_deref().unwrap_or("sla_config"))
                .map_err(|e| ApiError::invalid("sla_config", chain(&e)))?
        }
        None => default_sla,
    };
    let mut opts = MetricsOptions {
        since: r.since,
        until: r.until,
        now: r.at.unwrap_or_else(Timestamp::now),
        trend: match r.trend.as_deref() {
            None | Some("week") => Period::Week,
            Some("month") => Period::Month,
            Some(t) => {
                return Err(ApiError::invalid(
                    "trend",
                    format!("trend: expected week or month, got {t:?}"),
                ));
            }
        },
        top_n: r.top.unwrap_or(10),
        ..MetricsOptions::default()
    };
    if let Some(s) = r.utc_offset_seconds {
        opts.utc_offset = chrono::FixedOffset::east_opt(s).ok_or_else(|| {
            ApiError::invalid("utc_offset_seconds", "utc_offset_seconds: out of range")
        })?;
    }
    let scope = if r.origins.is_empty() {
        OriginScope::Handled
    } else {
        OriginScope::Only(r.origins.clone())
    };
    Ok(crate::metrics::compute_metrics(m, opts, targets, &scope)?)
}

#[utoipa::path(post, path = "/api/v1/report", tag = "reports", request_body = ReportRequest,
    responses((status = 200, description = "the report in the asked format")))]
async fn report(
    State(st): State<AppState>,
    caller: Caller,
    JsonBody(r): JsonBody<ReportRequest>,
) -> Result<Response, ApiError> {
    caller.need(Role::Read)?;
    let sla = st.options().sla;
    let (body, ctype) = blocking(&st, move |m| render_report(m, &r, sla)).await?;
    Ok(([(header::CONTENT_TYPE, ctype)], body).into_response())
}

/// The metrics report `r` asks for, rendered, with its content type. `default_sla`
/// applies unless `r` carries an SLA config.
pub fn render_report(
    m: &IncidentManager,
    r: &ReportRequest,
    default_sla: SlaTargets,
) -> Result<(Vec<u8>, &'static str), ApiError> {
    let metrics = metrics_for(m, r, default_sla)?;
    let mut out = Vec::new();
    let io = |e: std::io::Error| ApiError::internal(e.to_string());
    let ctype = match r.format {
        ReportFormat::Json => {
            crate::report::render_json(&metrics, &mut out).map_err(io)?;
            "application/json"
        }
        ReportFormat::Markdown => {
            crate::report::render_markdown(&metrics, &mut out).map_err(io)?;
            "text/markdown; charset=utf-8"
        }
        ReportFormat::Terminal => {
            crate::report::render_terminal(&metrics, &mut out).map_err(io)?;
            "text/plain; charset=utf-8"
        }
        ReportFormat::Html => {
            crate::report::render_html(&metrics, &mut out).map_err(io)?;
            "text/html; charset=utf-8"
        }
    };
    Ok((out, ctype))
}

#[derive(Deserialize)]
struct LimitQuery {
    limit: Option<usize>,
}

#[utoipa::path(get, path = "/api/v1/patterns", tag = "patterns",
    params(("limit" = Option<usize>, Query, description = "default 20")),
    responses((status = 200, body = Vec<Object>)))]
async fn patterns(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<LimitQuery>,
) -> Result<Json<Vec<Pattern>>, ApiError> {
    caller.need(Role::Read)?;
    let limit = q.limit.unwrap_or(20);
    let all = blocking(&st, |m| Ok(m.patterns()?)).await?;
    Ok(Json(all.into_iter().take(limit).collect()))
}

/// A pattern with its newest incidents.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct PatternDetail {
    #[schema(value_type = Object)]
    pub pattern: Pattern,
    #[schema(value_type = Vec<Object>)]
    pub members: Vec<Incident>,
}

pub(crate) fn pattern_detail(
    m: &IncidentManager,
    id: &str,
    limit: usize,
) -> Result<PatternDetail, ApiError> {
    let all = m.patterns()?;
    let Some(pattern) = all.into_iter().find(|p| p.id == id) else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("pattern {id} not found: no stored pattern has this id"),
        ));
    };
    let members = m.pattern_members(id, limit)?;
    Ok(PatternDetail { pattern, members })
}

#[utoipa::path(get, path = "/api/v1/patterns/{id}", tag = "patterns",
    params(("id" = String, Path), ("limit" = Option<usize>, Query, description = "members, default 20")),
    responses((status = 200, body = PatternDetail), (status = 404, body = super::error::ErrorBody)))]
async fn pattern(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<LimitQuery>,
) -> Result<Json<PatternDetail>, ApiError> {
    caller.need(Role::Read)?;
    let limit = q.limit.unwrap_or(20);
    Ok(Json(
        blocking(&st, move |m| pattern_detail(m, &id, limit)).await?,
    ))
}

/// The window of an analysis; none stores the patterns.
#[derive(Serialize, Deserialize, ToSchema, Default)]
pub struct AnalyzeRequest {
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub since: Option<Timestamp>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub until: Option<Timestamp>,
}

#[utoipa::path(post, path = "/api/v1/analyze", tag = "patterns", request_body = AnalyzeRequest,
    responses((status = 200, body = Object)))]
async fn analyze(
    State(st): State<AppState>,
    caller: Caller,
    JsonBody(r): JsonBody<AnalyzeRequest>,
) -> Result<Json<Analysis>, ApiError> {
    caller.need(Role::Write)?;
    let opts = AnalyzeOptions {
        since: r.since,
        until: r.until,
        examples: 5,
    };
    Ok(Json(
        blocking(&st, move |m| {
            Ok(crate::patterns::analyze(m, &opts, |_| {})?)
        })
        .await?,
    ))
}

/// What `kb suggest` needs from the store: the patterns (analysed first when none are
/// stored) and the error types their members carry.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct KbInputs {
    /// Whether the server ran an analysis because no patterns were stored.
    pub analyzed: bool,
    #[schema(value_type = Vec<Object>)]
    pub patterns: Vec<Pattern>,
    #[schema(value_type = Object)]
    pub types: ErrorTypes,
}

/// The patterns and error types `kb suggest` works from.
pub fn kb_inputs(m: &IncidentManager) -> Result<KbInputs, ApiError> {
    let mut patterns = m.patterns()?;
    let mut analyzed = false;
    if patterns.is_empty() && m.count()? > 0 {
        analyzed = true;
        patterns = crate::patterns::analyze(m, &AnalyzeOptions::default(), |_| {})?.patterns;
    }
    let types = crate::kb::masked_error_types(m, &patterns, 1000)?;
    Ok(KbInputs {
        analyzed,
        patterns,
        types,
    })
}

#[utoipa::path(get, path = "/api/v1/kb/inputs", tag = "kb", responses((status = 200, body = KbInputs)))]
async fn kb_inputs_handler(
    State(st): State<AppState>,
    caller: Caller,
) -> Result<Json<KbInputs>, ApiError> {
    caller.need(Role::Read)?;
    Ok(Json(blocking(&st, kb_inputs).await?))
}

#[derive(Deserialize)]
struct KbQuery {
    min_count: Option<u64>,
}

/// The knowledge-base changes the patterns suggest, against the server's KB directory.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct KbSuggestion {
    /// Unified diff; empty when nothing would change.
    pub diff: String,
    pub added: usize,
    pub updated: usize,
    pub enriched: usize,
    pub removed: usize,
}

#[utoipa::path(get, path = "/api/v1/kb/suggest", tag = "kb",
    params(("min_count" = Option<u64>, Query, description = "default 3")),
    responses((status = 200, body = KbSuggestion)))]
async fn kb_suggest(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<KbQuery>,
) -> Result<Json<KbSuggestion>, ApiError> {
    caller.need(Role::Read)?;
    let dir = st.options().kb_dir.clone();
    Ok(Json(
        blocking(&st, move |m| {
            let inputs = kb_inputs(m)?;
            let opts = crate::kb::KbOptions {
                min_count: q.min_count.unwrap_or(3),
                ..crate::kb::KbOptions::default()
            };
            let r = crate::kb::run(
                &dir,
                &inputs.patterns,
                &inputs.types,
                &opts,
                &crate::kb::autofix::AutofixOptions::default(),
                false,
            )
            .map_err(|e| ApiError::invalid("kb_dir", chain(&e)))?;
            Ok(KbSuggestion {
                diff: r.diff(),
                added: r.update.added.len(),
                updated: r.update.updated.len(),
                enriched: r.update.enriched.len(),
                removed: r.update.removed.len(),
            })
        })
        .await?,
    ))
}

#[derive(Deserialize)]
struct MigrateQuery {
    #[serde(default)]
    skip_invalid: bool,
    batch: Option<usize>,
    checkpoint: Option<f64>,
}

/// The directory the uploads and rejects files go to: the database's.
fn data_dir(st: &AppState) -> std::path::PathBuf {
    // A PostgreSQL database has no directory: the system's temporary one.
    match st.manager().store().path() {
        Some(p) => p
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new("."))
            .to_path_buf(),
        None => std::env::temp_dir(),
    }
}

/// Streams a request body into a new temporary file beside the database.
async fn spool(st: &AppState, body: Body) -> Result<tempfile::TempPath, ApiError> {
    let io = |e: std::io::Error| ApiError::internal(format!("cannot spool the upload: {e}"));
    let file = tempfile::Builder::new()
        .prefix(".incident-upload-")
        .suffix(".json")
        .tempfile_in(data_dir(st))
        .map_err(io)?;
    let (file, path) = file.into_parts();
    let mut out = tokio::io::BufWriter::with_capacity(1 << 20, tokio::fs::File::from_std(file));
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "input",
                format!("the upload stopped: {e}"),
            )
        })?;
        out.write_all(&chunk).await.map_err(io)?;
    }
    out.flush().await.map_err(io)?;
    Ok(path)
}

#[utoipa::path(post, path = "/api/v1/migrate", tag = "bridge",
    params(("skip_invalid" = Option<bool>, Query), ("batch" = Option<usize>, Query),
        ("checkpoint" = Option<f64>, Query, description = "seconds between synced commits")),
    request_body(content = String, description = "error_history.json or JSON Lines, streamed",
        content_type = "application/octet-stream"),
    responses((status = 200, body = Object), (status = 422, body = super::error::ErrorBody)))]
async fn migrate(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<MigrateQuery>,
    body: Body,
) -> Result<Json<MigrateSummary>, ApiError> {
    caller.need(Role::Write)?;
    let upload = spool(&st, body).await?;
    let rejects = q.skip_invalid.then(|| {
        data_dir(&st).join(format!(
            "migrate-rejects-{}.jsonl",
            Timestamp::now().micros()
        ))
    });
    let opts = MigrateOptions {
        batch: q.batch.unwrap_or(25_000).max(1),
        skip_invalid: q.skip_invalid,
        rejects,
        keep_ids: false,
        checkpoint: q
            .checkpoint
            .filter(|c| c.is_finite() && *c >= 0.0)
            .and_then(|c| std::time::Duration::try_from_secs_f64(c).ok())
            .unwrap_or(std::time::Duration::from_secs(5)),
    };
    let summary = blocking(&st, move |m| {
        let r = crate::import::migrate(m, &upload, &opts, &|_| {});
        drop(upload);
        match r {
            Ok(s) => Ok(s),
            Err(e) => match e.migration_so_far() {
                // The message is the input's error; the summary says what was done before it.
                Some(summary) => {
                    let detail = serde_json::to_value(summary).unwrap_or_default();
                    let source = std::error::Error::source(&e)
                        .map_or_else(|| e.to_string(), ToString::to_string);
                    Err(
                        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "input", source)
                            .with_detail(detail),
                    )
                }
                None => Err(e.into()),
            },
        }
    })
    .await?;
    st.publish(ChangeEvent {
        action: "migrated".into(),
        id: None,
        by: caller.name,
    });
    Ok(Json(summary))
}

/// Reads a request body as a blocking reader (for the streaming JSON readers).
fn body_reader(body: Body) -> impl std::io::Read + Send + 'static {
    let stream = body
        .into_data_stream()
        .map(|r| r.map_err(std::io::Error::other));
    tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(stream))
}

#[utoipa::path(post, path = "/api/v1/import", tag = "transfer",
    request_body(content = String, description = "incident_history.json, streamed",
        content_type = "application/json"),
    responses((status = 200, body = Object), (status = 400, body = super::error::ErrorBody)))]
async fn import(
    State(st): State<AppState>,
    caller: Caller,
    body: Body,
) -> Result<Json<ImportSummary>, ApiError> {
    caller.need(Role::Write)?;
    let reader = body_reader(body);
    let summary = blocking(&st, move |m| {
        let fail = |e: crate::Error| match e.kind() {
            crate::ErrorKind::InvalidData => {
                ApiError::new(StatusCode::BAD_REQUEST, "input", chain(&e))
            }
            _ => ApiError::from(e),
        };
        let incidents = crate::import::read_history(reader).map_err(fail)?;
        crate::import::import_incidents(m, incidents).map_err(fail)
    })
    .await?;
    st.publish(ChangeEvent {
        action: "imported".into(),
        id: None,
        by: caller.name,
    });
    Ok(Json(summary))
}

#[derive(Deserialize)]
struct ExportQuery {
    format: Option<String>,
    #[serde(default)]
    skip_damaged: bool,
}

/// A writer that sends what it is given to a response body.
struct ChannelWriter(tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>);

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .blocking_send(Ok(Bytes::copy_from_slice(buf)))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "client went away"))?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[utoipa::path(get, path = "/api/v1/export", tag = "transfer",
    params(("format" = Option<String>, Query, description = "json (default), jsonl or csv"),
        ("skip_damaged" = Option<bool>, Query)),
    responses((status = 200, description = "every incident, streamed")))]
async fn export(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<ExportQuery>,
) -> Result<Response, ApiError> {
    caller.need(Role::Read)?;
    let (format, ctype) = match q.format.as_deref() {
        None | Some("json") => (ExportFormat::Json, "application/json"),
        Some("jsonl") => (ExportFormat::Jsonl, "application/x-ndjson"),
        Some("csv") => (ExportFormat::Csv, "text/csv; charset=utf-8"),
        Some(f) => {
            return Err(ApiError::invalid(
                "format",
                format!("format: expected json, jsonl or csv, got {f:?}"),
            ));
        }
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(16);
    let st2 = st.clone();
    tokio::task::spawn_blocking(move || {
        let err_tx = tx.clone();
        let mut out = std::io::BufWriter::with_capacity(1 << 16, ChannelWriter(tx));
        let r = if q.skip_damaged {
            crate::import::export_readable(st2.manager(), format, &mut out).map(|skipped| {
                for s in skipped {
                    tracing::warn!(record = %s, "export skipped a damaged record");
                }
            })
        } else {
            crate::import::export(st2.manager(), format, &mut out)
        };
        let r = r.and_then(|()| out.flush().map_err(crate::Error::from));
        if let Err(e) = r {
            tracing::error!(error = %chain(&e), "export failed");
            let _ = err_tx.blocking_send(Err(std::io::Error::other(chain(&e))));
        }
    });
    let stream = tokio_stream::wrappers::ReceiverStream::new(rx);
    Ok(([(header::CONTENT_TYPE, ctype)], Body::from_stream(stream)).into_response())
}

/// A new token.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct TokenRequest {
    pub name: String,
    #[schema(value_type = String, example = "write")]
    pub role: Role,
}

/// A created token: the secret is shown this once.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct TokenCreated {
    pub token: String,
    #[schema(value_type = Object)]
    pub info: TokenInfo,
}

#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens", responses((status = 200, body = Vec<Object>)))]
async fn tokens(
    State(st): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<TokenInfo>>, ApiError> {
    caller.need(Role::Admin)?;
    Ok(Json(
        blocking(&st, |m| Ok(crate::auth::list_tokens(m)?)).await?,
    ))
}

#[utoipa::path(post, path = "/api/v1/tokens", tag = "tokens", request_body = TokenRequest,
    responses((status = 201, body = TokenCreated)))]
async fn token_create(
    State(st): State<AppState>,
    caller: Caller,
    JsonBody(r): JsonBody<TokenRequest>,
) -> Result<(StatusCode, Json<TokenCreated>), ApiError> {
    caller.need(Role::Admin)?;
    let (token, info) = blocking(&st, move |m| {
        Ok(crate::auth::create_token(m, &r.name, r.role)?)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(TokenCreated { token, info })))
}

#[utoipa::path(delete, path = "/api/v1/tokens/{name}", tag = "tokens",
    params(("name" = String, Path)), responses((status = 204)))]
async fn token_revoke(
    State(st): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.need(Role::Admin)?;
    blocking(&st, move |m| Ok(crate::auth::revoke_token(m, &name)?)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Change events as they happen, for live views.
/// The stream ends when the server shuts down, so that it does not hold the shutdown.
pub(crate) fn event_stream(st: &AppState) -> impl Stream<Item = Result<Event, Infallible>> + use<> {
    let stop = st.clone();
    let stop = Box::pin(async move { stop.shutdown_requested().await });
    tokio_stream::wrappers::BroadcastStream::new(st.subscribe())
        .take_until(stop)
        .filter_map(|e| async move {
            let e = e.ok()?;
            Event::default().event("change").json_data(&e).ok().map(Ok)
        })
}

#[utoipa::path(get, path = "/api/v1/events", tag = "server",
    responses((status = 200, description = "text/event-stream of `change` events")))]
async fn events(
    State(st): State<AppState>,
    caller: Caller,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    caller.need(Role::Read)?;
    Ok(Sse::new(event_stream(&st)).keep_alive(KeepAlive::default()))
}

/// `GET /outbox`: `failed` keeps only dead letters in `rows` (the counts are of all).
#[derive(Deserialize, Default)]
pub(crate) struct OutboxQuery {
    #[serde(default)]
    failed: bool,
}

#[utoipa::path(get, path = "/api/v1/outbox", tag = "outbox",
    params(("failed" = Option<bool>, Query, description = "only dead letters")),
    responses((status = 200, body = Object)))]
async fn outbox(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<OutboxQuery>,
) -> Result<Json<crate::notify::OutboxView>, ApiError> {
    caller.need(Role::Read)?;
    Ok(Json(
        blocking(&st, move |m| {
            Ok(crate::notify::outbox_view(m, q.failed, Timestamp::now())?)
        })
        .await?,
    ))
}

/// Revives dead letters: `id` is `SEQ/TARGET`, `SEQ`, an event id or `all`.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct RetryRequest {
    pub id: String,
}

/// How many dead letters were queued again (0: none matched).
#[derive(Serialize, Deserialize, ToSchema)]
pub struct Retried {
    pub revived: u64,
}

#[utoipa::path(post, path = "/api/v1/outbox/retry", tag = "outbox", request_body = RetryRequest,
    responses((status = 200, body = Retried)))]
async fn outbox_retry(
    State(st): State<AppState>,
    caller: Caller,
    JsonBody(r): JsonBody<RetryRequest>,
) -> Result<Json<Retried>, ApiError> {
    caller.need(Role::Admin)?;
    let revived = blocking(&st, move |m| {
        Ok(crate::notify::retry(m, &r.id, Timestamp::now())?)
    })
    .await?;
    Ok(Json(Retried { revived }))
}
