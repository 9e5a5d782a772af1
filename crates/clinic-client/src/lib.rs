//! The use-cases a person performs at a workstation: sessions, permissions,
//! patients, audit and demo data. The `clinic` CLI and the desktop app call
//! these functions; nothing here knows about either.

pub mod auth;
pub mod clock;
pub mod demo;
pub mod desk;
pub mod devices;
pub mod ical;
pub mod schedule;
pub mod sync;
pub mod workstation;

pub use auth::Password;
pub use clock::{Clock, ManualClock, SystemClock};
pub use sync::SyncStatus;
pub use workstation::{InitOptions, Registered, Session, StoreInfo, Workstation};
