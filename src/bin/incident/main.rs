//! The `incident` binary: parses arguments, calls the library, prints, maps errors to exit
//! codes (0 ok, 1 error, 2 usage, 3 `check` found problems).

mod cli;
mod commands;
mod config;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

// glibc malloc spent a quarter of a 1M-record migration in malloc/free across the two
// migration threads; mimalloc removes most of that.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

static PANIC_AT: std::sync::OnceLock<String> = std::sync::OnceLock::new();

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    // The file's path, or the URL without its password.
    let db = config::location(&cli.db).to_string();
    // The library turns a panic of the database engine into an error whose message is all
    // a user needs; where a panic happened is kept for the internal-error line below.
    std::panic::set_hook(Box::new(|info| {
        if let Some(l) = info.location() {
            let _ = PANIC_AT.set(format!("{}:{}", l.file(), l.line()));
        }
    }));
    let result = match std::panic::catch_unwind(|| commands::run(cli)) {
        Ok(r) => r,
        Err(payload) => {
            let reason = payload
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| payload.downcast_ref::<&str>().copied())
                .unwrap_or("unknown");
            let _ = writeln!(
                std::io::stderr(),
                "error: internal error at {}: {reason}\n  if {} is damaged: restore a backup, \
                 run `incident check --repair`, or `incident export --skip-damaged` what is readable",
                PANIC_AT.get().map_or("an unknown place", String::as_str),
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
            let mut msg = if e.chain().any(incident::is_store_error)
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
            if e.chain().any(incident::is_damage) {
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

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
