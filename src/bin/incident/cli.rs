//! What the user typed: clap derive structs only. `config.rs` resolves them.

use std::path::PathBuf;

use clap::builder::{PossibleValue, StringValueParser, TypedValueParser};
use clap::{Args, Parser, Subcommand, ValueEnum};
use incident::{Category, Origin, Priority, Status};

const EXAMPLES: &str = "\
Examples:
  incident create --category failure --priority high --title 'RabbitMQ接続断' \\
      --description 'Connection refused' --components rabbitmq pm_worker --impact '通知停止'
  incident list --component rabbitmq --status open
  incident update INC-20250104-0001 --status in_progress --assignee tanaka
  incident resolve INC-20250104-0001 --actions 'systemctl restart rabbitmq-server' \\
      --root-cause 'RabbitMQ停止' --preventive '監視追加'
  incident show INC-20250104-0001 --format json";

#[derive(Parser, Debug)]
#[command(
    name = "incident",
    version,
    about = "Embedded incident-management store: one binary, one redb file",
    after_help = EXAMPLES
)]
pub(crate) struct Cli {
    /// Database file, or a PostgreSQL URL (postgres://user@host:port/dbname)
    /// [default: $INCIDENT_DB if set and not empty, else ./incidents.redb]
    #[arg(long, global = true, value_name = "PATH|URL", value_hint = clap::ValueHint::FilePath)]
    pub(crate) db: Option<PathBuf>,

    /// Talk to an `incident serve` at URL instead of opening the database file
    #[arg(long, global = true, env = "INCIDENT_SERVER", value_name = "URL")]
    pub(crate) server: Option<String>,

    /// Token for --server (sent as Authorization: Bearer)
    #[arg(
        long,
        global = true,
        env = "INCIDENT_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub(crate) token: Option<String>,

    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand, Debug)]
pub(crate) enum Command {
    /// Record a new incident and print its id
    Create(CreateArgs),
    /// List incidents (open and in_progress unless --status or --all)
    List(ListArgs),
    /// Show one incident with its timeline
    Show(ShowArgs),
    /// Change fields, move between open and in_progress, add a note
    Update(UpdateArgs),
    /// Resolve an incident with the actions taken and the root cause
    Resolve(ResolveArgs),
    /// Close a resolved incident
    Close(CloseArgs),
    /// Reopen a resolved or closed incident
    Reopen(ReopenArgs),
    /// Add a note to an incident's timeline
    Note(NoteArgs),
    /// Verify the database: records, indexes, counters
    Check(CheckArgs),
    /// Give unused space in the database file back to the file system
    #[command(after_help = "Example:\n  incident compact --db incidents.redb")]
    Compact,
    /// Import the original tool's incident_history.json
    Import(ImportArgs),
    /// Export every incident (json: the incident_history.json shape)
    Export(ExportArgs),
    /// The error-history bridge: generate, migrate, report, check
    #[command(subcommand)]
    Bridge(BridgeCommand),
    /// Metrics report: MTTR, MTTA, MTBF, recurrence, SLA (markdown, json, html)
    Report(ReportArgs),
    /// One-screen metrics summary for a terminal
    Stats(StatsArgs),
    /// Mine templates from any text, one message per line
    Cluster(ClusterArgs),
    /// Mine the stored incidents into patterns and store them
    Analyze(AnalyzeArgs),
    /// List stored patterns, or show one with its incidents
    Patterns(PatternsArgs),
    /// The knowledge base: suggest entries and auto-fix scripts from stored patterns
    #[command(subcommand)]
    Kb(KbCommand),
    /// Copy a whole database into an empty one, between redb and PostgreSQL either way
    Copy(CopyArgs),
    /// Print shell completions
    Completions(CompletionsArgs),
    /// Notification outbox: pending deliveries, dead letters, retry; `deliver` sends
    Outbox(OutboxArgs),
    /// Evaluate the escalation policy and SLA deadlines; --dry-run replays history
    Escalate(EscalateArgs),
    /// Prometheus metrics in the text exposition format (what GET /metrics serves)
    Metrics(MetricsArgs),
    /// Share the database over HTTP: JSON API, CLI clients (--server) and a web dashboard
    Serve(ServeArgs),
    /// Access tokens for the server: create, list, revoke
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  incident serve --db incidents.redb\n  incident token create --name ops --role admin\n  \
incident serve --addr 0.0.0.0:7807 --kb-dir kb\n  incident --server http://127.0.0.1:7807 list"
)]
pub(crate) struct ServeArgs {
    /// Address to listen on; anything but loopback needs a token in the database
    #[arg(long, default_value = "127.0.0.1:7807")]
    pub(crate) addr: String,
    /// Refuse requests without a token on loopback too
    #[arg(long)]
    pub(crate) require_token: bool,
    /// Knowledge-base directory for kb suggestions, the patterns page and the entry about an
    /// incident's pattern in its notifications
    #[arg(long, value_name = "DIR", default_value = "kb")]
    pub(crate) kb_dir: PathBuf,
    /// Config file (JSON): SLA targets, `notify` targets (delivered by the server) and the
    /// `escalation` policy (evaluated on a timer) [default: $INCIDENT_CONFIG]
    #[arg(long, env = "INCIDENT_CONFIG", value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// Seconds between escalation evaluations (the first runs at start)
    #[arg(long, default_value_t = 60, value_name = "SECONDS")]
    pub(crate) escalate_every: u64,
    /// Largest JSON request body in bytes (uploads are streamed and not limited)
    #[arg(long, default_value_t = 1 << 20)]
    pub(crate) body_limit: usize,
    /// Request log format on stderr
    #[arg(long, value_enum, default_value = "text")]
    pub(crate) log_format: LogFormat,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub(crate) enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand, Debug)]
pub(crate) enum TokenCommand {
    /// Create a token and print it (shown only this once; only its hash is stored)
    #[command(after_help = "Example:\n  incident token create --name ci --role write")]
    Create(TokenCreateArgs),
    /// List tokens (names, roles, creation times; never the secrets)
    List(TokenListArgs),
    /// Revoke a token by name
    Revoke(TokenRevokeArgs),
}

#[derive(Args, Debug)]
pub(crate) struct TokenCreateArgs {
    /// A name for who uses it; changes made with it are recorded under this name
    #[arg(long)]
    pub(crate) name: String,
    /// read, write or admin
    #[arg(long, value_parser = hinted(["read", "write", "admin"].into_iter()))]
    pub(crate) role: String,
    /// Output: the token (text) or the token with its details (json)
    #[arg(long, value_enum, default_value = "text")]
    pub(crate) format: OutFormat,
}

#[derive(Args, Debug)]
pub(crate) struct TokenListArgs {
    /// Output: text for people, or json for scripts
    #[arg(long, value_enum, default_value = "text")]
    pub(crate) format: OutFormat,
}

#[derive(Args, Debug)]
pub(crate) struct TokenRevokeArgs {
    /// The token's name
    pub(crate) name: String,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub(crate) enum OutFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub(crate) enum ListFormat {
    Table,
    Json,
    Csv,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Example:\n  incident create --category failure --priority high --title 'RabbitMQ接続断' \\\n      \
    --description 'Connection refused to 10.0.0.3:5672' --components rabbitmq pm_worker \\\n      \
    --impact '通知処理の停止' --assignee tanaka"
)]
pub(crate) struct CreateArgs {
    /// What kind of incident
    #[arg(long, value_parser = hinted(Category::ALL.iter().map(|v| v.as_str())))]
    pub(crate) category: String,
    /// How urgent (targets: critical 0/4h, high 30min/24h, medium 4h/3d, low 24h/1w)
    #[arg(long, value_parser = hinted(Priority::ALL.iter().map(|v| v.as_str())))]
    pub(crate) priority: String,
    /// One-line summary (any script; Japanese is fine)
    #[arg(long)]
    pub(crate) title: String,
    /// Longer text: symptoms, error messages
    #[arg(long, default_value = "")]
    pub(crate) description: String,
    /// Affected components (one or more: --components a b)
    #[arg(long, num_args = 1.., required = true, value_name = "COMPONENT")]
    pub(crate) components: Vec<String>,
    /// What the incident stops or slows
    #[arg(long, default_value = "")]
    pub(crate) impact: String,
    /// Who handles it
    #[arg(long)]
    pub(crate) assignee: Option<String>,
    /// When it started: RFC 3339 (2025-07-09T13:20:00+09:00) or YYYY-MM-DD [default: now]
    #[arg(long, value_name = "TIME")]
    pub(crate) at: Option<String>,
    /// Output: the new id (text) or the whole incident (json)
    #[arg(long, value_enum, default_value = "text")]
    pub(crate) format: OutFormat,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Every filter is repeatable; values of one filter are alternatives, \
different filters must all match.\n\nExamples:\n  incident list --component db_client --status open\n  \
incident list --all --category failure --priority critical --priority high --since 2025-07-01\n  \
incident list --origin manual --format csv > incidents.csv"
)]
pub(crate) struct ListArgs {
    /// Only this category (repeatable)
    #[arg(long, value_parser = hinted(Category::ALL.iter().map(|v| v.as_str())))]
    pub(crate) category: Vec<String>,
    /// Only this status (repeatable) [default: open and in_progress]
    #[arg(long, value_parser = hinted(Status::ALL.iter().map(|v| v.as_str())))]
    pub(crate) status: Vec<String>,
    /// Every status
    #[arg(long, conflicts_with = "status")]
    pub(crate) all: bool,
    /// Only this priority (repeatable)
    #[arg(long, value_parser = hinted(Priority::ALL.iter().map(|v| v.as_str())))]
    pub(crate) priority: Vec<String>,
    /// Only incidents affecting this component (repeatable)
    #[arg(long)]
    pub(crate) component: Vec<String>,
    /// Only incidents assigned to this person (repeatable)
    #[arg(long)]
    pub(crate) assignee: Vec<String>,
    /// Only members of this pattern id from `incident analyze` (repeatable)
    #[arg(long)]
    pub(crate) pattern: Vec<String>,
    /// Only incidents that came from here (repeatable)
    #[arg(long, value_parser = hinted(Origin::ALL.iter().map(|v| v.as_str())))]
    pub(crate) origin: Vec<String>,
    /// Created at or after (RFC 3339 or YYYY-MM-DD)
    #[arg(long, value_name = "TIME")]
    pub(crate) since: Option<String>,
    /// Created before (RFC 3339 or YYYY-MM-DD)
    #[arg(long, value_name = "TIME")]
    pub(crate) until: Option<String>,
    /// At most this many rows
    #[arg(long)]
    pub(crate) limit: Option<usize>,
    /// Oldest first instead of newest first (in id order: creation date, then number)
    #[arg(long)]
    pub(crate) oldest_first: bool,
    /// table (fits the terminal; full width into a pipe), json or csv
    #[arg(long, value_enum, default_value = "table")]
    pub(crate) format: ListFormat,
}

/// An incident id, positional or as `--id` (the original tool's form).
#[derive(Args, Debug)]
pub(crate) struct IdArg {
    /// Incident id, e.g. INC-20250104-0001 (case-insensitive)
    #[arg(
        value_name = "ID",
        required_unless_present = "id_flag",
        conflicts_with = "id_flag"
    )]
    id: Option<String>,
    /// The same id as a flag: --id INC-20250104-0001
    #[arg(long = "id", value_name = "ID")]
    id_flag: Option<String>,
}

impl IdArg {
    pub(crate) fn get(&self) -> &str {
        self.id.as_deref().or(self.id_flag.as_deref()).unwrap_or("")
    }
}

#[derive(Args, Debug)]
#[command(
    after_help = "Example:\n  incident show INC-20250104-0001 --format json\n  incident show --id INC-20250104-0001"
)]
pub(crate) struct ShowArgs {
    #[command(flatten)]
    pub(crate) id: IdArg,
    /// text (the incident and its timeline) or json (the stored record)
    #[arg(long, value_enum, default_value = "text")]
    pub(crate) format: OutFormat,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  incident update INC-20250104-0001 --status in_progress --assignee tanaka\n  \
incident update --id INC-20250104-0001 --priority critical --note '影響拡大' --add-component db_client"
)]
pub(crate) struct UpdateArgs {
    #[command(flatten)]
    pub(crate) id: IdArg,
    /// Move between open and in_progress (resolve, close and reopen have their own commands)
    #[arg(long, value_parser = hinted(["open", "in_progress"].into_iter()))]
    pub(crate) status: Option<String>,
    /// New priority
    #[arg(long, value_parser = hinted(Priority::ALL.iter().map(|v| v.as_str())))]
    pub(crate) priority: Option<String>,
    /// New category
    #[arg(long, value_parser = hinted(Category::ALL.iter().map(|v| v.as_str())))]
    pub(crate) category: Option<String>,
    /// New assignee
    #[arg(long)]
    pub(crate) assignee: Option<String>,
    /// New title
    #[arg(long)]
    pub(crate) title: Option<String>,
    /// New description
    #[arg(long)]
    pub(crate) description: Option<String>,
    /// New impact text
    #[arg(long)]
    pub(crate) impact: Option<String>,
    /// Components to add (one or more)
    #[arg(long = "add-component", num_args = 1.., value_name = "COMPONENT")]
    pub(crate) add_component: Vec<String>,
    /// A note for the timeline
    #[arg(long)]
    pub(crate) note: Option<String>,
    /// When the change happened: RFC 3339 or YYYY-MM-DD [default: now]
    #[arg(long, value_name = "TIME")]
    pub(crate) at: Option<String>,
    /// Output: id and status (text) or the whole incident (json)
    #[arg(long, value_enum, default_value = "text")]
    pub(crate) format: OutFormat,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Example:\n  incident resolve --id INC-20250104-0001 \\\n      \
--actions 'systemctl restart rabbitmq-server' 'キュー再作成' --root-cause 'RabbitMQ停止' \\\n      \
--preventive '死活監視を追加' --knowledge 'KB更新'"
)]
pub(crate) struct ResolveArgs {
    #[command(flatten)]
    pub(crate) id: IdArg,
    /// Actions taken (one or more; a command in backticks can become an auto-fix step)
    #[arg(long, num_args = 1.., required = true, value_name = "ACTION")]
    pub(crate) actions: Vec<String>,
    /// Why it happened
    #[arg(long = "root-cause", required = true)]
    pub(crate) root_cause: String,
    /// What stops it happening again (one or more)
    #[arg(long, num_args = 1.., value_name = "MEASURE")]
    pub(crate) preventive: Vec<String>,
    /// What was added to the knowledge base (one or more)
    #[arg(long, num_args = 1.., value_name = "UPDATE")]
    pub(crate) knowledge: Vec<String>,
    /// When it was resolved: RFC 3339 or YYYY-MM-DD [default: now]
    #[arg(long, value_name = "TIME")]
    pub(crate) at: Option<String>,
    /// Output: id and status (text) or the whole incident (json)
    #[arg(long, value_enum, default_value = "text")]
    pub(crate) format: OutFormat,
}

#[derive(Args, Debug)]
#[command(after_help = "Example:\n  incident close INC-20250104-0001")]
pub(crate) struct CloseArgs {
    #[command(flatten)]
    pub(crate) id: IdArg,
    /// When it was closed: RFC 3339 or YYYY-MM-DD [default: now]
    #[arg(long, value_name = "TIME")]
    pub(crate) at: Option<String>,
}

#[derive(Args, Debug)]
#[command(after_help = "Example:\n  incident reopen INC-20250104-0001 --note '再発'")]
pub(crate) struct ReopenArgs {
    #[command(flatten)]
    pub(crate) id: IdArg,
    /// Why it was reopened
    #[arg(long)]
    pub(crate) note: Option<String>,
    /// When it was reopened: RFC 3339 or YYYY-MM-DD [default: now]
    #[arg(long, value_name = "TIME")]
    pub(crate) at: Option<String>,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  incident note INC-20250104-0001 '再起動で復旧'\n  \
incident note --id INC-20250104-0001 '再起動で復旧'"
)]
pub(crate) struct NoteArgs {
    /// ID then TEXT, or only TEXT with --id
    #[arg(value_name = "ID] [TEXT", num_args = 1..=2, required = true)]
    pub(crate) args: Vec<String>,
    /// Incident id as a flag: --id INC-20250104-0001
    #[arg(long = "id", value_name = "ID")]
    pub(crate) id_flag: Option<String>,
    /// When: RFC 3339 or YYYY-MM-DD [default: now]
    #[arg(long, value_name = "TIME")]
    pub(crate) at: Option<String>,
}

impl NoteArgs {
    /// (id, text) from either form.
    pub(crate) fn id_and_text(&self) -> Result<(&str, &str), &'static str> {
        match (self.id_flag.as_deref(), self.args.as_slice()) {
            (Some(id), [text]) => Ok((id, text)),
            (None, [id, text]) => Ok((id, text)),
            (Some(_), _) => Err("with --id, give only the note text"),
            (None, _) => Err("give an incident id and the note text"),
        }
    }
}

#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  incident check\n  incident check --repair")]
pub(crate) struct CheckArgs {
    /// Rebuild every index from the records
    #[arg(long)]
    pub(crate) repair: bool,
    /// Output: text for people, or json for scripts
    #[arg(long, value_enum, default_value = "text")]
    pub(crate) format: OutFormat,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  incident import incident_history.json\n  cat incident_history.json | incident import -"
)]
pub(crate) struct ImportArgs {
    /// incident_history.json, or - for stdin
    pub(crate) file: PathBuf,
    /// Output: text for people, or json for scripts
    #[arg(long, value_enum, default_value = "text")]
    pub(crate) format: OutFormat,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub(crate) enum ExportFmt {
    Json,
    Jsonl,
    Csv,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  incident export -o incident_history.json\n  incident export --format csv -o incidents.csv"
)]
pub(crate) struct ExportArgs {
    /// json (the incident_history.json shape), jsonl (one incident a line) or csv
    #[arg(long, value_enum, default_value = "json")]
    pub(crate) format: ExportFmt,
    /// Write to a file instead of stdout
    #[arg(short, long)]
    pub(crate) output: Option<PathBuf>,
    /// Skip records that cannot be read (a damaged file), listing them on stderr
    #[arg(long)]
    pub(crate) skip_damaged: bool,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  incident copy --from incidents.redb --to postgres://incident@db1:5432/incidents\n  \
    incident copy --from postgres://incident@db1:5432/incidents --to backup.redb"
)]
pub(crate) struct CopyArgs {
    /// The database to read: a file or a postgres:// URL
    #[arg(long, value_name = "PATH|URL")]
    pub(crate) from: PathBuf,
    /// The database to write, created if missing; it must hold no incidents yet
    #[arg(long, value_name = "PATH|URL")]
    pub(crate) to: PathBuf,
    /// No progress bar
    #[arg(long, short)]
    pub(crate) quiet: bool,
    /// Output format of the summary
    #[arg(long, value_enum, default_value_t = OutFormat::Text)]
    pub(crate) format: OutFormat,
}

#[derive(Args, Debug)]
#[command(after_help = "Example:\n  incident completions bash > /etc/bash_completion.d/incident")]
pub(crate) struct CompletionsArgs {
    pub(crate) shell: clap_complete::Shell,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub(crate) enum ClusterFormat {
    Summary,
    Jsonl,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  incident cluster app.log\n  tail -n 100000 app.log | incident cluster - --format jsonl"
)]
pub(crate) struct ClusterArgs {
    /// Input file, or - (the default) for stdin
    #[arg(default_value = "-")]
    pub(crate) file: PathBuf,
    /// summary (templates with counts) or jsonl (one line per message: its template and group)
    #[arg(long, value_enum, default_value = "summary")]
    pub(crate) format: ClusterFormat,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  incident analyze\n  incident analyze --since 2025-07-01 --format json"
)]
pub(crate) struct AnalyzeArgs {
    /// Only incidents created at or after (RFC 3339 or YYYY-MM-DD)
    #[arg(long, value_name = "TIME")]
    pub(crate) since: Option<String>,
    /// Only incidents created before
    #[arg(long, value_name = "TIME")]
    pub(crate) until: Option<String>,
    /// How many patterns the text output lists
    #[arg(long, default_value_t = 20)]
    pub(crate) top: usize,
    /// No progress on stderr
    #[arg(long, short)]
    pub(crate) quiet: bool,
    /// Output: text for people, or json for scripts
    #[arg(long, value_enum, default_value = "text")]
    pub(crate) format: OutFormat,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  incident patterns\n  incident patterns P1a2b3c4d5e6f7a8b --limit 50"
)]
pub(crate) struct PatternsArgs {
    /// A pattern id to show with its incidents
    #[arg(conflicts_with = "id_flag")]
    pub(crate) id: Option<String>,
    /// The same pattern id as a flag
    #[arg(long = "id", value_name = "ID")]
    pub(crate) id_flag: Option<String>,
    /// At most this many patterns (or members of one pattern)
    #[arg(long, default_value_t = 20)]
    pub(crate) limit: usize,
    /// Output: text for people, or json for scripts
    #[arg(long, value_enum, default_value = "text")]
    pub(crate) format: OutFormat,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub(crate) enum ReportFormat {
    Markdown,
    Json,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub(crate) enum TrendArg {
    Week,
    Month,
}

#[derive(Args, Debug)]
pub(crate) struct WindowArgs {
    /// Only incidents created at or after (RFC 3339 or YYYY-MM-DD)
    #[arg(long, value_name = "TIME")]
    pub(crate) since: Option<String>,
    /// Only incidents created before
    #[arg(long, value_name = "TIME")]
    pub(crate) until: Option<String>,
    /// The report's "now" (for open-incident SLA); default the current time
    #[arg(long, value_name = "TIME")]
    pub(crate) at: Option<String>,
    /// Trend periods
    #[arg(long, value_enum, default_value = "week")]
    pub(crate) trend: TrendArg,
    /// SLA targets file (JSON) [default: $INCIDENT_CONFIG if set]
    #[arg(long, env = "INCIDENT_CONFIG", value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// How many components/groups the tables list
    #[arg(long, default_value_t = 10)]
    pub(crate) top: usize,
    /// Only incidents from here in the figures (repeatable) [default: manual, api and
    /// imported, with migrated errors in a section of their own]
    #[arg(long, value_parser = hinted(Origin::ALL.iter().map(|v| v.as_str())))]
    pub(crate) origin: Vec<String>,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  incident report > report.md\n  incident report --format json --since 2025-07-01 --trend month\n  incident report --html report.html\n  incident report --origin migrated"
)]
pub(crate) struct ReportArgs {
    #[command(flatten)]
    pub(crate) window: WindowArgs,
    /// markdown or json on stdout [default: markdown; with --html, nothing unless given]
    #[arg(long, value_enum)]
    pub(crate) format: Option<ReportFormat>,
    /// Write a self-contained HTML report with charts to FILE
    #[arg(long, value_name = "FILE")]
    pub(crate) html: Option<PathBuf>,
    /// The one-screen terminal summary instead (same as `incident stats`)
    #[arg(long)]
    pub(crate) summary: bool,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  incident stats\n  incident stats --since 2025-07-01 --origin manual"
)]
pub(crate) struct StatsArgs {
    #[command(flatten)]
    pub(crate) window: WindowArgs,
}

#[derive(Subcommand, Debug)]
pub(crate) enum BridgeCommand {
    /// Write a deterministic, realistic error_history.json
    Generate(GenerateArgs),
    /// Stream an error_history.json (or JSON Lines, or - for stdin) into the store
    Migrate(MigrateArgs),
    /// Integrated report: error statistics of the file plus incident metrics
    Report(BridgeReportArgs),
    /// Check that every error maps to an incident and every incident_id exists
    Check(BridgeCheckArgs),
}

#[derive(Args, Debug)]
#[command(
    after_help = "Example:\n  incident bridge generate 1000000 --seed 42 -o error_history.json"
)]
pub(crate) struct GenerateArgs {
    /// Number of error records
    pub(crate) count: usize,
    /// Random seed: the same seed and count give the same file
    #[arg(long, default_value_t = 42)]
    pub(crate) seed: u64,
    /// Share of records already carrying an incident_id (0 to 1)
    #[arg(long, default_value_t = 0.02)]
    pub(crate) migrated_share: f64,
    /// Where to write it
    #[arg(short, long, default_value = "error_history.json")]
    pub(crate) output: PathBuf,
    /// Also draw hard-to-group problems: error types with digits raised from several
    /// files, variables with few values (database user, table, bucket)
    #[arg(long)]
    pub(crate) extended: bool,
    /// Write each record's ground-truth problem id to FILE, one JSON line per record
    #[arg(long, value_name = "FILE")]
    pub(crate) truth: Option<PathBuf>,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  incident bridge migrate error_history.json\n  incident bridge migrate error_history.json --skip-invalid --write-back\n  cat errors.jsonl | incident bridge migrate -"
)]
pub(crate) struct MigrateArgs {
    /// error_history.json, JSON Lines, or - for stdin
    pub(crate) file: PathBuf,
    /// Skip invalid records instead of stopping at the first one
    #[arg(long)]
    pub(crate) skip_invalid: bool,
    /// Where --skip-invalid writes rejected records [default: FILE.rejects.jsonl]
    #[arg(long, value_name = "FILE", requires = "skip_invalid")]
    pub(crate) rejects: Option<PathBuf>,
    /// Add incident_id to every migrated entry of FILE (atomic rewrite)
    #[arg(long)]
    pub(crate) write_back: bool,
    /// Records per write transaction
    #[arg(long, default_value_t = 25_000)]
    pub(crate) batch: usize,
    /// Seconds between synced commits: the most work a crash or power loss takes back
    /// (a rerun redoes it); 0 syncs every batch
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 5.0,
        value_parser = parse_seconds,
        allow_negative_numbers = true
    )]
    pub(crate) checkpoint: f64,
    /// No progress bar
    #[arg(long, short)]
    pub(crate) quiet: bool,
    /// Output: text for people, or json for scripts
    #[arg(long, value_enum, default_value = "text")]
    pub(crate) format: OutFormat,
}

#[derive(Args, Debug)]
#[command(after_help = "Example:\n  incident bridge report error_history.json")]
pub(crate) struct BridgeReportArgs {
    /// The error history (error_history.json or JSON Lines)
    #[arg(default_value = "error_history.json")]
    pub(crate) file: PathBuf,
    /// markdown or json
    #[arg(long, value_enum, default_value = "markdown")]
    pub(crate) format: ReportFormat,
}

#[derive(Args, Debug)]
#[command(after_help = "Example:\n  incident bridge check error_history.json")]
pub(crate) struct BridgeCheckArgs {
    /// The error history (error_history.json or JSON Lines)
    #[arg(default_value = "error_history.json")]
    pub(crate) file: PathBuf,
    /// Output: text for people, or json for scripts
    #[arg(long, value_enum, default_value = "text")]
    pub(crate) format: OutFormat,
}

#[derive(Subcommand, Debug)]
pub(crate) enum KbCommand {
    /// Show (or with --write apply) the entries and scripts the patterns suggest
    Suggest(KbSuggestArgs),
}

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  incident kb suggest\n  incident kb suggest --write\n  incident kb suggest --kb-dir /srv/ops/kb --min-count 5"
)]
pub(crate) struct KbSuggestArgs {
    /// Update the files instead of printing the diff
    #[arg(long)]
    pub(crate) write: bool,
    /// Knowledge-base directory (holds INCIDENT_PATTERNS_KB.md and auto_fix/)
    #[arg(long, visible_alias = "kb", value_name = "DIR", default_value = "kb")]
    pub(crate) kb_dir: PathBuf,
    /// Patterns seen fewer times get no entry
    #[arg(long, default_value_t = 3)]
    pub(crate) min_count: u64,
}

/// A non-negative, finite number of seconds.
fn parse_seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!(
            "expected a number of seconds (0 or more), got {s:?}"
        )),
    }
}

/// Accepts any text, so that the library names a bad value (exit 1, with the valid values),
/// but offers `values` to `--help` and shell completion.
#[derive(Clone)]
pub(crate) struct Hinted(Vec<&'static str>);

fn hinted(values: impl Iterator<Item = &'static str>) -> Hinted {
    Hinted(values.collect())
}

impl TypedValueParser for Hinted {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<String, clap::Error> {
        StringValueParser::new().parse_ref(cmd, arg, value)
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(self.0.iter().map(|v| PossibleValue::new(*v))))
    }
}

// --- Notifications, escalation, metrics (issue 14) ------------------------------------

#[derive(Args, Debug)]
#[command(
    args_conflicts_with_subcommands = true,
    after_help = "Examples:\n  incident outbox\n  incident outbox --failed --format json\n  \
    incident outbox --retry 42/ops-slack\n  incident outbox deliver --config incident.json"
)]
pub(crate) struct OutboxArgs {
    /// Only dead letters (deliveries given up after their attempts or age ran out)
    #[arg(long)]
    pub(crate) failed: bool,
    /// Try dead letters again: SEQ/TARGET, SEQ (all targets), an event id, or `all`
    #[arg(long, value_name = "ID")]
    pub(crate) retry: Option<String>,
    /// Remove the entry SEQ for good, whatever its state (for a damaged entry `incident
    /// check` names, or a dead letter nobody should get); its notifications are never sent
    #[arg(long, value_name = "SEQ", conflicts_with = "retry")]
    pub(crate) discard: Option<u64>,
    #[arg(long, value_enum, default_value = "text")]
    pub(crate) format: OutFormat,
    #[command(subcommand)]
    pub(crate) command: Option<OutboxCommand>,
}

#[derive(Subcommand, Debug)]
pub(crate) enum OutboxCommand {
    /// Send what the outbox holds to the configured targets (until killed, or --once)
    Deliver(DeliverArgs),
}

#[derive(Args, Debug)]
pub(crate) struct DeliverArgs {
    /// Send what is due now, then exit (retries scheduled for later stay queued)
    #[arg(long)]
    pub(crate) once: bool,
    /// Config file with the `notify` targets [default: $INCIDENT_CONFIG]
    #[arg(long, env = "INCIDENT_CONFIG", value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// Knowledge-base directory: the entry about an incident's pattern goes into its messages
    #[arg(long, value_name = "DIR", default_value = "kb")]
    pub(crate) kb_dir: PathBuf,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  incident escalate --once --config incident.json\n  \
    incident escalate --once --at 2025-07-01T10:30:00+09:00\n  \
    incident escalate --dry-run --since 2025-06-01 --until 2025-07-01"
)]
pub(crate) struct EscalateArgs {
    /// Evaluate once and exit [default: every --every seconds until killed]
    #[arg(long)]
    pub(crate) once: bool,
    /// Evaluate as if it were TIME (RFC 3339 or YYYY-MM-DD); implies --once
    #[arg(long, value_name = "TIME")]
    pub(crate) at: Option<String>,
    /// Seconds between evaluations when not --once
    #[arg(long, default_value_t = 60, value_name = "SECONDS")]
    pub(crate) every: u64,
    /// Replay the policy over stored history and print what would have fired; writes nothing
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// With --dry-run: incidents created at or after TIME
    #[arg(long, value_name = "TIME", requires = "dry_run")]
    pub(crate) since: Option<String>,
    /// With --dry-run: incidents created before TIME, firings up to TIME [default: now]
    #[arg(long, value_name = "TIME", requires = "dry_run")]
    pub(crate) until: Option<String>,
    /// Config file with `escalation`, `notify` and `sla` [default: $INCIDENT_CONFIG]
    #[arg(long, env = "INCIDENT_CONFIG", value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "text")]
    pub(crate) format: OutFormat,
}

#[derive(Args, Debug)]
pub(crate) struct MetricsArgs {
    /// The SLA figures' "now" [default: the current time]
    #[arg(long, value_name = "TIME")]
    pub(crate) at: Option<String>,
    /// SLA targets file [default: $INCIDENT_CONFIG]
    #[arg(long, env = "INCIDENT_CONFIG", value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
}
