//! The web dashboard: pages rendered on the server by maud (which escapes every value),
//! forms with a per-session CSRF token, and a few lines of script for live updates.

use std::collections::HashMap;

use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::api::blocking;
use super::auth::{SESSION_COOKIE, cookie, session, session_alive};
use super::error::ApiError;
use super::{AppState, ChangeEvent, Session};
use crate::auth::Role;
use crate::manager::{Applied, NewIncident, Op, ResolveInput, Update};
use crate::metrics::{AlertState, SlaMeasure, alert_state, open_deadlines};
use crate::model::{Category, Incident, IncidentId, Origin, Priority, Status, Timestamp};
use crate::store::{Filter, Order};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/new", get(new_page))
        .route("/incidents", post(create))
        .route("/incidents/{id}", get(incident_page))
        .route("/incidents/{id}/{action}", post(act))
        .route("/charts", get(charts_page))
        .route("/report.html", get(report_html))
        .route("/patterns", get(patterns_page))
        .route("/outbox", get(outbox_page))
        .route("/outbox/retry", post(outbox_retry))
}

/// Who is looking at a page; a new anonymous session on an open loopback server.
struct Viewer {
    name: String,
    role: Role,
    csrf: String,
    /// A cookie to set: the session was made for this request.
    set_cookie: Option<String>,
}

fn random_hex() -> String {
    let mut b = [0u8; 24];
    // Without OS randomness no session can be made safely; the empty id matches nothing.
    if getrandom::fill(&mut b).is_err() {
        return String::new();
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Sessions kept in memory at most.
const MAX_SESSIONS: usize = 10_000;

fn session_cookie(id: &str) -> String {
    format!("{SESSION_COOKIE}={id}; Path=/; HttpOnly; Secure; SameSite=Strict")
}

fn new_session(state: &AppState, name: String, role: Role) -> Option<String> {
    let id = random_hex();
    let csrf = random_hex();
    if id.is_empty() || csrf.is_empty() {
        return None;
    }
    let mut sessions = state.0.sessions.lock().ok()?;
    // Browsers that drop cookies would make a session per page: anonymous ones go first.
    if sessions.len() >= MAX_SESSIONS {
        sessions.retain(|_, s| s.name != "anonymous");
        if sessions.len() >= MAX_SESSIONS {
            sessions.clear();
        }
    }
    sessions.insert(id.clone(), Session { name, role, csrf });
    Some(id)
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        if let Some((_, s)) = session(state, parts)
            && session_alive(state, &s.name).await.unwrap_or(false)
        {
            return Ok(Viewer {
                name: s.name,
                role: s.role,
                csrf: s.csrf,
                set_cookie: None,
            });
        }
        if state.0.auth_required {
            return Err(Redirect::to("/login").into_response());
        }
        let id = new_session(state, "anonymous".into(), Role::Admin)
            .ok_or_else(|| ApiError::internal("cannot start a session").into_response())?;
        let csrf = state
            .0
            .sessions
            .lock()
            .ok()
            .and_then(|s| s.get(&id).map(|s| s.csrf.clone()))
            .unwrap_or_default();
        Ok(Viewer {
            name: "anonymous".into(),
            role: Role::Admin,
            csrf,
            set_cookie: Some(session_cookie(&id)),
        })
    }
}

impl Viewer {
    /// The refusal of a form without this session's CSRF token, or from a role below `role`.
    fn refuse(&self, form: &HashMap<String, String>, role: Role) -> Option<Response> {
        if form.get("csrf").map(String::as_str) != Some(self.csrf.as_str()) {
            return Some(error_page(
                self,
                StatusCode::FORBIDDEN,
                "the form's CSRF token does not match this session; reload the page and try again",
            ));
        }
        if self.role < role {
            return Some(error_page(
                self,
                StatusCode::FORBIDDEN,
                &format!(
                    "token {} has role {}; this needs role {role}",
                    self.name, self.role
                ),
            ));
        }
        None
    }

    fn respond(&self, status: StatusCode, body: Markup) -> Response {
        let mut headers = HeaderMap::new();
        if let Some(c) = self
            .set_cookie
            .as_deref()
            .and_then(|c| HeaderValue::from_str(c).ok())
        {
            headers.insert(header::SET_COOKIE, c);
        }
        (status, headers, body).into_response()
    }
}

const STYLE: &str = r#"
body{font-family:system-ui,"Noto Sans CJK JP","Noto Sans JP","Hiragino Sans",sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
header{background:#1d2330;color:#fff;padding:.6rem 1.2rem;display:flex;gap:1.2rem;align-items:center}
header a{color:#fff;text-decoration:none}header .who{margin-left:auto;font-size:.9em;opacity:.8}
main{padding:1rem 1.2rem}table{border-collapse:collapse;width:100%;background:#fff}
th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid #e3e6ea;vertical-align:top}
th{background:#eef0f3;font-weight:600}.breaching{color:#b00020;font-weight:600}.at_risk{color:#a35a00;font-weight:600}
.on_track{color:#2e7d32}form.inline{display:inline}fieldset{border:1px solid #d6d9de;background:#fff;margin:.6rem 0}
label{display:block;margin:.3rem 0}input[type=text],textarea,select{font:inherit;min-width:22rem}
.error{background:#fde8ea;border:1px solid #b00020;padding:.6rem}.filters label{display:inline-block;margin-right:.8rem}
pre{white-space:pre-wrap;background:#fff;border:1px solid #e3e6ea;padding:.6rem}
"#;

const LIVE: &str = r#"
(function(){
  if(!window.EventSource){return;}
  var es=new EventSource('/api/v1/events');
  es.addEventListener('change',function(){
    fetch(location.href,{credentials:'same-origin'}).then(function(r){return r.text();}).then(function(t){
      var doc=new DOMParser().parseFromString(t,'text/html');
      var fresh=doc.getElementById('live'),old=document.getElementById('live');
      if(fresh&&old){old.replaceWith(fresh);}
    });
  });
})();
"#;

fn layout(v: &Viewer, title: &str, live: bool, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="ja" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — incident" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header {
                    strong { "incident" }
                    a href="/" { "Open incidents" }
                    a href="/new" { "New incident" }
                    a href="/charts" { "Charts" }
                    a href="/patterns" { "Patterns" }
                    a href="/outbox" { "Outbox" }
                    span.who {
                        (v.name) " (" (v.role) ")"
                        @if v.name != "anonymous" {
                            " "
                            form.inline method="post" action="/logout" {
                                input type="hidden" name="csrf" value=(v.csrf);
                                button type="submit" { "Log out" }
                            }
                        }
                    }
                }
                main { (body) }
                @if live { script { (PreEscaped(LIVE)) } }
            }
        }
    }
}

fn error_page(v: &Viewer, status: StatusCode, message: &str) -> Response {
    v.respond(
        status,
        layout(
            v,
            "Error",
            false,
            html! { p.error { (message) } p { a href="javascript:history.back()" { "Back" } } },
        ),
    )
}

async fn login_page(State(st): State<AppState>) -> Markup {
    login_form(&st, None)
}

fn login_form(st: &AppState, error: Option<&str>) -> Markup {
    html! {
        (DOCTYPE)
        html lang="ja" {
            head { meta charset="utf-8"; title { "Log in — incident" } style { (PreEscaped(STYLE)) } }
            body {
                header { strong { "incident" } }
                main {
                    h1 { "Log in" }
                    @if let Some(e) = error { p.error { (e) } }
                    @if !st.0.auth_required { p { "This server is open on loopback: logging in is optional (changes are then recorded as anonymous)." } }
                    form method="post" action="/login" {
                        label { "Token " input type="password" name="token" autocomplete="off" required; }
                        button type="submit" { "Log in" }
                    }
                }
            }
        }
    }
}

async fn login(State(st): State<AppState>, Form(form): Form<HashMap<String, String>>) -> Response {
    let secret = form.get("token").cloned().unwrap_or_default();
    let st2 = st.clone();
    let found =
        tokio::task::spawn_blocking(move || crate::auth::authenticate(st2.manager(), &secret))
            .await;
    match found {
        Ok(Ok(Some(t))) => match new_session(&st, t.name, t.role) {
            Some(id) => {
                let mut headers = HeaderMap::new();
                if let Ok(c) = HeaderValue::from_str(&session_cookie(&id)) {
                    headers.insert(header::SET_COOKIE, c);
                }
                (headers, Redirect::to("/")).into_response()
            }
            None => ApiError::internal("cannot start a session").into_response(),
        },
        Ok(Ok(None)) => (
            StatusCode::UNAUTHORIZED,
            login_form(&st, Some("the token is not valid (unknown or revoked)")),
        )
            .into_response(),
        Ok(Err(e)) => ApiError::from(e).into_response(),
        Err(e) => ApiError::internal(e.to_string()).into_response(),
    }
}

async fn logout(
    State(st): State<AppState>,
    v: Viewer,
    headers: axum::http::HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Some(r) = v.refuse(&form, Role::Read) {
        return r;
    }
    let id = cookie(&headers, SESSION_COOKIE);
    if let (Some(id), Ok(mut sessions)) = (id, st.0.sessions.lock()) {
        sessions.remove(&id);
    }
    let mut out = HeaderMap::new();
    if let Ok(c) = HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0"
    )) {
        out.insert(header::SET_COOKIE, c);
    }
    (out, Redirect::to("/login")).into_response()
}

/// An open SLA deadline: what it measures, when it is, where it stands (`None`: on track).
type Deadline = (SlaMeasure, Timestamp, Option<AlertState>);

/// An incident's most urgent open SLA deadline.
fn sla_of(inc: &Incident, st: &AppState, now: Timestamp) -> Option<Deadline> {
    if !inc.status.is_active() {
        return None;
    }
    let target = st.options().sla.get(inc.priority);
    open_deadlines(
        target,
        inc.created_at.micros(),
        inc.acknowledged_at.map(Timestamp::micros),
        None,
    )
    .into_iter()
    .flatten()
    .min_by_key(|(_, d)| *d)
    .map(|(m, d)| (m, Timestamp::from_micros(d), alert_state(d, now.micros())))
}

/// `due in 2h 05m` or `breached 35m ago`.
fn countdown(deadline: Timestamp, now: Timestamp) -> String {
    let secs = (deadline.micros() - now.micros()) / 1_000_000;
    let m = secs.abs() / 60;
    let text = if m >= 24 * 60 {
        format!("{}d {:02}h", m / (24 * 60), (m / 60) % 24)
    } else if m >= 60 {
        format!("{}h {:02}m", m / 60, m % 60)
    } else {
        format!("{m}m")
    };
    if secs < 0 {
        format!("breached {text} ago")
    } else {
        format!("due in {text}")
    }
}

fn state_class(s: Option<AlertState>) -> &'static str {
    match s {
        Some(AlertState::Breaching) => "breaching",
        Some(AlertState::AtRisk) => "at_risk",
        None => "on_track",
    }
}

fn measure_name(m: SlaMeasure) -> &'static str {
    match m {
        SlaMeasure::Response => "response",
        SlaMeasure::Resolution => "resolution",
    }
}

fn select_options<T: Copy + std::fmt::Display>(all: &[T], chosen: &[String]) -> Markup {
    html! {
        option value="" { "(any)" }
        @for v in all {
            @let s = v.to_string();
            option value=(s) selected[chosen.contains(&s)] { (s) }
        }
    }
}

async fn index(
    State(st): State<AppState>,
    v: Viewer,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let get = |k: &str| {
        q.get(k)
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    };
    let component = get("component");
    let status = get("status");
    let category = get("category");
    let origin = get("origin");
    let parsed: Result<Filter, String> = (|| {
        Ok(Filter {
            statuses: match &status {
                Some(s) => vec![s.parse::<Status>().map_err(|e| e.to_string())?],
                None => vec![Status::Open, Status::InProgress],
            },
            categories: category
                .as_deref()
                .map(|c| c.parse::<Category>().map_err(|e| e.to_string()))
                .transpose()?
                .into_iter()
                .collect(),
            origins: origin
                .as_deref()
                .map(|c| c.parse::<Origin>().map_err(|e| e.to_string()))
                .transpose()?
                .into_iter()
                .collect(),
            components: component.clone().into_iter().collect(),
            limit: Some(2000),
            order: Order::NewestFirst,
            ..Filter::default()
        })
    })();
    let filter = match parsed {
        Ok(f) => f,
        Err(e) => return error_page(&v, StatusCode::BAD_REQUEST, &e),
    };
    let incidents = match blocking(&st, move |m| Ok(m.query(&filter)?)).await {
        Ok(i) => i,
        Err(e) => return error_page(&v, e.status, &e.body.message),
    };
    let now = Timestamp::now();
    let mut rows: Vec<(Incident, Option<Deadline>)> = incidents
        .into_iter()
        .map(|i| {
            let s = sla_of(&i, &st, now);
            (i, s)
        })
        .collect();
    // Breaching first, then at risk, then the rest; within each, by priority, then deadline.
    rows.sort_by_key(|(i, s)| {
        let rank = match s.and_then(|s| s.2) {
            Some(AlertState::Breaching) => 0,
            Some(AlertState::AtRisk) => 1,
            None if s.is_some() => 2,
            None => 3,
        };
        (rank, i.priority, s.map_or(i64::MAX, |s| s.1.micros()))
    });
    let chosen = |o: &Option<String>| o.clone().into_iter().collect::<Vec<_>>();
    let body = html! {
        h1 { "Incidents" }
        form.filters method="get" action="/" {
            label { "Component " input type="text" name="component" value=[component.as_deref()]; }
            label { "Status " select name="status" { (select_options(Status::ALL, &chosen(&status))) } }
            label { "Category " select name="category" { (select_options(Category::ALL, &chosen(&category))) } }
            label { "Origin " select name="origin" { (select_options(Origin::ALL, &chosen(&origin))) } }
            button type="submit" { "Filter" }
            " " a href="/" { "Reset" }
        }
        div #live {
            p { (rows.len()) " incidents" (if status.is_none() { " (open and in progress)" } else { "" }) }
            table #incidents {
                thead { tr { th { "ID" } th { "SLA" } th { "Priority" } th { "Status" } th { "Category" } th { "Components" } th { "Assignee" } th { "Title" } } }
                tbody {
                    @for (i, s) in &rows {
                        tr {
                            td { a href={ "/incidents/" (i.id) } { (i.id) } }
                            td {
                                @if let Some((m, d, state)) = s {
                                    span class=(state_class(*state)) title={ (measure_name(*m)) " deadline " (d.to_local_string()) } {
                                        (measure_name(*m)) " " (countdown(*d, now))
                                    }
                                } @else { "-" }
                            }
                            td { (i.priority) }
                            td { (i.status) }
                            td { (i.category) }
                            td { (i.affected_components.join(", ")) }
                            td { (i.assignee.as_deref().unwrap_or("-")) }
                            td.title { (i.title) }
                        }
                    }
                }
            }
        }
    };
    v.respond(StatusCode::OK, layout(&v, "Incidents", true, body))
}

async fn incident_page(State(st): State<AppState>, v: Viewer, Path(id): Path<String>) -> Response {
    let id = match id.parse::<IncidentId>() {
        Ok(id) => id,
        Err(e) => return error_page(&v, StatusCode::BAD_REQUEST, &e.to_string()),
    };
    let inc = match blocking(&st, move |m| Ok(m.get(id)?)).await {
        Ok(i) => i,
        Err(e) => return error_page(&v, e.status, &e.body.message),
    };
    let now = Timestamp::now();
    let sla = sla_of(&inc, &st, now);
    let csrf = v.csrf.clone();
    let hidden = html! { input type="hidden" name="csrf" value=(csrf); };
    let body = html! {
        div #live {
            h1 { (inc.id) " " span.title { (inc.title) } }
            table {
                tr { th { "Status" } td { (inc.status) } }
                tr { th { "Priority" } td { (inc.priority) } }
                tr { th { "Category" } td { (inc.category) } }
                tr { th { "SLA" } td {
                    @if let Some((m, d, state)) = sla {
                        span class=(state_class(state)) { (measure_name(m)) " " (countdown(d, now)) " (" (d.to_local_string()) ")" }
                    } @else { "-" }
                } }
                tr { th { "Components" } td { (inc.affected_components.join(", ")) } }
                tr { th { "Assignee" } td { (inc.assignee.as_deref().unwrap_or("-")) } }
                tr { th { "Impact" } td { (inc.impact) } }
                tr { th { "Description" } td { pre { (inc.description) } } }
                tr { th { "Created" } td { (inc.created_at.to_local_string()) } }
                @if let Some(p) = &inc.matched_pattern {
                    tr { th { "Pattern" } td { a href="/patterns" { (p.pattern_id) } " " (p.name) } }
                }
                @if let Some(r) = &inc.resolution {
                    tr { th { "Root cause" } td { (r.root_cause) } }
                    tr { th { "Actions" } td { (r.actions_taken.join("; ")) } }
                }
            }
            h2 { "Timeline" }
            table #timeline {
                thead { tr { th { "Time" } th { "Action" } th { "Details" } } }
                tbody {
                    @for e in &inc.timeline {
                        tr { td { (e.timestamp.to_local_string()) } td { (e.action) } td { (e.details) } }
                    }
                }
            }
        }
        @if inc.status == Status::Open {
            form method="post" action={ "/incidents/" (inc.id) "/acknowledge" } {
                (hidden) button #acknowledge type="submit" { "Acknowledge (in progress)" }
            }
        }
        @if inc.status.is_active() {
            fieldset { legend { "Update" }
                form method="post" action={ "/incidents/" (inc.id) "/update" } {
                    (hidden)
                    label { "Priority " select name="priority" { (select_options(Priority::ALL, &[inc.priority.to_string()])) } }
                    label { "Assignee " input type="text" name="assignee" value=(inc.assignee.clone().unwrap_or_default()); }
                    label { "Title " input type="text" name="title" value=(inc.title); }
                    label { "Note " input type="text" name="note"; }
                    button type="submit" { "Update" }
                }
            }
            fieldset { legend { "Resolve" }
                form #resolve method="post" action={ "/incidents/" (inc.id) "/resolve" } {
                    (hidden)
                    label { "Actions taken (one per line) " textarea name="actions" rows="3" required {} }
                    label { "Root cause " input type="text" name="root_cause" required; }
                    label { "Preventive measures (one per line) " textarea name="preventive" rows="2" {} }
                    button type="submit" { "Resolve" }
                }
            }
        }
        @if inc.status == Status::Resolved {
            form method="post" action={ "/incidents/" (inc.id) "/close" } {
                (hidden) button #close type="submit" { "Close" }
            }
        }
        @if !inc.status.is_active() {
            form method="post" action={ "/incidents/" (inc.id) "/reopen" } {
                (hidden) label { "Why " input type="text" name="note"; } button type="submit" { "Reopen" }
            }
        }
        fieldset { legend { "Note" }
            form #note method="post" action={ "/incidents/" (inc.id) "/note" } {
                (hidden) input type="text" name="text" required; button type="submit" { "Add note" }
            }
        }
    };
    v.respond(StatusCode::OK, layout(&v, &inc.id.to_string(), true, body))
}

fn lines(s: Option<&String>) -> Vec<String> {
    s.map(|t| {
        t.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect()
    })
    .unwrap_or_default()
}

fn field(form: &HashMap<String, String>, k: &str) -> Option<String> {
    form.get(k).cloned()
}

/// A form's change, applied as the API applies it, then back to the incident page.
async fn act(
    State(st): State<AppState>,
    v: Viewer,
    Path((id, action)): Path<(String, String)>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Some(r) = v.refuse(&form, Role::Write) {
        return r;
    }
    let id = match id.parse::<IncidentId>() {
        Ok(id) => id,
        Err(e) => return error_page(&v, StatusCode::BAD_REQUEST, &e.to_string()),
    };
    let parse_priority = form.get("priority").map(|p| p.parse::<Priority>());
    let priority = match parse_priority.transpose() {
        Ok(p) => p,
        Err(e) => return error_page(&v, StatusCode::BAD_REQUEST, &e.to_string()),
    };
    let by = v.name.clone();
    let (event, op) = match action.as_str() {
        "acknowledge" => (
            "updated",
            Op::Update(
                id,
                Update {
                    status: Some(Status::InProgress),
                    by: Some(by),
                    ..Update::default()
                },
            ),
        ),
        "update" => {
            let u = Update {
                priority,
                assignee: field(&form, "assignee"),
                title: field(&form, "title"),
                note: field(&form, "note").filter(|n| !n.trim().is_empty()),
                by: Some(by),
                ..Update::default()
            };
            ("updated", Op::Update(id, u))
        }
        "resolve" => {
            let r = ResolveInput {
                actions: lines(form.get("actions")),
                root_cause: field(&form, "root_cause").unwrap_or_default(),
                preventive: lines(form.get("preventive")),
                by: Some(by),
                ..ResolveInput::default()
            };
            ("resolved", Op::Resolve(id, r))
        }
        "close" => (
            "closed",
            Op::Close {
                id,
                at: None,
                by: Some(by),
            },
        ),
        "reopen" => (
            "reopened",
            Op::Reopen {
                id,
                note: field(&form, "note"),
                at: None,
                by: Some(by),
            },
        ),
        "note" => (
            "note",
            Op::Note {
                id,
                text: field(&form, "text").unwrap_or_default(),
                at: None,
                by: Some(by),
            },
        ),
        other => {
            return error_page(
                &v,
                StatusCode::NOT_FOUND,
                &format!("no such action: {other}"),
            );
        }
    };
    match st.apply(op).await {
        Ok(Applied::Changed(inc) | Applied::Created(inc, _)) => {
            st.publish(ChangeEvent {
                action: event.into(),
                id: Some(inc.id),
                by: v.name.clone(),
            });
            Redirect::to(&format!("/incidents/{}", inc.id)).into_response()
        }
        Err(e) => error_page(&v, e.status, &e.body.message),
    }
}

async fn new_page(v: Viewer) -> Response {
    let body = html! {
        h1 { "New incident" }
        form #create method="post" action="/incidents" {
            input type="hidden" name="csrf" value=(v.csrf);
            label { "Title " input type="text" name="title" required; }
            label { "Category " select name="category" { @for c in Category::ALL { option value=(c) { (c) } } } }
            label { "Priority " select name="priority" { @for p in Priority::ALL { option value=(p) selected[*p == Priority::Medium] { (p) } } } }
            label { "Components (comma-separated) " input type="text" name="components" required; }
            label { "Description " textarea name="description" rows="4" {} }
            label { "Impact " input type="text" name="impact"; }
            label { "Assignee " input type="text" name="assignee"; }
            button type="submit" { "Create" }
        }
    };
    v.respond(StatusCode::OK, layout(&v, "New incident", false, body))
}

async fn create(
    State(st): State<AppState>,
    v: Viewer,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Some(r) = v.refuse(&form, Role::Write) {
        return r;
    }
    let parsed = (|| -> Result<NewIncident, String> {
        Ok(NewIncident {
            category: field(&form, "category")
                .unwrap_or_default()
                .parse()
                .map_err(|e: crate::ParseError| e.to_string())?,
            priority: field(&form, "priority")
                .unwrap_or_default()
                .parse()
                .map_err(|e: crate::ParseError| e.to_string())?,
            title: field(&form, "title").unwrap_or_default(),
            description: field(&form, "description").unwrap_or_default(),
            components: field(&form, "components")
                .unwrap_or_default()
                .split(',')
                .map(|s| s.trim().to_string())
                .collect(),
            impact: field(&form, "impact").unwrap_or_default(),
            assignee: field(&form, "assignee").filter(|a| !a.trim().is_empty()),
            at: None,
            by: Some(v.name.clone()),
        })
    })();
    let new = match parsed {
        Ok(n) => n,
        Err(e) => return error_page(&v, StatusCode::BAD_REQUEST, &e),
    };
    match st.apply(Op::Create(new)).await {
        Ok(Applied::Created(inc, _) | Applied::Changed(inc)) => {
            st.publish(ChangeEvent {
                action: "created".into(),
                id: Some(inc.id),
                by: v.name.clone(),
            });
            Redirect::to(&format!("/incidents/{}", inc.id)).into_response()
        }
        Err(e) => error_page(&v, e.status, &e.body.message),
    }
}

/// Undelivered notifications: dead letters first, then pending; admins can retry.
async fn outbox_page(State(st): State<AppState>, v: Viewer) -> Response {
    let view = match blocking(&st, |m| {
        Ok(crate::notify::outbox_view(m, false, Timestamp::now())?)
    })
    .await
    {
        Ok(view) => view,
        Err(e) => return error_page(&v, e.status, &e.body.message),
    };
    let mut rows: Vec<&crate::notify::OutboxRow> = view.rows.iter().collect();
    rows.sort_by_key(|r| (r.state != "dead", r.at));
    let admin = v.role >= Role::Admin;
    let body = html! {
        h1 { "Outbox" }
        @if admin && view.dead > 0 {
            form.inline method="post" action="/outbox/retry" {
                input type="hidden" name="csrf" value=(v.csrf);
                input type="hidden" name="id" value="all";
                button type="submit" { "Retry every dead letter" }
            }
        }
        div id="live" {
            p id="counts" {
                (view.pending) " pending (" (view.failing) " failing), "
                (view.dead) " dead, " (view.unrouted) " not yet routed"
                @if view.damaged > 0 { ", " (view.damaged) " damaged (never sent; run incident check)" }
            }
            @if rows.is_empty() {
                p { "Nothing waiting: every notification was delivered." }
            } @else {
                table {
                    thead { tr {
                        th { "ID" } th { "State" } th { "Attempts" } th { "Event" }
                        th { "Incident" } th { "Target" } th { "Last error / next try" }
                        @if admin { th {} }
                    } }
                    tbody {
                        @for r in &rows {
                            tr.(r.state) {
                                td { (r.id) }
                                td { (r.state) }
                                td { (r.attempts) }
                                td { (r.event) br; small { (r.event_id) } }
                                td { @if !r.incident.is_empty() { a href={ "/incidents/" (r.incident) } { (r.incident) } } }
                                td { (r.target.as_deref().unwrap_or("")) }
                                td {
                                    @if let Some(e) = &r.last_error { (e) }
                                    @else if let Some(t) = r.next_at { "due " (t) }
                                }
                                @if admin {
                                    td { @if r.state == "dead" {
                                        form.inline method="post" action="/outbox/retry" {
                                            input type="hidden" name="csrf" value=(v.csrf);
                                            input type="hidden" name="id" value=(r.id);
                                            button type="submit" { "Retry" }
                                        }
                                    } }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    v.respond(StatusCode::OK, layout(&v, "Outbox", true, body))
}

/// The retry button: revives the dead letter(s) the form names, then back to the outbox.
async fn outbox_retry(
    State(st): State<AppState>,
    v: Viewer,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Some(r) = v.refuse(&form, Role::Admin) {
        return r;
    }
    let Some(id) = field(&form, "id").filter(|i| !i.trim().is_empty()) else {
        return error_page(
            &v,
            StatusCode::BAD_REQUEST,
            "id: which dead letter to retry",
        );
    };
    match blocking(&st, move |m| {
        Ok(crate::notify::retry(m, &id, Timestamp::now())?)
    })
    .await
    {
        Ok(_) => Redirect::to("/outbox").into_response(),
        Err(e) => error_page(&v, e.status, &e.body.message),
    }
}

async fn charts_page(v: Viewer) -> Response {
    let body = html! {
        h1 { "Charts" }
        p { "The HTML report of every handled incident (" a href="/report.html" { "open on its own" } ")." }
        iframe src="/report.html" title="metrics report" style="width:100%;height:80vh;border:1px solid #d6d9de;background:#fff" {}
    };
    v.respond(StatusCode::OK, layout(&v, "Charts", false, body))
}

async fn report_html(State(st): State<AppState>, _v: Viewer) -> Response {
    let sla = st.options().sla;
    let req = super::api::ReportRequest {
        format: super::api::ReportFormat::Html,
        ..Default::default()
    };
    match blocking(&st, move |m| super::api::render_report(m, &req, sla)).await {
        Ok((body, ctype)) => ([(header::CONTENT_TYPE, ctype)], body).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn patterns_page(State(st): State<AppState>, v: Viewer) -> Response {
    let kb_dir = st.options().kb_dir.clone();
    let loaded = blocking(&st, move |m| {
        let patterns = m.patterns()?;
        let mut out = Vec::new();
        for p in patterns.into_iter().take(50) {
            let members = m.pattern_members(&p.id, 10)?;
            out.push((p, members));
        }
        let kb = crate::kb::load(&kb_dir).ok().flatten().unwrap_or_default();
        Ok((out, kb))
    })
    .await;
    let (patterns, kb) = match loaded {
        Ok(x) => x,
        Err(e) => return error_page(&v, e.status, &e.body.message),
    };
    let body = html! {
        h1 { "Patterns" }
        @if patterns.is_empty() { p { "No patterns stored yet: run an analysis (" code { "incident analyze" } ")." } }
        @for (p, members) in &patterns {
            section {
                h2 { (p.name) " " small { code { (p.id) } } }
                p { "Template: " code { (p.template) } }
                p { (p.count) " incidents, " (p.recurrences) " recurrences, last seen " (p.last_seen.to_local_string()) }
                @if !p.last_fix.is_empty() { p { "Last fix: " (p.last_fix.join("; ")) } }
                table {
                    thead { tr { th { "ID" } th { "Status" } th { "Created" } th { "Title" } } }
                    tbody { @for i in members {
                        tr { td { a href={ "/incidents/" (i.id) } { (i.id) } } td { (i.status) } td { (i.created_at.to_local_string()) } td { (i.title) } }
                    } }
                }
                @for e in crate::kb::entries_about(&kb, &p.id) {
                    details { summary { "Knowledge base: " (e.entry) " " (e.title) } pre { (e.markdown) } }
                }
            }
        }
    };
    v.respond(StatusCode::OK, layout(&v, "Patterns", false, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countdowns_read_as_people_say_them() {
        let now = Timestamp::from_micros(0);
        let at = |mins: i64| Timestamp::from_micros(mins * 60_000_000);
        assert_eq!(countdown(at(35), now), "due in 35m");
        assert_eq!(countdown(at(125), now), "due in 2h 05m");
        assert_eq!(countdown(at(-90), now), "breached 1h 30m ago");
        assert_eq!(countdown(at(3 * 24 * 60 + 120), now), "due in 3d 02h");
    }
}
