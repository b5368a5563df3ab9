//! The delivery worker and the escalation timer as background threads, for a long-running
//! process (`incident serve`, `incident outbox deliver`): start, then stop on shutdown.

use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use super::config::NotifyConfig;
use super::worker::{DeliveryCounters, PassReport, Worker};
use crate::error::{Error, Result};
use crate::escalation::{TickReport, tick};
use crate::manager::IncidentManager;
use crate::model::Timestamp;

/// Called with what failed (`delivery`, `escalation`) and why.
pub type ErrorHook = Arc<dyn Fn(&str, &Error) + Send + Sync>;

/// What the threads report; called from them.
#[derive(Clone)]
pub struct Hooks {
    pub error: ErrorHook,
    pub delivered: Arc<dyn Fn(&PassReport) + Send + Sync>,
    pub escalated: Arc<dyn Fn(&TickReport) + Send + Sync>,
}

impl Default for Hooks {
    fn default() -> Self {
        Self {
            error: Arc::new(|_, _| {}),
            delivered: Arc::new(|_| {}),
            escalated: Arc::new(|_| {}),
        }
    }
}

/// Running background threads; [`Background::stop`] ends them.
pub struct Background {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    /// The delivery worker's counters (for the metrics).
    pub counters: Arc<DeliveryCounters>,
}

/// Sleeps `total` in short steps; false if `stop` was set meanwhile.
fn nap(total: Duration, stop: &AtomicBool) -> bool {
    let step = Duration::from_millis(50);
    let mut waited = Duration::ZERO;
    while waited < total {
        if stop.load(Ordering::Relaxed) {
            return false;
        }
        std::thread::sleep(step);
        waited += step;
    }
    !stop.load(Ordering::Relaxed)
}

impl Background {
    /// Starts the delivery worker (when `config` has targets) and, with `escalate_every`,
    /// an escalation evaluation at that interval (first one at once). `open` gives the
    /// store for each step.
    pub fn start<M, F>(
        open: F,
        config: Arc<NotifyConfig>,
        escalate_every: Option<Duration>,
        hooks: Hooks,
    ) -> Self
    where
        M: Deref<Target = IncidentManager>,
        F: Fn() -> Result<M> + Send + Sync + 'static,
    {
        let stop = Arc::new(AtomicBool::new(false));
        let open = Arc::new(open);
        let worker = Worker::new(Arc::clone(&config));
        let counters = Arc::clone(&worker.counters);
        let mut threads = Vec::new();
        if !config.targets.is_empty() {
            let (stop, open, hooks) = (Arc::clone(&stop), Arc::clone(&open), hooks.clone());
            threads.push(std::thread::spawn(move || {
                worker.run(&|| open(), &stop, &|e| (hooks.error)("delivery", e), &|r| {
                    (hooks.delivered)(r)
                });
            }));
        }
        if let Some(every) = escalate_every {
            let stop = Arc::clone(&stop);
            threads.push(std::thread::spawn(move || {
                loop {
                    let run = open()
                        .and_then(|m| tick(&m, &config.escalation, &config.sla, Timestamp::now()));
                    match run {
                        Ok(r) if !r.fired.is_empty() => (hooks.escalated)(&r),
                        Ok(_) => {}
                        Err(e) => (hooks.error)("escalation", &e),
                    }
                    if !nap(every, &stop) {
                        break;
                    }
                }
            }));
        }
        Background {
            stop,
            threads,
            counters,
        }
    }

    /// Waits for the threads, which run until the process ends.
    pub fn wait(self) {
        for t in self.threads {
            let _ = t.join();
        }
    }

    /// Asks the threads to stop and waits for them (at most one request timeout).
    pub fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            let _ = t.join();
        }
    }
}
