//! Where a command's data comes from: the database file (the library) or an `incident
//! serve` (its JSON API). Both return the same library types; commands render them the
//! same way, so a command prints the same either way.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use incident::auth::{Role, TokenInfo};
use incident::import::{ExportFormat, ImportSummary, MigrateOptions, MigrateSummary};
use incident::notify::OutboxView;
use incident::patterns::{Analysis, AnalyzeOptions, PatternMatch};
use incident::server::{
    AnalyzeRequest, AtRequest, CreateRequest, Created, KbInputs, NoteRequest, Page, PatternDetail,
    ReopenRequest, ReportRequest, ResolveRequest, Retried, RetryRequest, UpdateRequest,
};
use incident::{
    ErrorKind, Filter, Incident, IncidentId, IncidentManager, NewIncident, Order, Pattern,
    ResolveInput, Status, Update,
};

use crate::client::{Client, query};
use crate::config::local_user;

/// The library's kind of a failure, whether it happened on the file or on the server.
pub(crate) fn error_kind(e: &anyhow::Error) -> Option<ErrorKind> {
    if let Some(e) = e.downcast_ref::<incident::Error>() {
        return Some(e.kind());
    }
    let se = e.downcast_ref::<crate::client::ServerError>()?;
    Some(match se.body.code.as_str() {
        "not_found" => ErrorKind::NotFound,
        "refused" => ErrorKind::Refused,
        "invalid" => ErrorKind::InvalidInput,
        "input" => ErrorKind::InvalidData,
        "busy" => ErrorKind::Busy,
        "damaged" => ErrorKind::Damaged,
        _ => ErrorKind::Database,
    })
}

/// For a refused change, the status the incident was in, on the file or on the server.
pub(crate) fn error_status(e: &anyhow::Error) -> Option<Status> {
    if let Some(e) = e.downcast_ref::<incident::Error>() {
        return e.status();
    }
    let se = e.downcast_ref::<crate::client::ServerError>()?;
    se.body.status
}

/// A migration stopped at a bad record: what the input error said, and what was done.
pub(crate) struct MigrateStopped {
    pub(crate) message: String,
    pub(crate) summary: MigrateSummary,
}

/// Every store operation a command needs.
pub(crate) trait Incidents {
    fn create(&self, new: NewIncident) -> Result<(Incident, Option<PatternMatch>)>;
    fn query(&self, filter: &Filter) -> Result<Vec<Incident>>;
    fn get(&self, id: IncidentId) -> Result<Incident>;
    fn update(&self, id: IncidentId, u: Update) -> Result<Incident>;
    fn resolve(&self, id: IncidentId, r: ResolveInput) -> Result<Incident>;
    fn close(&self, id: IncidentId, at: Option<incident::Timestamp>) -> Result<Incident>;
    fn reopen(
        &self,
        id: IncidentId,
        note: Option<&str>,
        at: Option<incident::Timestamp>,
    ) -> Result<Incident>;
    fn note(&self, id: IncidentId, text: &str, at: Option<incident::Timestamp>)
    -> Result<Incident>;
    fn count(&self) -> Result<u64>;
    /// A rendered metrics report.
    fn report(&self, r: &ReportRequest) -> Result<Vec<u8>>;
    /// Every stored pattern, by count.
    fn patterns(&self) -> Result<Vec<Pattern>>;
    fn pattern_members(&self, id: &str, limit: usize) -> Result<Vec<Incident>>;
    fn analyze(&self, opts: &AnalyzeOptions, progress: &dyn Fn(u64)) -> Result<Analysis>;
    fn kb_inputs(&self) -> Result<KbInputs>;
    /// `Ok(Err(..))`: the input stopped the migration.
    fn migrate(
        &self,
        path: &Path,
        opts: &MigrateOptions,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<std::result::Result<MigrateSummary, MigrateStopped>>;
    /// Imports an incident_history.json; errors are the input's or the store's.
    fn import(&self, input: &mut dyn Read) -> Result<ImportSummary>;
    /// Writes every incident; returns the damaged records skipped (with `skip_damaged`).
    fn export(
        &self,
        format: ExportFormat,
        out: &mut dyn Write,
        skip_damaged: bool,
    ) -> Result<Vec<String>>;
    fn token_create(&self, name: &str, role: Role) -> Result<(String, TokenInfo)>;
    fn tokens(&self) -> Result<Vec<TokenInfo>>;
    fn token_revoke(&self, name: &str) -> Result<()>;
    /// The outbox; `dead_only` keeps only dead letters in the rows.
    fn outbox(&self, dead_only: bool) -> Result<OutboxView>;
    /// Revives dead letters matching `id`; how many.
    fn outbox_retry(&self, id: &str) -> Result<u64>;
}

/// The server's address and token, when the CLI is a client.
pub(crate) struct Remote {
    pub(crate) server: Option<String>,
    pub(crate) token: Option<String>,
}

impl Remote {
    pub(crate) fn is_remote(&self) -> bool {
        self.server.is_some()
    }

    /// Refuses a command that needs the database file itself.
    pub(crate) fn local_only(&self, what: &str) -> Result<()> {
        if let Some(s) = &self.server {
            anyhow::bail!(
                "{what} works on the database file, not through a server ({s}); run it on the \
                 server's machine without --server (and without INCIDENT_SERVER)"
            );
        }
        Ok(())
    }

    /// The server, or the database (created when missing if `create`).
    pub(crate) fn open(&self, db: &Option<PathBuf>, create: bool) -> Result<Box<dyn Incidents>> {
        Ok(match &self.server {
            Some(url) => Box::new(Client::new(url, self.token.clone())?),
            None if create => Box::new(crate::config::open(db)?),
            None => Box::new(crate::config::open_existing(db)?),
        })
    }
}

/// Changes made on the file itself are recorded as the local user's.
impl Incidents for IncidentManager {
    fn create(&self, mut new: NewIncident) -> Result<(Incident, Option<PatternMatch>)> {
        new.by = Some(local_user());
        Ok(self.create_incident_matched(new)?)
    }
    fn query(&self, filter: &Filter) -> Result<Vec<Incident>> {
        Ok(IncidentManager::query(self, filter)?)
    }
    fn get(&self, id: IncidentId) -> Result<Incident> {
        Ok(IncidentManager::get(self, id)?)
    }
    fn update(&self, id: IncidentId, mut u: Update) -> Result<Incident> {
        u.by = Some(local_user());
        Ok(self.update_incident(id, u)?)
    }
    fn resolve(&self, id: IncidentId, mut r: ResolveInput) -> Result<Incident> {
        r.by = Some(local_user());
        Ok(self.resolve_incident(id, r)?)
    }
    fn close(&self, id: IncidentId, at: Option<incident::Timestamp>) -> Result<Incident> {
        Ok(self.close_incident_by(id, at, Some(&local_user()))?)
    }
    fn reopen(
        &self,
        id: IncidentId,
        note: Option<&str>,
        at: Option<incident::Timestamp>,
    ) -> Result<Incident> {
        Ok(self.reopen_incident_by(id, note, at, Some(&local_user()))?)
    }
    fn note(
        &self,
        id: IncidentId,
        text: &str,
        at: Option<incident::Timestamp>,
    ) -> Result<Incident> {
        Ok(self.add_note_by(id, text, at, Some(&local_user()))?)
    }
    fn count(&self) -> Result<u64> {
        Ok(IncidentManager::count(self)?)
    }
    fn report(&self, r: &ReportRequest) -> Result<Vec<u8>> {
        Ok(incident::server::render_report(self, r, Default::default())?.0)
    }
    fn patterns(&self) -> Result<Vec<Pattern>> {
        Ok(IncidentManager::patterns(self)?)
    }
    fn pattern_members(&self, id: &str, limit: usize) -> Result<Vec<Incident>> {
        Ok(IncidentManager::pattern_members(self, id, limit)?)
    }
    fn analyze(&self, opts: &AnalyzeOptions, progress: &dyn Fn(u64)) -> Result<Analysis> {
        Ok(incident::patterns::analyze(self, opts, progress)?)
    }
    fn kb_inputs(&self) -> Result<KbInputs> {
        Ok(incident::server::kb_inputs(self)?)
    }
    fn migrate(
        &self,
        path: &Path,
        opts: &MigrateOptions,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<std::result::Result<MigrateSummary, MigrateStopped>> {
        match incident::import::migrate(self, path, opts, progress) {
            Ok(s) => Ok(Ok(s)),
            Err(e) => match e.migration_so_far() {
                Some(summary) => Ok(Err(MigrateStopped {
                    message: std::error::Error::source(&e)
                        .map_or_else(|| e.to_string(), ToString::to_string),
                    summary: summary.clone(),
                })),
                None => Err(e.into()),
            },
        }
    }
    fn import(&self, input: &mut dyn Read) -> Result<ImportSummary> {
        // The whole input is read before anything is written.
        let incidents = incident::import::read_history(input)?;
        Ok(incident::import::import_incidents(self, incidents)?)
    }
    fn export(
        &self,
        format: ExportFormat,
        out: &mut dyn Write,
        skip_damaged: bool,
    ) -> Result<Vec<String>> {
        if skip_damaged {
            Ok(incident::import::export_readable(self, format, out)?)
        } else {
            incident::import::export(self, format, out)?;
            Ok(Vec::new())
        }
    }
    fn token_create(&self, name: &str, role: Role) -> Result<(String, TokenInfo)> {
        Ok(incident::auth::create_token(self, name, role)?)
    }
    fn tokens(&self) -> Result<Vec<TokenInfo>> {
        Ok(incident::auth::list_tokens(self)?)
    }
    fn token_revoke(&self, name: &str) -> Result<()> {
        Ok(incident::auth::revoke_token(self, name)?)
    }

    fn outbox(&self, dead_only: bool) -> Result<OutboxView> {
        Ok(incident::notify::outbox_view(
            self,
            dead_only,
            incident::Timestamp::now(),
        )?)
    }

    fn outbox_retry(&self, id: &str) -> Result<u64> {
        Ok(incident::notify::retry(
            self,
            id,
            incident::Timestamp::now(),
        )?)
    }
}

/// `s` as one URL path segment.
fn segment(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn path_id(id: IncidentId) -> String {
    format!("/incidents/{id}")
}

impl Incidents for Client {
    fn create(&self, new: NewIncident) -> Result<(Incident, Option<PatternMatch>)> {
        let req = CreateRequest {
            category: new.category,
            priority: new.priority,
            title: new.title,
            description: new.description,
            components: new.components,
            impact: new.impact,
            assignee: new.assignee,
            at: new.at,
        };
        let c: Created = self.post("/incidents", &req)?;
        Ok((c.incident, c.pattern_match))
    }

    fn query(&self, f: &Filter) -> Result<Vec<Incident>> {
        let mut base: Vec<(&str, String)> = Vec::new();
        base.extend(f.statuses.iter().map(|v| ("status", v.to_string())));
        base.extend(f.categories.iter().map(|v| ("category", v.to_string())));
        base.extend(f.priorities.iter().map(|v| ("priority", v.to_string())));
        base.extend(f.components.iter().map(|v| ("component", v.clone())));
        base.extend(f.assignees.iter().map(|v| ("assignee", v.clone())));
        base.extend(f.patterns.iter().map(|v| ("pattern", v.clone())));
        base.extend(f.origins.iter().map(|v| ("origin", v.to_string())));
        base.extend(f.since.map(|t| ("since", t.to_rfc3339())));
        base.extend(f.until.map(|t| ("until", t.to_rfc3339())));
        if f.order == Order::OldestFirst {
            base.push(("order", "oldest".into()));
        }
        let mut out = Vec::new();
        let mut after = f.after.map(|a| a.to_string());
        loop {
            let want = f.limit.map_or(usize::MAX, |l| l - out.len());
            if want == 0 {
                break;
            }
            let mut q = base.clone();
            q.push(("limit", want.min(incident::server::MAX_PAGE).to_string()));
            if let Some(a) = &after {
                q.push(("after", a.clone()));
            }
            let page: Page = self.get(&format!("/incidents?{}", query(&q)))?;
            out.extend(page.incidents);
            match page.next_cursor {
                Some(c) => after = Some(c),
                None => break,
            }
        }
        Ok(out)
    }

    fn get(&self, id: IncidentId) -> Result<Incident> {
        Client::get(self, &path_id(id))
    }

    fn update(&self, id: IncidentId, u: Update) -> Result<Incident> {
        let req = UpdateRequest {
            status: u.status,
            priority: u.priority,
            category: u.category,
            assignee: u.assignee,
            title: u.title,
            description: u.description,
            impact: u.impact,
            add_components: u.add_components,
            note: u.note,
            at: u.at,
        };
        self.patch(&path_id(id), &req)
    }

    fn resolve(&self, id: IncidentId, r: ResolveInput) -> Result<Incident> {
        let req = ResolveRequest {
            actions: r.actions,
            root_cause: r.root_cause,
            preventive: r.preventive,
            knowledge: r.knowledge,
            at: r.at,
        };
        self.post(&format!("{}/resolve", path_id(id)), &req)
    }

    fn close(&self, id: IncidentId, at: Option<incident::Timestamp>) -> Result<Incident> {
        self.post(&format!("{}/close", path_id(id)), &AtRequest { at })
    }

    fn reopen(
        &self,
        id: IncidentId,
        note: Option<&str>,
        at: Option<incident::Timestamp>,
    ) -> Result<Incident> {
        let req = ReopenRequest {
            note: note.map(str::to_string),
            at,
        };
        self.post(&format!("{}/reopen", path_id(id)), &req)
    }

    fn note(
        &self,
        id: IncidentId,
        text: &str,
        at: Option<incident::Timestamp>,
    ) -> Result<Incident> {
        let req = NoteRequest {
            text: text.to_string(),
            at,
        };
        self.post(&format!("{}/notes", path_id(id)), &req)
    }

    fn count(&self) -> Result<u64> {
        Ok(Client::get::<incident::server::Health>(self, "/health")?.incidents)
    }

    fn report(&self, r: &ReportRequest) -> Result<Vec<u8>> {
        self.post_for_bytes("/report", r)
    }

    fn patterns(&self) -> Result<Vec<Pattern>> {
        Client::get(self, &format!("/patterns?limit={}", usize::MAX))
    }

    fn pattern_members(&self, id: &str, limit: usize) -> Result<Vec<Incident>> {
        let d: PatternDetail =
            Client::get(self, &format!("/patterns/{}?limit={limit}", segment(id)))?;
        Ok(d.members)
    }

    fn analyze(&self, opts: &AnalyzeOptions, _progress: &dyn Fn(u64)) -> Result<Analysis> {
        let req = AnalyzeRequest {
            since: opts.since,
            until: opts.until,
        };
        self.post("/analyze", &req)
    }

    fn kb_inputs(&self) -> Result<KbInputs> {
        Client::get(self, "/kb/inputs")
    }

    fn migrate(
        &self,
        path: &Path,
        opts: &MigrateOptions,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<std::result::Result<MigrateSummary, MigrateStopped>> {
        let file =
            std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
        let mut input = Counting {
            inner: std::io::BufReader::with_capacity(1 << 20, file),
            read: 0,
            progress,
        };
        let q = query(&[
            ("skip_invalid", opts.skip_invalid.to_string()),
            ("batch", opts.batch.to_string()),
            ("checkpoint", opts.checkpoint.as_secs_f64().to_string()),
        ]);
        match self.upload::<MigrateSummary>(&format!("/migrate?{q}"), &mut input) {
            Ok(s) => Ok(Ok(s)),
            Err(e) => match e.downcast::<crate::client::ServerError>() {
                Ok(se) if se.body.code == "input" && se.body.detail.is_some() => {
                    let summary = serde_json::from_value(se.body.detail.unwrap_or_default())
                        .context("the server's migration summary")?;
                    Ok(Err(MigrateStopped {
                        message: se.body.message,
                        summary,
                    }))
                }
                Ok(se) => Err(se.into()),
                Err(e) => Err(e),
            },
        }
    }

    fn import(&self, input: &mut dyn Read) -> Result<ImportSummary> {
        self.upload("/import", input)
    }

    fn export(
        &self,
        format: ExportFormat,
        out: &mut dyn Write,
        skip_damaged: bool,
    ) -> Result<Vec<String>> {
        let f = match format {
            ExportFormat::Json => "json",
            ExportFormat::Jsonl => "jsonl",
            _ => "csv",
        };
        self.download(
            &format!("/export?format={f}&skip_damaged={skip_damaged}"),
            out,
        )?;
        Ok(Vec::new())
    }

    fn token_create(&self, name: &str, role: Role) -> Result<(String, TokenInfo)> {
        let c: incident::server::TokenCreated = self.post(
            "/tokens",
            &incident::server::TokenRequest {
                name: name.to_string(),
                role,
            },
        )?;
        Ok((c.token, c.info))
    }

    fn tokens(&self) -> Result<Vec<TokenInfo>> {
        Client::get(self, "/tokens")
    }

    fn token_revoke(&self, name: &str) -> Result<()> {
        self.delete(&format!("/tokens/{}", segment(name)))
    }

    fn outbox(&self, dead_only: bool) -> Result<OutboxView> {
        Client::get(self, &format!("/outbox?failed={dead_only}"))
    }

    fn outbox_retry(&self, id: &str) -> Result<u64> {
        let r: Retried = self.post("/outbox/retry", &RetryRequest { id: id.to_string() })?;
        Ok(r.revived)
    }
}

/// Counts the bytes read, for the progress bar.
struct Counting<'a, R> {
    inner: R,
    read: u64,
    progress: &'a (dyn Fn(u64) + Sync),
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        (self.progress)(self.read);
        Ok(n)
    }
}
