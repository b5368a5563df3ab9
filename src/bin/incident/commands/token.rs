//! token create | list | revoke.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use incident::auth::Role;

use super::{print, print_json};
use crate::backend::Remote;
use crate::cli::{OutFormat, TokenCommand};
use crate::config;

pub(crate) fn run(r: &Remote, db: &Option<PathBuf>, cmd: TokenCommand) -> Result<ExitCode> {
    match cmd {
        TokenCommand::Create(a) => {
            let role: Role = config::parse("role", &a.role)?;
            let m = r.open(db, true)?;
            let (secret, info) = m.token_create(&a.name, role)?;
            match a.format {
                OutFormat::Json => print_json(&serde_json::json!({
                    "token": secret,
                    "name": info.name,
                    "role": info.role,
                    "created_at": info.created_at,
                }))?,
                OutFormat::Text => {
                    print(&format!("{secret}\n"))?;
                    eprintln!(
                        "token {:?} ({}) created; it is shown only now: store it safely \
                         (pass it with --token or INCIDENT_TOKEN)",
                        info.name, info.role
                    );
                }
            }
        }
        TokenCommand::List(a) => {
            let m = r.open(db, false)?;
            let tokens = m.tokens()?;
            match a.format {
                OutFormat::Json => print_json(&tokens)?,
                OutFormat::Text if tokens.is_empty() => eprintln!("no tokens"),
                OutFormat::Text => {
                    let rows: Vec<Vec<String>> = tokens
                        .iter()
                        .map(|t| {
                            vec![
                                t.name.clone(),
                                t.role.to_string(),
                                t.created_at.to_local_string(),
                            ]
                        })
                        .collect();
                    print(&incident::report::format_table(
                        &["NAME", "ROLE", "CREATED"],
                        &rows,
                    ))?;
                }
            }
        }
        TokenCommand::Revoke(a) => {
            let m = r.open(db, false)?;
            m.token_revoke(&a.name)?;
            eprintln!("revoked token {:?}", a.name.trim());
        }
    }
    Ok(ExitCode::SUCCESS)
}
