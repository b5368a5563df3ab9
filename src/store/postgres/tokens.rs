//! Server access tokens on PostgreSQL: the same rows as redb's `tokens` table, keyed by
//! the hash of the secret; a name is unique.

use super::PgStore;
use crate::error::StoreError;
use crate::store::StoredToken;

impl PgStore {
    pub(crate) fn tokens(&self) -> Result<Vec<StoredToken>, StoreError> {
        Ok(self
            .conn()?
            .query(
                "SELECT name, role, created_at FROM tokens ORDER BY name",
                &[],
            )?
            .iter()
            .map(row_token)
            .collect())
    }

    pub(crate) fn token_by_hash(&self, hash: &[u8]) -> Result<Option<StoredToken>, StoreError> {
        Ok(self
            .conn()?
            .query_opt(
                "SELECT name, role, created_at FROM tokens WHERE hash = $1",
                &[&hash],
            )?
            .as_ref()
            .map(row_token))
    }

    pub(crate) fn put_token(&self, hash: &[u8], token: &StoredToken) -> Result<bool, StoreError> {
        let n = self.conn()?.execute(
            "INSERT INTO tokens (hash, name, role, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT DO NOTHING",
            &[
                &hash,
                &token.name,
                &i16::from(token.role),
                &token.created_micros,
            ],
        )?;
        Ok(n == 1)
    }

    pub(crate) fn delete_token(&self, name: &str) -> Result<bool, StoreError> {
        let n = self
            .conn()?
            .execute("DELETE FROM tokens WHERE name = $1", &[&name])?;
        Ok(n == 1)
    }
}

fn row_token(r: &postgres::Row) -> StoredToken {
    StoredToken {
        name: r.get(0),
        role: r.get::<_, i16>(1) as u8,
        created_micros: r.get(2),
    }
}
