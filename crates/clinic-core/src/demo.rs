//! Deterministic demo and benchmark data (`performance.md` sizes), generated
//! from a seed so every run and every machine sees the same clinic.

use crate::national_id::nhs_check_digit;
use crate::patient::{
    NewAllergy, NewEmergencyContact, NewLists, PatientDetails, Severity, SexAtBirth,
};
use crate::permissions::BuiltinRole;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

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
            .then_some(crate::national_id::NationalIdKind::Nhs),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patient::{validate_details, validate_new_lists};

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
}
