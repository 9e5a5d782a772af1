//! Integration tests of the workstation use-cases and the `clinic` CLI
//! (one test binary for the crate; real SQLCipher stores in temp dirs).

mod client {
    pub mod accounts_cli;
    pub mod billing_cli;
    pub mod cli;
    pub mod clinical_cli;
    pub mod inventory_cli;
    pub mod schedule_cli;
    pub mod sync_kill;
    pub mod usecases;
}
