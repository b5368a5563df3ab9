//! Server access tokens: stored by the hash of their secret, never the secret.

use redb::ReadableTable;

use super::RedbStore;
use super::Store;
use super::backend::Engine;
use super::schema::TOKENS;
use crate::error::StoreError;

/// A token as stored: its name, role code and creation time (UTC microseconds).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct StoredToken {
    pub(crate) name: String,
    pub(crate) role: u8,
    pub(crate) created_micros: i64,
}

impl RedbStore {
    /// Every stored token, by name.
    pub(crate) fn tokens(&self) -> Result<Vec<StoredToken>, StoreError> {
        self.contain(|| {
            let txn = self.begin_read()?;
            let t = match txn.open_table(TOKENS) {
                Ok(t) => t,
                Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
                Err(e) => return Err(e.into()),
            };
            let mut out = Vec::new();
            for e in t.range::<&[u8]>(..)? {
                let (_, v) = e?;
                let (name, role, created_micros) = v.value();
                out.push(StoredToken {
                    name: name.to_string(),
                    role,
                    created_micros,
                });
            }
            out.sort_by(|a, b| a.name.cmp(&b.name));
            Ok(out)
        })
    }

    /// The token whose secret hashes to `hash`.
    pub(crate) fn token_by_hash(&self, hash: &[u8]) -> Result<Option<StoredToken>, StoreError> {
        self.contain(|| {
            let txn = self.begin_read()?;
            let t = match txn.open_table(TOKENS) {
                Ok(t) => t,
                Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
                Err(e) => return Err(e.into()),
            };
            Ok(t.get(hash)?.map(|v| {
                let (name, role, created_micros) = v.value();
                StoredToken {
                    name: name.to_string(),
                    role,
                    created_micros,
                }
            }))
        })
    }

    /// Stores a token unless its name is taken; returns whether it was stored.
    pub(crate) fn put_token(&self, hash: &[u8], token: &StoredToken) -> Result<bool, StoreError> {
        self.contain(|| {
            let txn = self.begin_write()?;
            {
                let mut t = txn.open_table(TOKENS)?;
                for e in t.range::<&[u8]>(..)? {
                    let (_, v) = e?;
                    if v.value().0 == token.name {
                        return Ok(false);
                    }
                }
                t.insert(
                    hash,
                    (token.name.as_str(), token.role, token.created_micros),
                )?;
            }
            txn.commit()?;
            Ok(true)
        })
    }

    /// Removes the token named `name`; returns whether there was one.
    pub(crate) fn delete_token(&self, name: &str) -> Result<bool, StoreError> {
        self.contain(|| {
            let txn = self.begin_write()?;
            let found = {
                let mut t = txn.open_table(TOKENS)?;
                let mut hash = None;
                for e in t.range::<&[u8]>(..)? {
                    let (k, v) = e?;
                    if v.value().0 == name {
                        hash = Some(k.value().to_vec());
                        break;
                    }
                }
                match hash {
                    Some(h) => {
                        t.remove(h.as_slice())?;
                        true
                    }
                    None => false,
                }
            };
            txn.commit()?;
            Ok(found)
        })
    }
}

impl Store {
    /// Every stored token, by name.
    pub(crate) fn tokens(&self) -> Result<Vec<StoredToken>, StoreError> {
        match self.engine() {
            Engine::Redb(s) => s.tokens(),
            Engine::Postgres(s) => s.tokens(),
        }
    }

    /// The token whose secret hashes to `hash`.
    pub(crate) fn token_by_hash(&self, hash: &[u8]) -> Result<Option<StoredToken>, StoreError> {
        match self.engine() {
            Engine::Redb(s) => s.token_by_hash(hash),
            Engine::Postgres(s) => s.token_by_hash(hash),
        }
    }

    /// Stores a token unless its name is taken; returns whether it was stored.
    pub(crate) fn put_token(&self, hash: &[u8], token: &StoredToken) -> Result<bool, StoreError> {
        match self.engine() {
            Engine::Redb(s) => s.put_token(hash, token),
            Engine::Postgres(s) => s.put_token(hash, token),
        }
    }

    /// Removes the token named `name`; returns whether there was one.
    pub(crate) fn delete_token(&self, name: &str) -> Result<bool, StoreError> {
        match self.engine() {
            Engine::Redb(s) => s.delete_token(name),
            Engine::Postgres(s) => s.delete_token(name),
        }
    }
}
