//! Password work: Argon2id hashing and checking, deliberately slow.
//!
//! It never runs while a request holds a database connection or a row lock
//! (callers read what they need, let the connection go, check, then record
//! the outcome in a short transaction of their own), never on the async
//! runtime's threads, and never more at once than the machine has CPUs. A
//! request that would wait behind too many others is refused as busy
//! (503) at once, so a flood of sign-ins costs queued work, not memory
//! and not the database connections every other request needs.

use crate::ServerError;
use clinic_core::auth::Password;
use rand::RngCore;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use tokio::sync::Semaphore;

/// How many checks may wait per one running, before more are refused.
pub const WAITING_PER_CPU: usize = 64;

#[derive(Debug)]
pub struct PasswordWork {
    running: Semaphore,
    parallel: usize,
    waiting: AtomicUsize,
    max_waiting: usize,
}

/// Counts a waiting check for as long as it waits (also when its request
/// is dropped while waiting).
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl PasswordWork {
    /// At most `parallel` checks at once and `max_waiting` waiting.
    pub fn new(parallel: usize, max_waiting: usize) -> Self {
        let parallel = parallel.max(1);
        Self {
            running: Semaphore::new(parallel),
            parallel,
            waiting: AtomicUsize::new(0),
            max_waiting,
        }
    }

    /// One check per CPU of this machine.
    pub fn for_this_machine() -> Self {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self::new(cpus, cpus * WAITING_PER_CPU)
    }

    /// The process's own: every server in the process shares its CPUs.
    pub fn shared() -> Arc<Self> {
        static SHARED: OnceLock<Arc<PasswordWork>> = OnceLock::new();
        SHARED
            .get_or_init(|| Arc::new(Self::for_this_machine()))
            .clone()
    }

    /// Checks waiting for a CPU now.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }

    /// Checks running now.
    pub fn running(&self) -> usize {
        self.parallel - self.running.available_permits()
    }

    /// Runs `work` on a blocking thread once a CPU is free.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ServerError> {
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.max_waiting {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(ServerError::Busy);
        }
        let waiting = Waiting(&self.waiting);
        let _permit = self
            .running
            .acquire()
            .await
            .map_err(|_| ServerError::Busy)?;
        drop(waiting);
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| ServerError::Database(format!("password work: {e}")))
    }

    /// Whether `password` matches `hash`; an unknown account (`None`) costs
    /// the same and does not match.
    pub async fn verify(
        &self,
        password: Password,
        hash: Option<String>,
    ) -> Result<bool, ServerError> {
        self.run(move || clinic_core::auth::verify_or_burn(&password, hash.as_deref()))
            .await
    }

    /// The Argon2id PHC string of a new password, with a random salt.
    pub async fn hash(&self, password: Password) -> Result<String, ServerError> {
        let mut salt = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut salt);
        Ok(self
            .run(move || clinic_core::auth::hash_password(&password, &salt))
            .await??)
    }

    /// Holds every CPU until the permit is dropped: checks queue meanwhile
    /// (for tests of what happens while a check runs).
    #[cfg(feature = "test-support")]
    pub async fn hold_all(&self) -> tokio::sync::SemaphorePermit<'_> {
        self.running
            .acquire_many(self.parallel as u32)
            .await
            .expect("never closed")
    }
}
