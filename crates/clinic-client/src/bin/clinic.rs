//! `clinic`: the scripting and admin interface of a workstation. It only
//! parses arguments, calls the use-cases in `clinic_client`, and prints.
//!
//! Secrets never come from argv: `CLINIC_PASSPHRASE` (store passphrase, when
//! the OS keychain is not used), `CLINIC_PASSWORD` (the acting user's
//! password), `CLINIC_NEW_PASSWORD` / `CLINIC_NEW_PASSPHRASE` for new ones.

use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand};
use clinic_client::{demo, InitOptions, Password, SystemClock, Workstation};
use clinic_core::api::KeyPin;
use clinic_core::patients::NationalIdKind;
use clinic_core::patients::*;
use clinic_core::{ClinicError, ClinicResult, ErrorCode};
use clinic_demo::DemoSize;
use clinic_store::directory::ClinicianProfile;
use clinic_store::keys::{Keychain, Passphrase, Unlock};
use serde::Serialize;
use std::path::PathBuf;
use std::process::ExitCode;

#[path = "clinic/accounts.rs"]
mod accounts;
#[path = "clinic/billing.rs"]
mod billing;
#[path = "clinic/clinical.rs"]
mod clinical;
#[path = "clinic/inventory.rs"]
mod inventory;
#[path = "clinic/scheduling.rs"]
mod scheduling;
use std::sync::Arc;

#[derive(Parser, Debug)]
#[command(
    name = "clinic",
    version,
    about = "Offline-first clinic workstation: encrypted local store, patients, audit."
)]
struct Cli {
    /// Data directory of the workstation store [env: CLINIC_DATA_DIR; default: ~/.local/share/clinic]
    #[arg(long, global = true, env = "CLINIC_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Acting user's email (password from CLINIC_PASSWORD)
    #[arg(long, global = true, env = "CLINIC_USER")]
    user: Option<String>,
    /// Print machine-readable JSON
    #[arg(long, global = true)]
    json: bool,
    /// Do not use the OS keychain (unlock with CLINIC_PASSPHRASE only) [env: CLINIC_KEYCHAIN=off]
    #[arg(long, global = true)]
    no_keychain: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Create an encrypted workstation store with a tenant and its first admin
    Init(InitArgs),
    /// Enrol this workstation with a sync server into an empty --data-dir
    /// (as --user, an administrator there; password from CLINIC_PASSWORD)
    Enroll {
        /// The sync server, e.g. https://clinic-server:8480 (http:// only to this computer)
        #[arg(long)]
        server: String,
        /// Trust the server through its public key, as `sync-server tls
        /// fingerprint` prints it (SHA256:…): for a server with its own
        /// certificate. Without it the server's certificate must be trusted
        /// by this computer's certificate authorities.
        #[arg(long)]
        fingerprint: Option<String>,
        /// The tenant's slug on the server
        #[arg(long)]
        tenant: String,
        /// How the workstation is listed on the server
        #[arg(long)]
        device_name: Option<String>,
        /// The authenticator app's current code, for accounts with multi-factor sign-in
        #[arg(long)]
        totp: Option<String>,
        /// This workstation is for a demo clinic: `clinic demo-data` may fill it
        #[arg(long)]
        demo: bool,
    },
    /// Ask the sync server whether this workstation is still enrolled
    Enrollment {
        #[command(subcommand)]
        cmd: Option<EnrollmentCmd>,
    },
    /// Check the acting user's credentials and show the session
    Login,
    /// Store facts: tenant, device, sites, counts, cipher
    Info,
    #[command(subcommand)]
    User(UserCmd),
    /// Your own password, or another account's reset
    #[command(subcommand)]
    Password(PasswordCmd),
    /// The clinic's enrolled workstations on the sync server (full
    /// administrators; the server checks CLINIC_PASSWORD for each call)
    #[command(subcommand)]
    Device(DeviceCmd),
    #[command(subcommand)]
    Role(RoleCmd),
    #[command(subcommand)]
    Patient(Box<PatientCmd>),
    #[command(subcommand)]
    Audit(AuditCmd),
    #[command(subcommand)]
    Key(KeyCmd),
    /// Write an encrypted, consistent backup of the store into an empty folder (admin)
    Backup {
        #[arg(long)]
        out: PathBuf,
    },
    /// Sync with the server: push every local change and pull until caught up
    Sync {
        #[command(subcommand)]
        cmd: Option<SyncCmd>,
    },
    /// The conflict inbox: double bookings, and changes the server refused, until resolved
    #[command(subcommand)]
    Conflicts(ConflictsCmd),
    /// Book, move, cancel, check in and list appointments
    #[command(subcommand)]
    Appointment(Box<scheduling::AppointmentCmd>),
    /// The next free slots of a clinician
    Slots {
        #[arg(long)]
        clinician: String,
        #[arg(long, default_value_t = 30)]
        minutes: u32,
        /// From (RFC 3339; default now)
        #[arg(long)]
        from: Option<String>,
        #[arg(long, default_value_t = 7)]
        days: u32,
        #[arg(long, default_value_t = 5)]
        count: usize,
    },
    /// The day sheet of this site (or one clinician); --pdf writes a printable copy
    Dayplan {
        /// Local date, e.g. 2026-11-23 (default today)
        #[arg(long)]
        date: Option<String>,
        #[arg(long)]
        clinician: Option<String>,
        #[arg(long)]
        pdf: Option<PathBuf>,
    },
    /// Calendar export (iCalendar)
    #[command(subcommand)]
    Calendar(scheduling::CalendarCmd),
    /// Clinicians' working hours, leave and shifts
    #[command(subcommand)]
    Availability(scheduling::AvailabilityCmd),
    /// Patients waiting for an appointment
    #[command(subcommand)]
    Waitlist(scheduling::WaitlistCmd),
    /// A consultation's note: start, edit, vitals, diagnoses, sign, addenda
    #[command(subcommand)]
    Encounter(Box<clinical::EncounterCmd>),
    /// Prescriptions: add (with safety checks), show, pdf, cancel, complete
    #[command(subcommand)]
    Prescription(Box<clinical::PrescriptionCmd>),
    /// The price list: list, add, change
    #[command(subcommand)]
    Price(Box<billing::PriceCmd>),
    /// Invoices: create, draft, edit, issue, void, show, list, credit, pdf
    #[command(subcommand)]
    Invoice(Box<billing::InvoiceCmd>),
    /// Payments: add, refund, use-credit
    #[command(subcommand)]
    Payment(Box<billing::PaymentCmd>),
    /// Receipts: pdf
    #[command(subcommand)]
    Receipt(PdfCmd),
    /// Credit notes: pdf
    #[command(subcommand, name = "credit-note")]
    CreditNote(PdfCmd),
    /// What a patient owes and holds in credit, or (no patient) everyone who does
    Balance {
        /// Patient number or id
        patient: Option<String>,
    },
    /// The clinic's settings (currency, taxes, legal details); given options change them
    Settings(Box<billing::SettingsArgs>),
    /// Insurance claims: add, set (the insurer's decision), show, list
    #[command(subcommand)]
    Claim(Box<accounts::ClaimCmd>),
    /// Eligibility checks of a patient's cover: add, list
    #[command(subcommand)]
    Eligibility(Box<accounts::EligibilityCmd>),
    /// Instalment plans: add, list (--overdue)
    #[command(subcommand)]
    Plan(Box<accounts::PlanCmd>),
    /// Discount codes: add, approve, reject, list (a code goes on an invoice line: CONS30:1::CODE)
    #[command(subcommand)]
    Discount(Box<accounts::DiscountCmd>),
    /// Closing the books: close (managers, online), show
    #[command(subcommand)]
    Period(Box<accounts::PeriodCmd>),
    /// What the clinic is owed by age of invoice: 0–30, 31–60, 61–90, 90+ days
    Ageing,
    /// This desk's takings for a day by method; with --counted, close the day
    Cashup {
        /// The day (today when not given)
        #[arg(long, value_parser = date_arg)]
        date: Option<NaiveDate>,
        /// What was counted, per method: cash=120.00 (repeat per method)
        #[arg(long)]
        counted: Vec<String>,
        /// Why the count differs from the takings
        #[arg(long)]
        reason: Option<String>,
    },
    /// Stock: items, receive, dispense, adjust, write-off, reallocate, on-hand, alerts, valuation, transfers
    #[command(subcommand)]
    Stock(Box<inventory::StockCmd>),
    /// Purchase orders: create, approve, send, cancel, receive, show, list
    #[command(subcommand)]
    Po(Box<inventory::PoCmd>),
    /// Stocktakes: start, count, post, show, list
    #[command(subcommand)]
    Stocktake(Box<inventory::StocktakeCmd>),
    /// A patient's chart: problems, allergies, medications, encounters, vitals (audited)
    Chart {
        /// Patient number or id
        patient: String,
    },
    /// Generate the deterministic demo clinic (performance.md sizes)
    DemoData {
        #[arg(long, value_parser = parse_size)]
        size: DemoSize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

#[derive(Subcommand, Debug)]
enum SyncCmd {
    /// Online?, pending changes, age of the oldest, last success, open conflicts
    Status,
    /// Compare the whole local copy with the server's; re-fetch only what differs
    Verify,
    /// Keep syncing live (push on change, long-poll the feed) until stopped
    Watch,
}

#[derive(Subcommand, Debug)]
enum ConflictsCmd {
    /// Open double bookings, conflicts and rejections (as --user)
    List,
    /// Resolve one: a refused change by its number (marked resolved), or a
    /// double booking by its appointment id with --accept, --cancel or --move
    Resolve {
        which: String,
        /// Keep both appointments (a deliberate double booking)
        #[arg(long)]
        accept: bool,
        /// Cancel this appointment, saying why
        #[arg(long)]
        cancel: Option<String>,
        /// Move it to this start (RFC 3339)
        #[arg(long = "move")]
        move_to: Option<String>,
    },
    /// Make a refused change again, whole, under your own name (when your
    /// role allows it); it is marked resolved
    Reapply {
        /// Its number (#N in the list)
        number: String,
    },
}

#[derive(Args, Debug)]
struct InitArgs {
    #[arg(long)]
    tenant_name: String,
    #[arg(long)]
    admin_email: String,
    #[arg(long, default_value = "Administrator")]
    admin_name: String,
    #[arg(long, default_value = "Main site")]
    site_name: String,
    #[arg(long, default_value = "Europe/London")]
    timezone: String,
}

#[derive(Subcommand, Debug)]
enum UserCmd {
    /// Add a user (password from CLINIC_NEW_PASSWORD)
    Add {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        role: String,
        #[arg(long)]
        specialization: Option<String>,
        #[arg(long)]
        registration_number: Option<String>,
    },
    List,
    Disable {
        email: String,
    },
    Enable {
        email: String,
    },
    /// Give an account a new set of roles (comma-separated keys; only
    /// roles within your own)
    Roles {
        email: String,
        roles: String,
    },
    /// Change an account's display name
    Rename {
        email: String,
        name: String,
    },
}

#[derive(Subcommand, Debug)]
enum PasswordCmd {
    /// Change your own (current from CLINIC_PASSWORD, new from CLINIC_NEW_PASSWORD)
    Change,
    /// Give another account a new password it must change at its next
    /// sign-in (new from CLINIC_NEW_PASSWORD)
    Reset {
        #[arg(long)]
        email: String,
    },
}

#[derive(Subcommand, Debug)]
enum DeviceCmd {
    /// Every workstation enrolled with the server
    List {
        /// Authenticator code, when the account uses one
        #[arg(long)]
        totp: Option<String>,
    },
    /// Stop a lost, stolen or replaced workstation from syncing
    Revoke {
        /// The device id (from `device list`)
        id: uuid::Uuid,
        #[arg(long)]
        totp: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
enum RoleCmd {
    /// Roles and their permission matrix
    List,
    /// Add one of the clinic's own roles: a copy of an existing role's
    /// matrix (--like), or a matrix given as JSON (--permissions)
    Create {
        #[arg(long)]
        key: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        like: Option<String>,
        #[arg(long)]
        permissions: Option<String>,
    },
}

#[derive(Args, Debug, Default)]
struct PatientFields {
    #[arg(long)]
    first_name: Option<String>,
    #[arg(long)]
    middle_name: Option<String>,
    #[arg(long)]
    last_name: Option<String>,
    #[arg(long)]
    preferred_name: Option<String>,
    /// Date of birth, YYYY-MM-DD
    #[arg(long, value_parser = date_arg)]
    dob: Option<NaiveDate>,
    /// female | male | intersex | unknown
    #[arg(long, value_parser = parse_sex)]
    sex: Option<SexAtBirth>,
    #[arg(long)]
    gender: Option<String>,
    #[arg(long)]
    phone: Option<String>,
    #[arg(long)]
    alt_phone: Option<String>,
    #[arg(long)]
    email: Option<String>,
    #[arg(long)]
    address_line1: Option<String>,
    #[arg(long)]
    address_line2: Option<String>,
    #[arg(long)]
    city: Option<String>,
    #[arg(long)]
    state: Option<String>,
    #[arg(long)]
    postcode: Option<String>,
    /// Two-letter country code
    #[arg(long)]
    country: Option<String>,
    /// KIND:VALUE, kind one of nhs, ca_sin, nl_bsn, se_personnummer, us_ssn, other
    #[arg(long)]
    national_id: Option<String>,
    #[arg(long)]
    blood_group: Option<String>,
    /// Front-desk flag (repeatable)
    #[arg(long = "flag")]
    flags: Vec<String>,
    /// Allergy as SUBSTANCE[:SEVERITY[:REACTION]] (repeatable); severity mild|moderate|severe|life_threatening
    #[arg(long = "allergy")]
    allergies: Vec<String>,
    /// Further details as a JSON file: {"insurances": [...], "emergency_contacts": [...], "consents": [...], ...}
    #[arg(long)]
    details_file: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum PatientCmd {
    /// Register a patient; prints the record with its id and patient_number
    Add(PatientFields),
    /// Change a patient (only the given fields; an empty value clears an optional field)
    Edit {
        /// Patient id or patient number
        patient: String,
        #[command(flatten)]
        fields: PatientFields,
        /// Remove a list item (allergy, insurance, ...) by its id (repeatable)
        #[arg(long = "remove-item")]
        remove: Vec<uuid::Uuid>,
        /// Remove one front-desk flag (repeatable; --flag adds one)
        #[arg(long = "remove-flag")]
        remove_flags: Vec<String>,
        /// Remove all front-desk flags (before adding any --flag)
        #[arg(long)]
        clear_flags: bool,
    },
    /// Show a patient's record (audited)
    Show { patient: String },
    /// Search as you type: name, phone, date of birth, patient number, national id
    Search {
        text: String,
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Possible duplicates of a person before registering them
    Duplicates(PatientFields),
    /// Archive a patient (soft delete; kept for retention)
    Archive {
        patient: String,
        /// Why (kept with the record, e.g. "registered twice")
        #[arg(long)]
        reason: String,
    },
    /// Bring back a patient archived by mistake
    Restore { patient: String },
    /// Merge a duplicate record into the one to keep
    Merge {
        #[arg(long)]
        keep: String,
        #[arg(long)]
        duplicate: String,
    },
}

#[derive(Subcommand, Debug)]
enum AuditCmd {
    /// Verify the hash chain; exits non-zero naming the first bad event
    Verify,
    /// Recent audit events (admin)
    Log {
        #[arg(long)]
        patient: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
}

#[derive(Subcommand, Debug)]
enum KeyCmd {
    /// Re-wrap the database key under CLINIC_NEW_PASSPHRASE (unlock with CLINIC_PASSPHRASE or the keychain)
    ChangePassphrase,
    /// Link (or re-link) the store to the OS keychain
    LinkKeychain,
}

/// `X pdf ID --out FILE` of a printed record.
#[derive(Subcommand, Debug)]
enum PdfCmd {
    /// The record as printed
    Pdf {
        /// Its id or number
        id: String,
        #[arg(long)]
        out: PathBuf,
    },
}

fn parse_size(s: &str) -> ClinicResult<DemoSize> {
    DemoSize::parse(s).ok_or_else(|| ClinicError::field("size", "must be S, L or XL"))
}
/// `--date` as clap reads it.
fn date_arg(s: &str) -> ClinicResult<NaiveDate> {
    clinic_client::input::parse_date("date", s)
}
fn parse_sex(s: &str) -> ClinicResult<SexAtBirth> {
    serde_json::from_value(serde_json::Value::String(s.to_lowercase()))
        .map_err(|_| ClinicError::field("sex", "use female, male, intersex or unknown"))
}

fn env_secret(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|s| !s.is_empty())
}

#[derive(Subcommand, Debug)]
enum EnrollmentCmd {
    /// Move this workstation to another address of its sync server, or pin
    /// the server's key again (an administrator; waiting changes are kept)
    SetServer {
        /// The server's address, e.g. https://clinic-server:8480
        url: String,
        /// The server's key (SHA256:…, from `sync-server tls fingerprint`);
        /// without it the server's certificate must be trusted by this
        /// computer's certificate authorities
        #[arg(long)]
        fingerprint: Option<String>,
    },
}

fn require_env(name: &str, what: &str) -> ClinicResult<String> {
    env_secret(name).ok_or_else(|| {
        ClinicError::new(
            ErrorCode::Validation,
            format!("Set {name} to {what} (secrets are never taken from the command line)."),
        )
    })
}

fn parse_allergy(s: &str) -> ClinicResult<NewAllergy> {
    let mut parts = s.splitn(3, ':');
    let substance = parts.next().unwrap_or_default().to_string();
    let severity = match parts.next().map(str::trim).filter(|x| !x.is_empty()) {
        None => Severity::Moderate,
        Some(x) => {
            serde_json::from_value(serde_json::Value::String(x.to_lowercase())).map_err(|_| {
                ClinicError::field(
                    "allergies.severity",
                    "use mild, moderate, severe or life_threatening",
                )
            })?
        }
    };
    Ok(NewAllergy {
        substance,
        reaction: parts.next().map(str::to_string),
        severity,
    })
}

impl PatientFields {
    fn national_id(&self) -> ClinicResult<(Option<NationalIdKind>, Option<String>)> {
        match &self.national_id {
            None => Ok((None, None)),
            Some(v) if v.trim().is_empty() => Ok((None, Some(String::new()))),
            Some(v) => {
                let (kind, value) = v.split_once(':').ok_or_else(|| {
                    ClinicError::field("national_id", "write it as KIND:VALUE, e.g. nhs:9434765919")
                })?;
                let kind = NationalIdKind::from_key(kind.trim()).ok_or_else(|| {
                    ClinicError::field(
                        "national_id_kind",
                        "use nhs, ca_sin, nl_bsn, se_personnummer, us_ssn or other",
                    )
                })?;
                Ok((Some(kind), Some(value.to_string())))
            }
        }
    }

    fn lists(&self) -> ClinicResult<NewLists> {
        let mut lists: NewLists = match &self.details_file {
            None => NewLists::default(),
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    ClinicError::field(
                        "details_file",
                        format!("cannot read {}: {e}", path.display()),
                    )
                })?;
                serde_json::from_str(&text).map_err(|e| {
                    ClinicError::field(
                        "details_file",
                        format!("is not valid patient details JSON: {e}"),
                    )
                })?
            }
        };
        for a in &self.allergies {
            lists.allergies.push(parse_allergy(a)?);
        }
        Ok(lists)
    }

    /// The details of a new patient: the fields given, applied to an empty record.
    fn details(&self) -> ClinicResult<PatientDetails> {
        let mut d = PatientDetails::default();
        self.patch(Vec::new(), Vec::new(), false)?.apply_to(&mut d);
        Ok(d)
    }

    fn patch(
        &self,
        remove_ids: Vec<uuid::Uuid>,
        remove_flags: Vec<String>,
        clear_flags: bool,
    ) -> ClinicResult<PatientPatch> {
        let (kind, nid) = self.national_id()?;
        Ok(PatientPatch {
            first_name: self.first_name.clone(),
            middle_name: self.middle_name.clone(),
            last_name: self.last_name.clone(),
            preferred_name: self.preferred_name.clone(),
            date_of_birth: self.dob,
            sex_at_birth: self.sex,
            gender: self.gender.clone(),
            phone: self.phone.clone(),
            alt_phone: self.alt_phone.clone(),
            email: self.email.clone(),
            address_line1: self.address_line1.clone(),
            address_line2: self.address_line2.clone(),
            city: self.city.clone(),
            state: self.state.clone(),
            postcode: self.postcode.clone(),
            country: self.country.clone(),
            national_id_kind: kind,
            national_id: nid,
            blood_group: self.blood_group.clone(),
            flags: clear_flags.then(Vec::new),
            add_flags: self.flags.clone(),
            remove_flags,
            add: self.lists()?,
            remove_ids,
            ..Default::default()
        })
    }
}

struct Ctx {
    dir: PathBuf,
    json: bool,
    user: Option<String>,
    keychain: Option<Keychain>,
}

impl Ctx {
    fn unlock(&self) -> ClinicResult<Unlock> {
        if let Some(p) = env_secret("CLINIC_PASSPHRASE") {
            return Ok(Unlock::Passphrase(Passphrase::for_unlock(p)));
        }
        match &self.keychain {
            Some(kc) => Ok(Unlock::Keychain(kc.clone())),
            None => Err(ClinicError::new(
                ErrorCode::KeyUnavailable,
                "Set CLINIC_PASSPHRASE to unlock the store (the OS keychain is switched off).",
            )),
        }
    }

    fn open(&self) -> ClinicResult<Workstation> {
        Workstation::open(&self.dir, &self.unlock()?, Arc::new(SystemClock))
    }

    /// Opens the store and signs in the acting user.
    fn signed_in(&self) -> ClinicResult<Workstation> {
        let email = self.user.clone().ok_or_else(|| {
            ClinicError::new(
                ErrorCode::Validation,
                "Say who is acting with --user EMAIL (or CLINIC_USER).",
            )
        })?;
        let password = Password::new(require_env(
            "CLINIC_PASSWORD",
            "the acting user's password",
        )?);
        let mut ws = self.open()?;
        ws.login(&email, &password)?;
        Ok(ws)
    }

    /// Prints one record with the changes to it that the server did not
    /// apply as made (`not_applied`: another desk's change came first; and
    /// `refused_here`: this desk's own, refused and not yet resolved), so
    /// nothing reported done is out of sight.
    fn print_record<T: Serialize>(
        &self,
        ws: &mut Workstation,
        id: uuid::Uuid,
        value: &T,
        human: impl FnOnce(&T) -> String,
    ) -> ClinicResult<()> {
        let notes = ws.not_applied(id)?;
        // This desk's own changes to it that the server refused, open.
        let refused: Vec<_> = ws
            .sync_conflicts()?
            .into_iter()
            .filter(|e| e.mutation.touches().contains(&id))
            .collect();
        let mut v = serde_json::to_value(value).map_err(ClinicError::internal)?;
        if let serde_json::Value::Object(o) = &mut v {
            o.insert(
                "not_applied".into(),
                serde_json::to_value(&notes).map_err(ClinicError::internal)?,
            );
            o.insert(
                "refused_here".into(),
                serde_json::to_value(&refused).map_err(ClinicError::internal)?,
            );
        }
        let text = if self.json {
            serde_json::to_string_pretty(&v).unwrap_or_default()
        } else {
            let mut lines = vec![human(value)];
            for n in &notes {
                lines.push(format!(
                    "Not applied: {} by {} at {}: {}\n  as made: {}",
                    n.what(),
                    n.user_name.as_deref().unwrap_or("an unknown user"),
                    n.made_at.format("%d %b %Y %H:%M UTC"),
                    n.message,
                    n.change
                ));
            }
            for e in &refused {
                lines.push(format!(
                    "Refused by the server (#{}, {}): {} — `clinic conflicts reapply {}` makes it again as you",
                    e.device_seq,
                    e.status,
                    e.message.as_deref().unwrap_or(""),
                    e.device_seq
                ));
            }
            lines.join("\n")
        };
        write_stdout(&text);
        Ok(())
    }

    fn print<T: Serialize>(&self, value: &T, human: impl FnOnce(&T) -> String) {
        let text = if self.json {
            serde_json::to_string_pretty(value).unwrap_or_default()
        } else {
            human(value)
        };
        write_stdout(&text);
    }
}

/// Prints a line; a closed pipe (`clinic … | head`) ends the output quietly.
fn write_stdout(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{text}").and_then(|()| out.flush()).is_err() {
        std::process::exit(0);
    }
}

fn default_data_dir() -> PathBuf {
    if let Some(x) = std::env::var_os("XDG_DATA_HOME") {
        return PathBuf::from(x).join("clinic");
    }
    std::env::var_os("HOME")
        .map(|h| PathBuf::from(h).join(".local/share/clinic"))
        .unwrap_or_else(|| PathBuf::from("clinic-data"))
}

fn patient_line(p: &Patient) -> String {
    format!(
        "{}  {}, {}  born {}  {}",
        p.patient_number,
        p.details.last_name,
        p.details.first_name,
        p.details
            .date_of_birth
            .map(|d| d.format("%d %b %Y").to_string())
            .unwrap_or_default(),
        p.details.phone.clone().unwrap_or_default()
    )
}

fn flag_words(f: &clinic_core::permissions::SensitiveFlag) -> &'static str {
    use clinic_core::permissions::SensitiveFlag::*;
    match f {
        SensitiveInfo => "sensitive information",
        FinancialData => "insurance and financial data",
        MedicalHistory => "medical history",
    }
}

/// The front-desk view of one patient.
fn patient_card(p: &Patient) -> String {
    let d = &p.details;
    let mut s = patient_line(p);
    let mut line = |label: &str, value: String| {
        if !value.trim().is_empty() {
            s.push_str(&format!("\n  {label:<12} {value}"));
        }
    };
    if let Some(into) = p.merged_into {
        let survivor = p
            .merged_into_number
            .clone()
            .unwrap_or_else(|| into.to_string());
        line(
            "MERGED",
            format!("into patient {survivor}; use that record"),
        );
    } else if p.archived_at.is_some() {
        line(
            "ARCHIVED",
            p.archived_at
                .map(|a| a.format("%d %b %Y").to_string())
                .unwrap_or_default(),
        );
    }
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    line("preferred", opt(&d.preferred_name));
    line("email", opt(&d.email));
    line("other phone", opt(&d.alt_phone));
    let address = clinic_core::patients::address_lines(d);
    line("address", address.join(", "));
    if let (Some(k), Some(v)) = (d.national_id_kind, &d.national_id) {
        line("national id", format!("{v} ({})", k.key()));
    }
    line("flags", d.flags.join("; "));
    line("blood group", opt(&d.blood_group));
    for a in &p.lists.allergies {
        let sev = serde_json::to_value(a.severity)
            .ok()
            .and_then(|v| v.as_str().map(|x| x.replace('_', " ")))
            .unwrap_or_default();
        line(
            "ALLERGY",
            format!(
                "{} ({sev}){}",
                a.substance,
                a.reaction
                    .as_ref()
                    .map(|r| format!(" - {r}"))
                    .unwrap_or_default()
            ),
        );
    }
    for c in &p.lists.conditions {
        line(
            "condition",
            format!(
                "{}{}",
                c.name,
                c.icd10
                    .as_ref()
                    .map(|x| format!(" [{x}]"))
                    .unwrap_or_default()
            ),
        );
    }
    for m in &p.lists.medications {
        line(
            "medication",
            [Some(m.name.clone()), m.dose.clone(), m.frequency.clone()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" "),
        );
    }
    for i in &p.lists.insurances {
        line(
            "insurance",
            format!(
                "{}{}{}",
                i.provider,
                i.policy_number
                    .as_ref()
                    .map(|x| format!(" policy {x}"))
                    .unwrap_or_default(),
                if i.is_primary { " (primary)" } else { "" }
            ),
        );
    }
    for e in &p.lists.emergency_contacts {
        line(
            "emergency",
            format!(
                "{}{} {}",
                e.name,
                e.relationship
                    .as_ref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default(),
                e.phone.clone().or(e.email.clone()).unwrap_or_default()
            ),
        );
    }
    if !p.redacted.is_empty() {
        line(
            "not shown",
            format!(
                "{} (not available to your role)",
                p.redacted
                    .iter()
                    .map(flag_words)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
    }
    line("id", p.id.to_string());
    s
}

fn run(cli: Cli) -> ClinicResult<()> {
    let keychain = Keychain::from_env(cli.no_keychain);
    let ctx = Ctx {
        dir: cli.data_dir.clone().unwrap_or_else(default_data_dir),
        json: cli.json,
        user: cli.user.clone(),
        keychain,
    };
    match cli.command {
        Command::Init(a) => {
            let passphrase = Passphrase::new(require_env("CLINIC_PASSPHRASE", "the store passphrase (recovery key; also unlocks the store where no OS keychain is usable)")?)?;
            let password =
                Password::new_checked(require_env("CLINIC_PASSWORD", "the new admin's password")?)?;
            let ws = Workstation::init(
                &ctx.dir,
                InitOptions {
                    tenant_name: a.tenant_name,
                    admin_email: a.admin_email,
                    admin_name: a.admin_name,
                    admin_password: password,
                    passphrase,
                    keychain: ctx.keychain.clone(),
                    site_name: a.site_name,
                    timezone: a.timezone,
                },
                Arc::new(SystemClock),
            )?;
            if let Some(w) = ws.keychain_warning() {
                eprintln!("note: {w}");
            }
            let info = ws.info()?;
            ctx.print(&info, |i| {
                format!(
                    "Created an encrypted workstation store for {} in {} (SQLCipher {}).",
                    i.tenant.name,
                    ctx.dir.display(),
                    i.cipher_version
                )
            });
        }
        Command::Enroll {
            server,
            fingerprint,
            tenant,
            device_name,
            totp,
            demo,
        } => {
            let email = ctx.user.clone().ok_or_else(|| ClinicError::new(ErrorCode::Validation, "Say who enrols the workstation with --user EMAIL (an administrator on the server)."))?;
            let password = Password::new(require_env(
                "CLINIC_PASSWORD",
                "your password on the sync server",
            )?);
            let passphrase = Passphrase::new(require_env(
                "CLINIC_PASSPHRASE",
                "the new store's passphrase (recovery key)",
            )?)?;
            let name = device_name.unwrap_or_else(|| {
                std::fs::read_to_string("/etc/hostname")
                    .map(|h| h.trim().to_string())
                    .ok()
                    .filter(|h| !h.is_empty())
                    .unwrap_or_else(|| "Workstation".into())
            });
            let pin = fingerprint.as_deref().map(KeyPin::parse).transpose()?;
            let (mut ws, e) = Workstation::enroll(
                &ctx.dir,
                &server,
                pin,
                &tenant,
                &email,
                &password,
                totp.as_deref(),
                &name,
                passphrase,
                ctx.keychain.clone(),
                Arc::new(SystemClock),
            )?;
            if let Some(w) = ws.keychain_warning() {
                eprintln!("note: {w}");
            }
            if demo {
                ws.allow_demo_data()?;
            }
            let shown = serde_json::json!({
                "tenant_id": e.tenant_id, "tenant_name": e.tenant_name, "site_id": e.site_id, "site_name": e.site_name,
                "device_id": e.device_id, "user_id": e.user_id, "number_blocks": e.number_blocks,
            });
            ctx.print(&shown, |_| {
                format!(
                    "Enrolled as device {} of {} ({}); data in {}.",
                    e.device_id,
                    e.tenant_name,
                    e.site_name,
                    ctx.dir.display()
                )
            });
        }
        Command::Enrollment {
            cmd: Some(EnrollmentCmd::SetServer { url, fingerprint }),
        } => {
            let pin = fingerprint.as_deref().map(KeyPin::parse).transpose()?;
            let mut ws = ctx.signed_in()?;
            let status = ws.set_server(&url, pin)?;
            ctx.print(&status, |s| {
                format!(
                    "This workstation now syncs with {}{}; {} change(s) waiting.",
                    s.server.as_deref().unwrap_or_default(),
                    pin.map(|p| format!(" (key {p})")).unwrap_or_default(),
                    s.pending
                )
            });
        }
        Command::Enrollment { cmd: None } => {
            let ws = ctx.open()?;
            let id = ws.check_enrollment()?;
            ctx.print(&id, |i| {
                format!(
                    "Enrolled: device {} of tenant {} at site {}.",
                    i.device_id, i.tenant_id, i.site_id
                )
            });
        }
        Command::Login => {
            let ws = ctx.signed_in()?;
            let s = ws
                .session()
                .ok_or_else(|| ClinicError::internal("no session"))?;
            ctx.print(s, |s| {
                format!(
                    "Signed in as {} ({}), roles: {}",
                    s.name,
                    s.email,
                    s.roles.join(", ")
                )
            });
        }
        Command::Info => {
            let ws = ctx.open()?;
            ctx.print(&ws.info()?, |i| {
                format!(
                    "{} — {} patients, {} users, {} audit events, schema {}, SQLCipher {}",
                    i.tenant.name,
                    i.patients,
                    i.users,
                    i.audit_events,
                    i.schema_version,
                    i.cipher_version
                )
            });
        }
        Command::Device(cmd) => {
            let mut ws = ctx.signed_in()?;
            let password = Password::new(require_env(
                "CLINIC_PASSWORD",
                "your password (the server checks it)",
            )?);
            let rows = match &cmd {
                DeviceCmd::List { totp } => {
                    ws.directory().server_devices(&password, totp.as_deref())?
                }
                DeviceCmd::Revoke { id, totp } => {
                    ws.directory()
                        .revoke_device(*id, &password, totp.as_deref())?
                }
            };
            ctx.print(&rows, |rows| {
                rows.iter()
                    .map(|d| {
                        format!(
                            "{}  {:<24} {:<16} {}{}",
                            d.id,
                            d.name,
                            d.site_name,
                            d.revoked_at.map_or("active".to_string(), |t| format!(
                                "revoked {}",
                                t.format("%Y-%m-%d %H:%M")
                            )),
                            if d.this_device {
                                "  (this computer)"
                            } else {
                                ""
                            }
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        Command::Password(cmd) => {
            let mut ws = ctx.signed_in()?;
            let new = Password::new(require_env("CLINIC_NEW_PASSWORD", "the new password")?);
            match cmd {
                PasswordCmd::Change => {
                    let current =
                        Password::new(require_env("CLINIC_PASSWORD", "your current password")?);
                    ws.change_password(&current, new)?;
                    ctx.print(&serde_json::json!({"changed": true}), |_| {
                        "Password changed; it reaches every desk and the server with the next sync."
                            .into()
                    });
                }
                PasswordCmd::Reset { email } => {
                    let u = ws.directory().reset_password(&email, new)?;
                    ctx.print(&u, |u| {
                        format!(
                            "{}'s password was reset; they choose a new one at their next sign-in.",
                            u.email
                        )
                    });
                }
            }
        }
        Command::User(cmd) => {
            let mut ws = ctx.signed_in()?;
            match cmd {
                UserCmd::Add {
                    email,
                    name,
                    role,
                    specialization,
                    registration_number,
                } => {
                    let password = Password::new_checked(require_env(
                        "CLINIC_NEW_PASSWORD",
                        "the new user's password",
                    )?)?;
                    let profile =
                        (specialization.is_some() || registration_number.is_some()).then(|| {
                            ClinicianProfile {
                                specialization,
                                registration_number,
                                ..Default::default()
                            }
                        });
                    let u = ws
                        .directory()
                        .add_user(&email, &name, &role, &password, profile)?;
                    ctx.print(&u, |u| {
                        format!("Added {} <{}> as {}", u.name, u.email, u.roles.join(", "))
                    });
                }
                UserCmd::List => {
                    let users = ws.directory().list_users()?;
                    ctx.print(&users, |us| {
                        us.iter()
                            .map(|u| {
                                format!(
                                    "{:<32} {:<28} {:<14} {}",
                                    u.email,
                                    u.name,
                                    u.roles.join(","),
                                    u.status
                                )
                            })
                            .collect::<Vec<_>>()
                            .join("\n")
                    });
                }
                UserCmd::Disable { email } => {
                    let u = ws.directory().set_user_disabled(&email, true)?;
                    ctx.print(&u, |u| format!("Disabled {}", u.email));
                }
                UserCmd::Enable { email } => {
                    let u = ws.directory().set_user_disabled(&email, false)?;
                    ctx.print(&u, |u| format!("Enabled {}", u.email));
                }
                UserCmd::Roles { email, roles } => {
                    let roles: Vec<String> = roles
                        .split(',')
                        .map(|r| r.trim().to_string())
                        .filter(|r| !r.is_empty())
                        .collect();
                    let u = ws.directory().set_user_roles(&email, &roles)?;
                    ctx.print(&u, |u| {
                        format!("{} now has: {}", u.email, u.roles.join(", "))
                    });
                }
                UserCmd::Rename { email, name } => {
                    let u = ws.directory().rename_user(&email, &name)?;
                    ctx.print(&u, |u| format!("{} is now {}", u.email, u.name));
                }
            }
        }
        Command::Role(RoleCmd::Create {
            key,
            name,
            like,
            permissions,
        }) => {
            let mut ws = ctx.signed_in()?;
            let matrix = match (like, permissions) {
                (Some(like), None) => ws
                    .directory()
                    .list_roles()?
                    .into_iter()
                    .find(|r| r.key == like.trim())
                    .map(|r| r.permissions)
                    .ok_or_else(|| {
                        ClinicError::field("like", format!("there is no role {like}"))
                    })?,
                (None, Some(json)) => serde_json::from_str(&json).map_err(|e| {
                    ClinicError::field("permissions", format!("is not a permission matrix: {e}"))
                })?,
                _ => {
                    return Err(ClinicError::field(
                        "like",
                        "give either --like ROLE or --permissions JSON",
                    ))
                }
            };
            let r = ws.directory().create_role(&key, &name, matrix)?;
            ctx.print(&r, |r| format!("Added the role {} ({})", r.key, r.name));
        }
        Command::Role(RoleCmd::List) => {
            let mut ws = ctx.signed_in()?;
            let roles = ws.directory().list_roles()?;
            ctx.print(&roles, |rs| {
                rs.iter()
                    .map(|r| format!("{:<14} {}", r.key, r.name))
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        Command::Patient(cmd) => {
            let mut ws = ctx.signed_in()?;
            match *cmd {
                PatientCmd::Add(f) => {
                    let r = ws.patients().register(f.details()?, f.lists()?)?;
                    if !r.duplicate_candidates.is_empty() && !ctx.json {
                        eprintln!(
                            "warning: {} possible duplicate(s) of this patient exist:",
                            r.duplicate_candidates.len()
                        );
                        for c in &r.duplicate_candidates {
                            eprintln!(
                                "  {} {}, {} ({})",
                                c.patient_number,
                                c.last_name,
                                c.first_name,
                                c.reasons.join("; ")
                            );
                        }
                    }
                    ctx.print(&r, |r| format!("Registered {}", patient_card(&r.patient)));
                }
                PatientCmd::Edit {
                    patient,
                    fields,
                    remove,
                    remove_flags,
                    clear_flags,
                } => {
                    let id = ws.patients().resolve(&patient)?;
                    let p = ws
                        .patients()
                        .edit(id, fields.patch(remove, remove_flags, clear_flags)?)?;
                    ctx.print(&p, |p| format!("Updated {}", patient_card(p)));
                }
                PatientCmd::Show { patient } => {
                    let id = ws.patients().resolve(&patient)?;
                    let p = ws.patients().show(id)?;
                    ctx.print_record(&mut ws, id, &p, patient_card)?;
                }
                PatientCmd::Search { text, limit } => {
                    let hits = ws.patients().search(&text, limit)?;
                    ctx.print(&hits, |hs| {
                        if hs.is_empty() {
                            return "No patients found.".into();
                        }
                        hs.iter()
                            .map(|h| {
                                format!(
                                    "{}  {}, {}  born {}  {}",
                                    h.patient_number,
                                    h.last_name,
                                    h.first_name,
                                    h.date_of_birth
                                        .map(|d| d.format("%d %b %Y").to_string())
                                        .unwrap_or_default(),
                                    h.phone.clone().unwrap_or_default()
                                )
                            })
                            .collect::<Vec<_>>()
                            .join("\n")
                    });
                }
                PatientCmd::Duplicates(f) => {
                    let c = ws.patients().find_duplicates(&f.details()?)?;
                    ctx.print(&c, |cs| {
                        if cs.is_empty() {
                            "No likely duplicates.".into()
                        } else {
                            cs.iter()
                                .map(|c| {
                                    format!(
                                        "{} {}, {} ({})",
                                        c.patient_number,
                                        c.last_name,
                                        c.first_name,
                                        c.reasons.join("; ")
                                    )
                                })
                                .collect::<Vec<_>>()
                                .join("\n")
                        }
                    });
                }
                PatientCmd::Archive { patient, reason } => {
                    let id = ws.patients().resolve(&patient)?;
                    ws.patients().archive(id, &reason)?;
                    ctx.print(&serde_json::json!({"id": id, "archived": true}), |_| {
                        "Archived. The record is kept; `clinic patient restore` brings it back."
                            .into()
                    });
                }
                PatientCmd::Restore { patient } => {
                    let id = ws.patients().resolve(&patient)?;
                    let p = ws.patients().restore(id)?;
                    ctx.print(&p, |p| format!("Restored {}", patient_card(p)));
                }
                PatientCmd::Merge { keep, duplicate } => {
                    let keep = ws.patients().resolve(&keep)?;
                    let dup = ws.patients().resolve(&duplicate)?;
                    let p = ws.patients().merge(keep, dup)?;
                    ctx.print(&p, |p| format!("Merged into {}", patient_card(p)));
                }
            }
        }
        Command::Audit(AuditCmd::Verify) => {
            let ws = ctx.open()?;
            match ws.verify_audit()? {
                Ok(n) => ctx.print(&serde_json::json!({"ok": true, "events": n}), |_| {
                    format!("Audit chain intact: {n} events verified.")
                }),
                Err(b) => {
                    if ctx.json {
                        write_stdout(&serde_json::json!({"ok": false, "break": b}).to_string());
                    }
                    return Err(ClinicError::new(
                        ErrorCode::AuditChainBroken,
                        format!(
                            "Audit chain broken at event {}{}: {}",
                            b.seq,
                            b.event_id.map(|i| format!(" ({i})")).unwrap_or_default(),
                            b.reason
                        ),
                    ));
                }
            }
        }
        Command::Audit(AuditCmd::Log { patient, limit }) => {
            let mut ws = ctx.signed_in()?;
            let pid = patient.map(|p| ws.patients().resolve(&p)).transpose()?;
            let events = ws.audit_log(pid, limit)?;
            ctx.print(&events, |es| {
                es.iter()
                    .map(|e| {
                        format!(
                            "{} #{:<6} {:<22} {} {}",
                            e.at.format("%Y-%m-%d %H:%M:%S"),
                            e.seq,
                            e.action,
                            e.entity_type,
                            e.entity_id.map(|i| i.to_string()).unwrap_or_default()
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        Command::Key(cmd) => {
            // Key changes need a signed-in administrator and the current passphrase.
            let current = Passphrase::for_unlock(require_env(
                "CLINIC_PASSPHRASE",
                "the current store passphrase",
            )?);
            let mut ws = ctx.signed_in()?;
            match cmd {
                KeyCmd::ChangePassphrase => {
                    let new = Passphrase::new(require_env(
                        "CLINIC_NEW_PASSPHRASE",
                        "the new store passphrase",
                    )?)?;
                    ws.change_passphrase(&current, &new)?;
                    ctx.print(&serde_json::json!({"ok": true}), |_| {
                        "Passphrase changed; the old one no longer opens this store.".into()
                    });
                }
                KeyCmd::LinkKeychain => {
                    let kc = ctx.keychain.clone().ok_or_else(|| ClinicError::new(ErrorCode::KeyUnavailable, "The OS keychain is switched off (--no-keychain / CLINIC_KEYCHAIN=off)."))?;
                    ws.link_keychain(&current, &kc)?;
                    ctx.print(&serde_json::json!({"ok": true}), |_| {
                        "The store is now unlocked through the OS keychain.".into()
                    });
                }
            }
        }
        Command::Backup { out } => {
            let passphrase = Passphrase::for_unlock(require_env(
                "CLINIC_PASSPHRASE",
                "the store passphrase (a backup opens only with it)",
            )?);
            let mut ws = ctx.signed_in()?;
            ws.backup(&out, &passphrase)?;
            ctx.print(&serde_json::json!({"ok": true, "out": out}), |_| format!("Backup written to {} (encrypted; restore by copying both files into an empty data folder).", out.display()));
        }
        Command::Sync { cmd: None } => {
            let mut ws = ctx.open()?;
            let json = ctx.json;
            let report = ws.sync_now(&mut |cursor, head| {
                if !json && head > 0 {
                    eprintln!("  {cursor} of {head} changes");
                }
            })?;
            ctx.print(&report, |r| {
                format!(
                    "Synced: {} of this workstation's changes answered, {} received; {} pending, {} conflict(s) open.",
                    r.pushed, r.pulled, r.pending, r.problems
                )
            });
        }
        Command::Sync {
            cmd: Some(SyncCmd::Status),
        } => {
            let ws = ctx.open()?;
            ctx.print(&ws.sync_status(true)?, |s| {
                if !s.enrolled {
                    return "This workstation works on its own (not enrolled with a sync server)."
                        .into();
                }
                format!(
                    "{}; {} change(s) waiting{}; last synced {}; {} conflict(s) open{}",
                    if s.online { "Online" } else { "Offline" },
                    s.pending,
                    s.oldest_pending_age_seconds
                        .map(|a| format!(" (oldest {a} s)"))
                        .unwrap_or_default(),
                    s.last_success
                        .map(|t| t.to_rfc3339())
                        .unwrap_or_else(|| "never".into()),
                    s.open_conflicts,
                    s.last_error
                        .as_ref()
                        .map(|e| format!("; last problem: {e}"))
                        .unwrap_or_default()
                )
            });
        }
        Command::Sync {
            cmd: Some(SyncCmd::Verify),
        } => {
            let mut ws = ctx.open()?;
            ctx.print(&ws.verify_sync()?, |r| {
                if r.differing_buckets.is_empty() {
                    "The local copy equals the server's.".into()
                } else {
                    format!(
                        "{} of {} buckets differed; {} record(s) fetched again; {} only here.",
                        r.differing_buckets.len(),
                        r.buckets,
                        r.repaired,
                        r.local_only
                    )
                }
            });
        }
        Command::Sync {
            cmd: Some(SyncCmd::Watch),
        } => {
            let ws = ctx.open()?;
            let _live = ws.start_live_sync(ctx.unlock()?)?;
            eprintln!("Syncing live; stop with Ctrl-C.");
            loop {
                std::thread::sleep(std::time::Duration::from_secs(10));
                let s = ws.sync_status(false)?;
                eprintln!(
                    "{} pending, {} conflict(s), feed position {}",
                    s.pending, s.open_conflicts, s.cursor
                );
            }
        }
        Command::Conflicts(cmd) => {
            let mut ws = ctx.signed_in()?;
            match cmd {
                ConflictsCmd::List => {
                    let list = ws.sync_conflicts()?;
                    let mut all = scheduling::booking_conflicts_json(&mut ws)?;
                    let mut lines = scheduling::booking_conflict_lines(&mut ws)?;
                    for e in &list {
                        all.push(serde_json::to_value(e).unwrap_or_default());
                        lines.push(format!(
                            "#{} {} {} by the server: {}",
                            e.device_seq,
                            e.kind.replace('_', " "),
                            e.status,
                            e.message.clone().unwrap_or_default()
                        ));
                    }
                    ctx.print(&all, |_| {
                        if lines.is_empty() {
                            "No open conflicts.".into()
                        } else {
                            lines.join("\n")
                        }
                    });
                }
                ConflictsCmd::Resolve {
                    which,
                    accept,
                    cancel,
                    move_to,
                } => {
                    if let Ok(id) = uuid::Uuid::parse_str(which.trim()) {
                        scheduling::resolve_booking(&ctx, &mut ws, id, accept, cancel, move_to)?;
                    } else {
                        let number: i64 =
                            which.trim().trim_start_matches('#').parse().map_err(|_| {
                                ClinicError::field(
                                    "which",
                                    "is a conflict number (#N) or an appointment id",
                                )
                            })?;
                        ws.resolve_sync_conflict(number)?;
                        ctx.print(&serde_json::json!({"resolved": number}), |_| {
                            format!("Conflict #{number} marked as resolved.")
                        });
                    }
                }
                ConflictsCmd::Reapply { number } => {
                    let n: i64 =
                        number.trim().trim_start_matches('#').parse().map_err(|_| {
                            ClinicError::field("number", "is a conflict number (#N)")
                        })?;
                    let e = ws.reapply_sync_problem(n)?;
                    ctx.print(&serde_json::json!({"reapplied": n, "kind": e.kind}), |_| {
                        format!(
                            "Change #{n} ({}) made again under your name; it syncs with the next push.",
                            e.kind.replace('_', " ")
                        )
                    });
                }
            }
        }
        Command::Appointment(cmd) => scheduling::appointment(&ctx, *cmd)?,
        Command::Slots {
            clinician,
            minutes,
            from,
            days,
            count,
        } => scheduling::slots(&ctx, &clinician, minutes, from, days, count)?,
        Command::Dayplan {
            date,
            clinician,
            pdf,
        } => scheduling::dayplan(&ctx, date, clinician, pdf)?,
        Command::Calendar(cmd) => scheduling::calendar(&ctx, cmd)?,
        Command::Availability(cmd) => scheduling::availability(&ctx, cmd)?,
        Command::Waitlist(cmd) => scheduling::waitlist(&ctx, cmd)?,
        Command::Encounter(cmd) => clinical::encounter(&ctx, *cmd)?,
        Command::Chart { patient } => clinical::chart(&ctx, &patient)?,
        Command::Prescription(cmd) => clinical::prescription(&ctx, *cmd)?,
        Command::Price(cmd) => billing::price(&ctx, *cmd)?,
        Command::Invoice(cmd) => billing::invoice(&ctx, *cmd)?,
        Command::Payment(cmd) => billing::payment(&ctx, *cmd)?,
        Command::Receipt(PdfCmd::Pdf { id, out }) => billing::receipt_pdf(&ctx, &id, &out)?,
        Command::CreditNote(PdfCmd::Pdf { id, out }) => billing::credit_note_pdf(&ctx, &id, &out)?,
        Command::Balance { patient } => billing::balance(&ctx, patient)?,
        Command::Settings(a) => billing::settings(&ctx, *a)?,
        Command::Claim(cmd) => accounts::claim(&ctx, *cmd)?,
        Command::Eligibility(cmd) => accounts::eligibility(&ctx, *cmd)?,
        Command::Plan(cmd) => accounts::plan(&ctx, *cmd)?,
        Command::Period(cmd) => accounts::period(&ctx, *cmd)?,
        Command::Ageing => accounts::ageing(&ctx)?,
        Command::Discount(cmd) => accounts::discount(&ctx, *cmd)?,
        Command::Cashup {
            date,
            counted,
            reason,
        } => accounts::cashup(&ctx, date, &counted, reason.as_deref())?,
        Command::Stock(cmd) => inventory::stock(&ctx, *cmd)?,
        Command::Po(cmd) => inventory::po(&ctx, *cmd)?,
        Command::Stocktake(cmd) => inventory::stocktake(&ctx, *cmd)?,
        Command::DemoData { size, seed } => {
            let password = Password::new(
                env_secret("CLINIC_PASSWORD").unwrap_or_else(|| "clinic-demo-password".into()),
            );
            let mut ws = if clinic_store::Store::exists(&ctx.dir) {
                ctx.open()?
            } else {
                let passphrase =
                    Passphrase::new(require_env("CLINIC_PASSPHRASE", "the store passphrase")?)?;
                Workstation::create_empty(
                    &ctx.dir,
                    "Demo Clinic",
                    passphrase,
                    ctx.keychain.clone(),
                    Arc::new(SystemClock),
                )?
            };
            let json = ctx.json;
            let report = demo::generate(&mut ws, size, seed, &password, |done, total| {
                if !json && total >= 100_000 {
                    eprintln!("  {done}/{total} patients");
                }
            })?;
            ctx.print(&report, |r| format!("Demo clinic ready: {} patients, {} users (password: CLINIC_PASSWORD or clinic-demo-password) in {:.1} s", r.patients, r.users, r.seconds));
        }
    }
    Ok(())
}

fn exit_code(code: ErrorCode) -> u8 {
    match code {
        ErrorCode::Validation => 3,
        ErrorCode::NotFound => 4,
        ErrorCode::Forbidden
        | ErrorCode::InvalidCredentials
        | ErrorCode::AccountLocked
        | ErrorCode::RateLimited
        | ErrorCode::SessionLocked
        | ErrorCode::MfaRequired
        | ErrorCode::PasswordChangeRequired
        | ErrorCode::CredentialExpired => 5,
        ErrorCode::WrongKey
        | ErrorCode::KeyUnavailable
        | ErrorCode::KeychainMismatch
        | ErrorCode::StoreMissing
        | ErrorCode::StoreExists
        | ErrorCode::StoreCorrupt
        | ErrorCode::SchemaTooNew
        | ErrorCode::UpdateRequired => 6,
        ErrorCode::Conflict
        | ErrorCode::NumbersExhausted
        | ErrorCode::ConfirmationNeeded
        | ErrorCode::SafetyWarning
        | ErrorCode::AlreadyIssued
        | ErrorCode::OverRefund
        | ErrorCode::PeriodClosed => 7,
        ErrorCode::AuditChainBroken | ErrorCode::SignatureMismatch => 8,
        ErrorCode::Unreachable => 9,
        ErrorCode::Internal => 1,
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.json;
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if json {
                eprintln!("{}", serde_json::json!({"error": e}));
            } else {
                eprintln!("error: {}", e.message);
                for f in &e.fields {
                    eprintln!("  {}: {}", f.field, f.message);
                }
            }
            ExitCode::from(exit_code(e.code))
        }
    }
}
