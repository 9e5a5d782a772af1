//! `clinic claim …`, `clinic eligibility …`, `clinic plan …`, `clinic
//! period …` and `clinic cashup`: the manager's side of billing from the
//! command line (the scripting contract of issue #23).

use super::{date_arg, Ctx};
use chrono::NaiveDate;
use clap::Subcommand;
use clinic_client::billing::insurance::{ClaimDecision, ClaimView, PlanView};
use clinic_core::billing::{Every, PaymentMethod, PlanStatus};
use clinic_core::{ClinicError, ClinicResult};
use uuid::Uuid;

#[derive(Subcommand, Debug)]
pub enum ClaimCmd {
    /// Claim (part of) an issued invoice from an insurer (numbered CLM-…)
    Add {
        /// Invoice id or number
        #[arg(long)]
        invoice: String,
        #[arg(long)]
        provider: String,
        #[arg(long)]
        amount: String,
        #[arg(long)]
        policy: Option<String>,
    },
    /// Record the insurer's decision: approved / partially_paid (with the
    /// total --approved so far, posted as an insurance payment) or denied
    Set {
        /// Claim id or number
        id: String,
        #[arg(long)]
        status: String,
        #[arg(long)]
        approved: Option<String>,
        #[arg(long)]
        reason: Option<String>,
        /// The day of the decision (today when not given)
        #[arg(long, value_parser = date_arg)]
        date: Option<NaiveDate>,
    },
    /// One claim
    Show { id: String },
    /// Claims, newest first
    List {
        /// Only those still pending or partly paid
        #[arg(long)]
        open: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum EligibilityCmd {
    /// Record an insurer's answer on a patient's cover
    Add {
        /// Patient number or id
        #[arg(long)]
        patient: String,
        #[arg(long)]
        provider: String,
        /// eligible, not_eligible or unknown
        #[arg(long)]
        status: String,
        #[arg(long, default_value = "")]
        benefits: String,
        #[arg(long)]
        policy: Option<String>,
    },
    /// A patient's checks, newest first
    List {
        #[arg(long)]
        patient: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum PlanCmd {
    /// Spread what is owing on an issued invoice over 2 to 9 instalments
    Add {
        /// Invoice id or number
        #[arg(long)]
        invoice: String,
        #[arg(long)]
        instalments: u8,
        /// week or month
        #[arg(long)]
        every: String,
        /// The first instalment's day (today when not given)
        #[arg(long, value_parser = date_arg)]
        first: Option<NaiveDate>,
    },
    /// Plans as they stand today: a patient's, or the clinic's
    List {
        /// Patient number or id
        #[arg(long)]
        patient: Option<String>,
        /// Only plans with an instalment overdue
        #[arg(long)]
        overdue: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum DiscountCmd {
    /// Propose a discount code (a percentage off a line; usable once approved)
    Add {
        #[arg(long)]
        code: String,
        #[arg(long)]
        percent: String,
        #[arg(long, default_value = "")]
        description: String,
        #[arg(long, value_parser = date_arg)]
        from: Option<NaiveDate>,
        #[arg(long, value_parser = date_arg)]
        until: Option<NaiveDate>,
        /// At most this many issued invoices
        #[arg(long)]
        max_uses: Option<u32>,
    },
    /// Approve a proposed code (managers)
    Approve { code: String },
    /// Reject a proposed code (managers)
    Reject { code: String },
    /// The clinic's codes with their uses
    List,
}

#[derive(Subcommand, Debug)]
pub enum PeriodCmd {
    /// Close the books up to a day (managers, online): prints the desks not
    /// synced since the period ended
    Close {
        #[arg(long, value_parser = date_arg)]
        until: NaiveDate,
        /// Only list the desks not synced since; close nothing
        #[arg(long)]
        preview: bool,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Up to which day the books are closed, and each close
    Show,
}

fn claim_line(v: &ClaimView) -> String {
    let c = &v.claim;
    format!(
        "{} {} {:<28} {} claimed {} approved {} [{}] invoice {} balance {}",
        c.number,
        c.submitted_on,
        c.provider,
        c.currency,
        c.claimed,
        c.approved,
        c.status.as_str(),
        c.invoice_number,
        v.invoice_balance
    )
}

fn plan_text(v: &PlanView) -> String {
    let p = &v.plan;
    let status = match v.progress.status {
        PlanStatus::Active => "active",
        PlanStatus::Completed => "completed",
        PlanStatus::Defaulted => "defaulted",
    };
    let mut out = format!(
        "{} {} ({}): {} {} in {} instalments, paid {}, overdue {} [{status}]",
        p.invoice_number,
        v.patient_name,
        p.patient_id,
        p.currency,
        p.amount,
        p.instalments.len(),
        v.progress.paid,
        v.progress.overdue,
    );
    for i in &p.instalments {
        let late = if v.progress.overdue_instalments.contains(&i.n) {
            "  OVERDUE"
        } else {
            ""
        };
        out.push_str(&format!("\n  {}. {} {}{late}", i.n, i.due_on, i.amount));
    }
    out
}

pub fn claim(ctx: &Ctx, cmd: ClaimCmd) -> ClinicResult<()> {
    let mut ws = ctx.signed_in()?;
    let mut b = ws.billing();
    match cmd {
        ClaimCmd::Add {
            invoice,
            provider,
            amount,
            policy,
        } => {
            let id = b.resolve_invoice(&invoice)?;
            let v = b.add_claim(id, &provider, &amount, policy.as_deref())?;
            ctx.print(&v, claim_line);
        }
        ClaimCmd::Set {
            id,
            status,
            approved,
            reason,
            date,
        } => {
            let v = b.decide_claim(
                &id,
                ClaimDecision {
                    status,
                    approved,
                    reason,
                    date,
                },
            )?;
            ctx.print(&v, claim_line);
        }
        ClaimCmd::Show { id } => {
            let c = b.resolve_claim(&id)?;
            let v = b
                .claims(false)?
                .into_iter()
                .find(|v| v.claim.id == c.id)
                .ok_or_else(|| ClinicError::not_found("Claim"))?;
            ctx.print(&v, claim_line);
        }
        ClaimCmd::List { open } => {
            let rows = b.claims(open)?;
            ctx.print(&rows, |rows| {
                if rows.is_empty() {
                    return "No claims.".into();
                }
                rows.iter().map(claim_line).collect::<Vec<_>>().join("\n")
            });
        }
    }
    Ok(())
}

fn eligibility_line(c: &clinic_core::billing::EligibilityCheck) -> String {
    format!(
        "{} {}: {} {}",
        c.checked_on,
        c.provider,
        c.status.as_str(),
        c.benefits
    )
}

pub fn eligibility(ctx: &Ctx, cmd: EligibilityCmd) -> ClinicResult<()> {
    let mut ws = ctx.signed_in()?;
    match cmd {
        EligibilityCmd::Add {
            patient,
            provider,
            status,
            benefits,
            policy,
        } => {
            let p = ws.patients().resolve(&patient)?;
            let c = ws.billing().record_eligibility(
                p,
                &provider,
                &status,
                &benefits,
                policy.as_deref(),
            )?;
            ctx.print(&c, eligibility_line);
        }
        EligibilityCmd::List { patient } => {
            let p = ws.patients().resolve(&patient)?;
            let rows = ws.billing().eligibility(p)?;
            ctx.print(&rows, |rows| {
                if rows.is_empty() {
                    return "No eligibility checks recorded.".into();
                }
                rows.iter()
                    .map(eligibility_line)
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
    }
    Ok(())
}

pub fn plan(ctx: &Ctx, cmd: PlanCmd) -> ClinicResult<()> {
    let mut ws = ctx.signed_in()?;
    match cmd {
        PlanCmd::Add {
            invoice,
            instalments,
            every,
            first,
        } => {
            let every = Every::parse(&every)
                .ok_or_else(|| ClinicError::field("every", "is week or month"))?;
            let mut b = ws.billing();
            let id = b.resolve_invoice(&invoice)?;
            let v = b.add_plan(id, instalments, every, first)?;
            ctx.print(&v, plan_text);
        }
        PlanCmd::List { patient, overdue } => {
            let patient: Option<Uuid> = match patient {
                Some(p) => Some(ws.patients().resolve(&p)?),
                None => None,
            };
            let rows = ws.billing().plans(patient, overdue)?;
            ctx.print(&rows, |rows| {
                if rows.is_empty() {
                    return "No instalment plans.".into();
                }
                rows.iter().map(plan_text).collect::<Vec<_>>().join("\n")
            });
        }
    }
    Ok(())
}

pub fn period(ctx: &Ctx, cmd: PeriodCmd) -> ClinicResult<()> {
    let mut ws = ctx.signed_in()?;
    let mut b = ws.billing();
    match cmd {
        PeriodCmd::Close {
            until,
            preview,
            note,
        } => {
            let r = if preview {
                b.preview_close(until)?
            } else {
                b.close_period(until, &note)?
            };
            ctx.print(&r, |r| {
                let mut out = if r.closed {
                    format!("The books are closed up to {}.", r.until)
                } else {
                    format!("Closing up to {} (not done: a preview).", r.until)
                };
                if r.closed && !r.sent {
                    out.push_str(" The server could not be told yet: it goes with the next sync.");
                }
                if r.unsynced_desks.is_empty() {
                    out.push_str("\nEvery desk has synced since the period ended.");
                } else {
                    out.push_str("\nNot synced since the period ended (what they hold dated inside it will arrive as conflicts to post):");
                    for d in &r.unsynced_desks {
                        out.push_str(&format!(
                            "\n  {} (last synced {})",
                            d.name,
                            d.last_synced_at
                                .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
                                .unwrap_or_else(|| "never".into())
                        ));
                    }
                }
                out
            });
        }
        PeriodCmd::Show => {
            let l = b.period_lock()?;
            ctx.print(&l, |l| match l {
                None => "No period has been closed.".into(),
                Some(l) => format!("The books are closed up to {}.", l.closed_until),
            });
        }
    }
    Ok(())
}

/// `clinic cashup [--date D] [--counted cash=120.00 …] [--reason …]`: the
/// desk's takings for the day; with counts, closes the day.
pub fn cashup(
    ctx: &Ctx,
    date: Option<NaiveDate>,
    counted: &[String],
    reason: Option<&str>,
) -> ClinicResult<()> {
    let mut ws = ctx.signed_in()?;
    let mut b = ws.billing();
    let v = if counted.is_empty() {
        b.cash_up(date)?
    } else {
        let mut given = Vec::new();
        for c in counted {
            let (m, amount) = c.split_once('=').ok_or_else(|| {
                ClinicError::field("counted", format!("{c}: write METHOD=AMOUNT (cash=120.00)"))
            })?;
            let m = PaymentMethod::parse(m)
                .filter(|m| PaymentMethod::COUNTED.contains(m))
                .ok_or_else(|| {
                    ClinicError::field(
                        "counted",
                        format!("{m}: the methods counted are cash, card and bank_transfer"),
                    )
                })?;
            given.push((m, amount.trim().to_string()));
        }
        b.close_cash_up(date, &given, reason)?
    };
    ctx.print(&v, |v| {
        let mut out = format!("Cash-up of {} on {} ({}):", v.desk_name, v.day, v.currency);
        for t in &v.takings {
            out.push_str(&format!(
                "\n  {:<14} {:>4} taken {:>10} refunded {:>10} expected {:>10}",
                t.method.label(),
                t.count,
                t.taken,
                t.refunded,
                t.expected
            ));
        }
        out.push_str(&format!("\n  expected in all {}", v.expected_total));
        match &v.closed {
            Some(c) => {
                out.push_str(&format!("\nClosed; difference {}", c.difference()));
                if let Some(r) = &c.reason {
                    out.push_str(&format!(" ({r})"));
                }
            }
            None => out.push_str("\nNot closed yet."),
        }
        for l in &v.late {
            out.push_str(&format!(
                "\nLATE: {} {} {} for {}, a day already cashed up",
                l.receipt_number.as_deref().unwrap_or("-"),
                l.method.label(),
                l.amount,
                l.day
            ));
        }
        out
    });
    Ok(())
}

/// `clinic ageing`: what the clinic is owed by age of invoice.
pub fn ageing(ctx: &Ctx) -> ClinicResult<()> {
    let mut ws = ctx.signed_in()?;
    let a = ws.billing().ageing()?;
    ctx.print(&a, |a| {
        let mut out = format!("Owed on {} ({}):", a.on, a.currency);
        for b in &a.buckets {
            out.push_str(&format!(
                "\n  {:<14} {:>12} in {} invoices",
                b.label, b.owed, b.invoices
            ));
        }
        out.push_str(&format!("\n  {:<14} {:>12}", "in all", a.total));
        out
    });
    Ok(())
}

fn discount_line(c: &clinic_core::billing::DiscountCode) -> String {
    format!(
        "{:<12} {:>6}% {} to {} used {}{} [{:?}] {}",
        c.code,
        c.percent,
        c.valid_from,
        c.valid_until
            .map(|d| d.to_string())
            .unwrap_or_else(|| "-".into()),
        c.uses,
        c.max_uses.map(|m| format!("/{m}")).unwrap_or_default(),
        c.approval,
        c.description
    )
}

pub fn discount(ctx: &Ctx, cmd: DiscountCmd) -> ClinicResult<()> {
    let mut ws = ctx.signed_in()?;
    let mut b = ws.billing();
    match cmd {
        DiscountCmd::Add {
            code,
            percent,
            description,
            from,
            until,
            max_uses,
        } => {
            let c = b.add_discount_code(clinic_client::billing::discounts::NewDiscountCode {
                code,
                description,
                percent,
                valid_from: from,
                valid_until: until,
                max_uses,
            })?;
            ctx.print(&c, discount_line);
        }
        DiscountCmd::Approve { code } => {
            let c = b.decide_discount_code(&code, true)?;
            ctx.print(&c, discount_line);
        }
        DiscountCmd::Reject { code } => {
            let c = b.decide_discount_code(&code, false)?;
            ctx.print(&c, discount_line);
        }
        DiscountCmd::List => {
            let all = b.discount_codes()?;
            ctx.print(&all, |all| {
                if all.is_empty() {
                    return "No discount codes.".into();
                }
                all.iter().map(discount_line).collect::<Vec<_>>().join("\n")
            });
        }
    }
    Ok(())
}
