//! The use-cases a person performs at a workstation. `Workstation` keeps
//! the store and the session and hands out one handle per domain
//! (`ws.patients()`, `ws.scheduling()`, `ws.directory()`); any registered
//! mutation can also be made through `Workstation::make_change`. The
//! `clinic` CLI and the desktop app call these functions; nothing here
//! knows about either.

pub mod auth;
pub mod clock;
pub mod demo;
pub mod desk;
pub mod input;
pub mod sync;
pub mod workstation;

// Domains: one folder each.
pub mod billing;
pub mod clinical;
pub mod directory;
pub mod inventory;
pub mod patients;
pub mod scheduling;

pub use auth::Password;
pub use clinical::Clinical;
pub use clock::{Clock, ManualClock, SystemClock};
pub use directory::Directory;
pub use patients::Patients;
pub use scheduling::Scheduling;
pub use sync::SyncStatus;
pub use workstation::{InitOptions, Registered, Session, StoreInfo, Workstation};
