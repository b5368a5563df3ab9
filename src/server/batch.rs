//! Group commit: every lifecycle change goes through one writer thread, which applies all
//! changes waiting at that moment in one write transaction (one fsync) and answers each
//! only after that transaction committed. Changes that arrive while a commit is in flight
//! form the next batch, so concurrent writers share fsyncs instead of queueing for one
//! each.

use std::sync::Arc;
use std::sync::mpsc;
use std::thread::JoinHandle;

use tokio::sync::oneshot;

use super::error::ApiError;
use crate::manager::{Applied, IncidentManager, Op};

/// Most changes in one transaction: bounds how long the first of a batch waits.
const MAX_BATCH: usize = 256;

type Reply = oneshot::Sender<Result<Applied, ApiError>>;

/// The writer thread and the way to it. Dropping it lets the thread finish its batch
/// and waits for it, so the store is closed when the server is gone.
pub(crate) struct Batcher {
    tx: Option<mpsc::Sender<(Op, Reply)>>,
    thread: Option<JoinHandle<()>>,
}

impl Batcher {
    pub(crate) fn start(manager: Arc<IncidentManager>) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("group-commit".into())
            .spawn(move || run(&manager, &rx))?;
        Ok(Batcher {
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    /// Applies `op` in the next group commit; answers once it is durable.
    pub(crate) async fn apply(&self, op: Op) -> Result<Applied, ApiError> {
        let (reply, answer) = oneshot::channel();
        let stopped = || ApiError::internal("the store's writer has stopped");
        self.tx
            .as_ref()
            .ok_or_else(stopped)?
            .send((op, reply))
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

impl Drop for Batcher {
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run(manager: &IncidentManager, rx: &mpsc::Receiver<(Op, Reply)>) {
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        while jobs.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let (ops, replies): (Vec<Op>, Vec<Reply>) = jobs.into_iter().unzip();
        match manager.apply_batch(ops) {
            Ok(results) => {
                if results.len() > 1 {
                    let refused = results.iter().filter(|r| r.is_err()).count();
                    tracing::info!(changes = results.len(), refused, "group commit");
                }
                for (result, reply) in results.into_iter().zip(replies) {
                    let _ = reply.send(result.map_err(ApiError::from));
                }
            }
            Err(e) => {
                let e = ApiError::from(e);
                for reply in replies {
                    let _ = reply.send(Err(e.copy()));
                }
            }
        }
    }
}
