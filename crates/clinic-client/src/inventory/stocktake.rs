//! Stocktakes on a desk: a count sheet for a site (every item, or one
//! category), counts entered on any desk (each recording the on-hand this
//! desk showed), variances reviewed and posted as corrections at once.

use super::Inventory;
use crate::workstation::new_id;
use clinic_core::inventory::*;
use clinic_core::permissions::Action;
use clinic_core::sync::Mutation;
use clinic_core::{ClinicError, ClinicResult};
use clinic_store::inventory::ItemFilter;
use serde::Serialize;
use serde_json::json;
use std::collections::HashMap;
use uuid::Uuid;

/// One lot on the count sheet.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SheetLine {
    pub item_id: Uuid,
    pub sku: String,
    pub name: String,
    pub batch_id: Uuid,
    pub lot: String,
    pub expiry: Option<chrono::NaiveDate>,
    /// On hand here now.
    pub on_hand: i64,
    /// The count that stands, and what the counting desk showed then.
    pub counted: Option<i64>,
    pub shown: Option<i64>,
    /// counted − shown: the correction posting makes.
    pub variance: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct StocktakeView {
    pub stocktake: Stocktake,
    pub site_name: String,
    pub category: Option<String>,
    pub lines: Vec<SheetLine>,
    /// Lots counted so far.
    pub counted: usize,
}

impl Inventory<'_> {
    fn resolve_stocktake(&self, text: &str) -> ClinicResult<Stocktake> {
        let id = Uuid::parse_str(text.trim())
            .map_err(|_| ClinicError::field("id", "is not a stocktake id"))?;
        self.ws
            .store()?
            .db()
            .document(id)?
            .ok_or_else(|| ClinicError::not_found("Stocktake"))
    }

    /// Opens a count sheet for a site (every item, or a category's).
    pub fn start_stocktake(
        &mut self,
        category: Option<&str>,
        site: Option<Uuid>,
    ) -> ClinicResult<StocktakeView> {
        let (s, now) = self.act(Action::Create)?;
        let site = self.site_or_home(site)?;
        let category_id = match category {
            Some(c) => Some(self.category(c)?.id),
            None => None,
        };
        let tenant = self.ws.store()?.db().tenant()?.id;
        let id = new_id(now);
        let st = Stocktake {
            id,
            tenant_id: tenant,
            site_id: site,
            category_id,
            status: StocktakeStatus::Counting,
            counts: vec![],
            started_by: s.user_id,
            started_at: now,
            posted_by: None,
            posted_at: None,
            corrections: vec![],
        };
        self.commit_movements(
            Action::Create,
            Mutation::new(StartStocktake { stocktake: st }),
            "stocktake.start",
            None,
            json!({"site": site, "category": category_id}),
        )?;
        self.stocktake(&id.to_string())
    }

    /// Enters a lot's count; the on-hand this desk shows now is kept with it.
    pub fn count(
        &mut self,
        text: &str,
        code: &str,
        lot: Option<&str>,
        counted: i64,
    ) -> ClinicResult<StocktakeView> {
        let (s, now) = self.act(Action::Create)?;
        let st = self.resolve_stocktake(text)?;
        let item = self.item(code)?;
        let b = match lot {
            Some(_) => self.lot(&item, lot)?,
            None if !item.track_batches => self.lot(&item, None)?,
            None => {
                // One lot with stock here: that one; otherwise say which.
                let with_stock: Vec<_> = self
                    .ws
                    .store()?
                    .db()
                    .lots_at(item.id, st.site_id)?
                    .into_iter()
                    .filter(|l| l.quantity != 0)
                    .collect();
                match with_stock.as_slice() {
                    [one] => one.batch.clone(),
                    _ => {
                        return Err(ClinicError::field(
                            "lot",
                            format!("{} has several lots: name the one counted", item.sku),
                        ))
                    }
                }
            }
        };
        let shown = self
            .ws
            .store()?
            .db()
            .lots_at(item.id, st.site_id)?
            .into_iter()
            .find(|l| l.batch.id == b.id)
            .map_or(0, |l| l.quantity);
        self.commit_movements(
            Action::Create,
            Mutation::new(CountStock {
                stocktake: st.id,
                count: StockCount {
                    item_id: item.id,
                    batch_id: b.id,
                    counted,
                    shown,
                    by: s.user_id,
                    at: now,
                },
            }),
            "stocktake.count",
            None,
            json!({"sku": item.sku, "lot": b.lot, "counted": counted, "shown": shown}),
        )?;
        self.stocktake(text)
    }

    /// Posts the variances as corrections, in one step.
    pub fn post_stocktake(&mut self, text: &str) -> ClinicResult<StocktakeView> {
        let (_, now) = self.act(Action::Edit)?;
        let today = self.today(now)?;
        let st = self.resolve_stocktake(text)?;
        let db = self.ws.store()?.db();
        let mut ms = vec![];
        for (item, batch, q) in st.variances() {
            let b = db
                .batch(batch)?
                .ok_or_else(|| ClinicError::not_found("Lot"))?;
            debug_assert_eq!(b.item_id, item);
            let mut m = StockMovement::new(
                new_id(now),
                MovementKind::StocktakeCorrection,
                &b,
                st.site_id,
                q,
                today,
            );
            m.stocktake_id = Some(st.id);
            ms.push(m);
        }
        let n = ms.len();
        self.commit_movements(
            Action::Edit,
            Mutation::new(PostStocktake {
                stocktake: st.id,
                movements: ms,
            }),
            "stocktake.post",
            None,
            json!({"stocktake": st.id, "corrections": n}),
        )?;
        self.stocktake(text)
    }

    /// The count sheet: every lot of the items in scope with stock here or
    /// counted, with counts and variances.
    pub fn stocktake(&mut self, text: &str) -> ClinicResult<StocktakeView> {
        self.act(Action::View)?;
        let st = self.resolve_stocktake(text)?;
        let db = self.ws.store()?.db();
        let items = db.stock_items(&ItemFilter {
            category: st.category_id,
            include_discontinued: true,
            limit: u32::MAX,
            ..Default::default()
        })?;
        let effective: HashMap<Uuid, &StockCount> = st
            .effective()
            .into_iter()
            .map(|c| (c.batch_id, c))
            .collect();
        let mut lines = vec![];
        for it in &items {
            for l in db.lots_at(it.id, st.site_id)? {
                let c = effective.get(&l.batch.id);
                if l.quantity == 0 && c.is_none() {
                    continue;
                }
                lines.push(SheetLine {
                    item_id: it.id,
                    sku: it.sku.clone(),
                    name: it.name.clone(),
                    batch_id: l.batch.id,
                    lot: l.batch.lot.clone(),
                    expiry: l.batch.expiry,
                    on_hand: l.quantity,
                    counted: c.map(|c| c.counted),
                    shown: c.map(|c| c.shown),
                    variance: c.map(|c| c.variance()),
                });
            }
        }
        let category = match st.category_id {
            Some(c) => db
                .stock_categories()?
                .into_iter()
                .find(|x| x.id == c)
                .map(|x| x.name),
            None => None,
        };
        Ok(StocktakeView {
            site_name: self.site_name(st.site_id),
            category,
            counted: effective.len(),
            lines,
            stocktake: st,
        })
    }

    pub fn stocktakes(&mut self) -> ClinicResult<Vec<Stocktake>> {
        self.act(Action::View)?;
        Ok(self.ws.store()?.db().stocktakes()?)
    }
}
