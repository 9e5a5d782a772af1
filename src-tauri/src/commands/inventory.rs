use super::*;
use chrono::NaiveDate;
use clinic_client::billing::desk::MoneyFormat;
use clinic_client::inventory::orders::{OrderView, ReceiveLine};
use clinic_client::inventory::stock::{
    Alert, AlertKind, DispensePlan, DispenseReq, Dispensed, ItemDetail, MovementView, ReceiveReq,
    Received, RxToFill, Valuation,
};
use clinic_client::inventory::stocktake::StocktakeView;
use clinic_client::inventory::{Inventory, ItemRow};
use clinic_client::Workstation;
use clinic_core::inventory::{OrderStep, StocktakeStatus, Supplier};
use clinic_store::inventory::ItemFilter;
use serde::Serialize;

/// Lots expiring within this many days of today are flagged.
pub const EXPIRING_DAYS: i64 = 90;

/// A site to switch to.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct SiteOption {
    pub id: Uuid,
    pub name: String,
}

/// How many alerts of each kind (the navigation's badge is `total`).
#[derive(Debug, Clone, Default, Serialize, ts_rs::TS)]
pub struct AlertCounts {
    pub negative: usize,
    pub expired: usize,
    pub expiring: usize,
    pub low: usize,
    pub total: usize,
}

/// What every stock screen reads dates and money with: the clinic's
/// locale and currency, and today at the site.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct StockFrame {
    pub money: MoneyFormat,
    pub today: NaiveDate,
    pub expiring_days: i64,
}

/// One site's stock list, with the sites to switch to.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct StockScreen {
    pub frame: StockFrame,
    pub site_id: Uuid,
    pub sites: Vec<SiteOption>,
    pub items: Vec<ItemRow>,
    pub valuation: Valuation,
}

#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct StockItemScreen {
    pub frame: StockFrame,
    pub detail: ItemDetail,
}

#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct AlertsScreen {
    pub frame: StockFrame,
    pub alerts: Vec<Alert>,
    pub counts: AlertCounts,
}

#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct OrdersScreen {
    pub frame: StockFrame,
    pub orders: Vec<OrderView>,
    pub suppliers: Vec<Supplier>,
    pub sites: Vec<SiteOption>,
}

#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct OrderScreen {
    pub frame: StockFrame,
    pub order: OrderView,
}

/// A stocktake as the list shows it.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct StocktakeRow {
    pub id: Uuid,
    pub site_name: String,
    pub category: Option<String>,
    pub status: StocktakeStatus,
    pub started_at: chrono::DateTime<chrono::Utc>,
    pub posted_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Lots counted so far.
    pub counted: usize,
}

#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct StocktakesScreen {
    pub frame: StockFrame,
    pub stocktakes: Vec<StocktakeRow>,
    pub sites: Vec<SiteOption>,
    pub categories: Vec<SiteOption>,
}

#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct StocktakeScreen {
    pub frame: StockFrame,
    pub sheet: StocktakeView,
}

/// The changes of an order's state a person makes.
#[derive(Debug, Clone, Copy, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum OrderStepName {
    Approve,
    MarkSent,
    Cancel,
}

impl From<OrderStepName> for OrderStep {
    fn from(s: OrderStepName) -> Self {
        match s {
            OrderStepName::Approve => OrderStep::Approve,
            OrderStepName::MarkSent => OrderStep::MarkSent,
            OrderStepName::Cancel => OrderStep::Cancel,
        }
    }
}

fn sites(inv: &Inventory) -> ClinicResult<Vec<SiteOption>> {
    Ok(inv
        .sites()?
        .into_iter()
        .map(|s| SiteOption {
            id: s.id,
            name: s.name,
        })
        .collect())
}

fn frame(w: &mut Workstation) -> ClinicResult<StockFrame> {
    let s = w.billing().settings()?;
    Ok(StockFrame {
        money: MoneyFormat {
            digits: s.minor_digits(),
            currency: s.currency,
            locale: s.locale,
        },
        today: w.inventory().today_here()?,
        expiring_days: EXPIRING_DAYS,
    })
}

fn counts(alerts: &[Alert]) -> AlertCounts {
    let mut c = AlertCounts {
        total: alerts.len(),
        ..Default::default()
    };
    for a in alerts {
        *match a.kind {
            AlertKind::Negative => &mut c.negative,
            AlertKind::Expired => &mut c.expired,
            AlertKind::Expiring => &mut c.expiring,
            AlertKind::Low => &mut c.low,
        } += 1;
    }
    c
}

fn date(field: &str, s: Option<&str>) -> ClinicResult<Option<NaiveDate>> {
    s.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| parse_date(field, s))
        .transpose()
}

fn order_screen(w: &mut Workstation, order: OrderView) -> ClinicResult<OrderScreen> {
    Ok(OrderScreen {
        frame: frame(w)?,
        order,
    })
}

fn stocktake_screen(w: &mut Workstation, sheet: StocktakeView) -> ClinicResult<StocktakeScreen> {
    Ok(StocktakeScreen {
        frame: frame(w)?,
        sheet,
    })
}

fn dispense_req(r: DispenseStockReq) -> DispenseReq {
    DispenseReq {
        item: r.item,
        quantity: r.quantity,
        lot: r.lot.filter(|l| !l.trim().is_empty()),
        site: r.site_id,
        patient: r.patient_id,
        prescription: r.prescription_id,
        prescription_line: r.prescription_line,
        invoice: r.invoice_id,
        override_reason: r.override_reason,
    }
}

#[tauri::command]
pub async fn stock_list(app: AppHandle, req: StockListReq) -> Answer<StockScreen> {
    run(app, "stock_list", move |d| {
        d.with(|w| {
            let site = match req.site_id {
                Some(s) => s,
                None => w.inventory().site(None)?.id,
            };
            let items = w.inventory().stock_list(
                Some(site),
                &ItemFilter {
                    text: req.text.filter(|t| !t.trim().is_empty()),
                    category: None,
                    include_discontinued: req.include_discontinued,
                    limit: 1000,
                },
            )?;
            Ok(StockScreen {
                frame: frame(w)?,
                site_id: site,
                sites: sites(&w.inventory())?,
                valuation: w.inventory().valuation(Some(site))?,
                items,
            })
        })
    })
    .await
}

#[tauri::command]
pub async fn stock_item(app: AppHandle, req: CodeReq) -> Answer<StockItemScreen> {
    run(app, "stock_item", move |d| {
        d.with(|w| {
            let detail = w.inventory().item_detail(&req.code)?;
            Ok(StockItemScreen {
                frame: frame(w)?,
                detail,
            })
        })
    })
    .await
}

#[tauri::command]
pub async fn dispense_plan(app: AppHandle, req: DispenseStockReq) -> Answer<DispensePlan> {
    run(app, "dispense_plan", move |d| {
        d.with(|w| w.inventory().dispense_plan(&dispense_req(req)))
    })
    .await
}

#[tauri::command]
pub async fn dispense_stock(app: AppHandle, req: DispenseStockReq) -> Answer<Dispensed> {
    run(app, "dispense_stock", move |d| {
        d.change(|w| w.inventory().dispense(dispense_req(req)))
    })
    .await
}

#[tauri::command]
pub async fn prescriptions_to_fill(app: AppHandle, req: IdReq) -> Answer<Vec<RxToFill>> {
    run(app, "prescriptions_to_fill", move |d| {
        d.with(|w| w.inventory().prescriptions_to_fill(req.id))
    })
    .await
}

#[tauri::command]
pub async fn receive_stock(app: AppHandle, req: ReceiveStockReq) -> Answer<Received> {
    run(app, "receive_stock", move |d| {
        let expiry = date("expiry", req.expiry.as_deref())?;
        d.change(|w| {
            w.inventory().receive(ReceiveReq {
                item: req.item,
                lot: req.lot,
                expiry,
                quantity: req.quantity,
                cost: req.cost.filter(|c| !c.trim().is_empty()),
                supplier: req.supplier,
                site: req.site_id,
            })
        })
    })
    .await
}

#[tauri::command]
pub async fn adjust_stock(app: AppHandle, req: AdjustStockReq) -> Answer<MovementView> {
    run(app, "adjust_stock", move |d| {
        d.change(|w| {
            w.inventory().adjust(
                &req.item,
                req.lot.as_deref(),
                req.quantity,
                &req.reason,
                req.write_off,
                req.site_id,
            )
        })
    })
    .await
}

#[tauri::command]
pub async fn reallocate_stock(app: AppHandle, req: ReallocateReq) -> Answer<Vec<MovementView>> {
    run(app, "reallocate_stock", move |d| {
        d.change(|w| {
            w.inventory().reallocate(
                &req.item,
                Some(&req.from_lot),
                Some(&req.to_lot),
                req.quantity,
                &req.reason,
                req.site_id,
            )
        })
    })
    .await
}

#[tauri::command]
pub async fn stock_alerts(app: AppHandle) -> Answer<AlertsScreen> {
    run(app, "stock_alerts", move |d| {
        d.with(|w| {
            let alerts = w.inventory().alerts(EXPIRING_DAYS)?;
            Ok(AlertsScreen {
                frame: frame(w)?,
                counts: counts(&alerts),
                alerts,
            })
        })
    })
    .await
}

#[tauri::command]
pub async fn stock_alert_counts(app: AppHandle) -> Answer<AlertCounts> {
    run(app, "stock_alert_counts", move |d| {
        d.with(|w| Ok(counts(&w.inventory().alerts(EXPIRING_DAYS)?)))
    })
    .await
}

#[tauri::command]
pub async fn purchase_orders(app: AppHandle) -> Answer<OrdersScreen> {
    run(app, "purchase_orders", move |d| {
        d.with(|w| {
            Ok(OrdersScreen {
                orders: w.inventory().orders()?,
                suppliers: w.inventory().suppliers()?,
                sites: sites(&w.inventory())?,
                frame: frame(w)?,
            })
        })
    })
    .await
}

#[tauri::command]
pub async fn purchase_order(app: AppHandle, req: CodeReq) -> Answer<OrderScreen> {
    run(app, "purchase_order", move |d| {
        d.with(|w| {
            let o = w.inventory().order(&req.code)?;
            order_screen(w, o)
        })
    })
    .await
}

#[tauri::command]
pub async fn create_purchase_order(app: AppHandle, req: CreateOrderReq) -> Answer<OrderScreen> {
    run(app, "create_purchase_order", move |d| {
        let expected = date("expected_on", req.expected_on.as_deref())?;
        let lines: Vec<(String, i64, Option<String>)> = req
            .lines
            .into_iter()
            .map(|l| (l.item, l.quantity, l.cost.filter(|c| !c.trim().is_empty())))
            .collect();
        d.change(|w| {
            let o = w.inventory().create_order(
                &req.supplier,
                &lines,
                req.site_id,
                expected,
                &req.notes,
            )?;
            order_screen(w, o)
        })
    })
    .await
}

#[tauri::command]
pub async fn order_step(app: AppHandle, req: OrderStepReq) -> Answer<OrderScreen> {
    run(app, "order_step", move |d| {
        d.change(|w| {
            let o = w.inventory().order_step(
                &req.id.to_string(),
                req.step.into(),
                req.reason.as_deref(),
            )?;
            order_screen(w, o)
        })
    })
    .await
}

#[tauri::command]
pub async fn receive_order(app: AppHandle, req: ReceiveOrderReq) -> Answer<OrderScreen> {
    run(app, "receive_order", move |d| {
        let mut lines = Vec::with_capacity(req.lines.len());
        for l in req.lines {
            lines.push(ReceiveLine {
                expiry: date("expiry", l.expiry.as_deref())?,
                item: l.item,
                quantity: l.quantity,
                lot: l.lot,
                cost: l.cost.filter(|c| !c.trim().is_empty()),
            });
        }
        d.change(|w| {
            let o = w.inventory().receive_order(&req.id.to_string(), &lines)?;
            order_screen(w, o)
        })
    })
    .await
}

#[tauri::command]
pub async fn stocktakes(app: AppHandle) -> Answer<StocktakesScreen> {
    run(app, "stocktakes", move |d| {
        d.with(|w| {
            let site_list = sites(&w.inventory())?;
            let categories: Vec<SiteOption> = w
                .inventory()
                .categories()?
                .into_iter()
                .map(|c| SiteOption {
                    id: c.id,
                    name: c.name,
                })
                .collect();
            let name_of = |list: &[SiteOption], id: Uuid| {
                list.iter()
                    .find(|s| s.id == id)
                    .map(|s| s.name.clone())
                    .unwrap_or_default()
            };
            let rows = w
                .inventory()
                .stocktakes()?
                .into_iter()
                .map(|s| StocktakeRow {
                    id: s.id,
                    site_name: name_of(&site_list, s.site_id),
                    category: s.category_id.map(|c| name_of(&categories, c)),
                    status: s.status,
                    started_at: s.started_at,
                    posted_at: s.posted_at,
                    counted: s.effective().len(),
                })
                .collect();
            Ok(StocktakesScreen {
                frame: frame(w)?,
                stocktakes: rows,
                sites: site_list,
                categories,
            })
        })
    })
    .await
}

#[tauri::command]
pub async fn start_stocktake(app: AppHandle, req: StartStocktakeReq) -> Answer<StocktakeScreen> {
    run(app, "start_stocktake", move |d| {
        d.change(|w| {
            let category = req.category_id.map(|c| c.to_string());
            let sheet = w
                .inventory()
                .start_stocktake(category.as_deref(), req.site_id)?;
            stocktake_screen(w, sheet)
        })
    })
    .await
}

#[tauri::command]
pub async fn stocktake(app: AppHandle, req: IdReq) -> Answer<StocktakeScreen> {
    run(app, "stocktake", move |d| {
        d.with(|w| {
            let sheet = w.inventory().stocktake(&req.id.to_string())?;
            stocktake_screen(w, sheet)
        })
    })
    .await
}

#[tauri::command]
pub async fn count_stock(app: AppHandle, req: CountReq) -> Answer<StocktakeScreen> {
    run(app, "count_stock", move |d| {
        d.change(|w| {
            let sheet =
                w.inventory()
                    .count(&req.id.to_string(), &req.item, Some(&req.lot), req.counted)?;
            stocktake_screen(w, sheet)
        })
    })
    .await
}

#[tauri::command]
pub async fn post_stocktake(app: AppHandle, req: IdReq) -> Answer<StocktakeScreen> {
    run(app, "post_stocktake", move |d| {
        d.change(|w| {
            let sheet = w.inventory().post_stocktake(&req.id.to_string())?;
            stocktake_screen(w, sheet)
        })
    })
    .await
}
