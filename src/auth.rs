//! Access tokens for the server: roles, creation (the secret is shown once, only its
//! SHA-256 is stored), listing, revocation and lookup.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, ParseError, Result};
use crate::manager::IncidentManager;
use crate::model::Timestamp;
use crate::store::StoredToken;

/// What a token may do. Each role includes the ones before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Read incidents, reports and patterns.
    Read,
    /// Also create and change incidents, import and migrate.
    Write,
    /// Also run analyses that replace the stored patterns.
    Admin,
}

impl Role {
    pub const ALL: &'static [Role] = &[Role::Read, Role::Write, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Read => "read",
            Role::Write => "write",
            Role::Admin => "admin",
        }
    }

    fn code(self) -> u8 {
        self as u8
    }

    fn from_code(c: u8) -> Option<Role> {
        Role::ALL.get(usize::from(c)).copied()
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = ParseError;
    fn from_str(s: &str) -> std::result::Result<Self, ParseError> {
        Role::ALL
            .iter()
            .copied()
            .find(|r| r.as_str() == s.trim().to_ascii_lowercase())
            .ok_or_else(|| ParseError::Value {
                what: "role",
                value: s.to_string(),
                expected: "read, write, admin".into(),
            })
    }
}

/// A stored token, without its secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    pub name: String,
    pub role: Role,
    pub created_at: Timestamp,
}

fn hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

fn info(t: StoredToken) -> Result<TokenInfo> {
    let role = Role::from_code(t.role).ok_or_else(|| {
        Error::invalid(
            "token role",
            format!(
                "token {} has role code {}, unknown to this build",
                t.name, t.role
            ),
        )
    })?;
    Ok(TokenInfo {
        name: t.name,
        role,
        created_at: Timestamp::from_micros(t.created_micros),
    })
}

/// Creates a token; returns its secret (shown once, never stored) and what was stored.
pub fn create_token(m: &IncidentManager, name: &str, role: Role) -> Result<(String, TokenInfo)> {
    let name = name.trim();
    if name.is_empty() || name.chars().any(char::is_control) || name.chars().count() > 64 {
        return Err(Error::invalid(
            "name",
            "a token name is 1 to 64 printable characters",
        ));
    }
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| {
        Error::invalid(
            "token",
            format!("no randomness from the operating system: {e}"),
        )
    })?;
    let secret: String = std::iter::once("inc_".to_string())
        .chain(bytes.iter().map(|b| format!("{b:02x}")))
        .collect();
    let stored = StoredToken {
        name: name.to_string(),
        role: role.code(),
        created_micros: Timestamp::now().micros(),
    };
    if !m.store().put_token(&hash(&secret), &stored)? {
        return Err(Error::invalid(
            "name",
            format!("a token named {name:?} exists; revoke it first or pick another name"),
        ));
    }
    Ok((secret, info(stored)?))
}

/// Every token, by name.
pub fn list_tokens(m: &IncidentManager) -> Result<Vec<TokenInfo>> {
    m.store().tokens()?.into_iter().map(info).collect()
}

/// Revokes the token named `name`.
pub fn revoke_token(m: &IncidentManager, name: &str) -> Result<()> {
    if m.store().delete_token(name.trim())? {
        Ok(())
    } else {
        Err(Error::invalid(
            "name",
            format!("no token named {:?}", name.trim()),
        ))
    }
}

/// The token whose secret is `secret`, if any.
pub fn authenticate(m: &IncidentManager, secret: &str) -> Result<Option<TokenInfo>> {
    m.store()
        .token_by_hash(&hash(secret.trim()))?
        .map(info)
        .transpose()
}

/// Whether any token exists (a server on a non-loopback address needs one).
pub fn has_tokens(m: &IncidentManager) -> Result<bool> {
    Ok(!m.store().tokens()?.is_empty())
}
