//! Offline number series (patient numbers, invoice numbers, …): values are
//! taken from blocks `[start, end)` the server leased to this workstation,
//! in the same transaction as the record that uses them, so a value is
//! issued at most once.
//!
//! A store restored from a backup may have issued numbers after the backup
//! was taken that the copy does not show: it issues none of any series
//! until it has synced and the server has retired every block it leased
//! before (`restored_from_backup` in `meta`, set on every backup copy of
//! a synced store).

use crate::{Db, StoreResult};
use clinic_core::sync::NumberBlock;
use clinic_core::{ClinicError, ErrorCode};
use rusqlite::{params, OptionalExtension};

/// The meta key marking a copy made by a backup.
pub(crate) const RESTORED: &str = "restored_from_backup";

impl Db<'_> {
    /// Takes the next value of an offline number series from the leased blocks.
    pub fn next_number(&self, series: &str) -> StoreResult<u64> {
        if self.meta(RESTORED)?.is_some() && self.is_synced()? {
            return Err(ClinicError::new(
                ErrorCode::NumbersExhausted,
                format!("This workstation's store was restored from a backup, so it issues no new {series} numbers until it has synced once (the server then retires the numbers it may already have used). Connect to the server and sync."),
            )
            .into());
        }
        let row: Option<(i64, i64)> = self
            .query_row(
                "SELECT block_start, next_value FROM number_blocks WHERE series = ?1 AND next_value < block_end
                 ORDER BY block_start LIMIT 1",
                [series],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let row = match row {
            // A store that does not sync owns each series' whole number
            // space; one made before a series existed takes it when it
            // first issues one.
            None if !self.is_synced()? && self.numbers_ever_leased(series)? == 0 => {
                let (start, end) = clinic_core::patients::STANDALONE_BLOCK;
                self.add_number_block(series, start, end)?;
                Some((start as i64, start as i64))
            }
            row => row,
        };
        let (start, value) = row.ok_or_else(|| {
            ClinicError::new(ErrorCode::NumbersExhausted, format!("This workstation has used all its {series} numbers; connect to the server to receive a new block."))
        })?;
        self.execute(
            "UPDATE number_blocks SET next_value = next_value + 1 WHERE series = ?1 AND block_start = ?2",
            params![series, start],
        )?;
        Ok(value as u64)
    }

    fn numbers_ever_leased(&self, series: &str) -> StoreResult<i64> {
        Ok(self.query_row(
            "SELECT count(*) FROM number_blocks WHERE series = ?1",
            [series],
            |r| r.get(0),
        )?)
    }

    /// Numbers of a series still unused in this workstation's blocks.
    pub fn numbers_left(&self, series: &str) -> StoreResult<i64> {
        Ok(self.query_row(
            "SELECT coalesce(sum(block_end - next_value), 0) FROM number_blocks WHERE series = ?1",
            [series],
            |r| r.get(0),
        )?)
    }

    pub fn add_number_block(&self, series: &str, start: u64, end: u64) -> StoreResult<()> {
        self.execute(
            "INSERT INTO number_blocks (series, block_start, block_end, next_value) VALUES (?1, ?2, ?3, ?2)",
            params![series, start as i64, end as i64],
        )?;
        Ok(())
    }

    /// Takes blocks the server leased (`retired`: every block held before
    /// is dropped first — the answer to a restored store's first sync).
    pub(crate) fn take_number_blocks(
        &self,
        blocks: &[NumberBlock],
        retired: bool,
    ) -> StoreResult<()> {
        if retired {
            self.execute("DELETE FROM number_blocks", [])?;
            self.execute("DELETE FROM meta WHERE key = ?1", [RESTORED])?;
        }
        for b in blocks {
            self.add_number_block(&b.series, b.start as u64, b.end as u64)?;
        }
        Ok(())
    }

    /// Whether this store is a restored backup copy that has not synced since.
    pub fn is_restored_copy(&self) -> StoreResult<bool> {
        Ok(self.meta(RESTORED)?.is_some())
    }
}
