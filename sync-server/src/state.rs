//! What every handler shares.

use crate::db::Share;
use crate::gate::Gate;
use crate::limits::{Limiters, RateLimits};
use crate::passwords::PasswordWork;
use crate::{metrics, sync, tokens, ServerError};
use deadpool_postgres::Pool;
use std::sync::Arc;

/// Requests from nobody signed in that may wait for a connection, per
/// connection of their share; more are answered 503 at once.
pub const ANONYMOUS_WAITING_PER_CONNECTION: usize = 64;

/// Shared by every handler.
#[derive(Debug, Clone)]
pub struct AppState {
    pub pool: Pool,
    pub signing_key: Arc<tokens::SigningKey>,
    pub metrics: Arc<metrics::Metrics>,
    /// Hash of the operator token that guards the operator API; `None`
    /// switches that API off (its routes answer 404).
    pub operator_token_hash: Option<Arc<String>>,
    pub feed_signals: Arc<sync::FeedSignals>,
    /// Where passwords are hashed and checked (the process's own by default).
    pub passwords: Arc<PasswordWork>,
    /// Rate limits on sign-in, refresh and enrolment.
    pub limits: Arc<Limiters>,
    /// How many requests from nobody signed in (sign-in, refresh, sign-out)
    /// may hold a database connection at once: half the pool.
    pub anonymous: Arc<Gate>,
}

impl AppState {
    pub fn new(pool: Pool, signing_key: tokens::SigningKey) -> Self {
        let half = (pool.status().max_size / 2).max(1);
        Self {
            anonymous: Arc::new(Gate::new(half, half * ANONYMOUS_WAITING_PER_CONNECTION)),
            pool,
            signing_key: Arc::new(signing_key),
            metrics: Arc::new(metrics::Metrics::default()),
            operator_token_hash: None,
            feed_signals: Arc::new(sync::FeedSignals::default()),
            passwords: PasswordWork::shared(),
            limits: Arc::new(Limiters::new(RateLimits::default())),
        }
    }

    /// The database as requests from nobody signed in may use it.
    pub fn anonymous_db(&self) -> Share<'_> {
        Share {
            pool: &self.pool,
            gate: &self.anonymous,
        }
    }

    /// Rate-limits sign-in, refresh and enrolment by `limits` instead of the defaults.
    pub fn with_rate_limits(mut self, limits: RateLimits) -> Self {
        self.limits = Arc::new(Limiters::new(limits));
        self
    }

    /// Hashes and checks passwords with `work` instead of the process's own.
    pub fn with_password_work(mut self, work: Arc<PasswordWork>) -> Self {
        self.passwords = work;
        self
    }

    /// Turns the operator API on, guarded by `token` (at least 32 characters).
    pub fn with_operator_token(mut self, token: &str) -> Result<Self, ServerError> {
        if token.len() < 32 {
            return Err(ServerError::Startup(
                "CLINIC_OPERATOR_TOKEN must be at least 32 characters".into(),
            ));
        }
        self.operator_token_hash = Some(Arc::new(tokens::hash_secret(token)));
        Ok(self)
    }
}
