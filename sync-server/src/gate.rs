//! A gate: at most so many at once inside, at most so many waiting to get
//! in; beyond that, busy (503) at once rather than an ever longer queue.

use crate::ServerError;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

#[derive(Debug)]
pub struct Gate {
    inside: Arc<Semaphore>,
    size: usize,
    waiting: AtomicUsize,
    max_waiting: usize,
}

/// Counts a waiter for as long as it waits (also when its request is
/// dropped while waiting).
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Gate {
    /// At most `size` (at least one) inside at once and `max_waiting` waiting.
    pub fn new(size: usize, max_waiting: usize) -> Self {
        let size = size.max(1);
        Gate {
            inside: Arc::new(Semaphore::new(size)),
            size,
            waiting: AtomicUsize::new(0),
            max_waiting,
        }
    }

    /// Waits for a place; inside until the permit is dropped.
    pub async fn enter(&self) -> Result<OwnedSemaphorePermit, ServerError> {
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.max_waiting {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(ServerError::Busy);
        }
        let _waiting = Waiting(&self.waiting);
        self.inside
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| ServerError::Busy)
    }

    /// Waiting to get in now.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }

    /// Inside now.
    pub fn inside(&self) -> usize {
        self.size - self.inside.available_permits()
    }

    /// Takes every place until the permit is dropped: others queue
    /// meanwhile (for tests of what happens while the gate is full).
    #[cfg(feature = "test-support")]
    pub async fn hold_all(&self) -> OwnedSemaphorePermit {
        self.inside
            .clone()
            .acquire_many_owned(self.size as u32)
            .await
            .expect("never closed")
    }
}
