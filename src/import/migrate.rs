//! `incident bridge migrate`: streams an `error_history.json` into the store.
//!
//! Two threads: the preparing thread reads, validates, fingerprints, deduplicates, assigns
//! ids and encodes whole batches; the calling thread writes each batch in one write
//! transaction. Memory is bounded by two batches in flight, whatever the input size
//! (plus 8 bytes per record for `--write-back`'s index -> id map).
//!
//! Invariants:
//! - A batch is committed whole or not at all, and it carries the fingerprints of its
//!   records, so a rerun after any crash skips exactly the records already stored.
//! - Ids already carried by the file (`incident_id`) are reserved before any new id is
//!   handed out, so a new incident never takes an id a later record links to.
//! - A carried id links a record to a stored incident only when that incident did not come
//!   from another error (it was imported or raised by hand): a migrated incident came from
//!   exactly one error, found by its fingerprint. Any other carried id is a conflict; the
//!   record becomes an incident of its own and the conflict is reported.

use std::collections::BTreeMap;

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::error::{Error, StoreError};
use crate::import::error_history::{ErrorReader, ReadError, fingerprint_key};
use crate::manager::IncidentManager;
use crate::model::{IncidentId, Origin};
use crate::store::{Bulk, DaySeqs, Pair, Snapshot};

/// How to migrate.
#[derive(Clone, Debug)]
pub struct MigrateOptions {
    /// Records per write transaction.
    pub batch: usize,
    /// Skip invalid records (writing them to `rejects`) instead of stopping at the first.
    pub skip_invalid: bool,
    /// Where rejected records go (JSON Lines, with reasons), with `skip_invalid`.
    pub rejects: Option<PathBuf>,
    /// Keep the incident id of every record, for `write_back`.
    pub keep_ids: bool,
    /// Longest time between two synced commits: what a crash or power loss can take back
    /// (a rerun redoes it). Commits in between are unsynced.
    pub checkpoint: Duration,
}

impl Default for MigrateOptions {
    fn default() -> Self {
        Self {
            batch: 25_000,
            skip_invalid: false,
            rejects: None,
            keep_ids: false,
            checkpoint: Duration::from_secs(5),
        }
    }
}

/// Time spent per phase, in seconds (the two threads overlap, so they add up to more
/// than the wall time).
#[derive(Clone, Debug, Default, Serialize, serde::Deserialize)]
pub struct Phases {
    /// Scanning the reserved ids carried by the file.
    pub reserve: f64,
    /// Reading and validating records.
    pub parse: f64,
    /// Fingerprints, dedup lookups, id assignment, building and encoding incidents.
    pub encode: f64,
    /// The preparing thread waiting for the writer to take a batch.
    pub wait: f64,
    /// Writing batches and committing them.
    pub write: f64,
    pub wall: f64,
}

/// What a migration did. Every record is counted exactly once among `migrated`,
/// `already_present`, `linked` and `rejected`.
#[derive(Clone, Debug, Default, Serialize, serde::Deserialize)]
pub struct MigrateSummary {
    /// Records read (valid or not).
    pub records: u64,
    /// New incidents created.
    pub migrated: u64,
    /// Records whose fingerprint was already in the store (an earlier run).
    pub already_present: u64,
    /// Records carrying an `incident_id` that already existed: linked, not duplicated.
    pub linked: u64,
    /// Of `migrated`: records whose `incident_id` did not exist yet, created under it.
    pub created_under_carried_id: u64,
    /// Of `migrated`: records whose `incident_id` names an incident migrated from another
    /// error; each became an incident of its own (the first 1,000 are listed).
    pub id_conflicts: Vec<IdConflict>,
    /// Every id conflict, listed or not.
    pub id_conflicts_total: u64,
    /// Invalid records skipped (with `skip_invalid`).
    pub rejected: u64,
    pub rejects_file: Option<String>,
    pub batches: u64,
    pub phases: Phases,
    /// Incident id per record index (only with `keep_ids`; 0 where none).
    #[serde(skip)]
    pub ids: Vec<u64>,
}

/// A record whose carried `incident_id` is not proof of its identity.
#[derive(Clone, Debug, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct IdConflict {
    /// 0-based record index in the file.
    pub index: u64,
    /// The id the record carries, which belongs to an incident of another error.
    pub carried: String,
    /// The incident the record became instead.
    pub migrated_to: String,
}

/// The migration stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum MigrateError {
    /// The input was malformed or a record invalid; everything before it is stored.
    #[error("{source} (stopped: {} migrated before it; nothing at or after it was written)", .summary.migrated)]
    Input {
        source: ReadError,
        summary: Box<MigrateSummary>,
    },
    #[error("cannot read {path}: {source}")]
    Open {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot write rejects file {path}: {source}")]
    Rejects {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] Error),
}

impl From<StoreError> for MigrateError {
    fn from(e: StoreError) -> Self {
        MigrateError::Store(e.into())
    }
}

/// Finds every `"incident_id": "INC-..."` in the file and returns, per date, the highest
/// sequence number. A match inside some other string only reserves an id needlessly.
fn scan_carried_ids(path: &Path) -> Result<BTreeMap<u32, u32>, MigrateError> {
    let open = |source| MigrateError::Open {
        path: path.display().to_string(),
        source,
    };
    let mut f = File::open(path).map_err(open)?;
    let finder = memchr::memmem::Finder::new(b"\"incident_id\"");
    let mut out: BTreeMap<u32, u32> = BTreeMap::new();
    let mut buf = vec![0u8; 4 << 20];
    let mut keep = 0usize;
    loop {
        let n = f.read(&mut buf[keep..]).map_err(open)?;
        let end = keep + n;
        let data = &buf[..end];
        // The last 64 bytes may hold a match cut in two; they are scanned again next round.
        let safe = if n == 0 { end } else { end.saturating_sub(64) };
        let mut last = 0;
        for pos in finder.find_iter(&data[..end]) {
            if pos >= safe {
                break;
            }
            last = pos + 1;
            let rest = &data[pos + 13..end.min(pos + 13 + 64)];
            let rest = std::str::from_utf8(rest).unwrap_or_else(|e| {
                std::str::from_utf8(&rest[..e.valid_up_to()]).unwrap_or_default()
            });
            let value = rest.trim_start().strip_prefix(':').map(str::trim_start);
            if let Some(v) = value.and_then(|v| v.strip_prefix('"'))
                && let Some(close) = v.find('"')
                && let Ok(id) = v[..close].parse::<IncidentId>()
            {
                let e = out.entry(id.date()).or_default();
                *e = (*e).max(id.seq());
            }
        }
        if n == 0 {
            break;
        }
        let carry_from = safe.max(last.min(end));
        buf.copy_within(carry_from..end, 0);
        keep = end - carry_from;
    }
    Ok(out)
}

/// Until `stop` is dropped, asks the OS every 250 ms to write the file's dirty pages to
/// disk, so that the final synced commit waits for the last of them only, not for the
/// whole file (1M errors: 0.2 s less). Unsynced commits are still not durable: their
/// header is written by the next synced commit.
fn flush_behind(file: &File, stop: &mpsc::Receiver<()>) {
    while let Err(mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(Duration::from_millis(250)) {
        // Only an optimisation: a failure here is the synced commit's to report.
        let _ = file.sync_data();
    }
}

/// A prepared batch, or the reason preparing stopped.
enum Msg {
    /// A batch and its sequence number.
    Batch(Box<Bulk>, u64),
    Stop(ReadError),
}

/// Migrates `path` (a file; spool stdin to a file first) into the store.
/// `progress` gets the bytes read so far.
pub fn migrate(
    manager: &IncidentManager,
    path: &Path,
    opts: &MigrateOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> crate::Result<MigrateSummary> {
    Ok(manager
        .store()
        .contain(|| migrate_inner(manager, path, opts, progress))?)
}

fn migrate_inner(
    manager: &IncidentManager,
    path: &Path,
    opts: &MigrateOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<MigrateSummary, MigrateError> {
    let wall = Instant::now();
    let mut summary = MigrateSummary::default();
    let t = Instant::now();
    let reserved = scan_carried_ids(path)?;
    summary.phases.reserve = t.elapsed().as_secs_f64();
    let reader = ErrorReader::new(File::open(path).map_err(|source| MigrateError::Open {
        path: path.display().to_string(),
        source,
    })?);
    let mut rejects = match (&opts.rejects, opts.skip_invalid) {
        (Some(p), true) => Some((
            p.clone(),
            BufWriter::new(File::create(p).map_err(|source| MigrateError::Rejects {
                path: p.display().to_string(),
                source,
            })?),
        )),
        _ => None,
    };

    let (tx, rx) = mpsc::sync_channel::<Msg>(1);
    // The writer returns each emptied batch, so its buffers are reused, not re-faulted.
    let (ack_tx, ack_rx) = mpsc::channel::<(u64, Box<Bulk>)>();
    let store = manager.store();
    let mut write_time = Duration::ZERO;
    let mut write_result: Result<(), MigrateError> = Ok(());
    let mut last_sync = Instant::now();

    let (stop_flusher, flusher_stop) = mpsc::channel::<()>();
    let prepared = std::thread::scope(|scope| {
        if let Some(Ok(file)) = store.path().map(File::open) {
            scope.spawn(move || flush_behind(&file, &flusher_stop));
        }
        let preparer = scope.spawn(|| {
            prepare(
                store,
                reader,
                opts,
                &reserved,
                tx,
                ack_rx,
                progress,
                rejects.as_mut().map(|(_, w)| w as &mut (dyn Write + Send)),
            )
        });
        let mut stop = None;
        for msg in rx.iter() {
            match msg {
                Msg::Batch(mut bulk, seq) => {
                    let t = Instant::now();
                    let r = (|| -> Result<(), MigrateError> {
                        // A batch is synced once a checkpoint interval has passed, and the
                        // end syncs the rest; a crash in between rolls back to the last
                        // synced batch, whole.
                        let synced = last_sync.elapsed() >= opts.checkpoint;
                        if synced {
                            last_sync = Instant::now();
                        }
                        store.write_bulk(&mut bulk, synced)?;
                        Ok(())
                    })();
                    write_time += t.elapsed();
                    if let Err(e) = r {
                        write_result = Err(e);
                        break;
                    }
                    summary.batches += 1;
                    let _ = ack_tx.send((seq, bulk));
                }
                Msg::Stop(e) => stop = Some(e),
            }
        }
        drop(rx);
        drop(stop_flusher);
        if write_result.is_ok() && summary.batches > 0 {
            let t = Instant::now();
            write_result = store.sync().map_err(MigrateError::from);
            write_time += t.elapsed();
        }
        let prepared = preparer.join();
        (prepared, stop)
    });
    write_result?;
    let (prepared, stop) = prepared;
    let counts = match prepared {
        Ok(r) => r?,
        Err(panic) => std::panic::resume_unwind(panic),
    };
    summary.records = counts.records;
    summary.migrated = counts.migrated;
    summary.already_present = counts.already_present;
    summary.linked = counts.linked;
    summary.created_under_carried_id = counts.created_under_carried_id;
    summary.id_conflicts = counts.id_conflicts;
    summary.id_conflicts_total = counts.id_conflicts_total;
    summary.rejected = counts.rejected;
    summary.ids = counts.ids;
    summary.phases.parse = counts.parse.as_secs_f64();
    summary.phases.encode = counts.encode.as_secs_f64();
    summary.phases.wait = counts.wait.as_secs_f64();
    summary.phases.write = write_time.as_secs_f64();
    if let Some((p, mut w)) = rejects {
        w.flush().map_err(|source| MigrateError::Rejects {
            path: p.display().to_string(),
            source,
        })?;
        summary.rejects_file = Some(p.display().to_string());
    }
    store.after_bulk_load(summary.migrated);
    summary.phases.wall = wall.elapsed().as_secs_f64();
    if let Some(e) = stop {
        return Err(MigrateError::Input {
            source: e,
            summary: Box::new(summary),
        });
    }
    Ok(summary)
}

#[derive(Default)]
struct Counts {
    records: u64,
    migrated: u64,
    already_present: u64,
    linked: u64,
    created_under_carried_id: u64,
    id_conflicts: Vec<IdConflict>,
    id_conflicts_total: u64,
    rejected: u64,
    ids: Vec<u64>,
    parse: Duration,
    encode: Duration,
    wait: Duration,
}

/// What an `incident_id` carried by a record (whose fingerprint is not stored) proves.
#[derive(Clone, Copy)]
enum Carried {
    /// No id carried, or the fingerprint already decided.
    Nothing,
    /// The id names an incident that came from no other error: link the record to it.
    Link(u64),
    /// The id names nothing stored: create the record's incident under it.
    Create(IncidentId),
    /// The id names an incident migrated from another error: not proof of identity.
    Conflict(IncidentId),
}

/// Fingerprint key: `Pair::time`(error time micros, first 64 bits of the fingerprint).
type FpKey = Pair;

/// Fingerprints and ids of one batch, kept until its commit is acknowledged, because a
/// read transaction cannot see them before.
#[derive(Default)]
struct Claimed {
    fingerprints: HashMap<FpKey, u64>,
    ids: HashSet<u64>,
}

/// The batch being built, the batches sent but not yet committed, and the emptied
/// batches the writer gave back for reuse.
struct Outbox {
    tx: mpsc::SyncSender<Msg>,
    bulk: Bulk,
    current: Claimed,
    in_flight: Vec<(u64, Claimed)>,
    spare: Vec<Bulk>,
    seq: u64,
}

impl Outbox {
    /// The incident a fingerprint went to in this batch or one not yet committed.
    fn fingerprint(&self, key: &FpKey) -> Option<u64> {
        std::iter::once(&self.current)
            .chain(self.in_flight.iter().map(|(_, c)| c))
            .find_map(|c| c.fingerprints.get(key).copied())
    }

    /// Whether an incident id was taken in this batch or one not yet committed.
    fn has_id(&self, id: u64) -> bool {
        std::iter::once(&self.current)
            .chain(self.in_flight.iter().map(|(_, c)| c))
            .any(|c| c.ids.contains(&id))
    }

    /// Records that the error with fingerprint `key` belongs to incident `id`.
    fn claim(&mut self, key: FpKey, id: u64) {
        self.current.fingerprints.insert(key, id);
        self.bulk.fingerprints.push((key, id));
    }

    /// Hands the batch to the writer; false when the writer has stopped.
    fn send(&mut self) -> bool {
        self.seq += 1;
        self.in_flight
            .push((self.seq, std::mem::take(&mut self.current)));
        self.bulk.presort();
        let full = std::mem::replace(&mut self.bulk, self.spare.pop().unwrap_or_default());
        self.tx.send(Msg::Batch(Box::new(full), self.seq)).is_ok()
    }

    /// Forgets what batches up to `seq` claimed (they are in the store now).
    fn committed(&mut self, seq: u64) {
        self.in_flight.retain(|(s, _)| *s > seq);
    }
}

#[allow(clippy::too_many_arguments)]
fn prepare<R: Read>(
    store: &crate::store::Store,
    mut reader: ErrorReader<R>,
    opts: &MigrateOptions,
    reserved: &BTreeMap<u32, u32>,
    tx: mpsc::SyncSender<Msg>,
    acks: mpsc::Receiver<(u64, Box<Bulk>)>,
    progress: &(dyn Fn(u64) + Sync),
    mut rejects: Option<&mut (dyn Write + Send)>,
) -> Result<Counts, MigrateError> {
    let mut c = Counts::default();
    let mut ids = DaySeqs::default();
    let mut snapshot = store.snapshot()?;
    let mut fps = snapshot.fingerprints()?;
    // Duplicates share their timestamp. A record later than everything stored before this
    // run and than everything read so far can only repeat a record of this run with the
    // same time, kept in `same_time`: no store lookup needed.
    let floor = fps.last_micros()?.unwrap_or(i64::MIN);
    let mut newest = i64::MIN;
    let mut same_time: HashMap<FpKey, u64> = HashMap::default();
    // The first batches are small so that the writer starts early; they double up to the
    // configured size.
    let full_batch = opts.batch.max(1);
    let mut batch = full_batch.min(1_000);
    let mut out = Outbox {
        tx,
        bulk: Bulk::default(),
        current: Claimed::default(),
        in_flight: Vec::new(),
        spare: Vec::new(),
        seq: 0,
    };
    // A day's next sequence number starts after the stored counter, every id the pre-scan
    // reserved, and the day's highest stored id (which the counter covers, unless the
    // file was damaged): so a new id is never a stored one.
    let floor_of = |snapshot: &Snapshot, date: u32| -> Result<u32, StoreError> {
        Ok(snapshot
            .day_floor(date)?
            .max(reserved.get(&date).copied().unwrap_or(0)))
    };

    let mut t0 = Instant::now();
    loop {
        let next = reader.read_record();
        let t1 = Instant::now();
        c.parse += t1 - t0;
        t0 = t1;
        let rec = match next {
            Ok(Some(rec)) => rec,
            Ok(None) => break,
            Err(ReadError::Invalid(bad)) if opts.skip_invalid => {
                c.records += 1;
                c.rejected += 1;
                if opts.keep_ids {
                    c.ids.push(0);
                }
                if let Some(w) = rejects.as_deref_mut() {
                    let line = bad.to_reject_line();
                    w.write_all(line.as_bytes())
                        .and_then(|_| w.write_all(b"\n"))
                        .map_err(|source| MigrateError::Rejects {
                            path: opts
                                .rejects
                                .as_ref()
                                .map(|p| p.display().to_string())
                                .unwrap_or_default(),
                            source,
                        })?;
                }
                continue;
            }
            Err(e) => {
                if !out.bulk.is_empty() {
                    out.send();
                }
                let _ = out.tx.send(Msg::Stop(e));
                return Ok(c);
            }
        };
        c.records += 1;
        let key = fingerprint_key(&rec);
        let known = if key.micros() > floor && key.micros() >= newest {
            if key.micros() > newest {
                newest = key.micros();
                same_time.clear();
            }
            same_time.get(&key).copied()
        } else {
            match out.fingerprint(&key) {
                Some(id) => Some(id),
                None => fps.get(key)?,
            }
        };
        // What the record's carried id proves.
        let carried = match rec.incident_id {
            Some(carried) if known.is_none() => {
                let k = carried.key();
                if out.has_id(k) {
                    // Created in this run, from another error.
                    Carried::Conflict(carried)
                } else if snapshot.contains(k)? {
                    let migrated = snapshot
                        .get_key(k)?
                        .is_some_and(|inc| inc.origin == Origin::Migrated);
                    if migrated {
                        Carried::Conflict(carried)
                    } else {
                        Carried::Link(k)
                    }
                } else {
                    Carried::Create(carried)
                }
            }
            _ => Carried::Nothing,
        };
        let id = if let Some(existing) = known {
            c.already_present += 1;
            existing
        } else if let Carried::Link(k) = carried {
            c.linked += 1;
            k
        } else if let Carried::Create(carried) = carried {
            let k = carried.key();
            out.bulk.add_migrated(&rec.migrated(), carried);
            out.current.ids.insert(k);
            let date = carried.date();
            let seq = ids.reserve(date, carried.seq(), |d| floor_of(&snapshot, d))?;
            let e = out.bulk.counters.entry(date).or_default();
            *e = (*e).max(seq);
            c.migrated += 1;
            c.created_under_carried_id += 1;
            k
        } else {
            let date = IncidentId::date_key(rec.timestamp.local_date());
            // Past every id stored, reserved or taken in this run (carried ids created
            // here advance the counter too).
            let new = ids.next(date, |d| floor_of(&snapshot, d))?;
            let (seq, id) = (new.seq(), new.key());
            out.bulk.add_migrated(&rec.migrated(), new);
            out.current.ids.insert(id);
            let e = out.bulk.counters.entry(date).or_default();
            *e = (*e).max(seq);
            c.migrated += 1;
            if let Carried::Conflict(carried) = carried {
                c.id_conflicts_total += 1;
                if c.id_conflicts.len() < 1000 {
                    c.id_conflicts.push(IdConflict {
                        index: c.records - 1,
                        carried: carried.to_string(),
                        migrated_to: IncidentId::from_key(id).to_string(),
                    });
                }
            }
            id
        };
        if known.is_none() {
            out.claim(key, id);
            if key.micros() == newest {
                same_time.insert(key, id);
            }
        }
        if opts.keep_ids {
            c.ids.push(id);
        }
        let t2 = Instant::now();
        c.encode += t2 - t1;
        t0 = t2;
        if out.bulk.len() >= batch {
            batch = (batch * 2).min(full_batch);
            let sent = out.send();
            let t3 = Instant::now();
            c.wait += t3 - t0;
            t0 = t3;
            if !sent {
                return Ok(c);
            }
            progress(reader.offset());
            // Committed batches are visible to a new read transaction; drop their sets.
            let mut committed = None;
            while let Ok((seq, emptied)) = acks.try_recv() {
                committed = Some(seq);
                out.spare.push(*emptied);
            }
            if let Some(seq) = committed {
                out.committed(seq);
                snapshot = store.snapshot()?;
                fps = snapshot.fingerprints()?;
            }
        }
    }
    if !out.bulk.is_empty() {
        out.send();
    }
    progress(reader.offset());
    Ok(c)
}
