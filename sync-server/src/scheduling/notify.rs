//! The notification queue: what a patient is told about an appointment
//! (confirmation, reminder, new time, cancellation), queued in the push's
//! transaction and delivered by a worker through a pluggable [`Sender`].
//!
//! Queueing ([`queue_for_appointments`]) follows the appointment's state,
//! never the mutation's name, so every way of reaching a state behaves alike:
//! - a settled appointment (scheduled or confirmed, not an open double
//!   booking) the patient has not been told about gets a **confirmation**
//!   now; one told about at another start gets a **rescheduled** notice now;
//!   either way it gets a **reminder** 24 h before its start (due at once
//!   when that is already past; none when the start is less than 2 h away),
//!   and queued reminders for any other start are skipped;
//! - a booking that overlaps another (`conflict`) gets nothing, and anything
//!   still queued for it is skipped, until a person resolves the double
//!   booking; then it is treated as above (so it gets its confirmation then);
//! - a cancelled appointment gets a **cancellation** notice, if the patient
//!   was told about it (a confirmation or new-time notice was queued or
//!   sent); a no-show, a rescheduled or cancelled one gets no more
//!   reminders, nor unsent confirmations;
//! - once the patient has arrived nothing more is sent for it.
//!
//! Consent and channel: a patient whose preferred channel is "none" gets
//! nothing. `reminders_opt_in = false` stops reminders only: confirmations,
//! new times and cancellations are service messages about a booking the
//! patient made and still go out (an unknown opt-in counts as yes). The
//! channel is the preferred one when it is email or SMS and the patient has
//! that address, otherwise email when there is an address, otherwise nothing
//! is queued.
//!
//! Every message has a `dedupe_key` unique per tenant (`confirmation:<id>`,
//! `reminder:<id>:<start>`, `rescheduled:<id>:<start>:<change time>`,
//! `cancellation:<id>`) and is inserted with `ON CONFLICT` that leaves a
//! queued or sent one alone (only a skipped one is queued again), so a
//! retried push, a replayed change or a second worker never sends the same
//! thing twice; a moved appointment has a new start and so a new reminder.
//!
//! Delivery ([`deliver_due`]): the worker lists the tenants with due
//! messages (a security-definer function that returns ids only), then takes
//! one message at a time in that tenant's transaction with `FOR UPDATE SKIP
//! LOCKED` (several servers may run workers) and re-checks that it is still
//! wanted, else it is `skipped` with the reason: the appointment was
//! cancelled, moved again or has started, or the address is gone. A
//! confirmation not yet sent tells the current time, so a new-time notice
//! goes only to a patient told of another time, and a cancellation only to
//! one told of the appointment (one booked and cancelled before anything
//! went out hears nothing). It renders the message from the current records
//! (clinic, site, clinician, local time in the site's zone, what to do to
//! cancel), sends it and records `sent` with the start it told, or the
//! attempt and its error: retried after 1 min, 5 min, 30 min and 2 h, then
//! `failed` for good after [`MAX_ATTEMPTS`]. No address or text is copied
//! into the queue.
//!
//! Configuration (environment): `CLINIC_NOTIFY=off` switches the worker
//! off; `CLINIC_NOTIFY_INTERVAL_SECS` (default 30) is its period;
//! `CLINIC_SMTP_URL` (`smtp://user:pass@host:port` for a plain relay,
//! `smtp://…?tls=required` for STARTTLS, `smtps://…` for TLS) with
//! `CLINIC_SMTP_FROM` sends email through SMTP; without them messages are
//! only logged ([`LogSender`]). There is no SMS gateway: SMS messages are
//! logged by the logging sender and recorded as failed by the SMTP sender.

use crate::db::tenant_tx;
use crate::ServerError;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use clinic_core::scheduling::{utc_to_local, Appointment, AppointmentMode, AppointmentStatus};
use clinic_core::{ClinicError, ErrorCode};
use deadpool_postgres::Pool;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use uuid::Uuid;

/// Attempts at one message before it is `failed` for good.
pub const MAX_ATTEMPTS: i32 = 5;
/// How long before the start a reminder goes out.
pub const REMINDER_LEAD: Duration = Duration::hours(24);
/// No reminder for an appointment closer than this (booked at the last minute).
pub const MIN_REMINDER_NOTICE: Duration = Duration::hours(2);
/// Messages handled per worker pass.
pub const DEFAULT_BATCH: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    Confirmation,
    Reminder,
    Cancellation,
    Rescheduled,
}

impl NotificationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Confirmation => "confirmation",
            Self::Reminder => "reminder",
            Self::Cancellation => "cancellation",
            Self::Rescheduled => "rescheduled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Confirmation,
            Self::Reminder,
            Self::Cancellation,
            Self::Rescheduled,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Email,
    Sms,
    InApp,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Sms => "sms",
            Self::InApp => "in_app",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Email, Self::Sms, Self::InApp]
            .into_iter()
            .find(|c| c.as_str() == s)
    }
}

/// One rendered message, ready for a [`Sender`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutgoingMessage {
    /// The notification's id (stable across attempts).
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub appointment_id: Uuid,
    pub kind: NotificationKind,
    pub channel: Channel,
    /// Email address or phone number.
    pub to: String,
    pub subject: String,
    pub body: String,
}

/// What [`Sender::send`] returns: an error (`UNREACHABLE`) carries the
/// reason, recorded as the notification's `last_error` (it may name the
/// recipient; it is not logged).
pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<(), ClinicError>> + Send + 'a>>;

/// A delivery failure, in the shared error shape.
pub fn undelivered(reason: impl Into<String>) -> ClinicError {
    ClinicError::new(ErrorCode::Unreachable, reason)
}

/// Delivers rendered messages (email, SMS, …). Object-safe: the worker holds
/// an `Arc<dyn Sender>`.
pub trait Sender: Send + Sync + std::fmt::Debug {
    fn send<'a>(&'a self, msg: &'a OutgoingMessage) -> SendFuture<'a>;

    /// Whether this sender can deliver on `channel`; a message it cannot is
    /// recorded as failed at once (not retried).
    fn supports(&self, _channel: Channel) -> bool {
        true
    }
}

/// The default sender: logs each message (tenant, kind, masked recipient,
/// subject), sends nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogSender;

impl Sender for LogSender {
    fn send<'a>(&'a self, msg: &'a OutgoingMessage) -> SendFuture<'a> {
        tracing::info!(
            tenant = %msg.tenant_id,
            notification = %msg.id,
            kind = msg.kind.as_str(),
            channel = msg.channel.as_str(),
            to = %mask_recipient(&msg.to),
            subject = %msg.subject,
            "notification (logged only: no sender is configured)"
        );
        Box::pin(std::future::ready(Ok(())))
    }
}

/// Sends email through an SMTP server (see the module comment for the URL).
pub struct SmtpSender {
    transport: lettre::AsyncSmtpTransport<lettre::Tokio1Executor>,
    from: lettre::message::Mailbox,
}

impl std::fmt::Debug for SmtpSender {
    // The transport holds the credentials: never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSender")
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

impl SmtpSender {
    /// `url`: `smtp://[user:pass@]host[:port]` (plain, e.g. a local relay),
    /// `smtp://…?tls=required` (STARTTLS) or `smtps://…` (TLS);
    /// `from`: `Clinic <noreply@clinic.example>` or a bare address.
    pub fn new(url: &str, from: &str) -> Result<Self, ServerError> {
        let from = from.parse::<lettre::message::Mailbox>().map_err(|e| {
            ServerError::Startup(format!("CLINIC_SMTP_FROM is not an email address: {e}"))
        })?;
        let transport = lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(url)
            .map_err(|e| {
                ServerError::Startup(format!(
                    "CLINIC_SMTP_URL is not an SMTP URL (smtp://user:pass@host:port, smtp://…?tls=required, smtps://…): {e}"
                ))
            })?
            .timeout(Some(std::time::Duration::from_secs(30)))
            .build();
        Ok(Self { transport, from })
    }
}

impl Sender for SmtpSender {
    fn send<'a>(&'a self, msg: &'a OutgoingMessage) -> SendFuture<'a> {
        Box::pin(async move {
            use lettre::AsyncTransport;
            if msg.channel != Channel::Email {
                return Err(undelivered(format!(
                    "no {} gateway is configured",
                    msg.channel.as_str()
                )));
            }
            let to = msg.to.parse::<lettre::message::Mailbox>().map_err(|e| {
                undelivered(format!("the patient's email address cannot be used: {e}"))
            })?;
            let email = lettre::Message::builder()
                .from(self.from.clone())
                .to(to)
                .subject(msg.subject.clone())
                .header(lettre::message::header::ContentType::TEXT_PLAIN)
                .body(msg.body.clone())
                .map_err(|e| undelivered(format!("cannot build the email: {e}")))?;
            self.transport
                .send(email)
                .await
                .map(|_| ())
                .map_err(|e| undelivered(format!("SMTP: {e}")))
        })
    }

    fn supports(&self, channel: Channel) -> bool {
        channel == Channel::Email
    }
}

/// A recipient for logs: `a***@e***.com`, `*******23`.
pub fn mask_recipient(to: &str) -> String {
    let first = |s: &str| s.chars().next().map(String::from).unwrap_or_default();
    match to.split_once('@') {
        Some((local, domain)) => {
            let tld = domain.rsplit_once('.').map(|(_, t)| t).unwrap_or("");
            format!("{}***@{}***.{tld}", first(local), first(domain))
        }
        None => {
            let chars: Vec<char> = to.chars().filter(|c| c.is_ascii_digit()).collect();
            let keep = if chars.len() >= 7 { 2 } else { 0 };
            let tail: String = chars[chars.len() - keep..].iter().collect();
            format!("{}{tail}", "*".repeat(chars.len() - keep))
        }
    }
}

// ---- queueing ----

/// How the patient can be reached, from the patient row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Contact {
    pub email: Option<String>,
    pub phone: Option<String>,
    pub preferred_channel: Option<String>,
    pub reminders_opt_in: Option<bool>,
}

impl Contact {
    /// The channel to use, or `None` when the patient cannot or does not
    /// want to be contacted.
    pub fn channel(&self) -> Option<Channel> {
        let has = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.trim().is_empty());
        match self.preferred_channel.as_deref() {
            Some("none") => None,
            Some("sms") if has(&self.phone) => Some(Channel::Sms),
            Some("email") if has(&self.email) => Some(Channel::Email),
            _ if has(&self.email) => Some(Channel::Email),
            _ => None,
        }
    }

    pub fn wants_reminders(&self) -> bool {
        self.reminders_opt_in != Some(false)
    }
}

/// A message to queue (before the channel and ids are known).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    pub kind: NotificationKind,
    pub appointment_start: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    pub dedupe_key: String,
}

/// Queued messages of an appointment to skip: of these kinds, except those
/// about `keep_start` when given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skip {
    pub kinds: Vec<NotificationKind>,
    pub keep_start: Option<DateTime<Utc>>,
    pub reason: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub queue: Vec<Planned>,
    pub skip: Vec<Skip>,
}

fn instant(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The rules of the module comment, pure: what to queue and skip for one
/// appointment going from `before` to `after`. `told` is the start of the
/// latest confirmation or new-time notice queued or sent for it.
pub fn plan(
    before: Option<&Appointment>,
    after: &Appointment,
    told: Option<DateTime<Utc>>,
    reminders: bool,
    now: DateTime<Utc>,
) -> Plan {
    use NotificationKind::*;
    let id = after.id;
    let mut p = Plan::default();
    let pending = vec![Confirmation, Reminder, Rescheduled];
    if !after.status.occupies() {
        p.skip.push(Skip {
            kinds: pending,
            keep_start: None,
            reason: format!(
                "the appointment is {}",
                after.status.as_str().replace('_', " ")
            ),
        });
        let was_live = before.is_some_and(|b| b.status.occupies());
        if after.status == AppointmentStatus::Cancelled
            && was_live
            && told.is_some()
            && after.start > now
        {
            p.queue.push(Planned {
                kind: Cancellation,
                appointment_start: after.start,
                due_at: now,
                dedupe_key: format!("cancellation:{id}"),
            });
        }
        return p;
    }
    if !after.status.is_open() {
        p.skip.push(Skip {
            kinds: pending,
            keep_start: None,
            reason: "the patient has arrived".into(),
        });
        return p;
    }
    if after.conflict.is_some() {
        p.skip.push(Skip {
            kinds: pending,
            keep_start: None,
            reason: "the booking overlaps another and waits for a person to resolve it".into(),
        });
        return p;
    }
    if after.start <= now {
        return p;
    }
    match told {
        None => p.queue.push(Planned {
            kind: Confirmation,
            appointment_start: after.start,
            due_at: now,
            dedupe_key: format!("confirmation:{id}"),
        }),
        Some(s) if s != after.start => p.queue.push(Planned {
            kind: Rescheduled,
            appointment_start: after.start,
            due_at: now,
            dedupe_key: format!(
                "rescheduled:{id}:{}:{}",
                instant(after.start),
                after
                    .updated_at
                    .to_rfc3339_opts(SecondsFormat::Micros, true)
            ),
        }),
        Some(_) => {}
    }
    p.skip.push(Skip {
        kinds: vec![Reminder, Rescheduled],
        keep_start: Some(after.start),
        reason: "the appointment has moved".into(),
    });
    if reminders && after.start - now >= MIN_REMINDER_NOTICE {
        p.queue.push(Planned {
            kind: Reminder,
            appointment_start: after.start,
            due_at: (after.start - REMINDER_LEAD).max(now),
            dedupe_key: format!("reminder:{id}:{}", instant(after.start)),
        });
    }
    p
}

/// Queues what a patient should be told about these appointment changes
/// (`None` before: a new booking), in the push's transaction (so they are
/// queued exactly when the change commits).
pub async fn queue_for_appointments(
    tx: &deadpool_postgres::Transaction<'_>,
    tenant: Uuid,
    changes: &[(Option<Appointment>, Appointment)],
) -> Result<(), ServerError> {
    if changes.is_empty() {
        return Ok(());
    }
    let now = Utc::now();
    let appointment_ids: Vec<Uuid> = changes.iter().map(|(_, a)| a.id).collect();
    let patient_ids: Vec<Uuid> = changes.iter().map(|(_, a)| a.patient_id).collect();
    let mut contacts: HashMap<Uuid, Contact> = HashMap::new();
    for r in tx
        .query(
            "SELECT id, email, phone, preferred_channel, reminders_opt_in FROM patients
             WHERE id = ANY($1) AND deleted_at IS NULL AND merged_into IS NULL",
            &[&patient_ids],
        )
        .await?
    {
        contacts.insert(
            r.get(0),
            Contact {
                email: r.get(1),
                phone: r.get(2),
                preferred_channel: r.get(3),
                reminders_opt_in: r.get(4),
            },
        );
    }
    let mut told: HashMap<Uuid, DateTime<Utc>> = HashMap::new();
    for r in tx
        .query(
            "SELECT DISTINCT ON (appointment_id) appointment_id, appointment_start FROM notifications
             WHERE appointment_id = ANY($1) AND kind IN ('confirmation', 'rescheduled') AND status IN ('queued', 'sent')
             ORDER BY appointment_id, queued_at DESC, id DESC",
            &[&appointment_ids],
        )
        .await?
    {
        told.insert(r.get(0), r.get(1));
    }
    let mut skips = Vec::new();
    let mut inserts = Vec::new();
    let mut keys = HashSet::new();
    for (before, after) in changes {
        let contact = contacts.get(&after.patient_id);
        let channel = contact.and_then(Contact::channel);
        let reminders = contact.is_some_and(Contact::wants_reminders);
        let p = plan(
            before.as_ref(),
            after,
            told.get(&after.id).copied(),
            reminders,
            now,
        );
        for s in p.skip {
            for k in s.kinds {
                skips.push(json!({
                    "appointment_id": after.id, "kind": k.as_str(),
                    "keep_start": s.keep_start, "reason": s.reason,
                }));
            }
        }
        let Some(channel) = channel else { continue };
        for q in p.queue {
            if !keys.insert(q.dedupe_key.clone()) {
                continue;
            }
            inserts.push(json!({
                "id": Uuid::now_v7(), "appointment_id": after.id, "patient_id": after.patient_id,
                "kind": q.kind.as_str(), "channel": channel.as_str(), "appointment_start": q.appointment_start,
                "due_at": q.due_at, "dedupe_key": q.dedupe_key,
            }));
        }
    }
    if !skips.is_empty() {
        tx.execute(
            "UPDATE notifications n SET status = 'skipped', last_error = x.reason, updated_at = now()
             FROM jsonb_to_recordset($1::jsonb) AS x(appointment_id uuid, kind text, keep_start timestamptz, reason text)
             WHERE n.appointment_id = x.appointment_id AND n.kind = x.kind AND n.status = 'queued'
               AND (x.keep_start IS NULL OR n.appointment_start <> x.keep_start)",
            &[&Value::Array(skips)],
        )
        .await?;
    }
    if !inserts.is_empty() {
        // A message skipped earlier (say, a reminder for a time the
        // appointment moves back to) is queued again; a sent or queued one
        // is left alone, so nothing is ever sent twice.
        tx.execute(
            "INSERT INTO notifications (tenant_id, id, appointment_id, patient_id, kind, channel, appointment_start,
                 due_at, next_attempt_at, status, attempts, dedupe_key)
             SELECT $1, x.id, x.appointment_id, x.patient_id, x.kind, x.channel, x.appointment_start,
                 x.due_at, x.due_at, 'queued', 0, x.dedupe_key
             FROM jsonb_to_recordset($2::jsonb) AS x(id uuid, appointment_id uuid, patient_id uuid, kind text,
                 channel text, appointment_start timestamptz, due_at timestamptz, dedupe_key text)
             ON CONFLICT (tenant_id, dedupe_key) DO UPDATE SET status = 'queued', channel = EXCLUDED.channel,
                 appointment_start = EXCLUDED.appointment_start, due_at = EXCLUDED.due_at,
                 next_attempt_at = EXCLUDED.next_attempt_at, attempts = 0, last_error = NULL,
                 queued_at = clock_timestamp(), updated_at = now()
             WHERE notifications.status = 'skipped'",
            &[&tenant, &Value::Array(inserts)],
        )
        .await?;
    }
    Ok(())
}

// ---- rendering ----

/// Everything a message says, read from the current records at delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageContext {
    pub kind: NotificationKind,
    pub channel: Channel,
    pub clinic: String,
    pub clinic_phone: Option<String>,
    pub site: Option<String>,
    pub site_address: Option<String>,
    /// The site's time zone (the appointment's when the site is unknown).
    pub timezone: String,
    pub clinician: Option<String>,
    pub patient_name: String,
    pub patient_number: String,
    pub appointment: Appointment,
    /// The start the message is about.
    pub start: DateTime<Utc>,
}

/// "Monday 23 November 2026 at 09:00", in the time zone `timezone`.
pub fn local_time_words(timezone: &str, t: DateTime<Utc>) -> String {
    let local = match clinic_core::scheduling::parse_tz(timezone) {
        Ok(tz) => utc_to_local(tz, t),
        Err(_) => t.naive_utc(),
    };
    local.format("%A %-d %B %Y at %H:%M").to_string()
}

/// Wraps a paragraph at `width` characters (email lines stay short).
fn wrap(text: &str, width: usize) -> String {
    let mut out = String::new();
    let mut line = 0;
    for word in text.split_whitespace() {
        let n = word.chars().count();
        if line > 0 && line + 1 + n > width {
            out.push('\n');
            line = 0;
        } else if line > 0 {
            out.push(' ');
            line += 1;
        }
        out.push_str(word);
        line += n;
    }
    out
}

/// The subject and text of a message, in words a patient understands.
pub fn render(c: &MessageContext) -> (String, String) {
    use NotificationKind::*;
    let a = &c.appointment;
    let when = local_time_words(&c.timezone, c.start);
    let zone = if c.timezone.eq_ignore_ascii_case("utc") {
        "UTC".to_string()
    } else {
        format!("{} time", c.timezone)
    };
    let clinic = c.clinic.as_str();
    let contact = match &c.clinic_phone {
        Some(phone) => format!("call {clinic} on {phone}"),
        None => format!("contact {clinic}"),
    };
    let place = match a.mode {
        AppointmentMode::Virtual => match a.meeting_link.as_deref() {
            Some(link) => format!("online, by video: {link}"),
            None => "online, by video".to_string(),
        },
        AppointmentMode::Phone => "by telephone: the clinic will call you".to_string(),
        AppointmentMode::InPerson => match (&c.site, &c.site_address) {
            (Some(site), Some(address)) => format!("{site}, {address}"),
            (Some(site), None) => site.clone(),
            _ => clinic.to_string(),
        },
    };
    if c.channel == Channel::Sms {
        let with = c
            .clinician
            .as_deref()
            .map(|n| format!(" with {n}"))
            .unwrap_or_default();
        let (subject, text) = match c.kind {
            Confirmation => (
                "Appointment booked",
                format!("your appointment{with} is booked for {when} ({place})."),
            ),
            Reminder => (
                "Appointment reminder",
                format!("reminder of your appointment{with} on {when} ({place})."),
            ),
            Rescheduled => (
                "Appointment moved",
                format!("your appointment{with} has moved to {when} ({place})."),
            ),
            Cancellation => (
                "Appointment cancelled",
                format!("your appointment on {when} has been cancelled."),
            ),
        };
        let action = match c.kind {
            Cancellation => format!("For a new appointment, {contact}."),
            _ => format!("To cancel or change it, {contact}."),
        };
        return (subject.to_string(), format!("{clinic}: {text} {action}"));
    }
    let (subject, lead) = match c.kind {
        Confirmation => (
            format!("Appointment booked: {when}"),
            format!("Your appointment at {clinic} is booked."),
        ),
        Reminder => (
            format!("Reminder: your appointment on {when}"),
            format!("This is a reminder of your appointment at {clinic}."),
        ),
        Rescheduled => (
            format!("New time for your appointment: {when}"),
            format!(
                "Your appointment at {clinic} has moved to a new time, shown below. The earlier time is no longer booked for you."
            ),
        ),
        Cancellation => (
            format!("Appointment cancelled: {when}"),
            format!("Your appointment at {clinic} has been cancelled."),
        ),
    };
    let mut details = vec![format!("When:  {when} ({zone})")];
    if c.kind != Cancellation {
        details.push(format!("Where: {place}"));
    }
    if let Some(n) = &c.clinician {
        details.push(format!("With:  {n}"));
    }
    if c.kind != Cancellation {
        details.push(format!("For:   {}, {} minutes", a.type_name, a.minutes));
    }
    let action = match c.kind {
        Cancellation => format!(
            "If you did not expect this, or would like a new appointment, please {contact} and give your patient number, {}.",
            c.patient_number
        ),
        _ => format!(
            "If you cannot come, please {contact} as soon as you can to cancel or change the appointment, so that the time can be offered to someone else. Please give your patient number, {}.",
            c.patient_number
        ),
    };
    let body = format!(
        "Dear {},\n\n{}\n\n{}\n\n{}\n\n{clinic}\n",
        c.patient_name,
        wrap(&lead, 72),
        details.join("\n"),
        wrap(&action, 72),
    );
    (subject, body)
}

// ---- delivery ----

/// What one delivery pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DeliveryReport {
    pub sent: usize,
    /// Attempts that failed (to be retried, or given up).
    pub failed: usize,
    /// Of those, messages now `failed` for good.
    pub gave_up: usize,
    /// Messages no longer wanted (cancelled, moved, too late, no address).
    pub skipped: usize,
}

impl DeliveryReport {
    pub fn handled(&self) -> usize {
        self.sent + self.failed + self.skipped
    }

    fn add(&mut self, o: DeliveryReport) {
        self.sent += o.sent;
        self.failed += o.failed;
        self.gave_up += o.gave_up;
        self.skipped += o.skipped;
    }
}

/// The wait before the next attempt after `attempts` failed ones.
pub fn backoff(attempts: i32) -> Duration {
    match attempts {
        ..=1 => Duration::minutes(1),
        2 => Duration::minutes(5),
        3 => Duration::minutes(30),
        _ => Duration::hours(2),
    }
}

/// One due message of the transaction's tenant with what it says, locked.
const PICK: &str = "SELECT n.id, n.appointment_id, n.kind, n.channel, n.appointment_start, n.attempts, a.doc,
        p.first_name, p.last_name, p.preferred_name, p.patient_number, p.email, p.phone,
        p.deleted_at IS NOT NULL AS archived,
        t.name AS clinic, t.settings->>'phone' AS clinic_phone,
        coalesce(s.name, sd.doc->>'name') AS site, s.address AS site_address,
        coalesce(s.timezone, sd.doc->>'timezone', a.doc->>'timezone') AS timezone,
        coalesce(u.name, st.doc->>'name') AS clinician,
        (SELECT k.appointment_start FROM notifications k
          WHERE k.tenant_id = n.tenant_id AND k.appointment_id = n.appointment_id
            AND k.kind IN ('confirmation', 'rescheduled') AND k.status = 'sent'
          ORDER BY k.sent_at DESC, k.queued_at DESC LIMIT 1) AS told_start
    FROM notifications n
    JOIN appointments a ON a.tenant_id = n.tenant_id AND a.id = n.appointment_id
    JOIN patients p ON p.tenant_id = n.tenant_id AND p.id = n.patient_id
    JOIN tenants t ON t.id = n.tenant_id
    LEFT JOIN sites s ON s.tenant_id = a.tenant_id AND s.id = a.site_id
    LEFT JOIN sync_records sd ON sd.tenant_id = a.tenant_id AND sd.id = a.site_id AND sd.entity_type = 'site'
    LEFT JOIN users u ON u.tenant_id = a.tenant_id AND u.id = a.clinician_id
    LEFT JOIN sync_records st ON st.tenant_id = a.tenant_id AND st.id = a.clinician_id AND st.entity_type = 'staff'
    WHERE n.tenant_id = $1 AND n.status = 'queued' AND n.next_attempt_at <= $2
    ORDER BY n.next_attempt_at, n.id
    LIMIT 1
    FOR UPDATE OF n SKIP LOCKED";

/// The message of a picked row and the start it tells, or why it is no
/// longer wanted (see the module comment).
fn prepare(
    row: &tokio_postgres::Row,
    tenant: Uuid,
    now: DateTime<Utc>,
) -> Result<(OutgoingMessage, DateTime<Utc>), String> {
    use NotificationKind::*;
    let kind = NotificationKind::parse(row.get("kind")).ok_or("unknown kind")?;
    let channel = Channel::parse(row.get("channel")).ok_or("unknown channel")?;
    let a: Appointment = serde_json::from_value(row.get("doc"))
        .map_err(|e| format!("the appointment cannot be read: {e}"))?;
    let told: Option<DateTime<Utc>> = row.get("told_start");
    let start: DateTime<Utc> = match kind {
        Confirmation => a.start,
        _ => row.get("appointment_start"),
    };
    if start <= now {
        return Err("the appointment time has passed".into());
    }
    if kind == Cancellation {
        if a.status != AppointmentStatus::Cancelled {
            return Err("the appointment is no longer cancelled".into());
        }
        if told.is_none() {
            return Err("the patient was never told of this appointment".into());
        }
    } else {
        if !a.status.is_open() {
            return Err(format!(
                "the appointment is {}",
                a.status.as_str().replace('_', " ")
            ));
        }
        if a.conflict.is_some() {
            return Err("the booking overlaps another and waits for a person to resolve it".into());
        }
        if a.start != start {
            return Err("the appointment has moved".into());
        }
        if kind == Rescheduled {
            match told {
                None => return Err("the confirmation tells the new time".into()),
                Some(t) if t == start => return Err("the patient was told this time".into()),
                Some(_) => {}
            }
        }
    }
    if row.get::<_, bool>("archived") {
        return Err("the patient's record is archived".into());
    }
    let present = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
    let to = match channel {
        Channel::Email => present(row.get("email")).ok_or("no email address on file")?,
        Channel::Sms => present(row.get("phone")).ok_or("no phone number on file")?,
        Channel::InApp => return Err("in-app messages are not delivered by the server".into()),
    };
    let first: String = row.get("first_name");
    let preferred: Option<String> = present(row.get("preferred_name"));
    let last: String = row.get("last_name");
    let ctx = MessageContext {
        kind,
        channel,
        clinic: row.get("clinic"),
        clinic_phone: present(row.get("clinic_phone")),
        site: present(row.get("site")),
        site_address: present(row.get("site_address")),
        timezone: row
            .get::<_, Option<String>>("timezone")
            .unwrap_or_else(|| a.timezone.clone()),
        clinician: present(row.get("clinician")),
        patient_name: format!("{} {last}", preferred.unwrap_or(first)),
        patient_number: row.get("patient_number"),
        start,
        appointment: a,
    };
    let (subject, body) = render(&ctx);
    let msg = OutgoingMessage {
        id: row.get("id"),
        tenant_id: tenant,
        appointment_id: row.get("appointment_id"),
        kind,
        channel,
        to,
        subject,
        body,
    };
    Ok((msg, start))
}

fn clip(s: &str) -> String {
    s.chars().take(500).collect()
}

/// Delivers up to `limit` due messages of every tenant (see the module
/// comment); each tenant's in its own transactions.
pub async fn deliver_due(
    pool: &Pool,
    sender: &dyn Sender,
    now: DateTime<Utc>,
    limit: usize,
) -> Result<DeliveryReport, ServerError> {
    let tenants: Vec<Uuid> = crate::db::conn(pool)
        .await?
        .query(
            "SELECT t FROM tenants_with_due_notifications($1) AS t",
            &[&now],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut report = DeliveryReport::default();
    for tenant in tenants {
        if report.handled() >= limit {
            break;
        }
        let r = deliver_due_for_tenant(pool, tenant, sender, now, limit - report.handled()).await?;
        report.add(r);
    }
    Ok(report)
}

/// Delivers up to `limit` due messages of one tenant, one transaction each
/// (the row stays locked while it is sent, so no other worker sends it).
pub async fn deliver_due_for_tenant(
    pool: &Pool,
    tenant: Uuid,
    sender: &dyn Sender,
    now: DateTime<Utc>,
    limit: usize,
) -> Result<DeliveryReport, ServerError> {
    let mut client = crate::db::conn(pool).await?;
    let mut report = DeliveryReport::default();
    while report.handled() < limit {
        let tx = tenant_tx(&mut client, tenant).await?;
        let Some(row) = tx.query_opt(PICK, &[&tenant, &now]).await? else {
            tx.commit().await?;
            break;
        };
        let id: Uuid = row.get("id");
        let attempts: i32 = row.get::<_, i32>("attempts") + 1;
        match prepare(&row, tenant, now) {
            Err(reason) => {
                tx.execute(
                    "UPDATE notifications SET status = 'skipped', last_error = $3, updated_at = $4
                     WHERE tenant_id = $1 AND id = $2",
                    &[&tenant, &id, &clip(&reason), &now],
                )
                .await?;
                report.skipped += 1;
            }
            Ok((msg, told)) => {
                let (result, permanent) = if sender.supports(msg.channel) {
                    (sender.send(&msg).await, false)
                } else {
                    (
                        Err(undelivered(format!(
                            "no {} sender is configured",
                            msg.channel.as_str()
                        ))),
                        true,
                    )
                };
                match result {
                    Ok(()) => {
                        tx.execute(
                            "UPDATE notifications SET status = 'sent', attempts = $3, sent_at = $4, last_error = NULL,
                                 appointment_start = $5, updated_at = $4 WHERE tenant_id = $1 AND id = $2",
                            &[&tenant, &id, &attempts, &now, &told],
                        )
                        .await?;
                        report.sent += 1;
                    }
                    Err(error) => {
                        let give_up = permanent || attempts >= MAX_ATTEMPTS;
                        tx.execute(
                            "UPDATE notifications SET status = $3, attempts = $4, last_error = $5,
                                 next_attempt_at = $6, updated_at = $7 WHERE tenant_id = $1 AND id = $2",
                            &[
                                &tenant,
                                &id,
                                &if give_up { "failed" } else { "queued" },
                                &attempts,
                                &clip(&error.message),
                                &(now + backoff(attempts)),
                                &now,
                            ],
                        )
                        .await?;
                        // The error may name the recipient: it is in the row, not the log.
                        tracing::warn!(
                            tenant = %tenant, notification = %id, kind = msg.kind.as_str(),
                            attempts, given_up = give_up,
                            "notification not delivered (see notifications.last_error)"
                        );
                        report.failed += 1;
                        report.gave_up += usize::from(give_up);
                    }
                }
            }
        }
        tx.commit().await?;
    }
    Ok(report)
}

// ---- the worker ----

/// The worker's settings (`CLINIC_NOTIFY`, `CLINIC_NOTIFY_INTERVAL_SECS`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyConfig {
    pub enabled: bool,
    pub interval: std::time::Duration,
    pub batch: usize,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            interval: std::time::Duration::from_secs(30),
            batch: DEFAULT_BATCH,
        }
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

impl NotifyConfig {
    pub fn from_env() -> Result<Self, ServerError> {
        let mut c = Self::default();
        if let Some(v) = env("CLINIC_NOTIFY") {
            c.enabled = match v.to_ascii_lowercase().as_str() {
                "on" | "true" | "1" | "yes" => true,
                "off" | "false" | "0" | "no" => false,
                _ => {
                    return Err(ServerError::Startup(format!(
                        "CLINIC_NOTIFY must be on or off, not {v:?}"
                    )))
                }
            };
        }
        if let Some(v) = env("CLINIC_NOTIFY_INTERVAL_SECS") {
            let secs: u64 = v.parse().ok().filter(|s| (1..=86_400).contains(s)).ok_or_else(|| {
                ServerError::Startup(format!(
                    "CLINIC_NOTIFY_INTERVAL_SECS must be a number of seconds from 1 to 86400, not {v:?}"
                ))
            })?;
            c.interval = std::time::Duration::from_secs(secs);
        }
        Ok(c)
    }
}

/// The SMTP sender when `CLINIC_SMTP_URL` is set (with `CLINIC_SMTP_FROM`),
/// otherwise the logging sender.
pub fn sender_from_env() -> Result<Arc<dyn Sender>, ServerError> {
    match (env("CLINIC_SMTP_URL"), env("CLINIC_SMTP_FROM")) {
        (None, _) => Ok(Arc::new(LogSender)),
        (Some(_), None) => Err(ServerError::Startup(
            "CLINIC_SMTP_URL is set but CLINIC_SMTP_FROM (the sender's address) is not".into(),
        )),
        (Some(url), Some(from)) => Ok(Arc::new(SmtpSender::new(&url, &from)?)),
    }
}

/// Runs [`deliver_due`] every `config.interval` until the task is aborted;
/// a pass that fills its batch is followed at once by another.
pub fn spawn_worker(
    pool: Pool,
    sender: Arc<dyn Sender>,
    config: NotifyConfig,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(config.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            loop {
                match deliver_due(&pool, sender.as_ref(), Utc::now(), config.batch).await {
                    Ok(r) => {
                        if r.handled() > 0 {
                            tracing::info!(
                                sent = r.sent,
                                failed = r.failed,
                                given_up = r.gave_up,
                                skipped = r.skipped,
                                "notifications delivered"
                            );
                        }
                        if r.handled() < config.batch {
                            break;
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "notification delivery pass failed");
                        break;
                    }
                }
            }
        }
    })
}

/// Starts the worker as the environment says (module comment); `None` when
/// it is switched off. Configuration errors stop the server's start.
pub fn start_from_env(pool: &Pool) -> Result<Option<tokio::task::JoinHandle<()>>, ServerError> {
    let config = NotifyConfig::from_env()?;
    if !config.enabled {
        tracing::info!("notification delivery is off (CLINIC_NOTIFY=off)");
        return Ok(None);
    }
    let sender = sender_from_env()?;
    tracing::info!(
        interval_secs = config.interval.as_secs(),
        sender = if env("CLINIC_SMTP_URL").is_some() {
            "smtp"
        } else {
            "log"
        },
        "notification delivery started"
    );
    Ok(Some(spawn_worker(pool.clone(), sender, config)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipients_are_masked_in_logs() {
        assert_eq!(mask_recipient("ada@lovelace.family"), "a***@l***.family");
        assert_eq!(mask_recipient("+44 7700 900123"), "**********23");
        assert_eq!(mask_recipient("12345"), "*****");
    }

    #[test]
    fn the_channel_follows_the_patients_preference_and_addresses() {
        let c = |email: Option<&str>, phone: Option<&str>, pref: Option<&str>| Contact {
            email: email.map(str::to_string),
            phone: phone.map(str::to_string),
            preferred_channel: pref.map(str::to_string),
            reminders_opt_in: None,
        };
        let e = Some("a@b.example");
        let p = Some("07700900123");
        assert_eq!(c(e, p, Some("sms")).channel(), Some(Channel::Sms));
        assert_eq!(c(e, None, Some("sms")).channel(), Some(Channel::Email));
        assert_eq!(c(e, p, Some("phone")).channel(), Some(Channel::Email));
        assert_eq!(c(None, p, Some("post")).channel(), None);
        assert_eq!(c(e, p, Some("none")).channel(), None);
        assert_eq!(c(e, None, None).channel(), Some(Channel::Email));
        assert!(c(e, None, None).wants_reminders());
    }

    #[test]
    fn backoff_grows_and_emails_keep_short_lines() {
        assert!(backoff(1) < backoff(2) && backoff(3) < backoff(4));
        assert!(wrap(&"word ".repeat(100), 72)
            .lines()
            .all(|l| l.chars().count() <= 72));
        assert_eq!(
            local_time_words("Europe/London", "2030-07-15T08:00:00Z".parse().unwrap()),
            "Monday 15 July 2030 at 09:00"
        );
    }
}
