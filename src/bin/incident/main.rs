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

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match commands::run(cli) {
        Ok(code) => code,
        Err(e) => {
            if is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            let mut msg = format!("error: {e}");
            for cause in e.chain().skip(1) {
                // Some errors already print their source; do not say it twice.
                let text = cause.to_string();
                if !msg.contains(&text) {
                    msg.push_str(&format!(": {text}"));
                }
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
