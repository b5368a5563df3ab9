//! Ordered schema upgrades: each step rewrites a file of one version into the next.

use redb::{ReadableTable, WriteTransaction};

use super::codec;
use super::schema::*;
use super::writer::Names;
use crate::error::StoreError;

/// Ordered upgrade steps: `UPGRADES[i]` upgrades a file from version `i + 1` to `i + 2`.
type Upgrade = fn(&WriteTransaction) -> Result<(), StoreError>;
pub(super) const UPGRADES: &[Upgrade] = &[
    upgrade_1_to_2,
    upgrade_2_to_3,
    upgrade_3_to_4,
    upgrade_4_to_5,
];

/// Version 2 keys fingerprints by (time, hash) instead of a bare 128-bit hash, so a
/// migration in time order appends. Version 1 never wrote fingerprints (the bridge came
/// with version 2), so the old table is dropped, not converted.
fn upgrade_1_to_2(txn: &WriteTransaction) -> Result<(), StoreError> {
    const OLD: redb::TableDefinition<u128, u64> = redb::TableDefinition::new("fingerprints");
    txn.delete_table(OLD)?;
    Ok(())
}

/// Version 3 keys every index by a `Pair` instead of a tuple, and the component and
/// assignee indexes by name id (`NAMES`) instead of the name.
fn upgrade_2_to_3(txn: &WriteTransaction) -> Result<(), StoreError> {
    use redb::TableDefinition as Def;
    /// Reads a whole old table, then deletes it.
    fn take<K: redb::Key + 'static, V: redb::Value + 'static, T>(
        txn: &WriteTransaction,
        def: Def<K, V>,
        map: impl Fn(K::SelfType<'_>, V::SelfType<'_>) -> T,
    ) -> Result<Vec<T>, StoreError> {
        let mut out = Vec::new();
        {
            let t = txn.open_table(def)?;
            for e in t.range::<K::SelfType<'_>>(..)? {
                let (k, v) = e?;
                out.push(map(k.value(), v.value()));
            }
        }
        txn.delete_table(def)?;
        Ok(out)
    }
    for (name, new) in [
        ("by_status", BY_STATUS),
        ("by_category", BY_CATEGORY),
        ("by_priority", BY_PRIORITY),
    ] {
        let old: Def<(u8, u64), ()> = Def::new(name);
        let entries = take(txn, old, |(c, k), ()| Pair::new(c, k))?;
        let mut t = txn.open_table(new)?;
        for k in entries {
            t.insert(k, ())?;
        }
    }
    let old: Def<(i64, u64), ()> = Def::new("by_created");
    let entries = take(txn, old, |(c, k), ()| Pair::time(c, k))?;
    let mut t = txn.open_table(BY_CREATED)?;
    for k in entries {
        t.insert(k, ())?;
    }
    let old: Def<(i64, u64), u64> = Def::new("fingerprints");
    let entries = take(txn, old, |(c, h), v| (Pair::time(c, h), v))?;
    let mut t = txn.open_table(FINGERPRINTS)?;
    for (k, v) in entries {
        t.insert(k, v)?;
    }
    let mut names = Names::open(txn)?;
    for (name, new) in [("by_component", BY_COMPONENT), ("by_assignee", BY_ASSIGNEE)] {
        let old: Def<(&str, u64), ()> = Def::new(name);
        let entries = take(txn, old, |(n, k), ()| (n.to_string(), k))?;
        let mut t = txn.open_table(new)?;
        for (n, k) in entries {
            t.insert(Pair::new(names.intern(&n)?, k), ())?;
        }
    }
    Ok(())
}

/// Version 4 checksums every stored value (`codec::HEADER`): each incident and pattern
/// gets its checksum added, its payload unchanged. Rewritten in chunks, so memory stays
/// bounded whatever the store's size.
fn upgrade_3_to_4(txn: &WriteTransaction) -> Result<(), StoreError> {
    const CHUNK: usize = 10_000;
    let mut t = txn.open_table(INCIDENTS)?;
    let mut from = 0u64;
    loop {
        let mut chunk = Vec::with_capacity(CHUNK);
        for e in t.range(from..)?.take(CHUNK) {
            let (k, v) = e?;
            chunk.push((k.value(), codec::add_checksum(v.value())));
        }
        let Some(&(last, _)) = chunk.last() else {
            break;
        };
        for (k, v) in &chunk {
            t.insert(k, v.as_slice())?;
        }
        match last.checked_add(1) {
            Some(next) => from = next,
            None => break,
        }
    }
    let mut t = txn.open_table(PATTERNS)?;
    let mut all = Vec::new();
    for e in t.range::<&str>(..)? {
        let (k, v) = e?;
        all.push((k.value().to_string(), codec::add_checksum(v.value())));
    }
    // Patterns are few (one per mined cluster): one pass.
    for (k, v) in &all {
        t.insert(k.as_str(), v.as_slice())?;
    }
    Ok(())
}

/// Version 5 adds the notification outbox and the escalation firings; both start empty
/// (a change made before the upgrade has no event to send).
fn upgrade_4_to_5(txn: &WriteTransaction) -> Result<(), StoreError> {
    txn.open_table(OUTBOX)?;
    txn.open_table(ESCALATIONS)?;
    Ok(())
}
