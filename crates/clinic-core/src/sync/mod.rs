//! The sync kernel, which knows no domain: record kinds and named
//! mutations are declared by their domains and registered ([`registry`]);
//! the kernel applies mutations with their domain's rule inside its own
//! checks ([`batch`]), defines the protocol ([`protocol`]) and the change
//! feed's chain, pages and checksums ([`feed`]).
//!
//! A workstation applies a [`Mutation`] optimistically to its own store and
//! queues it; the server re-applies the same mutation, with the same rule,
//! against its master copy. Both pass in the records the mutation touches,
//! the time it was made and nothing else, so the outcome is a pure function
//! of its inputs and the simulation can replay any run from a seed.
//!
//! Merge rules (see `shared/spec/sync.md`) fall out of re-execution in
//! server order, per kind ([`Merge`]): field-level for records changed by
//! named mutations that carry only what the person changed, whole-document
//! last-writer-wins for [`SaveDocument`] kinds, insert-only for ledgers.
//! Human numbers come from per-series blocks leased to each device
//! ([`NumberSeries`]); the server refuses a number not leased to the device
//! that issued it, or issued before.

pub mod batch;
pub mod document;
pub mod feed;
pub mod mutation;
pub mod protocol;
pub mod record;
pub mod refused;
pub mod registry;

pub use batch::*;
pub use document::*;
pub use feed::*;
pub use mutation::*;
pub use protocol::*;
pub use record::*;
pub use refused::RefusedChange;
pub use registry::{register, Actor, NumberSeries, Registry};
