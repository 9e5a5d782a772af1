//! Closing the books on a desk: the period lock (online, by a manager,
//! after listing the desks that may still send changes dated inside the
//! period) and the day's cash-up of this desk.

use super::Billing;
use crate::workstation::Workstation;
use chrono::{NaiveDate, TimeZone, Utc};
use clinic_core::audit::AuditEntry;
use clinic_core::billing::money::parse_amount;
use clinic_core::billing::*;
use clinic_core::permissions::{Action, Module, SensitiveFlag};
use clinic_core::sync::{Mutation, RecordKind};
use clinic_core::{ClinicError, ClinicResult, ErrorCode};
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::json;
use std::collections::{BTreeMap, HashSet};
use uuid::Uuid;

/// A workstation that had not reached the server since a period ended.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct UnsyncedDesk {
    pub id: Uuid,
    pub name: String,
    /// `None`: never synced.
    pub last_synced_at: Option<chrono::DateTime<Utc>>,
}

/// What closing a period up to a day would do (or did).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PeriodClosing {
    pub until: NaiveDate,
    /// Closed before this (`None`: never closed).
    pub closed_until_before: Option<NaiveDate>,
    /// The desks that have not synced since the period ended: what they
    /// hold dated inside it will arrive as conflicts to post.
    pub unsynced_desks: Vec<UnsyncedDesk>,
    /// Whether the close was made (`false`: a preview).
    pub closed: bool,
    /// Whether the server has it already (`false`: it goes with the next
    /// sync; this desk refuses documents dated inside it meanwhile).
    pub sent: bool,
}

/// One method's takings on a desk's day.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Takings {
    pub method: PaymentMethod,
    /// Payments taken.
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub taken: Decimal,
    /// Refunds paid back.
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub refunded: Decimal,
    /// taken − refunded: what the drawer (or terminal) should hold.
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub expected: Decimal,
    pub count: u32,
}

/// A payment for a day already cashed up, entered after it was closed.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LatePayment {
    pub payment_id: Uuid,
    pub receipt_number: Option<String>,
    pub day: NaiveDate,
    pub kind: PaymentKind,
    pub method: PaymentMethod,
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub amount: Decimal,
}

/// A desk's day: its takings by method, and, once closed, the cash-up.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CashUpView {
    pub day: NaiveDate,
    pub desk_id: Uuid,
    pub desk_name: String,
    pub currency: String,
    pub takings: Vec<Takings>,
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub expected_total: Decimal,
    pub closed: Option<CashUp>,
    /// Payments for this desk's closed days that came after the close.
    pub late: Vec<LatePayment>,
}

impl Billing<'_> {
    fn closing_session(
        &mut self,
    ) -> ClinicResult<(crate::workstation::Session, chrono::DateTime<Utc>)> {
        let (s, now) = self.ws.act(Module::Admin, Action::Edit)?;
        s.permissions.require_flag(SensitiveFlag::FinancialData)?;
        Ok((s, now))
    }

    /// The desks that have not reached the server since the end of `until`
    /// (in the home site's time zone), this one excepted. Online only.
    fn unsynced_since(&self, until: NaiveDate) -> ClinicResult<Vec<UnsyncedDesk>> {
        let site = self.ws.home_site()?;
        let tz: chrono_tz::Tz = site.timezone.parse().unwrap_or(chrono_tz::UTC);
        let end = (until + chrono::Duration::days(1))
            .and_hms_opt(0, 0, 0)
            .and_then(|t| tz.from_local_datetime(&t).earliest())
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| ClinicError::field("until", "is not a day"))?;
        let me = self.ws.store()?.device_id();
        let peers = online(self.ws.transport()?.peers())?;
        Ok(peers
            .into_iter()
            .filter(|d| d.id != me && d.last_seen_at.is_none_or(|t| t < end))
            .map(|d| UnsyncedDesk {
                id: d.id,
                name: d.name,
                last_synced_at: d.last_seen_at,
            })
            .collect())
    }

    fn check_until(&mut self, until: NaiveDate) -> ClinicResult<Option<NaiveDate>> {
        let (_, now) = self.closing_session()?;
        let today = self.today(now)?;
        if until >= today {
            return Err(ClinicError::field(
                "until",
                format!(
                    "a period is closed once it has ended: yesterday ({}) at the latest",
                    today - chrono::Duration::days(1)
                ),
            ));
        }
        let before = self.period_lock()?.map(|l| l.closed_until);
        if let Some(b) = before.filter(|b| *b >= until) {
            return Err(ClinicError::conflict(format!(
                "The books are already closed up to {b}."
            )));
        }
        Ok(before)
    }

    /// What closing the books up to `until` would leave out: the desks not
    /// synced since (online; nothing is changed).
    pub fn preview_close(&mut self, until: NaiveDate) -> ClinicResult<PeriodClosing> {
        let before = self.check_until(until)?;
        let unsynced_desks = self.unsynced_since(until)?;
        Ok(PeriodClosing {
            until,
            closed_until_before: before,
            unsynced_desks,
            closed: false,
            sent: false,
        })
    }

    /// Closes the books up to `until` (managers, online): syncs first, lists
    /// the desks that have not synced since the period ended, then records
    /// the close and sends it.
    pub fn close_period(&mut self, until: NaiveDate, note: &str) -> ClinicResult<PeriodClosing> {
        let before = self.check_until(until)?;
        online(self.ws.sync_now(&mut |_, _| {}))?;
        // The server may have had a close this desk had not seen.
        let before = self.period_lock()?.map(|l| l.closed_until).or(before);
        if let Some(b) = before.filter(|b| *b >= until) {
            return Err(ClinicError::conflict(format!(
                "The books are already closed up to {b}."
            )));
        }
        let unsynced_desks = self.unsynced_since(until)?;
        let (s, now) = self.closing_session()?;
        let tenant = self.ws.store()?.db().tenant()?.id;
        let names: Vec<String> = unsynced_desks.iter().map(|d| d.name.clone()).collect();
        let id = PeriodLock::id_for(tenant);
        self.ws.commit_change(
            &s,
            now,
            |_| {
                Ok(Mutation::new(ClosePeriod {
                    tenant,
                    until,
                    unsynced_desks: names.clone(),
                    note: note.trim().to_string(),
                }))
            },
            |_| {
                vec![AuditEntry {
                    action: "period.close",
                    entity_type: PeriodLock::KIND,
                    entity_id: Some(id),
                    patient_id: None,
                    details: json!({"until": until, "unsynced_desks": names}),
                }]
            },
        )?;
        let sent = self.ws.sync_now(&mut |_, _| {}).is_ok();
        Ok(PeriodClosing {
            until,
            closed_until_before: before,
            unsynced_desks,
            closed: true,
            sent,
        })
    }

    fn desk_name(&self) -> ClinicResult<String> {
        Ok(self
            .ws
            .store()?
            .db()
            .meta("device_name")?
            .unwrap_or_else(|| "This desk".into()))
    }

    /// This desk's takings on `day` by method, and its cash-up if closed.
    pub fn cash_up(&mut self, day: Option<NaiveDate>) -> ClinicResult<CashUpView> {
        let (_, now) = self.act(Action::View)?;
        let day = match day {
            Some(d) => d,
            None => self.today(now)?,
        };
        cash_up_view(self.ws, day, self.desk_name()?)
    }

    /// Closes this desk's day: what was counted per method (`cash=120.00`)
    /// against the takings, a reason when they differ.
    pub fn close_cash_up(
        &mut self,
        day: Option<NaiveDate>,
        counted: &[(PaymentMethod, String)],
        reason: Option<&str>,
    ) -> ClinicResult<CashUpView> {
        let (s, now) = self.act(Action::Create)?;
        let today = self.today(now)?;
        let day = day.unwrap_or(today);
        if day > today {
            return Err(ClinicError::field("date", "must not be in the future"));
        }
        let desk_name = self.desk_name()?;
        let view = cash_up_view(self.ws, day, desk_name.clone())?;
        if view.closed.is_some() {
            return Err(ClinicError::conflict(format!(
                "This desk's day {day} was already cashed up."
            )));
        }
        let digits = money::minor_digits(&view.currency);
        let mut given: BTreeMap<&str, Decimal> = BTreeMap::new();
        for (m, text) in counted {
            if !PaymentMethod::COUNTED.contains(m) {
                return Err(ClinicError::field(
                    "counted",
                    format!(
                        "{} is not counted at the desk (cash, card and bank transfer are)",
                        m.as_str()
                    ),
                ));
            }
            let v = parse_amount(text, digits, true)
                .map_err(|e| ClinicError::field("counted", format!("{}: {e}", m.as_str())))?;
            if given.insert(m.as_str(), v).is_some() {
                return Err(ClinicError::field(
                    "counted",
                    format!("{} is counted twice", m.as_str()),
                ));
            }
        }
        // Every method with takings is counted; a method counted with no
        // takings is a line too (money in the drawer nobody recorded).
        let mut lines = Vec::new();
        for m in PaymentMethod::COUNTED {
            let expected = view
                .takings
                .iter()
                .find(|t| t.method == m)
                .map(|t| t.expected);
            let counted = given.get(m.as_str()).copied();
            match (expected, counted) {
                (None, None) => {}
                (Some(e), None) if !e.is_zero() => {
                    return Err(ClinicError::field(
                        "counted",
                        format!("count the {} takings ({e}) too", m.label().to_lowercase()),
                    ))
                }
                (e, c) => {
                    let e = e.unwrap_or_else(|| money::round(Decimal::ZERO, digits));
                    let c = c.unwrap_or(e);
                    lines.push(CashUpLine {
                        method: m,
                        expected: e,
                        counted: c,
                        difference: c - e,
                    });
                }
            }
        }
        if lines.is_empty() {
            return Err(ClinicError::field(
                "counted",
                "nothing was taken on this desk that day: count at least one method (cash=0.00)",
            ));
        }
        let differs = lines.iter().any(|l| !l.difference.is_zero());
        let reason = reason.map(str::trim).filter(|r| !r.is_empty());
        if differs && reason.is_none() {
            return Err(ClinicError::field(
                "reason",
                "the count differs from the takings: say why",
            ));
        }
        let db = self.ws.store()?.db();
        let (tenant, desk) = (db.tenant()?.id, db.device_id);
        let payments: Vec<Uuid> = db
            .desk_day_payments(desk, day)?
            .iter()
            .map(|p| p.id)
            .collect();
        let id = CashUp::id_for(desk, day);
        let cash_up = CashUp {
            id,
            tenant_id: tenant,
            desk_id: desk,
            desk_name,
            day,
            currency: view.currency.clone(),
            lines,
            payments,
            reason: reason.map(str::to_string),
            closed_by: s.user_id,
            closed_at: now,
        };
        let difference = cash_up.difference();
        self.ws.commit_change(
            &s,
            now,
            |_| Ok(Mutation::new(CloseCashUp { cash_up })),
            |_| {
                vec![AuditEntry {
                    action: "cashup.close",
                    entity_type: CashUp::KIND,
                    entity_id: Some(id),
                    patient_id: None,
                    details: json!({"day": day, "difference": difference}),
                }]
            },
        )?;
        cash_up_view(self.ws, day, self.desk_name()?)
    }
}

/// How far back a cash-up looks for late payments of closed days.
pub const LATE_WINDOW_DAYS: i64 = 62;

/// A failure to reach the server, said as the close needs it.
fn online<T>(r: ClinicResult<T>) -> ClinicResult<T> {
    r.map_err(|e| match e.code {
        ErrorCode::Unreachable | ErrorCode::NotFound => ClinicError::new(
            ErrorCode::Unreachable,
            format!("Closing a period is done online, and the server cannot be reached: {e}"),
        ),
        _ => e,
    })
}

fn cash_up_view(ws: &Workstation, day: NaiveDate, desk_name: String) -> ClinicResult<CashUpView> {
    let db = ws.store()?.db();
    let desk = db.device_id;
    let currency = db.clinic_settings()?.currency;
    let digits = money::minor_digits(&currency);
    let zero = money::round(Decimal::ZERO, digits);
    let mut takings: Vec<Takings> = Vec::new();
    for p in db.desk_day_payments(desk, day)? {
        if !PaymentMethod::COUNTED.contains(&p.method) {
            continue;
        }
        let t = match takings.iter_mut().find(|t| t.method == p.method) {
            Some(t) => t,
            None => {
                takings.push(Takings {
                    method: p.method,
                    taken: zero,
                    refunded: zero,
                    expected: zero,
                    count: 0,
                });
                takings.last_mut().expect("just pushed")
            }
        };
        match p.kind {
            PaymentKind::Payment => t.taken += p.amount,
            PaymentKind::Refund => t.refunded += p.amount,
        }
        t.expected = t.taken - t.refunded;
        t.count += 1;
    }
    takings.sort_by_key(|t| PaymentMethod::COUNTED.iter().position(|m| *m == t.method));
    let expected_total = takings.iter().fold(zero, |s, t| s + t.expected);
    let closed = db.document::<CashUp>(CashUp::id_for(desk, day))?;
    // Late: a payment of this desk for a day it cashed up, not counted in it.
    let mut late = Vec::new();
    for c in db.desk_cash_ups(desk, day - chrono::Duration::days(LATE_WINDOW_DAYS), day)? {
        let counted: HashSet<Uuid> = c.payments.iter().copied().collect();
        for p in db.desk_day_payments(desk, c.day)? {
            if PaymentMethod::COUNTED.contains(&p.method) && !counted.contains(&p.id) {
                late.push(LatePayment {
                    payment_id: p.id,
                    receipt_number: p.receipt_number.clone(),
                    day: c.day,
                    kind: p.kind,
                    method: p.method,
                    amount: p.amount,
                });
            }
        }
    }
    Ok(CashUpView {
        day,
        desk_id: desk,
        desk_name,
        currency,
        takings,
        expected_total,
        closed,
        late,
    })
}
