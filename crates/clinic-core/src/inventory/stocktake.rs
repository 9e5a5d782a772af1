//! Stocktake: a count sheet for one site (every item, or one category),
//! counted on any desk, its variances reviewed and posted as corrections
//! in one step.
//!
//! Each count records the on-hand the counting desk showed at that moment;
//! the correction is counted − shown. Movements the desk had not seen
//! (dispensing on another desk, offline) are then applied on top whenever
//! they arrive, so the result is right whatever order things sync in — no
//! device clock decides.

use super::catalogue::{StockCategory, MAX_QUANTITY};
use super::inventory;
use super::ledger::{batch, item, MovementKind, StockMovement};
use crate::directory::SiteDoc;
use crate::error::{ClinicError, ClinicResult};
use crate::permissions::{Action, Permission};
use crate::sync::{Applied, Context, Merge, MutationKind, RecordKind, Records, Ref};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum StocktakeStatus {
    Counting,
    Posted,
}

/// One lot counted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct StockCount {
    pub item_id: Uuid,
    pub batch_id: Uuid,
    pub counted: i64,
    /// The on-hand the counting desk showed when it was counted.
    pub shown: i64,
    pub by: Uuid,
    pub at: DateTime<Utc>,
}

impl StockCount {
    pub fn variance(&self) -> i64 {
        self.counted - self.shown
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Stocktake {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub site_id: Uuid,
    /// Only this category's items (`None`: every item).
    #[serde(default)]
    pub category_id: Option<Uuid>,
    pub status: StocktakeStatus,
    /// Every count entered, in the server's order; a lot counted again
    /// takes its latest count.
    #[serde(default)]
    pub counts: Vec<StockCount>,
    pub started_by: Uuid,
    pub started_at: DateTime<Utc>,
    #[serde(default)]
    pub posted_by: Option<Uuid>,
    #[serde(default)]
    pub posted_at: Option<DateTime<Utc>>,
    /// The corrections posted.
    #[serde(default)]
    pub corrections: Vec<Uuid>,
}

impl RecordKind for Stocktake {
    const KIND: &'static str = "stocktake";
    const MERGE: Merge = Merge::Fields;

    fn id(&self) -> Uuid {
        self.id
    }
    fn tenant(&self) -> Option<Uuid> {
        Some(self.tenant_id)
    }
}

impl Stocktake {
    /// The count of each lot that stands (its latest), in the order lots
    /// were first counted.
    pub fn effective(&self) -> Vec<&StockCount> {
        let mut out: Vec<&StockCount> = vec![];
        for c in &self.counts {
            match out.iter_mut().find(|x| x.batch_id == c.batch_id) {
                Some(x) => *x = c,
                None => out.push(c),
            }
        }
        out
    }

    /// The corrections posting would make: (item, lot, counted − shown),
    /// lots with no variance left out.
    pub fn variances(&self) -> Vec<(Uuid, Uuid, i64)> {
        self.effective()
            .into_iter()
            .filter(|c| c.variance() != 0)
            .map(|c| (c.item_id, c.batch_id, c.variance()))
            .collect()
    }
}

fn stocktake(recs: &Records, id: Uuid) -> ClinicResult<Stocktake> {
    recs.get::<Stocktake>(id)
        .cloned()
        .ok_or_else(|| ClinicError::not_found("Stocktake"))
}

fn counting(s: &Stocktake) -> ClinicResult<()> {
    if s.status != StocktakeStatus::Counting {
        return Err(ClinicError::conflict(
            "This stocktake was already posted; start a new one.",
        ));
    }
    Ok(())
}

/// Opens a count sheet for a site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StartStocktake {
    pub stocktake: Stocktake,
}

impl MutationKind for StartStocktake {
    const NAME: &'static str = "start_stocktake";

    fn touches(&self) -> Vec<Uuid> {
        vec![self.stocktake.id]
    }

    fn permission(&self) -> Permission {
        inventory(Action::Create)
    }

    fn refs(&self) -> Vec<Ref> {
        let mut r = vec![Ref::to::<SiteDoc>(self.stocktake.site_id, "site")];
        r.extend(
            self.stocktake
                .category_id
                .map(|c| Ref::to::<StockCategory>(c, "category")),
        );
        r
    }

    fn apply(&self, cx: &Context, recs: &mut Records) -> ClinicResult<Applied> {
        let s = &self.stocktake;
        if let Some(have) = recs.get::<Stocktake>(s.id) {
            return if have.site_id == s.site_id {
                Ok(Applied::nothing())
            } else {
                Err(ClinicError::conflict(
                    "A different stocktake already has this id.",
                ))
            };
        }
        let rec = Stocktake {
            tenant_id: cx.tenant,
            status: StocktakeStatus::Counting,
            counts: vec![],
            started_by: cx.user.unwrap_or(s.started_by),
            started_at: cx.at,
            posted_by: None,
            posted_at: None,
            corrections: vec![],
            ..s.clone()
        };
        recs.put(rec);
        Ok(Applied::one(s.id))
    }
}

/// Enters one lot's count (any desk; counted again, the latest stands).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CountStock {
    pub stocktake: Uuid,
    pub count: StockCount,
}

impl MutationKind for CountStock {
    const NAME: &'static str = "count_stock";

    fn touches(&self) -> Vec<Uuid> {
        vec![self.stocktake, self.count.batch_id, self.count.item_id]
    }

    fn permission(&self) -> Permission {
        inventory(Action::Create)
    }

    fn apply(&self, cx: &Context, recs: &mut Records) -> ClinicResult<Applied> {
        let mut s = stocktake(recs, self.stocktake)?;
        counting(&s)?;
        let c = &self.count;
        let b = batch(recs, c.batch_id)?;
        let it = item(recs, c.item_id)?;
        if b.item_id != it.id {
            return Err(ClinicError::field("batch", "is a lot of another item"));
        }
        if s.category_id.is_some() && it.category_id != s.category_id {
            return Err(ClinicError::field(
                "item",
                "is not in the category this stocktake counts",
            ));
        }
        if !(0..MAX_QUANTITY).contains(&c.counted) {
            return Err(ClinicError::field(
                "counted",
                "must be a whole number from 0",
            ));
        }
        if c.shown.abs() >= MAX_QUANTITY {
            return Err(ClinicError::field("shown", "is out of range"));
        }
        s.counts.push(StockCount {
            by: cx.user.unwrap_or(c.by),
            at: cx.at,
            ..c.clone()
        });
        recs.put(s);
        Ok(Applied::one(self.stocktake))
    }
}

/// Posts the variances as corrections, all at once. The desk sends the
/// corrections it showed; if counts arrived since (another desk), the post
/// is refused so the variances are reviewed again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PostStocktake {
    pub stocktake: Uuid,
    /// One `stocktake_correction` per variance, in the sheet's order.
    pub movements: Vec<StockMovement>,
}

impl MutationKind for PostStocktake {
    const NAME: &'static str = "post_stocktake";

    fn touches(&self) -> Vec<Uuid> {
        let mut t = vec![self.stocktake];
        for m in &self.movements {
            for id in [m.id, m.batch_id, m.item_id] {
                if !t.contains(&id) {
                    t.push(id);
                }
            }
        }
        t
    }

    fn permission(&self) -> Permission {
        inventory(Action::Edit)
    }

    fn apply(&self, cx: &Context, recs: &mut Records) -> ClinicResult<Applied> {
        let mut s = stocktake(recs, self.stocktake)?;
        if s.status == StocktakeStatus::Posted
            && s.corrections == self.movements.iter().map(|m| m.id).collect::<Vec<_>>()
        {
            return Ok(Applied::nothing());
        }
        counting(&s)?;
        let expected = s.variances();
        let sent: Vec<(Uuid, Uuid, i64)> = self
            .movements
            .iter()
            .map(|m| (m.item_id, m.batch_id, m.quantity))
            .collect();
        if expected != sent
            || self.movements.iter().any(|m| {
                m.site_id != s.site_id
                    || m.stocktake_id != Some(s.id)
                    || m.kind != MovementKind::StocktakeCorrection
            })
        {
            return Err(ClinicError::conflict(
                "Counts changed since the variances were shown (another desk counted): review them and post again.",
            ));
        }
        let mut changed = vec![s.id];
        let mut out = vec![];
        for m in &self.movements {
            if recs.contains(m.id) {
                return Err(ClinicError::conflict(
                    "A different record already has this id.",
                ));
            }
            let mut x = m.clone();
            let b = batch(recs, m.batch_id)?;
            x.tenant_id = cx.tenant;
            x.unit_cost = b.unit_cost;
            x.by = cx.user.unwrap_or(m.by);
            x.at = cx.at;
            x.reason = Some("Stocktake".into());
            out.push(x);
        }
        s.status = StocktakeStatus::Posted;
        s.posted_by = cx.user;
        s.posted_at = Some(cx.at);
        s.corrections = out.iter().map(|m| m.id).collect();
        recs.put(s);
        for m in out {
            changed.push(m.id);
            recs.put(m);
        }
        Ok(Applied { changed })
    }
}
