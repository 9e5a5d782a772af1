//! The notification queue against the real server and PostgreSQL: bookings,
//! moves, cancellations and double bookings pushed over HTTP by an enrolled
//! device queue messages in the push's transaction; `deliver_due` sends them
//! through a sender (a recording one, a failing one, and the SMTP sender
//! talking to a small SMTP server in the test).

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use sync_server::scheduling::notify::{
    deliver_due, deliver_due_for_tenant, queue_for_appointments, spawn_worker, Channel,
    NotificationKind, NotifyConfig, OutgoingMessage, SendFuture, Sender, SmtpSender, MAX_ATTEMPTS,
};
use sync_server::{db, AppState, Database};
use uuid::Uuid;

/// Monday 15 July 2030, 09:00 in London (summer time: 08:00 UTC).
fn start() -> DateTime<Utc> {
    "2030-07-15T08:00:00Z".parse().unwrap()
}
const START_WORDS: &str = "Monday 15 July 2030 at 09:00";

// ---- harness ----

struct Server {
    base: String,
    http: reqwest::Client,
    database: Database,
    admin_url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

struct Clinic {
    slug: String,
    tenant_id: Uuid,
    user_id: Uuid,
    site_id: Uuid,
    device: String,
    seq: i64,
    next_number: u64,
    /// The last push request, to send again as a retry.
    last: Value,
}

#[derive(Debug, Clone)]
struct Note {
    kind: String,
    status: String,
    channel: String,
    start: DateTime<Utc>,
    due: DateTime<Utc>,
    next_attempt: DateTime<Utc>,
    attempts: i32,
    last_error: Option<String>,
    sent_at: Option<DateTime<Utc>>,
}

fn count(notes: &[Note], kind: &str, status: &str) -> usize {
    notes
        .iter()
        .filter(|n| n.kind == kind && n.status == status)
        .count()
}

async fn start_server() -> Server {
    let (database, admin_url) = sync_server::testing::fresh_database().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let state = AppState::new(
        database.pool.clone(),
        sync_server::tokens::SigningKey::random(),
    );
    tokio::spawn(sync_server::serve(listener, state, async {
        let _ = rx.await;
    }));
    Server {
        base: format!("http://{addr}"),
        http: reqwest::Client::new(),
        database,
        admin_url,
        stop: Some(stop),
    }
}

impl Server {
    fn pool(&self) -> &deadpool_postgres::Pool {
        &self.database.pool
    }

    async fn call(&self, path: &str, auth: &str, body: Value) -> (u16, Value) {
        let mut req = self.http.post(format!("{}{path}", self.base)).json(&body);
        if !auth.is_empty() {
            req = req.header("authorization", auth);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// A provisioned tenant with an enrolled workstation; its administrator
    /// is the clinician, renamed so the messages have a recognisable name.
    async fn clinic(&self, slug: &str, clinician: &str) -> Clinic {
        let t = sync_server::testing::provision(self.pool(), slug, "standard").await;
        let (s, login) = self
            .call(
                "/v1/auth/login",
                "",
                json!({"tenant": slug, "email": format!("admin@{slug}.example"), "password": "admin-password-1"}),
            )
            .await;
        assert_eq!(s, 200, "{login}");
        let bearer = format!("Bearer {}", login["access_token"].as_str().unwrap());
        let (s, e) = self
            .call("/v1/devices", &bearer, json!({"name": "Front desk"}))
            .await;
        assert_eq!(s, 201, "{e}");
        self.admin(&format!(
            "UPDATE users SET name = '{clinician}' WHERE id = '{}'",
            t.admin_user_id
        ))
        .await;
        Clinic {
            slug: slug.into(),
            tenant_id: t.tenant_id,
            user_id: t.admin_user_id,
            site_id: t.site_id,
            device: format!("Device {}", e["device_credential"].as_str().unwrap()),
            seq: 0,
            next_number: 1,
            last: Value::Null,
        }
    }

    async fn admin(&self, sql: &str) {
        db::connect(&self.admin_url)
            .await
            .unwrap()
            .batch_execute(sql)
            .await
            .unwrap();
    }

    /// Sends a push request as the clinic's device; every mutation must be accepted.
    async fn push_request(&self, c: &Clinic, req: &Value) -> Value {
        let mut req = req.clone();
        sync_server::testing::sign_push(
            &self.database.pool,
            &c.device,
            &mut req,
            sync_server::testing::ADMIN_PASSWORD,
        )
        .await;
        let (s, res) = self.call("/v1/sync/push", &c.device, req).await;
        assert_eq!(s, 200, "{res}");
        for o in res["outcomes"].as_array().unwrap() {
            assert_eq!(o["status"], "accepted", "{o}");
        }
        res
    }

    /// Pushes these mutations as the next ones of the device; returns the request.
    async fn push(&self, c: &mut Clinic, mutations: Vec<Value>) -> Value {
        let envelopes: Vec<Value> = mutations
            .into_iter()
            .map(|m| {
                c.seq += 1;
                json!({"device_seq": c.seq, "id": Uuid::now_v7(), "user_id": c.user_id, "at": Utc::now(), "mutation": m})
            })
            .collect();
        let req = json!({"protocol": clinic_core::sync::PROTOCOL_VERSION, "mutations": envelopes});
        self.push_request(c, &req).await;
        c.last = req.clone();
        req
    }

    /// Registers a patient; `contact` is merged into the details.
    async fn patient(&self, c: &mut Clinic, first: &str, last: &str, contact: Value) -> Uuid {
        let id = Uuid::now_v7();
        let mut details =
            json!({"first_name": first, "last_name": last, "date_of_birth": "1985-12-10"});
        for (k, v) in contact.as_object().unwrap() {
            details[k] = v.clone();
        }
        let number = clinic_core::patients::format_patient_number(c.next_number);
        c.next_number += 1;
        self.push(
            c,
            vec![json!({"kind": "register_patient", "patient": id, "patient_number": number, "details": details})],
        )
        .await;
        id
    }

    /// Books a 30-minute consultation with the clinic's clinician.
    async fn book(&self, c: &mut Clinic, patient: Uuid, at: DateTime<Utc>) -> Uuid {
        let id = Uuid::now_v7();
        let now = Utc::now();
        let appointment = json!({
            "id": id, "tenant_id": c.tenant_id, "site_id": c.site_id, "patient_id": patient,
            "clinician_id": c.user_id, "type_name": "Consultation", "start": at, "minutes": 30,
            "timezone": "Europe/London", "status": "scheduled", "booked_by": c.user_id,
            "created_at": now, "updated_at": now,
        });
        self.push(
            c,
            vec![json!({"kind": "book_appointment", "appointment": appointment})],
        )
        .await;
        id
    }

    async fn change(&self, c: &mut Clinic, appointment: Uuid, change: Value) {
        self.push(
            c,
            vec![
                json!({"kind": "change_appointment", "appointment": appointment, "change": change}),
            ],
        )
        .await;
    }

    async fn move_to(&self, c: &mut Clinic, appointment: Uuid, at: DateTime<Utc>) {
        let clinician = c.user_id;
        self.change(
            c,
            appointment,
            json!({"change": "move", "start": at, "minutes": 30, "clinician_id": clinician}),
        )
        .await;
    }

    /// The appointment's notifications, oldest first (as the administrator).
    async fn notes(&self, appointment: Uuid) -> Vec<Note> {
        db::connect(&self.admin_url)
            .await
            .unwrap()
            .query(
                "SELECT kind, status, channel, appointment_start, due_at, next_attempt_at, attempts, last_error, sent_at
                 FROM notifications WHERE appointment_id = $1 ORDER BY queued_at, id",
                &[&appointment],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| Note {
                kind: r.get(0),
                status: r.get(1),
                channel: r.get(2),
                start: r.get(3),
                due: r.get(4),
                next_attempt: r.get(5),
                attempts: r.get(6),
                last_error: r.get(7),
                sent_at: r.get(8),
            })
            .collect()
    }

    async fn total_notes(&self) -> i64 {
        db::connect(&self.admin_url)
            .await
            .unwrap()
            .query_one("SELECT count(*) FROM notifications", &[])
            .await
            .unwrap()
            .get(0)
    }

    fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        self.database.pool.close();
    }
}

/// A sender that keeps what it is given (the test's peer).
#[derive(Debug, Default)]
struct Recorder {
    sent: Mutex<Vec<OutgoingMessage>>,
}

impl Recorder {
    fn take(&self) -> Vec<OutgoingMessage> {
        std::mem::take(&mut *self.sent.lock().unwrap())
    }
}

impl Sender for Recorder {
    fn send<'a>(&'a self, msg: &'a OutgoingMessage) -> SendFuture<'a> {
        self.sent.lock().unwrap().push(msg.clone());
        Box::pin(std::future::ready(Ok(())))
    }
}

/// A sender whose server always refuses.
#[derive(Debug, Default)]
struct Failing {
    tries: Mutex<usize>,
}

impl Sender for Failing {
    fn send<'a>(&'a self, _msg: &'a OutgoingMessage) -> SendFuture<'a> {
        *self.tries.lock().unwrap() += 1;
        Box::pin(std::future::ready(Err(
            sync_server::scheduling::notify::undelivered("451 mailbox temporarily unavailable"),
        )))
    }
}

fn email(address: &str) -> Value {
    json!({"email": address, "preferred_channel": "email", "reminders_opt_in": true})
}

// ---- queueing ----

#[tokio::test]
async fn a_booking_queues_one_confirmation_and_one_reminder_and_retries_add_nothing() {
    let server = start_server().await;
    let mut c = server.clinic("alpha", "Dr Grace Hopper").await;
    let patient = server
        .patient(&mut c, "Ada", "Lovelace", email("ada@example.com"))
        .await;
    let before = Utc::now();
    let appointment = server.book(&mut c, patient, start()).await;
    let notes = server.notes(appointment).await;
    assert_eq!(notes.len(), 2, "{notes:?}");
    assert_eq!(count(&notes, "confirmation", "queued"), 1);
    assert_eq!(count(&notes, "reminder", "queued"), 1);
    let confirmation = notes.iter().find(|n| n.kind == "confirmation").unwrap();
    assert!(confirmation.due >= before - Duration::seconds(1) && confirmation.due <= Utc::now());
    let reminder = notes.iter().find(|n| n.kind == "reminder").unwrap();
    assert_eq!(reminder.due, start() - Duration::hours(24));
    assert_eq!(reminder.start, start());
    assert!(notes
        .iter()
        .all(|n| n.channel == "email" && n.attempts == 0));

    // The device did not hear the answer and sends the same batch again.
    let booking = c.last.clone();
    assert_eq!(
        booking["mutations"][0]["mutation"]["kind"],
        "book_appointment"
    );
    let res = server.push_request(&c, &booking).await;
    assert_eq!(res["last_applied_seq"], c.seq);
    assert_eq!(server.total_notes().await, 2, "a retried push adds nothing");
    // Confirming the appointment at the desk tells the patient nothing new.
    server
        .change(
            &mut c,
            appointment,
            json!({"change": "status", "to": "confirmed"}),
        )
        .await;
    assert_eq!(server.total_notes().await, 2);

    // Queueing the very same change again (a replay reaching the queue) adds nothing either.
    let mut client = server.pool().get().await.unwrap();
    let tx = db::tenant_tx(&mut client, c.tenant_id).await.unwrap();
    let doc: Value = tx
        .query_one(
            "SELECT doc FROM appointments WHERE id = $1",
            &[&appointment],
        )
        .await
        .unwrap()
        .get(0);
    let a: clinic_core::scheduling::Appointment = serde_json::from_value(doc).unwrap();
    queue_for_appointments(&tx, c.tenant_id, &[(None, a.clone()), (None, a)])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let notes = server.notes(appointment).await;
    assert_eq!(notes.len(), 2, "{notes:?}");
    assert_eq!(count(&notes, "confirmation", "queued"), 1);
    assert_eq!(count(&notes, "reminder", "queued"), 1);
    server.stop();
}

#[tokio::test]
async fn moving_skips_the_old_reminder_and_queues_a_new_time_notice_and_reminder() {
    let server = start_server().await;
    let mut c = server.clinic("bravo", "Dr Who").await;
    let patient = server
        .patient(&mut c, "Ada", "Lovelace", email("ada@example.com"))
        .await;
    let appointment = server.book(&mut c, patient, start()).await;
    let later = start() + Duration::hours(2);
    server.move_to(&mut c, appointment, later).await;
    let notes = server.notes(appointment).await;
    assert_eq!(notes.len(), 4, "{notes:?}");
    assert_eq!(count(&notes, "confirmation", "queued"), 1);
    assert_eq!(count(&notes, "rescheduled", "queued"), 1);
    let old = notes
        .iter()
        .find(|n| n.kind == "reminder" && n.start == start())
        .unwrap();
    assert_eq!(old.status, "skipped");
    assert_eq!(old.last_error.as_deref(), Some("the appointment has moved"));
    let new = notes
        .iter()
        .find(|n| n.kind == "reminder" && n.start == later)
        .unwrap();
    assert_eq!(new.status, "queued");
    assert_eq!(new.due, later - Duration::hours(24));
    let moved = notes.iter().find(|n| n.kind == "rescheduled").unwrap();
    assert_eq!(moved.start, later);

    // Moved back: the first reminder is wanted again (the same one, not a second).
    server.move_to(&mut c, appointment, start()).await;
    let notes = server.notes(appointment).await;
    assert_eq!(notes.len(), 5, "{notes:?}");
    assert_eq!(count(&notes, "reminder", "queued"), 1);
    assert_eq!(count(&notes, "reminder", "skipped"), 1);
    assert_eq!(
        notes
            .iter()
            .find(|n| n.kind == "reminder" && n.status == "queued")
            .unwrap()
            .start,
        start()
    );
    // The notice of the intermediate time was not sent yet: superseded.
    assert_eq!(count(&notes, "rescheduled", "skipped"), 1);
    assert_eq!(count(&notes, "rescheduled", "queued"), 1);

    // Nothing was sent yet: the confirmation tells the current time, and the
    // new-time notice (for the time the patient is about to hear) is dropped.
    let recorder = Recorder::default();
    let report = deliver_due(server.pool(), &recorder, Utc::now(), 100)
        .await
        .unwrap();
    assert_eq!((report.sent, report.skipped), (1, 1), "{report:?}");
    let sent = recorder.take();
    assert_eq!(sent[0].kind, NotificationKind::Confirmation);
    assert!(sent[0].body.contains(START_WORDS), "{}", sent[0].body);
    server.stop();
}

#[tokio::test]
async fn cancelling_queues_one_cancellation_and_skips_what_is_pending() {
    let server = start_server().await;
    let mut c = server.clinic("charlie", "Dr Who").await;
    let patient = server
        .patient(&mut c, "Ada", "Lovelace", email("ada@example.com"))
        .await;
    let appointment = server.book(&mut c, patient, start()).await;
    let recorder = Recorder::default();
    let report = deliver_due(server.pool(), &recorder, Utc::now(), 100)
        .await
        .unwrap();
    assert_eq!(report.sent, 1, "the confirmation");
    recorder.take();
    let cancel = json!({"change": "status", "to": "cancelled", "reason": "patient asked"});
    server.change(&mut c, appointment, cancel.clone()).await;
    let notes = server.notes(appointment).await;
    assert_eq!(notes.len(), 3, "{notes:?}");
    assert_eq!(count(&notes, "confirmation", "sent"), 1);
    assert_eq!(count(&notes, "cancellation", "queued"), 1);
    assert_eq!(count(&notes, "reminder", "skipped"), 1);
    let report = deliver_due(server.pool(), &recorder, Utc::now(), 100)
        .await
        .unwrap();
    assert_eq!(report.sent, 1, "{report:?}");
    let sent = recorder.take();
    assert_eq!(sent[0].kind, NotificationKind::Cancellation);
    assert!(
        sent[0].body.contains("has been cancelled"),
        "{}",
        sent[0].body
    );
    assert!(sent[0].body.contains(START_WORDS), "{}", sent[0].body);
    assert!(sent[0].subject.starts_with("Appointment cancelled"));
    let report = deliver_due(server.pool(), &recorder, Utc::now(), 100)
        .await
        .unwrap();
    assert_eq!(report.handled(), 0, "sent once");

    // Booked and cancelled before anything went out: the patient hears nothing.
    let quick = server
        .book(&mut c, patient, start() + Duration::days(1))
        .await;
    server.change(&mut c, quick, cancel).await;
    let notes = server.notes(quick).await;
    assert_eq!(count(&notes, "cancellation", "queued"), 1, "{notes:?}");
    assert_eq!(count(&notes, "confirmation", "skipped"), 1, "{notes:?}");
    assert_eq!(count(&notes, "reminder", "skipped"), 1, "{notes:?}");
    let report = deliver_due(server.pool(), &recorder, Utc::now(), 100)
        .await
        .unwrap();
    assert_eq!((report.sent, report.skipped), (0, 1), "{report:?}");
    assert!(recorder.take().is_empty());
    server.stop();
}

#[tokio::test]
async fn a_double_booking_gets_no_confirmation_until_it_is_resolved() {
    let server = start_server().await;
    let mut c = server.clinic("delta", "Dr Who").await;
    let ada = server
        .patient(&mut c, "Ada", "Lovelace", email("ada@example.com"))
        .await;
    let alan = server
        .patient(&mut c, "Alan", "Turing", email("alan@example.com"))
        .await;
    let first = server.book(&mut c, ada, start()).await;
    // Booked for the same clinician at the same time (as if on another workstation).
    let second = server.book(&mut c, alan, start()).await;
    assert_eq!(server.notes(first).await.len(), 2);
    assert!(
        server.notes(second).await.is_empty(),
        "nothing for a booking in conflict"
    );
    server
        .change(
            &mut c,
            second,
            json!({"change": "resolve", "resolution": {"how": "accept_double_booking"}}),
        )
        .await;
    let notes = server.notes(second).await;
    assert_eq!(count(&notes, "confirmation", "queued"), 1, "{notes:?}");
    assert_eq!(count(&notes, "reminder", "queued"), 1, "{notes:?}");
    server.stop();
}

#[tokio::test]
async fn consent_and_channels_follow_the_patients_choices() {
    let server = start_server().await;
    let mut c = server.clinic("echo", "Dr Who").await;
    let no_reminders = server
        .patient(
            &mut c,
            "Ada",
            "Lovelace",
            json!({"email": "ada@example.com", "reminders_opt_in": false}),
        )
        .await;
    let do_not_contact = server
        .patient(
            &mut c,
            "Alan",
            "Turing",
            json!({"email": "alan@example.com", "preferred_channel": "none"}),
        )
        .await;
    let by_sms = server
        .patient(
            &mut c,
            "Grace",
            "Hopper",
            json!({"phone": "+44 7700 900123", "email": "grace@example.com", "preferred_channel": "sms"}),
        )
        .await;
    let unreachable = server
        .patient(
            &mut c,
            "Edsger",
            "Dijkstra",
            json!({"phone": "+31 20 555 0100"}),
        )
        .await;
    let a = server.book(&mut c, no_reminders, start()).await;
    let b = server
        .book(&mut c, do_not_contact, start() + Duration::hours(1))
        .await;
    let s = server
        .book(&mut c, by_sms, start() + Duration::hours(2))
        .await;
    let u = server
        .book(&mut c, unreachable, start() + Duration::hours(3))
        .await;
    let notes = server.notes(a).await;
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0].kind, "confirmation");
    assert!(server.notes(b).await.is_empty());
    assert!(server.notes(u).await.is_empty());
    let notes = server.notes(s).await;
    assert_eq!(notes.len(), 2);
    assert!(notes.iter().all(|n| n.channel == "sms"));

    // The logging sender "delivers" SMS by logging it.
    let report = deliver_due(
        server.pool(),
        &sync_server::scheduling::notify::LogSender,
        Utc::now(),
        100,
    )
    .await
    .unwrap();
    assert_eq!(report.sent, 2, "{report:?}");
    // The SMTP sender has no SMS gateway: failed at once, not retried.
    server
        .book(&mut c, by_sms, start() + Duration::days(1))
        .await;
    let smtp = SmtpSender::new("smtp://127.0.0.1:9", "clinic@example.com").unwrap();
    let report = deliver_due(server.pool(), &smtp, Utc::now(), 100)
        .await
        .unwrap();
    assert_eq!((report.failed, report.gave_up), (1, 1), "{report:?}");
    server.stop();
}

// ---- delivery ----

#[tokio::test]
async fn due_messages_are_sent_once_in_words_a_patient_understands() {
    let server = start_server().await;
    let mut c = server.clinic("foxtrot", "Dr Grace Hopper").await;
    let patient = server
        .patient(&mut c, "Ada", "Lovelace", email("ada@example.com"))
        .await;
    let appointment = server.book(&mut c, patient, start()).await;
    let recorder = Recorder::default();
    let now = Utc::now();
    let report = deliver_due(server.pool(), &recorder, now, 100)
        .await
        .unwrap();
    assert_eq!((report.sent, report.failed, report.skipped), (1, 0, 0));
    let sent = recorder.take();
    let m = &sent[0];
    assert_eq!(m.kind, NotificationKind::Confirmation);
    assert_eq!(m.channel, Channel::Email);
    assert_eq!(m.to, "ada@example.com");
    assert_eq!(m.tenant_id, c.tenant_id);
    assert_eq!(m.appointment_id, appointment);
    assert!(m.subject.contains(START_WORDS), "{}", m.subject);
    for words in [
        "Dear Ada Lovelace",
        "Your appointment at Clinic foxtrot is booked.",
        START_WORDS,
        "(Europe/London time)",
        "Where: Main",
        "With:  Dr Grace Hopper",
        "Consultation, 30 minutes",
        "cancel or change the appointment",
        &clinic_core::patients::format_patient_number(1),
    ] {
        assert!(m.body.contains(words), "{words:?} not in:\n{}", m.body);
    }
    assert!(m.body.lines().all(|l| l.chars().count() <= 78));
    let notes = server.notes(appointment).await;
    let confirmation = notes.iter().find(|n| n.kind == "confirmation").unwrap();
    assert_eq!(confirmation.status, "sent");
    assert_eq!(confirmation.attempts, 1);
    assert_eq!(
        confirmation.sent_at,
        Some(chrono::SubsecRound::trunc_subsecs(now, 6))
    );

    // Nothing more is due now; the reminder goes out a day before.
    let report = deliver_due(server.pool(), &recorder, now, 100)
        .await
        .unwrap();
    assert_eq!(report.handled(), 0, "{report:?}");
    assert!(recorder.take().is_empty());
    let day_before = start() - Duration::hours(23);
    let report = deliver_due(server.pool(), &recorder, day_before, 100)
        .await
        .unwrap();
    assert_eq!(report.sent, 1);
    let sent = recorder.take();
    assert_eq!(sent[0].kind, NotificationKind::Reminder);
    assert!(
        sent[0].body.contains("This is a reminder"),
        "{}",
        sent[0].body
    );
    assert!(sent[0].body.contains(START_WORDS));
    let report = deliver_due(server.pool(), &recorder, day_before, 100)
        .await
        .unwrap();
    assert_eq!(report.handled(), 0);
    let notes = server.notes(appointment).await;
    assert_eq!(count(&notes, "reminder", "sent"), 1);

    // A move after everything was sent: a new-time notice and a new reminder.
    let later = start() + Duration::days(7);
    server.move_to(&mut c, appointment, later).await;
    let report = deliver_due(server.pool(), &recorder, Utc::now(), 100)
        .await
        .unwrap();
    assert_eq!(report.sent, 1);
    let sent = recorder.take();
    assert_eq!(sent[0].kind, NotificationKind::Rescheduled);
    assert!(
        sent[0].body.contains("Monday 22 July 2030 at 09:00"),
        "{}",
        sent[0].body
    );
    assert_eq!(
        count(&server.notes(appointment).await, "reminder", "queued"),
        1
    );
    server.stop();
}

#[tokio::test]
async fn a_message_no_longer_wanted_when_due_is_skipped_not_sent() {
    let server = start_server().await;
    let mut c = server.clinic("golf", "Dr Who").await;
    let patient = server
        .patient(&mut c, "Ada", "Lovelace", email("ada@example.com"))
        .await;
    let appointment = server.book(&mut c, patient, start()).await;
    // The patient's address is removed before the worker runs.
    server
        .admin(&format!(
            "UPDATE patients SET email = NULL WHERE id = '{patient}'"
        ))
        .await;
    let recorder = Recorder::default();
    let report = deliver_due(server.pool(), &recorder, Utc::now(), 100)
        .await
        .unwrap();
    assert_eq!((report.sent, report.skipped), (0, 1), "{report:?}");
    let notes = server.notes(appointment).await;
    let confirmation = notes.iter().find(|n| n.kind == "confirmation").unwrap();
    assert_eq!(confirmation.status, "skipped");
    assert_eq!(
        confirmation.last_error.as_deref(),
        Some("no email address on file")
    );
    // Too late: the appointment has started.
    let report = deliver_due(server.pool(), &recorder, start(), 100)
        .await
        .unwrap();
    assert_eq!(report.skipped, 1);
    assert!(recorder.take().is_empty());
    server.stop();
}

#[tokio::test]
async fn a_failing_sender_records_attempts_and_errors_and_gives_up_after_five() {
    let server = start_server().await;
    let mut c = server.clinic("hotel", "Dr Who").await;
    let patient = server
        .patient(&mut c, "Ada", "Lovelace", email("ada@example.com"))
        .await;
    let appointment = server.book(&mut c, patient, start()).await;
    let failing = Failing::default();
    let mut now = Utc::now();
    let report = deliver_due(server.pool(), &failing, now, 100)
        .await
        .unwrap();
    assert_eq!((report.sent, report.failed, report.gave_up), (0, 1, 0));
    let notes = server.notes(appointment).await;
    let n = notes.iter().find(|n| n.kind == "confirmation").unwrap();
    assert_eq!(n.status, "queued");
    assert_eq!(n.attempts, 1);
    assert_eq!(
        n.last_error.as_deref(),
        Some("451 mailbox temporarily unavailable")
    );
    assert!(n.next_attempt > now + Duration::seconds(30));
    // Not retried before its time.
    let report = deliver_due(server.pool(), &failing, now, 100)
        .await
        .unwrap();
    assert_eq!(report.handled(), 0);
    for _ in 1..MAX_ATTEMPTS {
        now += Duration::hours(3);
        let report = deliver_due(server.pool(), &failing, now, 100)
            .await
            .unwrap();
        assert_eq!(report.failed, 1, "{report:?}");
    }
    let notes = server.notes(appointment).await;
    let n = notes.iter().find(|n| n.kind == "confirmation").unwrap();
    assert_eq!(n.status, "failed");
    assert_eq!(n.attempts, MAX_ATTEMPTS);
    assert!(n.sent_at.is_none());
    assert_eq!(*failing.tries.lock().unwrap(), MAX_ATTEMPTS as usize);
    // Failed for good: never tried again.
    now += Duration::hours(3);
    let report = deliver_due(server.pool(), &failing, now, 100)
        .await
        .unwrap();
    assert_eq!(report.failed, 0);
    assert_eq!(*failing.tries.lock().unwrap(), MAX_ATTEMPTS as usize);
    server.stop();
}

#[tokio::test]
async fn each_tenants_messages_are_rendered_from_its_own_records_and_never_cross() {
    let server = start_server().await;
    let mut a = server.clinic("india", "Dr Alice Ames").await;
    let mut b = server.clinic("juliet", "Dr Bob Burns").await;
    let pa = server
        .patient(&mut a, "Ada", "Lovelace", email("ada@india.example"))
        .await;
    let pb = server
        .patient(&mut b, "Alan", "Turing", email("alan@juliet.example"))
        .await;
    server.book(&mut a, pa, start()).await;
    server.book(&mut b, pb, start()).await;

    // One tenant's pass sends only that tenant's messages.
    let recorder = Recorder::default();
    let report = deliver_due_for_tenant(server.pool(), b.tenant_id, &recorder, Utc::now(), 100)
        .await
        .unwrap();
    assert_eq!(report.sent, 1);
    let only_b = recorder.take();
    assert_eq!(only_b[0].tenant_id, b.tenant_id);
    assert_eq!(only_b[0].to, "alan@juliet.example");
    // Tenant B's transaction sees none of tenant A's queue.
    let mut client = server.pool().get().await.unwrap();
    let tx = db::tenant_tx(&mut client, b.tenant_id).await.unwrap();
    let foreign: i64 = tx
        .query_one(
            "SELECT count(*) FROM notifications WHERE tenant_id <> $1",
            &[&b.tenant_id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(foreign, 0);
    tx.rollback().await.unwrap();
    drop(client);

    // The all-tenant worker renders each message with its own tenant's data.
    let report = deliver_due(server.pool(), &recorder, Utc::now(), 100)
        .await
        .unwrap();
    assert_eq!(report.sent, 1, "only A's is still due");
    let sent = recorder.take();
    let m = &sent[0];
    assert_eq!(m.tenant_id, a.tenant_id);
    assert_eq!(m.to, "ada@india.example");
    assert!(m.body.contains("Clinic india") && m.body.contains("Dr Alice Ames"));
    assert!(!m.body.contains("juliet") && !m.body.contains("Bob Burns"));
    assert!(only_b[0].body.contains("Clinic juliet") && only_b[0].body.contains("Dr Bob Burns"));
    assert!(!only_b[0].body.contains("india") && !only_b[0].body.contains("Alice"));
    assert_eq!((a.slug.as_str(), b.slug.as_str()), ("india", "juliet"));
    server.stop();
}

#[tokio::test]
async fn the_worker_delivers_in_the_background() {
    let server = start_server().await;
    let mut c = server.clinic("kilo", "Dr Who").await;
    let patient = server
        .patient(&mut c, "Ada", "Lovelace", email("ada@example.com"))
        .await;
    let appointment = server.book(&mut c, patient, start()).await;
    let recorder = Arc::new(Recorder::default());
    let worker = spawn_worker(
        server.pool().clone(),
        recorder.clone(),
        NotifyConfig {
            enabled: true,
            interval: std::time::Duration::from_millis(50),
            batch: 10,
        },
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while recorder.sent.lock().unwrap().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the worker sent nothing"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    worker.abort();
    assert_eq!(recorder.take().len(), 1, "sent once, however many passes");
    assert_eq!(
        count(&server.notes(appointment).await, "confirmation", "sent"),
        1
    );
    server.stop();
}

// ---- SMTP ----

/// A small SMTP server: records each message's envelope and data.
async fn fake_smtp() -> (u16, Arc<Mutex<Vec<String>>>) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let messages = Arc::new(Mutex::new(Vec::new()));
    let store = messages.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let store = store.clone();
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read);
                write.write_all(b"220 fake.test ESMTP\r\n").await.unwrap();
                let mut envelope = String::new();
                let mut data: Option<String> = None;
                loop {
                    let mut line = String::new();
                    if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    if let Some(d) = &mut data {
                        if line == ".\r\n" {
                            store.lock().unwrap().push(format!("{envelope}\r\n{d}"));
                            data = None;
                            envelope.clear();
                            write.write_all(b"250 2.0.0 queued\r\n").await.unwrap();
                        } else {
                            d.push_str(&line);
                        }
                        continue;
                    }
                    let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                    let reply: &[u8] = match verb.as_str() {
                        "EHLO" | "HELO" => b"250 fake.test\r\n",
                        "MAIL" | "RCPT" => {
                            envelope.push_str(&line);
                            b"250 2.1.0 ok\r\n"
                        }
                        "DATA" => {
                            data = Some(String::new());
                            b"354 end with <CRLF>.<CRLF>\r\n"
                        }
                        "QUIT" => {
                            let _ = write.write_all(b"221 2.0.0 bye\r\n").await;
                            return;
                        }
                        "RSET" | "NOOP" => b"250 ok\r\n",
                        _ => b"502 5.5.2 not implemented\r\n",
                    };
                    write.write_all(reply).await.unwrap();
                }
            });
        }
    });
    (port, messages)
}

#[tokio::test]
async fn the_smtp_sender_delivers_one_email_with_the_local_appointment_time() {
    let server = start_server().await;
    let mut c = server.clinic("lima", "Dr Grace Hopper").await;
    let patient = server
        .patient(&mut c, "Ada", "Lovelace", email("ada@example.com"))
        .await;
    let appointment = server.book(&mut c, patient, start()).await;
    let (port, received) = fake_smtp().await;
    let smtp = SmtpSender::new(
        &format!("smtp://127.0.0.1:{port}"),
        "Clinic lima <noreply@lima.example>",
    )
    .unwrap();
    let report = deliver_due(server.pool(), &smtp, Utc::now(), 100)
        .await
        .unwrap();
    assert_eq!((report.sent, report.failed), (1, 0), "{report:?}");
    let received = received.lock().unwrap().clone();
    assert_eq!(received.len(), 1, "{received:?}");
    let m = &received[0];
    assert!(m.contains("MAIL FROM:<noreply@lima.example>"), "{m}");
    assert!(m.contains("RCPT TO:<ada@example.com>"), "{m}");
    assert!(m.contains(START_WORDS), "{m}");
    assert!(m.contains("Dr Grace Hopper"), "{m}");
    assert_eq!(
        count(&server.notes(appointment).await, "confirmation", "sent"),
        1
    );
    // Delivered once: a second pass sends nothing.
    let report = deliver_due(server.pool(), &smtp, Utc::now(), 100)
        .await
        .unwrap();
    assert_eq!(report.handled(), 0);

    // A server that is down: the attempt is recorded with the error.
    let down = SmtpSender::new("smtp://127.0.0.1:9", "noreply@lima.example").unwrap();
    server
        .book(&mut c, patient, start() + Duration::days(1))
        .await;
    let report = deliver_due(server.pool(), &down, Utc::now(), 100)
        .await
        .unwrap();
    assert_eq!((report.sent, report.failed), (0, 1), "{report:?}");
    server.stop();
}
