//! The live loop of an online workstation: one thread pushes whenever a
//! local change is made (or every few seconds), another long-polls the
//! change feed so news from other desks arrives within a second. Both back
//! off while the server is unreachable and carry on when it returns. Each
//! thread has its own connection to the store (SQLite WAL lets them work
//! side by side with the application's own connection).

use crate::engine::{push_all, Transport, PULL_PAGE};
use clinic_core::ClinicResult;
use clinic_store::sync::PageApplied;
use clinic_store::Store;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// How long a caught-up pull waits on the server for news.
pub const LONG_POLL_SECS: u64 = 20;
/// Push at least this often even without a nudge (retries after failures).
pub const PUSH_INTERVAL: Duration = Duration::from_secs(5);
const MAX_BACKOFF: Duration = Duration::from_secs(60);

pub type StoreOpener = Arc<dyn Fn() -> ClinicResult<Store> + Send + Sync>;
pub type SharedTransport = Arc<dyn Transport + Send + Sync>;

#[derive(Default)]
struct Wake {
    pending: Mutex<bool>,
    cv: Condvar,
}

/// A running live loop; dropping it stops it.
pub struct LiveSync {
    stop: Arc<AtomicBool>,
    wake: Arc<Wake>,
    pusher: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for LiveSync {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveSync").finish_non_exhaustive()
    }
}

fn backoff(failures: u32) -> Duration {
    Duration::from_millis(500u64.saturating_mul(1 << failures.min(7))).min(MAX_BACKOFF)
}

/// Records the attempt for the status line (best effort: a failure to
/// record must not stop the loop).
fn note(store: &mut Store, result: &ClinicResult<()>) {
    let _ =
        store.write(|db| Ok(db.record_sync_attempt(chrono::Utc::now(), result.as_ref().err())?));
}

impl LiveSync {
    pub fn start(open: StoreOpener, transport: SharedTransport) -> ClinicResult<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let wake = Arc::new(Wake::default());
        let mut push_store = open()?;
        let mut pull_store = open()?;
        let pusher = {
            let (stop, wake, t) = (stop.clone(), wake.clone(), transport.clone());
            std::thread::Builder::new()
                .name("sync-push".into())
                .spawn(move || {
                    let mut failures = 0;
                    while !stop.load(Ordering::Relaxed) {
                        let r =
                            push_all(&mut push_store, t.as_ref(), chrono::Utc::now()).map(|_| ());
                        let wait = if r.is_ok() {
                            failures = 0;
                            PUSH_INTERVAL
                        } else {
                            failures += 1;
                            backoff(failures)
                        };
                        note(&mut push_store, &r);
                        let guard = wake.pending.lock().unwrap_or_else(|p| p.into_inner());
                        let (mut guard, _) = wake
                            .cv
                            .wait_timeout_while(guard, wait, |p| {
                                !*p && !stop.load(Ordering::Relaxed)
                            })
                            .unwrap_or_else(|p| p.into_inner());
                        *guard = false;
                    }
                })
                .map_err(clinic_core::ClinicError::internal)?
        };
        {
            let (stop, wake, t) = (stop.clone(), wake.clone(), transport);
            // Not joined on stop: it may be inside a long poll; it ends when that returns.
            std::thread::Builder::new()
                .name("sync-pull".into())
                .spawn(move || {
                    let mut failures = 0;
                    while !stop.load(Ordering::Relaxed) {
                        let r = (|| {
                            let c = pull_store.db().sync_cursor()?;
                            let page = t.pull(
                                c.cursor,
                                c.cursor_hash.as_deref(),
                                PULL_PAGE,
                                LONG_POLL_SECS,
                            )?;
                            if stop.load(Ordering::Relaxed) {
                                return Ok(());
                            }
                            if pull_store.write(|db| Ok(db.apply_page(&page)?))?
                                == PageApplied::EpochChanged
                            {
                                nudge(&wake);
                            }
                            if !page.changes.is_empty() {
                                // Staff disabled or re-passworded elsewhere
                                // stop unlocking this desk (best effort).
                                let _ = pull_store.reconcile_user_unlocks(chrono::Utc::now());
                            }
                            Ok(())
                        })();
                        if r.is_ok() {
                            failures = 0;
                        } else {
                            failures += 1;
                            note(&mut pull_store, &r);
                            std::thread::sleep(backoff(failures));
                        }
                    }
                })
                .map_err(clinic_core::ClinicError::internal)?;
        }
        Ok(Self {
            stop,
            wake,
            pusher: Some(pusher),
        })
    }

    /// A local change was made: push it now.
    pub fn nudge(&self) {
        nudge(&self.wake);
    }

    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        nudge(&self.wake);
        if let Some(h) = self.pusher.take() {
            let _ = h.join();
        }
    }
}

fn nudge(wake: &Wake) {
    *wake.pending.lock().unwrap_or_else(|p| p.into_inner()) = true;
    wake.cv.notify_all();
}

impl Drop for LiveSync {
    fn drop(&mut self) {
        self.stop();
    }
}
