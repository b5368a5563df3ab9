//! One module per subcommand, each with a `run`.

mod analyze;
mod bridge;
mod check;
mod cluster;
mod copy;
mod create;
mod escalate;
mod kb;
mod lifecycle;
mod list;
mod outbox;
mod report;
mod serve;
mod show;
mod token;
mod transfer;

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use clap::CommandFactory;

use crate::backend::Remote;
use crate::cli::{Cli, Command};

pub(crate) fn run(cli: Cli) -> Result<ExitCode> {
    let db = cli.db;
    let r = &Remote {
        server: cli.server,
        token: cli.token,
    };
    match cli.command {
        Command::Create(a) => create::run(r, &db, a),
        Command::List(a) => list::run(r, &db, a),
        Command::Show(a) => show::run(r, &db, a),
        Command::Update(a) => lifecycle::update(r, &db, a),
        Command::Resolve(a) => lifecycle::resolve(r, &db, a),
        Command::Close(a) => lifecycle::close(r, &db, a),
        Command::Reopen(a) => lifecycle::reopen(r, &db, a),
        Command::Note(a) => lifecycle::note(r, &db, a),
        Command::Check(a) => {
            r.local_only("check")?;
            check::run(&db, a)
        }
        Command::Compact => {
            r.local_only("compact")?;
            let mut m = crate::config::open_existing(&db)?;
            let (before, after) = m.compact()?;
            print(&format!(
                "compacted {}: {:.1} MB -> {:.1} MB\n",
                crate::config::location(&db),
                before as f64 / 1e6,
                after as f64 / 1e6
            ))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Import(a) => transfer::import(r, &db, a),
        Command::Export(a) => transfer::export(r, &db, a),
        Command::Bridge(b) => bridge::run(r, &db, b),
        Command::Report(a) => report::run(r, &db, a),
        Command::Stats(a) => report::stats(r, &db, a),
        Command::Cluster(a) => cluster::run(a),
        Command::Analyze(a) => analyze::run(r, &db, a),
        Command::Patterns(a) => analyze::patterns(r, &db, a),
        Command::Kb(k) => kb::run(r, &db, k),
        Command::Serve(a) => {
            r.local_only("serve")?;
            serve::run(&db, a)
        }
        Command::Token(t) => token::run(r, &db, t),
        Command::Copy(a) => {
            r.local_only("copy")?;
            copy::run(a)
        }
        Command::Outbox(a) => outbox::run(r, &db, a),
        Command::Escalate(a) => {
            r.local_only("escalate")?;
            escalate::run(&db, a)
        }
        Command::Metrics(a) => {
            r.local_only("metrics (a server serves GET /metrics)")?;
            escalate::metrics(&db, a)
        }
        Command::Completions(a) => {
            let mut cmd = Cli::command();
            clap_complete::generate(a.shell, &mut cmd, "incident", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Writes `s` to stdout (sanitised, see [`stdout`]); a closed pipe surfaces as an io error
/// the caller treats as success.
pub(crate) fn print(s: &str) -> Result<()> {
    let mut out = stdout();
    out.write_all(s.as_bytes())?;
    out.flush()?;
    Ok(())
}

/// Standard output for rendered text: control characters from incident text never reach
/// the terminal (`incident::text::Sanitized`). Exports of data write to stdout directly.
pub(crate) fn stdout() -> incident::text::Sanitized<std::io::BufWriter<std::io::StdoutLock<'static>>>
{
    incident::text::Sanitized::new(std::io::BufWriter::new(std::io::stdout().lock()))
}

/// A progress bar on stderr when it is a terminal and not `quiet`; hidden otherwise.
pub(crate) fn progress_bar(len: u64, template: &str, quiet: bool) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(len);
    if !quiet && std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        bar.set_style(
            indicatif::ProgressStyle::with_template(template)
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
    } else {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    bar
}

/// Writes `v` as JSON, exactly: serde escapes C0 controls, and DEL and the C1 controls
/// (which a terminal may act on) are escaped here too, so the data is unchanged and still
/// safe on a terminal.
pub(crate) fn print_json<T: serde::Serialize>(v: &T) -> Result<()> {
    let mut s = incident::text::json_terminal_safe(&serde_json::to_string_pretty(v)?);
    s.push('\n');
    let mut out = std::io::stdout().lock();
    out.write_all(s.as_bytes())?;
    out.flush()?;
    Ok(())
}
