//! Deterministic demo and benchmark data (`performance.md` sizes), generated
//! from a seed so every run and every machine sees the same clinic.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;
use clinic_core::patients::nhs_check_digit;
use clinic_core::patients::{
    NewAllergy, NewEmergencyContact, NewLists, PatientDetails, Severity, SexAtBirth,
};
use clinic_core::permissions::BuiltinRole;
use clinic_core::scheduling::{
    default_types, local_to_utc, parse_tz, utc_to_local, Appointment, AppointmentMode,
    AppointmentStatus, AppointmentType,
};
use clinic_core::{ClinicError, ClinicResult};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// SplitMix64: tiny, fast, and stable forever (unlike a library RNG whose
/// stream may change between versions, which would change the benchmark data).
#[derive(Debug, Clone)]
pub struct DemoRng(u64);

impl DemoRng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }
    /// An independent stream for item `index` of a seeded data set.
    pub fn for_item(seed: u64, stream: u64, index: u64) -> Self {
        let mut r = Self(seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        r.0 ^= r
            .next_u64()
            .wrapping_add(index.wrapping_mul(0xD1B5_4A32_D192_ED03));
        r
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DemoSize {
    S,
    L,
    XL,
}

impl DemoSize {
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_uppercase().as_str() {
            "S" => Some(DemoSize::S),
            "L" => Some(DemoSize::L),
            "XL" => Some(DemoSize::XL),
            _ => None,
        }
    }
    /// Patients at this size (`performance.md`).
    pub fn patients(self) -> u64 {
        match self {
            DemoSize::S => 10_000,
            DemoSize::L => 100_000,
            DemoSize::XL => 1_000_000,
        }
    }
    /// Appointments at this size (`performance.md`; XL is for search only).
    pub fn appointments(self) -> u64 {
        match self {
            DemoSize::S => 100_000,
            DemoSize::L => 1_000_000,
            DemoSize::XL => 0,
        }
    }
    pub fn clinicians(self) -> u64 {
        20
    }
    pub fn sites(self) -> u64 {
        2
    }
}

pub const FEMALE_NAMES: &[&str] = &[
    "Olivia",
    "Amelia",
    "Isla",
    "Ava",
    "Mia",
    "Ivy",
    "Lily",
    "Isabella",
    "Rosie",
    "Sophia",
    "Grace",
    "Willow",
    "Freya",
    "Florence",
    "Emily",
    "Ella",
    "Poppy",
    "Evie",
    "Elsie",
    "Charlotte",
    "Evelyn",
    "Sienna",
    "Sofia",
    "Daisy",
    "Phoebe",
    "Sophie",
    "Alice",
    "Harper",
    "Matilda",
    "Ruby",
    "Emilia",
    "Maya",
    "Millie",
    "Isabelle",
    "Eva",
    "Luna",
    "Jessica",
    "Aria",
    "Scarlett",
    "Chloe",
    "Maria",
    "Anna",
    "Fatima",
    "Aisha",
    "Zara",
    "Priya",
    "Ananya",
    "Mei",
    "Yuki",
    "Hannah",
    "Sarah",
    "Laura",
    "Rachel",
    "Rebecca",
    "Claire",
    "Joanna",
    "Katarzyna",
    "Agnieszka",
    "Ioana",
    "Elena",
    "Lucia",
    "Carmen",
    "Ines",
    "Beatriz",
    "Chiara",
    "Giulia",
    "Ingrid",
    "Astrid",
    "Niamh",
    "Siobhan",
    "Margaret",
    "Patricia",
    "Jennifer",
    "Linda",
    "Barbara",
    "Susan",
    "Dorothy",
    "Nkechi",
    "Amara",
    "Chiamaka",
];

pub const MALE_NAMES: &[&str] = &[
    "Oliver",
    "George",
    "Noah",
    "Arthur",
    "Leo",
    "Muhammad",
    "Harry",
    "Oscar",
    "Archie",
    "Henry",
    "Theodore",
    "Freddie",
    "Jack",
    "Charlie",
    "Theo",
    "Alfie",
    "Jacob",
    "Thomas",
    "Finley",
    "Arlo",
    "William",
    "Lucas",
    "Roman",
    "Tommy",
    "Isaac",
    "Teddy",
    "Alexander",
    "Luca",
    "Edward",
    "James",
    "Joshua",
    "Albie",
    "Elijah",
    "Max",
    "Mohammed",
    "Reggie",
    "Hudson",
    "Daniel",
    "Michael",
    "David",
    "John",
    "Jonathan",
    "Robert",
    "Richard",
    "Christopher",
    "Matthew",
    "Andrew",
    "Stephen",
    "Paul",
    "Mark",
    "Ahmed",
    "Omar",
    "Yusuf",
    "Ravi",
    "Arjun",
    "Wei",
    "Hiroshi",
    "Piotr",
    "Tomasz",
    "Andrei",
    "Mateo",
    "Diego",
    "Javier",
    "Marco",
    "Giovanni",
    "Lars",
    "Erik",
    "Sean",
    "Ciaran",
    "Kwame",
    "Chinedu",
    "Emeka",
    "Samuel",
    "Benjamin",
    "Nathan",
    "Patrick",
    "Peter",
    "Simon",
    "Gareth",
    "Dylan",
];

pub const LAST_NAMES: &[&str] = &[
    "Smith",
    "Jones",
    "Taylor",
    "Brown",
    "Williams",
    "Wilson",
    "Johnson",
    "Davies",
    "Patel",
    "Robinson",
    "Wright",
    "Thompson",
    "Evans",
    "Walker",
    "White",
    "Roberts",
    "Green",
    "Hall",
    "Thomas",
    "Clarke",
    "Jackson",
    "Wood",
    "Harris",
    "Edwards",
    "Turner",
    "Martin",
    "Cooper",
    "Hill",
    "Ward",
    "Hughes",
    "Moore",
    "Clark",
    "King",
    "Harrison",
    "Lewis",
    "Baker",
    "Lee",
    "Allen",
    "Morris",
    "Khan",
    "Scott",
    "Watson",
    "Davis",
    "Parker",
    "James",
    "Bennett",
    "Young",
    "Phillips",
    "Richardson",
    "Mitchell",
    "Bailey",
    "Carter",
    "Cook",
    "Singh",
    "Shaw",
    "Bell",
    "Collins",
    "Morgan",
    "Kelly",
    "Begum",
    "Miller",
    "Cox",
    "Hussain",
    "Marshall",
    "Simpson",
    "Price",
    "Anderson",
    "Adams",
    "Wilkinson",
    "Ali",
    "Ahmed",
    "Foster",
    "Ellis",
    "Murphy",
    "Chapman",
    "Mason",
    "Gray",
    "Richards",
    "Webb",
    "Griffiths",
    "Hunt",
    "Palmer",
    "Campbell",
    "Holmes",
    "Mills",
    "Rogers",
    "Barnes",
    "Knight",
    "Matthews",
    "Barker",
    "Powell",
    "Stevens",
    "Kaur",
    "Fisher",
    "Butler",
    "Dixon",
    "Russell",
    "Harvey",
    "Pearson",
    "Graham",
    "Nowak",
    "Kowalski",
    "Wisniewski",
    "Popescu",
    "Ionescu",
    "Garcia",
    "Rodriguez",
    "Fernandez",
    "Lopez",
    "Martinez",
    "Rossi",
    "Russo",
    "Ferrari",
    "Esposito",
    "Bianchi",
    "Muller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Dubois",
    "Lefebvre",
    "Moreau",
    "Laurent",
    "Janssen",
    "DeVries",
    "VanDijk",
    "Jansen",
    "Andersson",
    "Johansson",
    "Nilsson",
    "Larsen",
    "Hansen",
    "Nielsen",
    "OBrien",
    "Byrne",
    "Ryan",
    "OConnor",
    "Walsh",
    "McCarthy",
    "Okafor",
    "Adeyemi",
    "Mensah",
    "Owusu",
    "Nguyen",
    "Tran",
    "Chen",
    "Wang",
    "Zhang",
    "Liu",
    "Tanaka",
    "Suzuki",
    "Sato",
    "Kim",
    "Park",
    "Sharma",
    "Gupta",
    "Das",
    "Rahman",
    "Chowdhury",
];

const STREETS: &[&str] = &[
    "High Street",
    "Station Road",
    "Main Street",
    "Park Road",
    "Church Road",
    "Church Street",
    "London Road",
    "Victoria Road",
    "Green Lane",
    "Manor Road",
    "Church Lane",
    "Park Avenue",
    "The Avenue",
    "The Crescent",
    "Queens Road",
    "New Road",
    "Grange Road",
    "Kings Road",
    "Alexandra Road",
    "Richmond Road",
    "Mill Lane",
    "Windsor Road",
    "York Road",
    "Albert Road",
];

const CITIES: &[(&str, &str)] = &[
    ("London", "SW1A"),
    ("Manchester", "M1"),
    ("Birmingham", "B1"),
    ("Leeds", "LS1"),
    ("Glasgow", "G1"),
    ("Bristol", "BS1"),
    ("Liverpool", "L1"),
    ("Sheffield", "S1"),
    ("Cardiff", "CF10"),
    ("Edinburgh", "EH1"),
    ("Nottingham", "NG1"),
    ("Leicester", "LE1"),
];

const ALLERGENS: &[(&str, &str)] = &[
    ("Penicillin", "rash"),
    ("Amoxicillin", "hives"),
    ("Peanuts", "anaphylaxis"),
    ("Latex", "contact dermatitis"),
    ("Aspirin", "wheezing"),
    ("Ibuprofen", "swelling"),
    ("Shellfish", "vomiting"),
    ("Sulfonamides", "rash"),
    ("Codeine", "nausea"),
    ("Eggs", "hives"),
    ("Bee stings", "swelling"),
    ("Iodine contrast", "flushing"),
];

fn nhs_number(rng: &mut DemoRng) -> String {
    loop {
        let body: Vec<u32> = (0..9)
            .map(|i| {
                if i == 0 {
                    4 + rng.below(6) as u32
                } else {
                    rng.below(10) as u32
                }
            })
            .collect();
        if let Some(c) = nhs_check_digit(&body) {
            return body
                .iter()
                .chain(std::iter::once(&c))
                .map(|d| char::from_digit(*d, 10).unwrap_or('0'))
                .collect();
        }
    }
}

/// Demo patient `index` as a stored record: validated as registration
/// validates it, list items given ids, and patient number `index + 1`. For
/// loading the demo clinic straight into a server.
pub fn demo_patient_record(
    seed: u64,
    index: u64,
    tenant: Uuid,
    at: DateTime<Utc>,
    mut new_id: impl FnMut() -> Uuid,
) -> ClinicResult<clinic_core::patients::Patient> {
    let today = at.date_naive();
    let (mut details, mut lists) = demo_patient(seed, index);
    clinic_core::patients::validate_details(&mut details, today)?;
    clinic_core::patients::validate_new_lists(&mut lists, today)?;
    let id = new_id();
    Ok(clinic_core::patients::Patient::registered(
        id,
        tenant,
        clinic_core::patients::format_patient_number(index + 1),
        details,
        lists.assign_ids(&mut new_id),
        at,
    ))
}

/// One demo patient, fully determined by `(seed, index)`.
pub fn demo_patient(seed: u64, index: u64) -> (PatientDetails, NewLists) {
    let mut r = DemoRng::for_item(seed, 1, index);
    let female = r.chance(51);
    let first = if female {
        *r.pick(FEMALE_NAMES)
    } else {
        *r.pick(MALE_NAMES)
    };
    let last = *r.pick(LAST_NAMES);
    let year = 1930 + r.below(95) as i32;
    let dob = NaiveDate::from_yo_opt(year, 1 + r.below(365) as u32).unwrap_or_default();
    let (city, area) = *r.pick(CITIES);
    let phone = format!("07{:03} {:06}", 700 + r.below(300), r.below(1_000_000));
    let email = r.chance(55).then(|| {
        format!(
            "{}.{}{}@example.com",
            first.to_lowercase(),
            last.to_lowercase(),
            r.below(100)
        )
    });
    let details = PatientDetails {
        first_name: first.to_string(),
        last_name: last.to_string(),
        middle_name: r
            .chance(20)
            .then(|| (*r.pick(if female { FEMALE_NAMES } else { MALE_NAMES })).to_string()),
        date_of_birth: Some(dob),
        sex_at_birth: Some(if female {
            SexAtBirth::Female
        } else {
            SexAtBirth::Male
        }),
        phone: Some(phone),
        email,
        address_line1: Some(format!("{} {}", 1 + r.below(200), r.pick(STREETS))),
        city: Some(city.to_string()),
        postcode: Some(format!(
            "{area} {}{}{}",
            r.below(10),
            (b'A' + r.below(26) as u8) as char,
            (b'A' + r.below(26) as u8) as char
        )),
        country: Some("GB".to_string()),
        national_id_kind: r
            .chance(70)
            .then_some(clinic_core::patients::NationalIdKind::Nhs),
        ..Default::default()
    };
    let mut details = details;
    if details.national_id_kind.is_some() {
        details.national_id = Some(nhs_number(&mut r));
    }
    let mut lists = NewLists::default();
    let n_allergies = if r.chance(30) { 1 + r.below(3) } else { 0 };
    for _ in 0..n_allergies {
        let (substance, reaction) = *r.pick(ALLERGENS);
        if lists.allergies.iter().any(|a| a.substance == substance) {
            continue;
        }
        let severity = *r.pick(&[
            Severity::Mild,
            Severity::Moderate,
            Severity::Severe,
            Severity::LifeThreatening,
        ]);
        lists.allergies.push(NewAllergy {
            substance: substance.into(),
            reaction: Some(reaction.into()),
            severity,
        });
    }
    if r.chance(40) {
        let names = if r.chance(50) {
            FEMALE_NAMES
        } else {
            MALE_NAMES
        };
        let name = format!("{} {}", r.pick(names), last);
        lists.emergency_contacts.push(NewEmergencyContact {
            name,
            relationship: Some(
                (*r.pick(&["spouse", "parent", "child", "sibling", "friend"])).to_string(),
            ),
            phone: Some(format!(
                "07{:03} {:06}",
                700 + r.below(300),
                r.below(1_000_000)
            )),
            email: None,
        });
    }
    (details, lists)
}

/// A demo staff member.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DemoUser {
    pub email: String,
    pub name: String,
    pub role: BuiltinRole,
    pub specialization: Option<String>,
    pub registration_number: Option<String>,
}

/// The demo clinic's staff: one admin, one manager, the size's clinicians,
/// four receptionists, a pharmacist and a billing clerk.
pub fn demo_users(seed: u64, size: DemoSize) -> Vec<DemoUser> {
    let specs = [
        "General practice",
        "Paediatrics",
        "Dermatology",
        "Cardiology",
        "Physiotherapy",
        "Dentistry",
        "Nursing",
    ];
    let mut out = vec![
        DemoUser {
            email: "admin@demo.clinic".into(),
            name: "Alex Admin".into(),
            role: BuiltinRole::Admin,
            specialization: None,
            registration_number: None,
        },
        DemoUser {
            email: "manager@demo.clinic".into(),
            name: "Morgan Manager".into(),
            role: BuiltinRole::Manager,
            specialization: None,
            registration_number: None,
        },
    ];
    for i in 0..size.clinicians() {
        let mut r = DemoRng::for_item(seed, 2, i);
        let first = if r.chance(50) {
            *r.pick(FEMALE_NAMES)
        } else {
            *r.pick(MALE_NAMES)
        };
        let last = *r.pick(LAST_NAMES);
        out.push(DemoUser {
            email: format!("clinician{:02}@demo.clinic", i + 1),
            name: format!("Dr {first} {last}"),
            role: BuiltinRole::Clinician,
            specialization: Some((*r.pick(&specs)).to_string()),
            registration_number: Some(format!("GMC{:07}", 1_000_000 + r.below(8_999_999))),
        });
    }
    for i in 0..4 {
        out.push(DemoUser {
            email: format!("reception{}@demo.clinic", i + 1),
            name: format!("Front Desk {}", i + 1),
            role: BuiltinRole::Receptionist,
            specialization: None,
            registration_number: None,
        });
    }
    out.push(DemoUser {
        email: "pharmacy@demo.clinic".into(),
        name: "Pat Pharmacist".into(),
        role: BuiltinRole::Pharmacist,
        specialization: None,
        registration_number: None,
    });
    out.push(DemoUser {
        email: "billing@demo.clinic".into(),
        name: "Bill Clerk".into(),
        role: BuiltinRole::BillingClerk,
        specialization: None,
        registration_number: None,
    });
    out
}

// ---- appointments ----

/// A site of the demo clinic, as the appointment generator sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoSite {
    pub id: Uuid,
    /// IANA zone name ("Europe/London"): working hours are its wall clock.
    pub timezone: String,
    /// Rooms of the site; each is given to one clinician working there.
    pub rooms: Vec<Uuid>,
}

/// What the demo appointments are made of: the clinic's records (the
/// caller's ids), the patients (`0..patients`, mapped to ids by the caller)
/// and the moment that separates the past from the future.
#[derive(Debug, Clone)]
pub struct DemoCalendar {
    pub tenant_id: Uuid,
    /// Clinician `i` works at site `i % sites.len()` (half at each of two).
    pub clinicians: Vec<Uuid>,
    pub sites: Vec<DemoSite>,
    /// How many patients there are to choose from (indexes `0..patients`).
    pub patients: u64,
    /// The clinic's appointment types; matched by name with
    /// [`default_types`] (ids and buffers come from here when found).
    pub types: Vec<AppointmentType>,
    pub booked_by: Option<Uuid>,
    /// Appointments ending before this are over (completed, cancelled, …);
    /// later ones are scheduled or confirmed.
    pub now: DateTime<Utc>,
}

/// Weeks of future appointments: the calendar is booked up to 8 weeks
/// ahead of `now`, and goes back from there as far as the size needs.
pub const DEMO_WEEKS_AHEAD: i64 = 8;
/// Working day of every demo clinician, site-local wall clock.
pub const DEMO_DAY: (u32, u32) = (9, 17);

/// (name, weight %, shortest, longest minutes) of the demo's appointments.
const DEMO_TYPE_MIX: &[(&str, u64, u32, u32)] = &[
    ("Consultation", 38, 15, 30),
    ("Follow-up", 25, 15, 20),
    ("Routine check-up", 12, 25, 35),
    ("Health check", 8, 30, 50),
    ("Procedure", 8, 30, 60),
    ("Emergency", 9, 20, 40),
];

const CANCEL_REASONS: &[&str] = &[
    "Patient unwell",
    "Patient asked to cancel",
    "Clinician unavailable",
    "Transport problems",
    "Booked in error",
    "Patient feeling better",
];

const DEMO_NOTES: &[&str] = &[
    "Review blood test results",
    "Bring current medication",
    "Interpreter needed (Polish)",
    "Wheelchair access",
    "Dressing change",
    "Discuss referral",
    "Fasting bloods",
    "Annual review",
];

/// The deterministic appointments of a size, newest day first (see
/// [`demo_appointments`]). An iterator: at size L they are a million, and
/// are written as they come.
#[derive(Debug)]
pub struct DemoAppointments<F> {
    seed: u64,
    cal: DemoCalendar,
    patient_id: F,
    zones: Vec<Tz>,
    /// Per site: its local date of the newest generated day.
    last_day: Vec<NaiveDate>,
    types: Vec<(AppointmentType, u64, u32, u32)>,
    /// Per patient: 1 + the day (counted back) of their latest appointment.
    patient_day: Vec<u32>,
    day: u32,
    left: u64,
    pending: std::vec::IntoIter<Appointment>,
}

/// The demo clinic's appointments at `size` (`size.appointments()` of them),
/// fully determined by `seed`, `cal` and `patient_id`.
///
/// Realistic and never overlapping, as the product's rules and the
/// server's exclusion constraints require: each clinician works at one site,
/// on weekdays 09:00–17:00 of the site's wall clock (DST-correct through
/// [`local_to_utc`]), with appointments one after another of 15–60 minutes
/// in 5-minute steps (by type, with the type's buffers kept clear), some
/// gaps and an occasional day off, about 14 a day. A patient has at most one
/// appointment a day, so never two at once; a room belongs to one clinician.
/// Appointments that ended before `now` are ~80 % completed, 8 % cancelled
/// (with a reason), 5 % no-shows and the rest rescheduled; one running at
/// `now` is in progress; later ones are scheduled or confirmed. About 7 % are
/// video calls (with a meeting link), 5 % by phone; in-person ones are in the
/// clinician's room when they have one.
///
/// **Deliberately not the spread of `performance.md`**, which puts the
/// appointments within two years: 1,000,000 appointments of 20 clinicians
/// over two years would be ~68 a clinician a day (~96 a working day), which
/// cannot be done without overlaps. Days are kept realistic instead, the
/// calendar is booked [`DEMO_WEEKS_AHEAD`] weeks ahead of `now`, and it
/// reaches back as far as the count needs: about 17 months at S (100,000),
/// about 14 years at L (1,000,000). The days are generated from the last one
/// backwards (the oldest day may be partly filled).
pub fn demo_appointments<F: Fn(u64) -> Uuid>(
    seed: u64,
    size: DemoSize,
    cal: DemoCalendar,
    patient_id: F,
) -> ClinicResult<DemoAppointments<F>> {
    let zones = cal
        .sites
        .iter()
        .map(|s| parse_tz(&s.timezone))
        .collect::<ClinicResult<Vec<Tz>>>()?;
    let last_day = zones
        .iter()
        .map(|tz| utc_to_local(*tz, cal.now).date() + Duration::weeks(DEMO_WEEKS_AHEAD))
        .collect();
    let mut n = 0u128;
    let defaults = default_types(|| {
        n += 1;
        Uuid::from_u128(n)
    });
    let types = DEMO_TYPE_MIX
        .iter()
        .map(|(name, weight, lo, hi)| {
            let t = match cal.types.iter().find(|t| t.name == *name) {
                Some(t) => t.clone(),
                None => {
                    let mut t = defaults
                        .iter()
                        .find(|t| t.name == *name)
                        .cloned()
                        .ok_or_else(|| ClinicError::internal("demo type missing"))?;
                    t.id = Uuid::nil();
                    t
                }
            };
            Ok((t, *weight, *lo, *hi))
        })
        .collect::<ClinicResult<Vec<_>>>()?;
    let empty = cal.clinicians.is_empty() || cal.sites.is_empty() || cal.patients == 0;
    Ok(DemoAppointments {
        seed,
        patient_day: vec![0; if empty { 0 } else { cal.patients as usize }],
        cal,
        patient_id,
        zones,
        last_day,
        types,
        day: 0,
        left: if empty { 0 } else { size.appointments() },
        pending: Vec::new().into_iter(),
    })
}

/// Days counted back before the generator gives up (patients too few).
const MAX_DEMO_DAYS: u32 = 40 * 366;

impl<F: Fn(u64) -> Uuid> DemoAppointments<F> {
    /// The appointments of day `self.day` (counted back from the last).
    fn fill_day(&mut self) -> Vec<Appointment> {
        let mut out = Vec::new();
        let d = self.day;
        let nsites = self.cal.sites.len();
        for (ci, clinician) in self.cal.clinicians.iter().enumerate() {
            let si = ci % nsites;
            let (site, tz) = (&self.cal.sites[si], self.zones[si]);
            let date = self.last_day[si] - Duration::days(d as i64);
            if date.weekday().number_from_monday() > 5 {
                continue;
            }
            let mut r = DemoRng::for_item(self.seed, 3, ((d as u64) << 16) | ci as u64);
            if r.chance(3) {
                continue; // a day off
            }
            let room = site.rooms.get(ci / nsites).copied();
            let day_start = local_to_utc(
                tz,
                date.and_time(NaiveTime::from_hms_opt(DEMO_DAY.0, 0, 0).unwrap_or_default()),
            );
            let day_len = (DEMO_DAY.1 - DEMO_DAY.0) * 60;
            // Minutes past 09:00 where the clinician is free again (after
            // the previous appointment's buffer).
            let mut free = 0u32;
            loop {
                if r.chance(18) {
                    free += 5 * (1 + r.below(6) as u32);
                }
                let mut pick = r.below(100);
                let (t, lo, hi) = self
                    .types
                    .iter()
                    .find(|(_, w, _, _)| {
                        let hit = pick < *w;
                        pick = pick.saturating_sub(*w);
                        hit
                    })
                    .map(|(t, _, lo, hi)| (t, *lo, *hi))
                    .unwrap_or((&self.types[0].0, 15, 30));
                let minutes = lo + 5 * r.below(((hi - lo) / 5 + 1) as u64) as u32;
                let offset = if free == 0 { 0 } else { free + t.buffer_before };
                if offset + minutes > day_len {
                    break;
                }
                free = offset + minutes + t.buffer_after;
                // One appointment a day per patient: never two at once.
                let mut patient = None;
                for _ in 0..20 {
                    let p = r.below(self.cal.patients);
                    if self.patient_day[p as usize] != d + 1 {
                        patient = Some(p);
                        break;
                    }
                }
                let Some(p) = patient else {
                    continue;
                };
                self.patient_day[p as usize] = d + 1;
                let start = day_start + Duration::minutes(offset as i64);
                let end = start + Duration::minutes(minutes as i64);
                let booked_ahead =
                    Duration::days(1 + r.below(42) as i64) + Duration::minutes(r.below(600) as i64);
                let created_at = (start - booked_ahead).min(self.cal.now);
                let created_at =
                    DateTime::from_timestamp(created_at.timestamp(), 0).unwrap_or(created_at);
                let mode = match r.below(100) {
                    0..=6 => AppointmentMode::Virtual,
                    7..=11 => AppointmentMode::Phone,
                    _ => AppointmentMode::InPerson,
                };
                let mut random = [0u8; 10];
                random[..8].copy_from_slice(&r.next_u64().to_le_bytes());
                random[8..].copy_from_slice(&r.next_u64().to_le_bytes()[..2]);
                let id = uuid::Builder::from_unix_timestamp_millis(
                    created_at.timestamp_millis().max(0) as u64,
                    &random,
                )
                .into_uuid();
                let mut a = Appointment {
                    id,
                    tenant_id: self.cal.tenant_id,
                    site_id: site.id,
                    patient_id: (self.patient_id)(p),
                    clinician_id: *clinician,
                    room_id: (mode == AppointmentMode::InPerson)
                        .then_some(room)
                        .flatten(),
                    type_id: (!t.id.is_nil()).then_some(t.id),
                    type_name: t.name.clone(),
                    start,
                    minutes,
                    buffer_before: t.buffer_before,
                    buffer_after: t.buffer_after,
                    timezone: site.timezone.clone(),
                    mode,
                    meeting_link: (mode == AppointmentMode::Virtual).then(|| {
                        format!(
                            "https://meet.demo.clinic/{:04x}-{:04x}",
                            r.below(0x10000),
                            r.below(0x10000)
                        )
                    }),
                    notes: r.chance(10).then(|| (*r.pick(DEMO_NOTES)).to_string()),
                    status: AppointmentStatus::Scheduled,
                    status_reason: None,
                    series: None,
                    double_booking_accepted: false,
                    outside_hours_accepted: false,
                    conflict: None,
                    booked_by: self.cal.booked_by,
                    created_at,
                    updated_at: created_at,
                };
                let now = self.cal.now;
                if end <= now {
                    let (status, reason, at) = match r.below(100) {
                        0..=79 => (AppointmentStatus::Completed, None, end),
                        80..=87 => (
                            AppointmentStatus::Cancelled,
                            Some(*r.pick(CANCEL_REASONS)),
                            start - Duration::hours(1 + r.below(48) as i64),
                        ),
                        88..=92 => (AppointmentStatus::NoShow, None, end),
                        _ => (
                            AppointmentStatus::Rescheduled,
                            Some("Moved at the patient's request"),
                            start - Duration::hours(2 + r.below(96) as i64),
                        ),
                    };
                    a.status = status;
                    a.status_reason = reason.map(str::to_string);
                    a.updated_at = at.max(created_at);
                } else if start <= now {
                    a.status = AppointmentStatus::InProgress;
                    a.updated_at = start;
                } else {
                    let soon = start - now < Duration::days(3);
                    if r.chance(if soon { 70 } else { 30 }) {
                        a.status = AppointmentStatus::Confirmed;
                    }
                }
                out.push(a);
            }
        }
        out
    }
}

impl<F: Fn(u64) -> Uuid> Iterator for DemoAppointments<F> {
    type Item = Appointment;

    fn next(&mut self) -> Option<Appointment> {
        while self.left > 0 {
            if let Some(a) = self.pending.next() {
                self.left -= 1;
                return Some(a);
            }
            if self.day > MAX_DEMO_DAYS {
                self.left = 0;
                break;
            }
            self.pending = self.fill_day().into_iter();
            self.day += 1;
        }
        None
    }
}

impl DemoSize {
    /// Invoices at this size: one for each of the newest completed
    /// appointments, as many as there are consultations.
    pub fn invoices(self) -> u64 {
        self.consultations()
    }

    /// Consultations at this size (`performance.md`, about 1 KB of text each).
    pub fn consultations(self) -> u64 {
        match self {
            DemoSize::S => 20_000,
            DemoSize::L => 200_000,
            DemoSize::XL => 0,
        }
    }

    /// Items in the stock catalogue at this size (`performance.md`).
    pub fn stock_items(self) -> u64 {
        match self {
            DemoSize::S => 1_000,
            DemoSize::L => 5_000,
            DemoSize::XL => 0,
        }
    }

    /// Stock movements (the ledger, both sites, about two years) at this
    /// size (`performance.md`).
    pub fn stock_movements(self) -> u64 {
        match self {
            DemoSize::S => 20_000,
            DemoSize::L => 200_000,
            DemoSize::XL => 0,
        }
    }
}

const COMPLAINTS: &[&str] = &[
    "Cough for two weeks",
    "Sore throat and fever",
    "Lower back pain after lifting",
    "Headaches most mornings",
    "Review of blood pressure",
    "Itchy rash on both forearms",
    "Tiredness and low mood",
    "Painful right knee",
    "Burning on passing urine",
    "Follow-up of type 2 diabetes",
    "Ear pain since the weekend",
    "Shortness of breath on exertion",
];
const HISTORY: &[&str] = &[
    "Symptoms began gradually and have been getting slowly worse despite rest and simple analgesia.",
    "No fever, night sweats or weight loss reported. Appetite normal. Sleeping poorly because of the symptoms.",
    "Has tried paracetamol with partial relief. No previous episodes of this kind. Works in an office, sits most of the day.",
    "Non-smoker, drinks about six units of alcohol a week. Lives with partner; independent in daily activities.",
    "Family history of ischaemic heart disease in father at 58. No known drug allergies other than those recorded.",
    "Reports mild nausea in the mornings, no vomiting. Bowels regular. No urinary symptoms apart from those noted.",
];
const EXAMINATION: &[&str] = &[
    "Alert and well perfused. Chest clear with good air entry bilaterally; no wheeze or crackles. Heart sounds normal.",
    "Throat inflamed without exudate; small tender anterior cervical nodes. Ears normal. No rash.",
    "Tender over the right paraspinal muscles at L4–L5; straight-leg raise negative; power and reflexes normal.",
    "Abdomen soft and non-tender; no organomegaly. Urinalysis: leucocytes and nitrites positive.",
    "Right knee: small effusion, full range of movement, ligaments stable, no warmth or erythema.",
];
const ASSESSMENTS: &[(&str, &str)] = &[
    ("J20.9", "Acute bronchitis"),
    ("J02.9", "Acute pharyngitis"),
    ("M54.50", "Low back pain"),
    ("R51.9", "Headache"),
    ("I10", "Essential hypertension"),
    ("L30.9", "Dermatitis"),
    ("F32.9", "Depressive episode"),
    ("M17.11", "Osteoarthritis of the right knee"),
    ("N39.0", "Urinary tract infection"),
    ("E11.9", "Type 2 diabetes"),
    ("H66.90", "Otitis media"),
    ("R06.00", "Dyspnoea"),
];
const PLANS: &[&str] = &[
    "Explained the expected course and safety-netted: return if breathless, fever persists beyond three days or symptoms worsen.",
    "Simple analgesia regularly for five days, fluids and rest. Review in two weeks if not improving, sooner if concerned.",
    "Bloods today (FBC, U&E, HbA1c, lipids). Lifestyle advice given. Follow-up appointment booked with the practice nurse.",
    "Referral to physiotherapy. Leaflet on posture and exercises given. Fit note not required.",
];

/// One demo consultation: whom, by whom, when, and a signed note of about
/// 1 KB with vitals and a diagnosis.
pub fn demo_encounter(
    seed: u64,
    index: u64,
    tenant: Uuid,
    patient: Uuid,
    clinician: Uuid,
    started_at: DateTime<Utc>,
) -> clinic_core::clinical::Encounter {
    use clinic_core::clinical::*;
    let mut rng = DemoRng::for_item(seed, 7, index);
    let id = {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&rng.next_u64().to_be_bytes());
        b[8..].copy_from_slice(&rng.next_u64().to_be_bytes());
        uuid::Builder::from_random_bytes(b).into_uuid()
    };
    let (code, text) = *rng.pick(ASSESSMENTS);
    let sections = NoteSections {
        chief_complaint: rng.pick(COMPLAINTS).to_string(),
        history: format!(
            "{} {} {}",
            rng.pick(HISTORY),
            rng.pick(HISTORY),
            rng.pick(HISTORY)
        ),
        examination: format!("{} {}", rng.pick(EXAMINATION), rng.pick(EXAMINATION)),
        assessment: text.to_string(),
        plan: format!("{} {}", rng.pick(PLANS), rng.pick(PLANS)),
    };
    let weight = 50.0 + rng.below(500) as f64 / 10.0;
    let (vitals, _) = Vitals {
        systolic_mmhg: Some(105 + rng.below(50) as u16),
        diastolic_mmhg: Some(65 + rng.below(25) as u16),
        pulse_bpm: Some(55 + rng.below(40) as u16),
        temperature_c: Some((362 + rng.below(20)) as f64 / 10.0),
        spo2_pct: Some(94 + rng.below(6) as u16),
        weight_kg: Some(weight),
        height_cm: Some(150.0 + rng.below(45) as f64),
        bmi: None,
    }
    .checked(true)
    .expect("demo vitals are possible");
    let signed_at = started_at + Duration::minutes(12);
    let mut e = Encounter {
        id,
        tenant_id: tenant,
        patient_id: patient,
        clinician_id: clinician,
        appointment_id: None,
        encounter_type: "consultation".into(),
        status: EncounterStatus::Signed,
        started_at,
        updated_at: signed_at,
        sections,
        vitals,
        vitals_at: Some(started_at + Duration::minutes(3)),
        diagnoses: vec![Diagnosis {
            id: Uuid::from_u64_pair(id.as_u64_pair().0, 1),
            code: Some(code.into()),
            text: text.into(),
        }],
        follow_up: None,
        current: Default::default(),
        revisions: vec![],
        siblings: vec![],
        prescriptions: vec![],
        signature: None,
        addenda: vec![],
        appointment_conflict: None,
    };
    let hash = e.content().signed_hash(clinician, signed_at);
    e.signature = Some(Signature {
        by: clinician,
        at: signed_at,
        content_sha256: hash,
    });
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use clinic_core::patients::{validate_details, validate_new_lists};

    #[test]
    fn demo_data_is_deterministic_and_valid() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
        for i in 0..2_000 {
            let (mut d, mut l) = demo_patient(7, i);
            assert_eq!((d.clone(), l.clone()), demo_patient(7, i));
            validate_details(&mut d, today).unwrap_or_else(|e| panic!("patient {i}: {e:?}"));
            validate_new_lists(&mut l, today).unwrap();
        }
        assert_ne!(demo_patient(7, 1), demo_patient(8, 1));
        let users = demo_users(7, DemoSize::S);
        assert_eq!(
            users
                .iter()
                .filter(|u| u.role == BuiltinRole::Clinician)
                .count(),
            20
        );
    }
    fn calendar(patients: u64) -> DemoCalendar {
        DemoCalendar {
            tenant_id: Uuid::from_u128(1),
            clinicians: (0..20).map(|i| Uuid::from_u128(100 + i)).collect(),
            sites: (0..2u128)
                .map(|s| DemoSite {
                    id: Uuid::from_u128(10 + s),
                    timezone: "Europe/London".into(),
                    rooms: (0..5).map(|r| Uuid::from_u128(1000 + s * 10 + r)).collect(),
                })
                .collect(),
            patients,
            types: vec![],
            booked_by: None,
            now: DateTime::parse_from_rfc3339("2026-11-25T11:07:00Z")
                .unwrap()
                .with_timezone(&Utc),
        }
    }

    fn pid(i: u64) -> Uuid {
        Uuid::from_u128(0x5000_0000 + i as u128)
    }

    fn assert_no_clashes(sample: &[Appointment]) {
        for (i, a) in sample.iter().enumerate() {
            for b in &sample[i + 1..] {
                if let Some(why) = a.clash_with(b) {
                    panic!("{why}: {a:?} and {b:?}");
                }
            }
        }
    }

    #[test]
    fn demo_appointments_are_deterministic_realistic_and_never_overlap() {
        let cal = calendar(10_000);
        let now = cal.now;
        let all: Vec<Appointment> = demo_appointments(7, DemoSize::S, cal.clone(), pid)
            .unwrap()
            .collect();
        assert_eq!(all.len(), 100_000);
        let again: Vec<Appointment> = demo_appointments(7, DemoSize::S, cal.clone(), pid)
            .unwrap()
            .take(3_000)
            .collect();
        assert_eq!(&all[..3_000], &again[..]);
        let other: Vec<Appointment> = demo_appointments(8, DemoSize::S, cal.clone(), pid)
            .unwrap()
            .take(100)
            .collect();
        assert_ne!(&all[..100], &other[..]);
        let tz: Tz = "Europe/London".parse().unwrap();
        let (mut past, mut completed, mut cancelled, mut virt, mut rooms) = (0, 0, 0, 0, 0);
        let mut ids = std::collections::HashSet::new();
        for a in &all {
            a.validate().unwrap_or_else(|e| panic!("{a:?}: {e:?}"));
            assert!(ids.insert(a.id), "ids are unique");
            assert!((15..=60).contains(&a.minutes) && a.minutes % 5 == 0);
            assert!(a.created_at <= now && a.created_at <= a.start);
            // Weekdays 09:00-17:00 on the site's wall clock, summer and winter.
            let (s, e) = (utc_to_local(tz, a.start), utc_to_local(tz, a.end()));
            assert!(s.weekday().number_from_monday() <= 5, "{s}");
            assert!(s.time() >= NaiveTime::from_hms_opt(9, 0, 0).unwrap(), "{s}");
            assert!(e.time() <= NaiveTime::from_hms_opt(17, 0, 0).unwrap() && e.date() == s.date());
            assert!(a.start < now + Duration::weeks(DEMO_WEEKS_AHEAD) + Duration::days(1));
            if a.end() <= now {
                past += 1;
                completed += (a.status == AppointmentStatus::Completed) as u32;
                if a.status == AppointmentStatus::Cancelled {
                    cancelled += 1;
                    assert!(a.status_reason.is_some());
                }
            } else if a.start > now {
                assert!(a.status.is_open(), "{:?}", a.status);
            }
            virt += (a.mode == AppointmentMode::Virtual) as u32;
            rooms += a.room_id.is_some() as u32;
        }
        let pct = |n: u32, of: u32| n as f64 * 100.0 / of as f64;
        assert!(
            (76.0..84.0).contains(&pct(completed, past)),
            "{completed}/{past}"
        );
        assert!((6.0..10.0).contains(&pct(cancelled, past)));
        assert!((4.0..10.0).contains(&pct(virt, 100_000)));
        assert!((30.0..60.0).contains(&pct(rooms, 100_000)));
        // ~14 a clinician a working day: back about 17 months from 8 weeks ahead.
        let oldest = all.iter().map(|a| a.start).min().unwrap();
        assert!((300..600).contains(&(now - oldest).num_days()), "{oldest}");
        // Live ones never overlap: per clinician, room and patient, around now.
        let at_now = all.iter().position(|a| a.start <= now).unwrap();
        assert_no_clashes(&all[at_now - 2_000..at_now + 2_000]);
        // Few patients: every day reuses them, and still no patient is double-booked.
        let few: Vec<Appointment> = demo_appointments(7, DemoSize::S, calendar(300), pid)
            .unwrap()
            .skip(20_000)
            .take(3_000)
            .collect();
        assert_eq!(few.len(), 3_000);
        assert_no_clashes(&few);
        let none = DemoCalendar {
            patients: 0,
            ..calendar(0)
        };
        assert_eq!(
            demo_appointments(7, DemoSize::S, none, pid)
                .unwrap()
                .count(),
            0
        );
    }
}
