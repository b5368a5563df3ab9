//! The `incident` binary: parses arguments, calls the library, prints, maps errors to exit
//! codes (0 ok, 1 error, 2 usage, 3 `check` found problems).

mod backend;
mod cli;
mod client;
mod commands;
mod config;
mod hints;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

// glibc malloc spent a quarter of a 1M-record migration in malloc/free across the two
// migration threads; mimalloc removes most of that.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Where the latest panic happened and what it said (the library contains some panics of
/// the database engine; the one that ends the program is the last).
static PANIC: std::sync::Mutex<Option<(String, String)>> = std::sync::Mutex::new(None);

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    // The file's path, or the URL without its password.
    let db = config::location(&cli.db).to_string();
    // The library turns a panic of the database engine into an error whose message is all
    // a user needs; where a panic happened is kept for the internal-error line below.
    std::panic::set_hook(Box::new(|info| {
        let at = info.location().map_or_else(
            || "an unknown place".to_string(),
            |l| format!("{}:{}", l.file(), l.line()),
        );
        let payload = info.payload();
        let reason = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown".to_string());
        if let Ok(mut last) = PANIC.lock() {
            *last = Some((at, reason));
        }
    }));
    let result = match std::panic::catch_unwind(|| commands::run(cli)) {
        Ok(r) => r,
        Err(_) => {
            let last = PANIC.lock().ok().and_then(|mut p| p.take());
            let (at, reason) =
                last.unwrap_or_else(|| ("an unknown place".to_string(), "unknown".to_string()));
            let _ = writeln!(
                std::io::stderr(),
                "error: internal error at {}: {reason}\n  if {} is damaged: restore a backup, \
                 run `incident check --repair`, or `incident export --skip-damaged` what is readable",
                at,
                db
            );
            return ExitCode::from(1);
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            if is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            // A database error that names no file (an I/O error such as a full disk)
            // is about the database file: say which.
            let db_name = db.clone();
            let mut msg = if library_errors(&e).any(incident::Error::is_database)
                && !e.chain().any(|c| c.to_string().contains(&db_name))
            {
                format!("error: database {db_name}: {e}")
            } else {
                format!("error: {e}")
            };
            for cause in e.chain().skip(1) {
                // Some errors already print their source; do not say it twice.
                let text = cause.to_string();
                if !msg.contains(&text) {
                    msg.push_str(&format!(": {text}"));
                }
            }
            if library_errors(&e).any(incident::Error::is_damage) {
                msg.push_str(&format!(
                    "\n  the database {} is damaged: restore a backup, run `incident check \
                     --repair`, or `incident export --skip-damaged` what is still readable",
                    db
                ));
            }
            let _ = writeln!(std::io::stderr(), "{msg}");
            ExitCode::from(1)
        }
    }
}

/// The library errors in `e`'s chain.
fn library_errors(e: &anyhow::Error) -> impl Iterator<Item = &incident::Error> {
    e.chain()
        .filter_map(|c| c.downcast_ref::<incident::Error>())
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
