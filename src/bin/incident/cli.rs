//! What the user typed: clap derive structs only. `config.rs` resolves them.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

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
    /// Database file [default: $INCIDENT_DB, else ./incidents.redb]
    #[arg(long, global = true, env = "INCIDENT_DB", value_name = "PATH")]
    pub(crate) db: Option<PathBuf>,

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
    /// Print shell completions
    Completions(CompletionsArgs),
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
pub(crate) struct CreateArgs {
    #[arg(long)]
    pub(crate) category: String,
    #[arg(long)]
    pub(crate) priority: String,
    #[arg(long)]
    pub(crate) title: String,
    #[arg(long, default_value = "")]
    pub(crate) description: String,
    /// Affected components (one or more: --components a b)
    #[arg(long, num_args = 1.., required = true, value_name = "COMPONENT")]
    pub(crate) components: Vec<String>,
    #[arg(long, default_value = "")]
    pub(crate) impact: String,
    #[arg(long)]
    pub(crate) assignee: Option<String>,
    /// When it started (RFC 3339); default now
    #[arg(long, value_name = "TIME")]
    pub(crate) at: Option<String>,
    #[arg(long, value_enum, default_value = "text")]
    pub(crate) format: OutFormat,
}

#[derive(Args, Debug)]
pub(crate) struct ListArgs {
    #[arg(long)]
    pub(crate) category: Vec<String>,
    /// Repeatable; default open and in_progress
    #[arg(long)]
    pub(crate) status: Vec<String>,
    /// Every status
    #[arg(long, conflicts_with = "status")]
    pub(crate) all: bool,
    #[arg(long)]
    pub(crate) priority: Vec<String>,
    #[arg(long)]
    pub(crate) component: Vec<String>,
    #[arg(long)]
    pub(crate) assignee: Vec<String>,
    /// Pattern id from `incident analyze`
    #[arg(long)]
    pub(crate) pattern: Vec<String>,
    /// Created at or after (RFC 3339 or YYYY-MM-DD)
    #[arg(long, value_name = "TIME")]
    pub(crate) since: Option<String>,
    /// Created before (RFC 3339 or YYYY-MM-DD)
    #[arg(long, value_name = "TIME")]
    pub(crate) until: Option<String>,
    #[arg(long)]
    pub(crate) limit: Option<usize>,
    /// Oldest first instead of newest first
    #[arg(long)]
    pub(crate) oldest_first: bool,
    #[arg(long, value_enum, default_value = "table")]
    pub(crate) format: ListFormat,
}

#[derive(Args, Debug)]
pub(crate) struct ShowArgs {
    #[arg(required_unless_present = "id_flag", conflicts_with = "id_flag")]
    pub(crate) id: Option<String>,
    #[arg(long = "id", value_name = "ID")]
    pub(crate) id_flag: Option<String>,
    #[arg(long, value_enum, default_value = "text")]
    pub(crate) format: OutFormat,
}

#[derive(Args, Debug)]
pub(crate) struct UpdateArgs {
    pub(crate) id: String,
    #[arg(long)]
    pub(crate) status: Option<String>,
    #[arg(long)]
    pub(crate) priority: Option<String>,
    #[arg(long)]
    pub(crate) category: Option<String>,
    #[arg(long)]
    pub(crate) assignee: Option<String>,
    #[arg(long)]
    pub(crate) title: Option<String>,
    #[arg(long)]
    pub(crate) description: Option<String>,
    #[arg(long)]
    pub(crate) impact: Option<String>,
    #[arg(long = "add-component", num_args = 1.., value_name = "COMPONENT")]
    pub(crate) add_component: Vec<String>,
    #[arg(long)]
    pub(crate) note: Option<String>,
    #[arg(long, value_name = "TIME")]
    pub(crate) at: Option<String>,
    #[arg(long, value_enum, default_value = "text")]
    pub(crate) format: OutFormat,
}

#[derive(Args, Debug)]
pub(crate) struct ResolveArgs {
    pub(crate) id: String,
    /// Actions taken (one or more)
    #[arg(long, num_args = 1.., required = true, value_name = "ACTION")]
    pub(crate) actions: Vec<String>,
    #[arg(long = "root-cause", required = true)]
    pub(crate) root_cause: String,
    #[arg(long, num_args = 1.., value_name = "MEASURE")]
    pub(crate) preventive: Vec<String>,
    #[arg(long, num_args = 1.., value_name = "UPDATE")]
    pub(crate) knowledge: Vec<String>,
    #[arg(long, value_name = "TIME")]
    pub(crate) at: Option<String>,
    #[arg(long, value_enum, default_value = "text")]
    pub(crate) format: OutFormat,
}

#[derive(Args, Debug)]
pub(crate) struct CloseArgs {
    pub(crate) id: String,
    #[arg(long, value_name = "TIME")]
    pub(crate) at: Option<String>,
}

#[derive(Args, Debug)]
pub(crate) struct ReopenArgs {
    pub(crate) id: String,
    #[arg(long)]
    pub(crate) note: Option<String>,
    #[arg(long, value_name = "TIME")]
    pub(crate) at: Option<String>,
}

#[derive(Args, Debug)]
pub(crate) struct NoteArgs {
    pub(crate) id: String,
    pub(crate) text: String,
    #[arg(long, value_name = "TIME")]
    pub(crate) at: Option<String>,
}

#[derive(Args, Debug)]
pub(crate) struct CheckArgs {
    /// Rebuild every index from the records
    #[arg(long)]
    pub(crate) repair: bool,
    #[arg(long, value_enum, default_value = "text")]
    pub(crate) format: OutFormat,
}

#[derive(Args, Debug)]
pub(crate) struct ImportArgs {
    /// incident_history.json, or - for stdin
    pub(crate) file: PathBuf,
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
pub(crate) struct ExportArgs {
    #[arg(long, value_enum, default_value = "json")]
    pub(crate) format: ExportFmt,
    /// Write to a file instead of stdout
    #[arg(short, long)]
    pub(crate) output: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub(crate) struct CompletionsArgs {
    pub(crate) shell: clap_complete::Shell,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub(crate) enum ClusterFormat {
    Summary,
    Jsonl,
}

#[derive(Args, Debug)]
pub(crate) struct ClusterArgs {
    /// Input file, or - (the default) for stdin
    #[arg(default_value = "-")]
    pub(crate) file: PathBuf,
    #[arg(long, value_enum, default_value = "summary")]
    pub(crate) format: ClusterFormat,
}

#[derive(Args, Debug)]
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
    #[arg(long, value_enum, default_value = "text")]
    pub(crate) format: OutFormat,
}

#[derive(Args, Debug)]
pub(crate) struct PatternsArgs {
    /// A pattern id to show with its incidents
    pub(crate) id: Option<String>,
    #[arg(long, default_value_t = 20)]
    pub(crate) limit: usize,
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
}

#[derive(Args, Debug)]
pub(crate) struct ReportArgs {
    #[command(flatten)]
    pub(crate) window: WindowArgs,
    #[arg(long, value_enum, default_value = "markdown")]
    pub(crate) format: ReportFormat,
    /// Also write a self-contained HTML report with charts
    #[arg(long, value_name = "FILE")]
    pub(crate) html: Option<PathBuf>,
    /// The one-screen terminal summary instead (same as `incident stats`)
    #[arg(long)]
    pub(crate) summary: bool,
}

#[derive(Args, Debug)]
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
pub(crate) struct GenerateArgs {
    /// Number of error records
    pub(crate) count: usize,
    #[arg(long, default_value_t = 42)]
    pub(crate) seed: u64,
    /// Share of records already carrying an incident_id (0 to 1)
    #[arg(long, default_value_t = 0.02)]
    pub(crate) migrated_share: f64,
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
    #[arg(long, value_enum, default_value = "text")]
    pub(crate) format: OutFormat,
}

#[derive(Args, Debug)]
pub(crate) struct BridgeReportArgs {
    #[arg(default_value = "error_history.json")]
    pub(crate) file: PathBuf,
    #[arg(long, value_enum, default_value = "markdown")]
    pub(crate) format: ReportFormat,
}

#[derive(Args, Debug)]
pub(crate) struct BridgeCheckArgs {
    #[arg(default_value = "error_history.json")]
    pub(crate) file: PathBuf,
    #[arg(long, value_enum, default_value = "text")]
    pub(crate) format: OutFormat,
}

#[derive(Subcommand, Debug)]
pub(crate) enum KbCommand {
    /// Show (or with --write apply) the entries and scripts the patterns suggest
    Suggest(KbSuggestArgs),
}

#[derive(Args, Debug)]
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
