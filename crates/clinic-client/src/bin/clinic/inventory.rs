//! `clinic stock …`, `clinic po …` and `clinic stocktake …`: inventory from
//! the command line (the scripting contract of issue #22). Quantities are
//! whole units of the item's unit; costs are decimal strings; dates ISO.

use super::{date_arg, Ctx};
use chrono::NaiveDate;
use clap::Subcommand;
use clinic_client::inventory::orders::ReceiveLine;
use clinic_client::inventory::stock::{AlertKind, DispenseReq, ReceiveReq};
use clinic_client::inventory::NewItem;
use clinic_core::inventory::{ChangeStockItem, OrderStep, Supplier};
use clinic_core::{ClinicError, ClinicResult};
use clinic_store::inventory::ItemFilter;
use serde_json::json;
use uuid::Uuid;

#[derive(Subcommand, Debug)]
pub enum StockCmd {
    /// The catalogue's items: add, change, show
    #[command(subcommand)]
    Item(Box<ItemCmd>),
    /// Every item with its on-hand at a site, reorder state and next expiry
    List {
        #[arg(long)]
        site: Option<String>,
        /// Part of the SKU, name or barcode
        #[arg(long)]
        search: Option<String>,
        #[arg(long)]
        category: Option<String>,
        /// Only items below their reorder point
        #[arg(long)]
        low: bool,
    },
    /// Receive stock into a lot (without a purchase order)
    Receive {
        /// SKU or barcode
        #[arg(long)]
        sku: String,
        #[arg(long)]
        lot: Option<String>,
        #[arg(long, value_parser = date_arg)]
        expiry: Option<NaiveDate>,
        #[arg(long)]
        qty: i64,
        /// What one unit cost (the item's purchase price when not given)
        #[arg(long)]
        cost: Option<String>,
        #[arg(long)]
        supplier: Option<String>,
        #[arg(long)]
        site: Option<String>,
    },
    /// Dispense: first expiry first out unless --batch names a lot; prints the lots used
    Dispense {
        /// SKU or barcode
        #[arg(long)]
        sku: String,
        #[arg(long)]
        qty: i64,
        /// A lot to take it from
        #[arg(long)]
        batch: Option<String>,
        /// Patient number or id
        #[arg(long)]
        patient: Option<String>,
        /// The prescription it fills
        #[arg(long)]
        prescription: Option<Uuid>,
        /// The prescription's line (1 = the first; found by the medicine's name when not given)
        #[arg(long, requires = "prescription")]
        line: Option<u32>,
        /// Invoice id or number to bill it on (a draft gets a line)
        #[arg(long)]
        invoice: Option<String>,
        /// Dispense an expired lot, a prescription-only item without a prescription, or more than is on hand
        #[arg(long = "override", requires = "reason")]
        override_: bool,
        #[arg(long, requires = "override_")]
        reason: Option<String>,
        #[arg(long)]
        site: Option<String>,
    },
    /// Adjust a lot's stock (+ found, − broken/used) with a reason
    Adjust {
        #[arg(long)]
        sku: String,
        #[arg(long)]
        lot: Option<String>,
        #[arg(long, allow_hyphen_values = true)]
        qty: i64,
        #[arg(long)]
        reason: String,
        #[arg(long)]
        site: Option<String>,
    },
    /// Write off an expired (or damaged) lot: its whole on-hand unless --qty
    WriteOff {
        #[arg(long)]
        sku: String,
        #[arg(long)]
        lot: Option<String>,
        #[arg(long)]
        qty: Option<i64>,
        #[arg(long)]
        reason: String,
        #[arg(long)]
        site: Option<String>,
    },
    /// Move stock on paper from one lot to another (the answer to a lot below zero)
    Reallocate {
        #[arg(long)]
        sku: String,
        #[arg(long)]
        from: String,
        #[arg(long)]
        to: String,
        #[arg(long)]
        qty: i64,
        #[arg(long)]
        reason: String,
        #[arg(long)]
        site: Option<String>,
    },
    /// On-hand per lot and site (of one item, or every item)
    Onhand {
        #[arg(long)]
        sku: Option<String>,
        #[arg(long)]
        site: Option<String>,
    },
    /// Lots below zero, expired, expiring within --days, items below their reorder point
    Alerts {
        #[arg(long, default_value_t = 90)]
        days: i64,
    },
    /// What the stock is worth (on-hand × each lot's cost)
    Valuation {
        #[arg(long)]
        site: Option<String>,
    },
    /// Transfers between sites: send, receive, list
    #[command(subcommand)]
    Transfer(TransferCmd),
    /// Suppliers: add, list
    #[command(subcommand)]
    Supplier(SupplierCmd),
    /// Categories: add, list
    #[command(subcommand)]
    Category(CategoryCmd),
}

#[derive(Subcommand, Debug)]
pub enum ItemCmd {
    /// Add an item to the catalogue
    Add {
        #[arg(long)]
        sku: String,
        #[arg(long)]
        name: String,
        /// box, pack, tablet, vial, ml …
        #[arg(long)]
        unit: String,
        /// Below this on-hand at a site the item shows as low
        #[arg(long, default_value_t = 0)]
        reorder: i64,
        #[arg(long)]
        barcode: Option<String>,
        #[arg(long = "generic")]
        generic_name: Option<String>,
        #[arg(long = "brand")]
        brand_name: Option<String>,
        #[arg(long)]
        manufacturer: Option<String>,
        #[arg(long)]
        category: Option<String>,
        #[arg(long = "pack-size")]
        pack_size: Option<u32>,
        #[arg(long = "purchase-price")]
        purchase_price: Option<String>,
        #[arg(long = "sale-price")]
        sale_price: Option<String>,
        #[arg(long = "tax-rate")]
        tax_rate: Option<String>,
        #[arg(long)]
        min: Option<i64>,
        #[arg(long)]
        max: Option<i64>,
        /// Kept by lot (receiving names a lot)
        #[arg(long)]
        lots: bool,
        /// Lots carry an expiry date (implies --lots)
        #[arg(long)]
        expiry: bool,
        #[arg(long = "prescription-only")]
        prescription_only: bool,
        #[arg(long)]
        storage: Option<String>,
    },
    /// Change an item's details
    Change {
        sku: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        reorder: Option<i64>,
        #[arg(long)]
        barcode: Option<String>,
        #[arg(long = "purchase-price")]
        purchase_price: Option<String>,
        #[arg(long = "sale-price")]
        sale_price: Option<String>,
        #[arg(long)]
        unit: Option<String>,
        #[arg(long, conflicts_with = "active")]
        discontinued: bool,
        #[arg(long)]
        active: bool,
    },
    /// An item with its lots per site, totals and latest movements
    Show { sku: String },
}

#[derive(Subcommand, Debug)]
pub enum TransferCmd {
    /// Send stock to another site (in transit until received there)
    Send {
        #[arg(long)]
        sku: String,
        #[arg(long)]
        qty: i64,
        #[arg(long)]
        to: String,
        #[arg(long)]
        lot: Option<String>,
        #[arg(long)]
        from: Option<String>,
    },
    /// Receive a transfer at its destination
    Receive { id: String },
    /// Transfers, newest first
    List,
}

#[derive(Subcommand, Debug)]
pub enum SupplierCmd {
    Add {
        #[arg(long)]
        name: String,
        #[arg(long)]
        contact: Option<String>,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        phone: Option<String>,
        #[arg(long)]
        address: Option<String>,
        #[arg(long = "tax-id")]
        tax_id: Option<String>,
        #[arg(long)]
        terms: Option<String>,
    },
    List,
}

#[derive(Subcommand, Debug)]
pub enum CategoryCmd {
    Add {
        #[arg(long)]
        name: String,
        #[arg(long)]
        parent: Option<String>,
    },
    List,
}

#[derive(Subcommand, Debug)]
pub enum PoCmd {
    /// Create an order (waiting for approval): prints {id, number}
    Create {
        #[arg(long)]
        supplier: String,
        /// SKU:QTY[:COST] (the item's purchase price when no cost)
        #[arg(long = "line", required = true)]
        lines: Vec<String>,
        #[arg(long)]
        site: Option<String>,
        #[arg(long, value_parser = date_arg)]
        expected: Option<NaiveDate>,
        #[arg(long, default_value = "")]
        notes: String,
    },
    /// Approve an order (needs the financial-data permission)
    Approve { id: String },
    /// Mark an order sent to the supplier
    Send { id: String },
    /// Cancel an order (nothing received against it)
    Cancel {
        id: String,
        #[arg(long)]
        reason: String,
    },
    /// Receive goods against an order into a lot: --line SKU:QTY (repeatable)
    Receive {
        id: String,
        #[arg(long = "line", required = true)]
        lines: Vec<String>,
        #[arg(long)]
        lot: Option<String>,
        #[arg(long, value_parser = date_arg)]
        expiry: Option<NaiveDate>,
        /// What one unit cost (the order's price when not given)
        #[arg(long)]
        cost: Option<String>,
    },
    /// An order with its lines, received quantities and back-order
    Show { id: String },
    /// Orders, newest first
    List,
}

#[derive(Subcommand, Debug)]
pub enum StocktakeCmd {
    /// Open a count sheet for a site (every item, or a category's)
    Start {
        #[arg(long)]
        category: Option<String>,
        #[arg(long)]
        site: Option<String>,
    },
    /// Enter a lot's count (the on-hand this desk shows is kept with it)
    Count {
        id: String,
        #[arg(long)]
        sku: String,
        #[arg(long)]
        lot: Option<String>,
        #[arg(long)]
        qty: i64,
    },
    /// Post the variances as corrections
    Post {
        id: String,
    },
    /// The count sheet with counts and variances
    Show {
        id: String,
    },
    List,
}

fn site_id(ws: &mut clinic_client::Workstation, s: Option<&str>) -> ClinicResult<Option<Uuid>> {
    match s {
        Some(x) => Ok(Some(ws.inventory().site(Some(x))?.id)),
        None => Ok(None),
    }
}

/// `SKU:QTY[:COST]`.
fn order_line(text: &str) -> ClinicResult<(String, i64, Option<String>)> {
    let parts: Vec<&str> = text.split(':').collect();
    let bad = || ClinicError::field("line", format!("{text}: write SKU:QTY or SKU:QTY:COST"));
    match parts.as_slice() {
        [sku, qty] | [sku, qty, ..] if parts.len() <= 3 => {
            let q: i64 = qty.trim().parse().map_err(|_| bad())?;
            Ok((
                sku.trim().to_string(),
                q,
                parts.get(2).map(|c| c.trim().to_string()),
            ))
        }
        _ => Err(bad()),
    }
}

pub fn stock(ctx: &Ctx, cmd: StockCmd) -> ClinicResult<()> {
    let mut ws = ctx.signed_in()?;
    match cmd {
        StockCmd::Item(c) => match *c {
            ItemCmd::Add {
                sku,
                name,
                unit,
                reorder,
                barcode,
                generic_name,
                brand_name,
                manufacturer,
                category,
                pack_size,
                purchase_price,
                sale_price,
                tax_rate,
                min,
                max,
                lots,
                expiry,
                prescription_only,
                storage,
            } => {
                let it = ws.inventory().add_item(NewItem {
                    sku,
                    name,
                    unit,
                    reorder_point: reorder,
                    barcode,
                    generic_name,
                    brand_name,
                    manufacturer,
                    category,
                    pack_size,
                    purchase_price,
                    sale_price,
                    tax_rate,
                    min_stock: min,
                    max_stock: max,
                    track_batches: lots,
                    track_expiry: expiry,
                    prescription_required: prescription_only,
                    storage,
                })?;
                ctx.print(&it, |i| format!("{} {} ({}) added", i.sku, i.name, i.unit));
            }
            ItemCmd::Change {
                sku,
                name,
                reorder,
                barcode,
                purchase_price,
                sale_price,
                unit,
                discontinued,
                active,
            } => {
                let money =
                    |t: Option<String>, f: &str| -> ClinicResult<Option<rust_decimal::Decimal>> {
                        t.map(|x| {
                            x.trim().parse::<rust_decimal::Decimal>().map_err(|_| {
                                ClinicError::field(f, "must be an amount such as 1.25")
                            })
                        })
                        .transpose()
                    };
                let change = ChangeStockItem {
                    name,
                    reorder_point: reorder,
                    barcode: barcode.map(|b| Some(b).filter(|x| !x.trim().is_empty())),
                    purchase_price: money(purchase_price, "purchase_price")?,
                    sale_price: money(sale_price, "sale_price")?,
                    unit,
                    discontinued: if discontinued {
                        Some(true)
                    } else if active {
                        Some(false)
                    } else {
                        None
                    },
                    ..Default::default()
                };
                let it = ws.inventory().change_item(&sku, change)?;
                ctx.print(&it, |i| format!("{} {} changed", i.sku, i.name));
            }
            ItemCmd::Show { sku } => {
                let d = ws.inventory().item_detail(&sku)?;
                ctx.print(&d, |d| {
                    let mut out = vec![format!(
                        "{} {} — {} per {}{}",
                        d.item.sku,
                        d.item.name,
                        d.item.sale_price,
                        d.item.unit,
                        if d.item.prescription_required {
                            " (prescription only)"
                        } else {
                            ""
                        }
                    )];
                    for s in &d.sites {
                        out.push(format!(
                            "  {}: {} on hand{}",
                            s.site_name,
                            s.on_hand,
                            if s.low { " (below reorder point)" } else { "" }
                        ));
                    }
                    for l in &d.lots {
                        out.push(format!(
                            "  lot {:<12} expiry {:<10} {:>6} at {}{}",
                            if l.lot.is_empty() { "-" } else { &l.lot },
                            l.expiry.map(|e| e.to_string()).unwrap_or_default(),
                            l.quantity,
                            l.site_name,
                            if l.expired { " EXPIRED" } else { "" }
                        ));
                    }
                    for m in &d.movements {
                        out.push(format!(
                            "  {} {:<28} {:>6} lot {} at {} by {}{}",
                            m.on,
                            m.label,
                            m.quantity,
                            if m.lot.is_empty() { "-" } else { &m.lot },
                            m.site_name,
                            m.by_name,
                            m.reason
                                .as_ref()
                                .map(|r| format!(" — {r}"))
                                .unwrap_or_default()
                        ));
                    }
                    out.join("\n")
                });
            }
        },
        StockCmd::List {
            site,
            search,
            category,
            low,
        } => {
            let site = site_id(&mut ws, site.as_deref())?;
            let category = match category {
                Some(c) => Some(ws.inventory().category(&c)?.id),
                None => None,
            };
            let mut rows = ws.inventory().stock_list(
                site,
                &ItemFilter {
                    text: search,
                    category,
                    include_discontinued: false,
                    limit: u32::MAX,
                },
            )?;
            if low {
                rows.retain(|r| r.low);
            }
            ctx.print(&rows, |rows| {
                rows.iter()
                    .map(|r| {
                        format!(
                            "{:<14} {:<44} {:>7} {:<6} {}{}",
                            r.sku,
                            r.name,
                            r.on_hand,
                            r.unit,
                            r.next_expiry
                                .map(|e| format!("expires {e}"))
                                .unwrap_or_default(),
                            if r.low { " LOW" } else { "" }
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        StockCmd::Receive {
            sku,
            lot,
            expiry,
            qty,
            cost,
            supplier,
            site,
        } => {
            let site = site_id(&mut ws, site.as_deref())?;
            let r = ws.inventory().receive(ReceiveReq {
                item: sku,
                lot,
                expiry,
                quantity: qty,
                cost,
                supplier,
                site,
            })?;
            ctx.print(&r, |r| {
                format!(
                    "Received {} of {} into lot {} (expiry {}) at {}",
                    r.quantity,
                    r.sku,
                    if r.lot.is_empty() { "-" } else { &r.lot },
                    r.expiry
                        .map(|e| e.to_string())
                        .unwrap_or_else(|| "none".into()),
                    r.site_name
                )
            });
        }
        StockCmd::Dispense {
            sku,
            qty,
            batch,
            patient,
            prescription,
            line,
            invoice,
            override_,
            reason,
            site,
        } => {
            let site = site_id(&mut ws, site.as_deref())?;
            let patient = match patient {
                Some(p) => Some(ws.patients().resolve(&p)?),
                None => None,
            };
            let invoice = match invoice {
                Some(i) => Some(ws.billing().resolve_invoice(&i)?),
                None => None,
            };
            let line = match line {
                Some(0) => return Err(ClinicError::field("line", "lines are counted from 1")),
                l => l.map(|n| n - 1),
            };
            let d = ws.inventory().dispense(DispenseReq {
                item: sku,
                quantity: qty,
                lot: batch,
                site,
                patient,
                prescription,
                prescription_line: line,
                invoice,
                override_reason: if override_ { reason } else { None },
            })?;
            ctx.print(&d, |d| {
                let mut out = vec![format!(
                    "Dispensed {} of {} {} at {} ({} left there)",
                    d.quantity, d.sku, d.name, d.site_name, d.on_hand_after
                )];
                for b in &d.batches {
                    out.push(format!(
                        "  {} from lot {} (expiry {})",
                        b.quantity,
                        if b.lot.is_empty() { "-" } else { &b.lot },
                        b.expiry
                            .map(|e| e.to_string())
                            .unwrap_or_else(|| "none".into())
                    ));
                }
                out.join("\n")
            });
        }
        StockCmd::Adjust {
            sku,
            lot,
            qty,
            reason,
            site,
        } => {
            let site = site_id(&mut ws, site.as_deref())?;
            let m = ws
                .inventory()
                .adjust(&sku, lot.as_deref(), Some(qty), &reason, false, site)?;
            ctx.print(&m, |m| {
                format!("{} {} lot {}: {}", m.label, m.quantity, m.lot, reason)
            });
        }
        StockCmd::WriteOff {
            sku,
            lot,
            qty,
            reason,
            site,
        } => {
            let site = site_id(&mut ws, site.as_deref())?;
            let m = ws
                .inventory()
                .adjust(&sku, lot.as_deref(), qty, &reason, true, site)?;
            ctx.print(&m, |m| {
                format!("{} {} of lot {}", m.label, -m.quantity, m.lot)
            });
        }
        StockCmd::Reallocate {
            sku,
            from,
            to,
            qty,
            reason,
            site,
        } => {
            let site = site_id(&mut ws, site.as_deref())?;
            let ms = ws
                .inventory()
                .reallocate(&sku, Some(&from), Some(&to), qty, &reason, site)?;
            ctx.print(&ms, |_| {
                format!("Moved {qty} of {sku} from lot {from} to lot {to}")
            });
        }
        StockCmd::Onhand { sku, site } => {
            let site = site_id(&mut ws, site.as_deref())?;
            let rows = ws.inventory().onhand(sku.as_deref(), site)?;
            ctx.print(&rows, |rows| {
                rows.iter()
                    .map(|r| {
                        format!(
                            "{:<14} lot {:<12} {:>7} at {}",
                            r.sku,
                            if r.lot.is_empty() { "-" } else { &r.lot },
                            r.quantity,
                            r.site_name
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        StockCmd::Alerts { days } => {
            let alerts = ws.inventory().alerts(days)?;
            ctx.print(&alerts, |a| {
                if a.is_empty() {
                    return "No stock alerts.".into();
                }
                a.iter()
                    .map(|x| {
                        let tag = match x.kind {
                            AlertKind::Negative => "NEGATIVE",
                            AlertKind::Expired => "EXPIRED",
                            AlertKind::Expiring => "EXPIRING",
                            AlertKind::Low => "LOW",
                        };
                        let mut s = format!("{tag:<9} {}", x.message);
                        for m in &x.caused_by {
                            s.push_str(&format!(
                                "\n          {} {} {} by {} at {}",
                                m.on, m.label, m.quantity, m.by_name, m.site_name
                            ));
                        }
                        s
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        StockCmd::Valuation { site } => {
            let site = site_id(&mut ws, site.as_deref())?;
            let v = ws.inventory().valuation(site)?;
            ctx.print(&v, |v| {
                format!(
                    "{}: {} {} ({} items in {} lots)\n{}",
                    v.site_name, v.currency, v.total, v.items, v.lots, v.method
                )
            });
        }
        StockCmd::Transfer(t) => match t {
            TransferCmd::Send {
                sku,
                qty,
                to,
                lot,
                from,
            } => {
                let to = ws.inventory().site(Some(&to))?.id;
                let from = site_id(&mut ws, from.as_deref())?;
                let v = ws
                    .inventory()
                    .send_transfer(&sku, qty, lot.as_deref(), to, from)?;
                ctx.print(&v, |v| {
                    format!(
                        "Transfer {} sent from {} to {}: in transit",
                        v.transfer.id, v.from_name, v.to_name
                    )
                });
            }
            TransferCmd::Receive { id } => {
                let v = ws.inventory().receive_transfer(&id)?;
                ctx.print(&v, |v| {
                    format!("Transfer {} received at {}", v.transfer.id, v.to_name)
                });
            }
            TransferCmd::List => {
                let all = ws.inventory().transfers()?;
                ctx.print(&all, |all| {
                    all.iter()
                        .map(|v| {
                            format!(
                                "{} {} → {} {:?}",
                                v.transfer.id, v.from_name, v.to_name, v.transfer.status
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("\n")
                });
            }
        },
        StockCmd::Supplier(s) => match s {
            SupplierCmd::Add {
                name,
                contact,
                email,
                phone,
                address,
                tax_id,
                terms,
            } => {
                let sup = ws.inventory().save_supplier(Supplier {
                    id: Uuid::nil(),
                    name,
                    contact_person: contact,
                    email,
                    phone,
                    address,
                    tax_id,
                    payment_terms: terms,
                    active: true,
                })?;
                ctx.print(&sup, |s| format!("Supplier {} added", s.name));
            }
            SupplierCmd::List => {
                let all = ws.inventory().suppliers()?;
                ctx.print(&all, |all| {
                    all.iter()
                        .map(|s| s.name.clone())
                        .collect::<Vec<_>>()
                        .join("\n")
                });
            }
        },
        StockCmd::Category(c) => match c {
            CategoryCmd::Add { name, parent } => {
                let cat = ws.inventory().add_category(&name, parent.as_deref())?;
                ctx.print(&cat, |c| format!("Category {} added", c.name));
            }
            CategoryCmd::List => {
                let all = ws.inventory().categories()?;
                ctx.print(&all, |all| {
                    all.iter()
                        .map(|s| s.name.clone())
                        .collect::<Vec<_>>()
                        .join("\n")
                });
            }
        },
    }
    Ok(())
}

fn order_card(v: &clinic_client::inventory::orders::OrderView) -> String {
    let o = &v.order;
    let mut out = vec![format!(
        "{} {} — {} to {} — total {} — {} still to come",
        o.number,
        o.status.label(),
        o.supplier_name,
        v.site_name,
        v.total,
        v.outstanding
    )];
    for l in &o.lines {
        out.push(format!(
            "  {:<14} {:<40} ordered {:>6} at {:>8} received {:>6}",
            l.sku, l.name, l.quantity, l.unit_cost, l.received
        ));
    }
    out.join("\n")
}

pub fn po(ctx: &Ctx, cmd: PoCmd) -> ClinicResult<()> {
    let mut ws = ctx.signed_in()?;
    match cmd {
        PoCmd::Create {
            supplier,
            lines,
            site,
            expected,
            notes,
        } => {
            let site = site_id(&mut ws, site.as_deref())?;
            let lines = lines
                .iter()
                .map(|l| order_line(l))
                .collect::<ClinicResult<Vec<_>>>()?;
            let v = ws
                .inventory()
                .create_order(&supplier, &lines, site, expected, &notes)?;
            let out = json!({"id": v.order.id, "number": v.order.number, "status": v.order.status,
                             "total": v.total, "order": v.order});
            ctx.print(&out, |_| order_card(&v));
        }
        PoCmd::Approve { id } => {
            let v = ws.inventory().order_step(&id, OrderStep::Approve, None)?;
            ctx.print(&v, order_card);
        }
        PoCmd::Send { id } => {
            let v = ws.inventory().order_step(&id, OrderStep::MarkSent, None)?;
            ctx.print(&v, order_card);
        }
        PoCmd::Cancel { id, reason } => {
            let v = ws
                .inventory()
                .order_step(&id, OrderStep::Cancel, Some(&reason))?;
            ctx.print(&v, order_card);
        }
        PoCmd::Receive {
            id,
            lines,
            lot,
            expiry,
            cost,
        } => {
            let lines = lines
                .iter()
                .map(|l| {
                    let (sku, qty, _) = order_line(l)?;
                    Ok(ReceiveLine {
                        item: sku,
                        quantity: qty,
                        lot: lot.clone(),
                        expiry,
                        cost: cost.clone(),
                    })
                })
                .collect::<ClinicResult<Vec<_>>>()?;
            let v = ws.inventory().receive_order(&id, &lines)?;
            ctx.print(&v, order_card);
        }
        PoCmd::Show { id } => {
            let v = ws.inventory().order(&id)?;
            ctx.print(&v, order_card);
        }
        PoCmd::List => {
            let all = ws.inventory().orders()?;
            ctx.print(&all, |all| {
                all.iter()
                    .map(|v| {
                        format!(
                            "{} {:<22} {:<30} {:>10} {} to come",
                            v.order.number,
                            v.order.status.label(),
                            v.order.supplier_name,
                            v.total,
                            v.outstanding
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
    }
    Ok(())
}

fn sheet(v: &clinic_client::inventory::stocktake::StocktakeView) -> String {
    let mut out = vec![format!(
        "Stocktake {} at {}{} — {:?}, {} lots counted",
        v.stocktake.id,
        v.site_name,
        v.category
            .as_ref()
            .map(|c| format!(" ({c})"))
            .unwrap_or_default(),
        v.stocktake.status,
        v.counted
    )];
    for l in v.lines.iter().filter(|l| l.counted.is_some()) {
        out.push(format!(
            "  {:<14} lot {:<12} on hand {:>6} counted {:>6} variance {:>+6}",
            l.sku,
            if l.lot.is_empty() { "-" } else { &l.lot },
            l.on_hand,
            l.counted.unwrap_or(0),
            l.variance.unwrap_or(0)
        ));
    }
    out.join("\n")
}

pub fn stocktake(ctx: &Ctx, cmd: StocktakeCmd) -> ClinicResult<()> {
    let mut ws = ctx.signed_in()?;
    match cmd {
        StocktakeCmd::Start { category, site } => {
            let site = site_id(&mut ws, site.as_deref())?;
            let v = ws.inventory().start_stocktake(category.as_deref(), site)?;
            ctx.print(
                &json!({"id": v.stocktake.id, "site": v.site_name, "lots": v.lines.len(), "stocktake": v.stocktake}),
                |_| sheet(&v),
            );
        }
        StocktakeCmd::Count { id, sku, lot, qty } => {
            let v = ws.inventory().count(&id, &sku, lot.as_deref(), qty)?;
            ctx.print(&v, sheet);
        }
        StocktakeCmd::Post { id } => {
            let v = ws.inventory().post_stocktake(&id)?;
            ctx.print(&v, sheet);
        }
        StocktakeCmd::Show { id } => {
            let v = ws.inventory().stocktake(&id)?;
            ctx.print(&v, sheet);
        }
        StocktakeCmd::List => {
            let all = ws.inventory().stocktakes()?;
            ctx.print(&all, |all| {
                all.iter()
                    .map(|s| {
                        format!(
                            "{} {:?} started {}",
                            s.id,
                            s.status,
                            s.started_at.format("%Y-%m-%d")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
    }
    Ok(())
}
