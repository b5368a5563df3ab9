//! `incident serve`: one process holds the store and shares it over HTTP — a versioned
//! JSON API (`/api/v1`), server-sent change events and a server-rendered dashboard.
//!
//! Reads run concurrently in read transactions (each on a blocking thread). Lifecycle
//! changes share write transactions (group commit, see `batch`). A 2xx answer to a change
//! is sent only after its transaction committed durably.
//!
//! Extending: [`router`] builds the whole [`axum::Router`] from an [`AppState`]; merge
//! more routes into it, and spawn background work that stops on
//! [`AppState::shutdown_requested`], then pass the router to [`run`].

mod api;
mod auth;
mod batch;
mod dashboard;
mod error;
mod metrics;
mod openapi;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::Router;
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, watch};

use crate::error::{Error, Result};
use crate::manager::IncidentManager;
use crate::metrics::SlaTargets;
use crate::model::IncidentId;
use crate::notify::{Background, DeliveryCounters, EventKind, Hooks, NotifyConfig};
use crate::observe::HttpMetrics;

pub use api::{
    AnalyzeRequest, AtRequest, CreateRequest, Created, Health, KbInputs, KbSuggestion, MAX_PAGE,
    NoteRequest, Page, PatternDetail, ReopenRequest, ReportFormat, ReportRequest, ResolveRequest,
    Retried, RetryRequest, TokenCreated, TokenRequest, UpdateRequest, kb_inputs, render_report,
};
pub use auth::{Caller, USER_HEADER};
pub use error::{ApiError, ErrorBody};

/// Largest JSON request body, in bytes; uploads (migrate, import) are streamed instead.
pub const DEFAULT_BODY_LIMIT: usize = 1 << 20;

/// How the server runs.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    pub addr: SocketAddr,
    /// Refuse requests without a token even on a loopback address.
    pub require_token: bool,
    /// The knowledge-base directory `kb suggest` and the patterns page read.
    pub kb_dir: PathBuf,
    /// SLA targets for the dashboard's countdowns and the report's default.
    pub sla: SlaTargets,
    pub body_limit: usize,
    /// Notification targets, delivery settings and the escalation policy (`--config`).
    pub notify: Arc<NotifyConfig>,
    /// How often the escalation timer evaluates the policy.
    pub escalate_every: Duration,
}

/// A change, as sent to event subscribers (the dashboard's live updates).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ChangeEvent {
    /// `created`, `updated`, `resolved`, `closed`, `reopened`, `note`, `imported`, `migrated`.
    pub action: String,
    pub id: Option<IncidentId>,
    /// Who made it: a token name, or `anonymous` on an open loopback server.
    pub by: String,
}

/// A logged-in dashboard session.
#[derive(Clone, Debug)]
pub(crate) struct Session {
    pub(crate) name: String,
    pub(crate) role: crate::auth::Role,
    pub(crate) csrf: String,
}

pub(crate) struct Inner {
    pub(crate) manager: Arc<IncidentManager>,
    /// Lifecycle changes go through it, to share commits (see [`batch`]).
    pub(crate) writer: batch::Batcher,
    pub(crate) opts: ServeOptions,
    /// Whether every request needs a token (non-loopback, or `--require-token`).
    pub(crate) auth_required: bool,
    pub(crate) events: broadcast::Sender<ChangeEvent>,
    pub(crate) sessions: Mutex<HashMap<String, Session>>,
    shutdown_tx: watch::Sender<bool>,
    pub(crate) http_metrics: HttpMetrics,
    /// The delivery worker's counters, once [`start_background`] started it.
    pub(crate) delivery: OnceLock<Arc<DeliveryCounters>>,
}

/// What every handler shares: the store, the options, sessions and the event channel.
#[derive(Clone)]
pub struct AppState(pub(crate) Arc<Inner>);

impl AppState {
    /// Checks the options against the store: a non-loopback address needs at least one
    /// token, since anyone who can reach it could otherwise change the store.
    pub fn new(manager: IncidentManager, opts: ServeOptions) -> Result<Self> {
        let loopback = opts.addr.ip().is_loopback();
        if !loopback && !crate::auth::has_tokens(&manager)? {
            return Err(Error::invalid(
                "addr",
                format!(
                    "{} is not a loopback address and the database has no tokens; create one \
                     first (`incident token create --name NAME --role admin`)",
                    opts.addr
                ),
            ));
        }
        let (events, _) = broadcast::channel(1024);
        let (shutdown_tx, _) = watch::channel(false);
        let manager = Arc::new(manager);
        let writer = batch::Batcher::start(manager.clone())
            .map_err(|e| Error::listen(opts.addr.to_string(), e))?;
        Ok(AppState(Arc::new(Inner {
            auth_required: !loopback || opts.require_token,
            manager,
            writer,
            opts,
            events,
            sessions: Mutex::new(HashMap::new()),
            shutdown_tx,
            http_metrics: HttpMetrics::default(),
            delivery: OnceLock::new(),
        })))
    }

    /// The store.
    pub fn manager(&self) -> &IncidentManager {
        &self.0.manager
    }

    /// Applies a lifecycle change in the next group commit; answers once it is durable.
    pub(crate) async fn apply(
        &self,
        op: crate::manager::Op,
    ) -> std::result::Result<crate::manager::Applied, ApiError> {
        self.0.writer.apply(op).await
    }

    /// The options the server runs with.
    pub fn options(&self) -> &ServeOptions {
        &self.0.opts
    }

    /// Every change from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<ChangeEvent> {
        self.0.events.subscribe()
    }

    /// Tells subscribers about a change (none listening is fine).
    pub fn publish(&self, event: ChangeEvent) {
        let _ = self.0.events.send(event);
    }

    /// Resolves when the server begins shutting down (SIGTERM, Ctrl-C or [`AppState::shutdown`]).
    pub async fn shutdown_requested(&self) {
        let mut rx = self.0.shutdown_tx.subscribe();
        let _ = rx.wait_for(|stop| *stop).await;
    }

    /// Starts a graceful shutdown: no new connections, running requests finish.
    pub fn shutdown(&self) {
        self.0.shutdown_tx.send_replace(true);
    }
}

/// The whole application: API, OpenAPI document, events and dashboard, with request
/// logging and JSON 404s.
pub fn router(state: AppState) -> Router {
    let limit = state.0.opts.body_limit;
    Router::new()
        .merge(api::routes(limit))
        .merge(dashboard::routes())
        .route("/metrics", axum::routing::get(metrics::metrics))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .fallback(error::not_found)
        .layer(
            tower_http::trace::TraceLayer::new_for_http()
                .make_span_with(
                    tower_http::trace::DefaultMakeSpan::new()
                        .level(tracing::Level::INFO)
                        .include_headers(false),
                )
                .on_response(
                    tower_http::trace::DefaultOnResponse::new().level(tracing::Level::INFO),
                ),
        )
        .with_state(state)
}

/// Serves `app` on `listener` until SIGTERM, Ctrl-C or [`AppState::shutdown`]; running
/// requests finish first.
pub async fn run(
    listener: tokio::net::TcpListener,
    state: AppState,
    app: Router,
) -> std::io::Result<()> {
    run_until(listener, state, app, shutdown_signal()).await
}

async fn run_until(
    listener: tokio::net::TcpListener,
    state: AppState,
    app: Router,
    signal: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let signals = state.clone();
    tokio::spawn(async move {
        signal.await;
        tracing::info!("shutting down");
        signals.shutdown();
    });
    let stop = state.clone();
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { stop.shutdown_requested().await })
        .await
}

/// Resolves on SIGTERM or Ctrl-C. The SIGTERM handler is installed when this is called,
/// not when first polled: a SIGTERM right after the server says it listens must stop it
/// gracefully, not kill it.
fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    async move {
        let ctrl_c = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        #[cfg(unix)]
        let term = async move {
            match term {
                Some(mut s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let term = std::future::pending::<()>();
        tokio::select! {
            _ = ctrl_c => {},
            _ = term => {},
        }
    }
}

/// Binds `opts.addr` and serves until a shutdown signal, on a runtime of its own.
/// `ready` gets the bound address (port 0 picks a free one) once connections are accepted.
pub fn serve(
    manager: IncidentManager,
    opts: ServeOptions,
    ready: impl FnOnce(SocketAddr, &AppState),
) -> Result<()> {
    let state = AppState::new(manager, opts)?;
    let addr = state.0.opts.addr;
    let listen_err = |source: std::io::Error| Error::listen(addr.to_string(), source);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(listen_err)?;
    // The last handle to the store is dropped here, outside the runtime: PostgreSQL's
    // blocking client cannot close its connections from a runtime thread.
    let keep = state.clone();
    let served = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(listen_err)?;
        let bound = listener.local_addr().map_err(listen_err)?;
        let signal = shutdown_signal();
        ready(bound, &state);
        let background = start_background(&state);
        let app = router(state.clone());
        let served = run_until(listener, state, app, signal)
            .await
            .map_err(listen_err);
        // Joining waits for an in-flight delivery (at most one request timeout).
        let _ = tokio::task::spawn_blocking(move || background.stop()).await;
        served
    });
    drop(rt);
    drop(keep);
    served
}

/// Lends the server's store to the background threads.
struct Held(AppState);

impl std::ops::Deref for Held {
    type Target = IncidentManager;
    fn deref(&self) -> &IncidentManager {
        self.0.manager()
    }
}

/// Starts the delivery worker (when `notify` has targets) and the escalation timer (when
/// there is a policy, or a target takes SLA events, which the same evaluation writes);
/// their counters feed `/metrics`, firings reach the dashboard's live updates.
pub fn start_background(state: &AppState) -> Background {
    let config = Arc::clone(&state.0.opts.notify);
    let sla_events = config.targets.iter().any(|t| {
        t.events
            .iter()
            .any(|k| matches!(k, EventKind::SlaAtRisk | EventKind::SlaBreached))
    });
    let every =
        (!config.escalation.is_empty() || sla_events).then_some(state.0.opts.escalate_every);
    let events = state.clone();
    let hooks = Hooks {
        error: Arc::new(|what, e| tracing::warn!(what, error = %e, "background work failed")),
        delivered: Arc::new(|r| {
            for f in &r.failures {
                tracing::warn!("delivery failed: {f}");
            }
            tracing::info!(
                delivered = r.delivered,
                retrying = r.retrying,
                dead = r.dead,
                routed = r.routed,
                "outbox pass"
            )
        }),
        escalated: Arc::new(move |r| {
            for f in &r.fired {
                tracing::info!(incident = %f.id, step = %f.step, "escalated");
                events.publish(ChangeEvent {
                    action: "escalated".into(),
                    id: Some(f.id),
                    by: "escalation".into(),
                });
            }
        }),
    };
    let held = state.clone();
    let bg = Background::start(move || Ok(Held(held.clone())), config, every, hooks);
    let _ = state.0.delivery.set(Arc::clone(&bg.counters));
    bg
}
