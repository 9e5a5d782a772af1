//! Password work: Argon2id hashing and checking, deliberately slow.
//!
//! It never runs while a request holds a database connection or a row lock
//! (callers read what they need, let the connection go, check, then record
//! the outcome in a short transaction of their own), never on the async
//! runtime's threads, and never more at once than the machine has CPUs. A
//! request that would wait behind too many others is refused as busy
//! (503) at once, so a flood of sign-ins costs queued work, not memory
//! and not the database connections every other request needs.

use crate::gate::Gate;
use crate::ServerError;
use clinic_core::auth::Password;
use rand::RngCore;
use std::sync::{Arc, OnceLock};

/// How many checks may wait per one running, before more are refused.
pub const WAITING_PER_CPU: usize = 64;

#[derive(Debug)]
pub struct PasswordWork {
    gate: Gate,
}

impl PasswordWork {
    /// At most `parallel` checks at once and `max_waiting` waiting.
    pub fn new(parallel: usize, max_waiting: usize) -> Self {
        Self {
            gate: Gate::new(parallel, max_waiting),
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
        self.gate.waiting()
    }

    /// Checks running now.
    pub fn running(&self) -> usize {
        self.gate.inside()
    }

    /// Runs `work` on a blocking thread once a CPU is free.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ServerError> {
        let _cpu = self.gate.enter().await?;
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

    /// A first signing key for an account the server makes, sealed by its
    /// password. Made by no one (`made_by` nil): the owner's desk replaces
    /// it at their first sign-in, so the server never keeps a key that
    /// signs as them.
    pub async fn signing_key(
        &self,
        tenant: uuid::Uuid,
        user: uuid::Uuid,
        password: Password,
    ) -> Result<clinic_core::signing::UserKey, ServerError> {
        let seed = clinic_core::signing::KeySeed::from_random(|b| rand::rngs::OsRng.fill_bytes(b));
        Ok(self
            .run(move || {
                clinic_core::signing::UserSigner::create(
                    tenant,
                    user,
                    &password,
                    &seed,
                    uuid::Uuid::nil(),
                )
                .map(|(_, k)| k)
            })
            .await??)
    }

    /// Holds every CPU until the permit is dropped: checks queue meanwhile
    /// (for tests of what happens while a check runs).
    #[cfg(feature = "test-support")]
    pub async fn hold_all(&self) -> tokio::sync::OwnedSemaphorePermit {
        self.gate.hold_all().await
    }
}
