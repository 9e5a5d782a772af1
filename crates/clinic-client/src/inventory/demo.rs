//! The demo clinic's stock (`performance.md` sizes: S 1,000 items and
//! 20,000 movements, L 5,000 and 200,000, over about two years at both
//! sites): categories, suppliers, a catalogue of real generic medicines,
//! vaccines, dressings, consumables and tests, lots with expiries, and the
//! ledger a clinic makes — deliveries (some against purchase orders),
//! dispensing first expiry first (many to patients), adjustments with
//! reasons, expired lots written off, transfers between the sites.
//!
//! The history is planned item by item so that it ends the way a demo
//! needs it to: lots expiring soon, exactly two expired lots still on the
//! shelf, a few items below their reorder point (and three new ones not
//! received yet, on the order waiting for approval), one order partly
//! received, one transfer in transit, and one lot below zero at the home
//! site — two desks dispensed its last boxes — while another lot of the
//! same item has stock (the negative alert proposes moving it).
//!
//! Every figure comes from the inventory rules themselves: on a standalone
//! store the mutations are applied in memory (`clinic_core::sync::apply`;
//! lot costs and movement costs are the rules') and their records
//! written; on an enrolled one the catalogue is queued as a desk queues
//! it, each lot's stock before the last
//! [`crate::demo::SYNCED_APPOINTMENT_DAYS`] days as one opening receipt,
//! and the movements of those days as they happened.

use crate::workstation::new_id;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use clinic_core::billing::derived_id;
use clinic_core::inventory::*;
use clinic_core::sync::{apply, Context, Mutation, Records, SaveDocument};
use clinic_core::{ClinicError, ClinicResult};
use clinic_demo::{DemoRng, DemoSize};
use clinic_store::Db;
use rust_decimal::Decimal;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::str::FromStr;
use uuid::Uuid;

/// What [`write_demo_inventory`] wrote.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DemoInventory {
    pub stock_items: u64,
    /// Movements in the ledger (on an enrolled store: the opening receipts
    /// and the movements of the last days).
    pub stock_movements: u64,
    pub lots: u64,
    pub purchase_orders: u64,
    pub transfers: u64,
}

// ---------------------------------------------------------------- catalogue

/// (name, parent index, description).
const CATEGORIES: &[(&str, Option<usize>, &str)] = &[
    ("Medicines", None, "Everything dispensed or administered"),
    ("Antibiotics", Some(0), "Oral antibacterials"),
    ("Analgesics", Some(0), "Pain relief and anti-inflammatories"),
    ("Cardiovascular", Some(0), "Blood pressure, statins, angina"),
    (
        "Respiratory and allergy",
        Some(0),
        "Inhalers, antihistamines, steroids",
    ),
    ("Gastrointestinal", Some(0), "Acid, bowels, nausea"),
    (
        "Skin and eye preparations",
        Some(0),
        "Creams, ointments, drops",
    ),
    (
        "Endocrine and diabetes",
        Some(0),
        "Thyroid, diabetes, hypoglycaemia",
    ),
    (
        "Emergency drugs",
        Some(0),
        "Anaphylaxis and resuscitation box",
    ),
    ("Vaccines", None, "Cold chain: 2–8 °C"),
    ("Dressings", None, "Wound care and bandages"),
    (
        "Consumables",
        None,
        "Gloves, syringes, needles and the like",
    ),
    ("Diagnostics", None, "Point-of-care tests and sample tubes"),
];

/// (name, contact, e-mail, phone, terms).
const SUPPLIERS: &[(&str, &str, &str, &str, &str)] = &[
    (
        "Northgate Pharmaceutical Wholesale Ltd",
        "Priya Shah",
        "orders@northgate-pharma.example",
        "0113 496 0710",
        "Net 30",
    ),
    (
        "Pennine Pharma Distribution",
        "Tom Hardcastle",
        "sales@pennine-pharma.example",
        "0161 496 0233",
        "Net 30",
    ),
    (
        "ColdChain Vaccines UK Ltd",
        "Ewa Nowak",
        "vaccines@coldchain-uk.example",
        "0207 946 0412",
        "Net 45",
    ),
    (
        "Woundcare Direct Ltd",
        "Gareth Evans",
        "orders@woundcare-direct.example",
        "029 2018 0455",
        "Net 30",
    ),
    (
        "Clinical Supplies Company Ltd",
        "Hannah Brooks",
        "trade@clinical-supplies.example",
        "0114 496 0988",
        "Net 14",
    ),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// Tablets, capsules, oral liquids.
    Oral,
    /// Creams, drops, inhalers, sprays.
    Topical,
    Injection,
    /// 2–8 °C: vaccines and the like.
    Fridge,
    SterileDressing,
    /// Bandages and plasters: not kept by lot.
    Bandage,
    /// Not kept by lot.
    Consumable,
    Diagnostic,
}

impl Class {
    fn lots(self) -> bool {
        !matches!(self, Class::Bandage | Class::Consumable)
    }
    /// Shelf life of a new lot, in months (from, to).
    fn shelf_months(self) -> (u64, u64) {
        match self {
            Class::Oral => (18, 36),
            Class::Topical | Class::Injection => (12, 30),
            Class::Fridge => (6, 18),
            Class::SterileDressing => (24, 60),
            Class::Diagnostic => (9, 24),
            Class::Bandage | Class::Consumable => (0, 0),
        }
    }
    /// Most units given out at once.
    fn dmax(self) -> i64 {
        match self {
            Class::Fridge | Class::Diagnostic => 1,
            Class::Oral | Class::Topical | Class::Injection | Class::Consumable => 2,
            Class::Bandage => 3,
            Class::SterileDressing => 4,
        }
    }
    fn tax(self) -> &'static str {
        match self {
            Class::Oral | Class::Topical | Class::Injection | Class::Fridge => "0",
            _ => "20",
        }
    }
    fn storage(self) -> Option<&'static str> {
        match self {
            Class::Oral | Class::Topical => Some("Store below 25 °C"),
            Class::Injection => Some("Store below 25 °C; keep ampoules in the carton"),
            Class::Fridge => Some("Refrigerate at 2–8 °C; do not freeze"),
            Class::SterileDressing | Class::Diagnostic => Some("Store dry, below 30 °C"),
            Class::Bandage | Class::Consumable => None,
        }
    }
    /// How often a dispense names the patient (percent).
    fn to_patient(self) -> u64 {
        match self {
            Class::Oral | Class::Topical | Class::Fridge => 75,
            Class::Injection => 40,
            Class::SterileDressing | Class::Bandage => 30,
            Class::Consumable | Class::Diagnostic => 0,
        }
    }
    fn makers(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Class::Oral | Class::Topical | Class::Injection => &[
                ("ACC", "Accord Healthcare"),
                ("TEV", "Teva UK"),
                ("SAN", "Sandoz"),
                ("ZEN", "Zentiva"),
                ("MYL", "Mylan"),
                ("AUR", "Aurobindo (Milpharm)"),
                ("DRR", "Dr. Reddy's"),
                ("ALM", "Almus"),
                ("ACT", "Actavis"),
                ("BRI", "Bristol Laboratories"),
                ("CRE", "Crescent Pharma"),
                ("KEN", "Kent Pharma"),
            ],
            Class::Fridge => &[
                ("SAN", "Sanofi Pasteur"),
                ("GSK", "GSK"),
                ("MSD", "MSD"),
                ("PFZ", "Pfizer"),
                ("SEQ", "Seqirus"),
                ("VAL", "Valneva"),
                ("BAV", "Bavarian Nordic"),
                ("TAK", "Takeda"),
            ],
            Class::SterileDressing | Class::Bandage => &[
                ("MOL", "Mölnlycke"),
                ("SNE", "Smith & Nephew"),
                ("3M", "3M"),
                ("CON", "ConvaTec"),
                ("URG", "Urgo Medical"),
                ("LOH", "Lohmann & Rauscher"),
                ("ACT", "Activa Healthcare"),
                ("HAR", "Hartmann"),
            ],
            Class::Consumable => &[
                ("BD", "BD"),
                ("MED", "Medline"),
                ("TER", "Terumo"),
                ("UNI", "Unigloves"),
                ("GRE", "Greiner Bio-One"),
                ("ROB", "Robinson Healthcare"),
                ("SAR", "Sarstedt"),
                ("POL", "Polar Speed"),
            ],
            Class::Diagnostic => &[
                ("SIE", "Siemens Healthineers"),
                ("ROC", "Roche Diagnostics"),
                ("ABB", "Abbott"),
                ("BDV", "BD Vacutainer"),
                ("GRE", "Greiner Bio-One"),
                ("SAR", "Sarstedt"),
                ("ORI", "Orion Diagnostica"),
                ("QUI", "Quidel"),
            ],
        }
    }
}

/// One product as a clinic orders it; the catalogue holds it from one or
/// more manufacturers and in more than one pack size.
struct Base {
    cat: usize,
    sku: &'static str,
    name: &'static str,
    generic: &'static str,
    unit: &'static str,
    pack: u32,
    price: &'static str,
    rx: bool,
    class: Class,
    /// How much it is used, 1–5.
    pop: u8,
}

#[allow(clippy::too_many_arguments)]
const fn b(
    cat: usize,
    sku: &'static str,
    name: &'static str,
    generic: &'static str,
    unit: &'static str,
    pack: u32,
    price: &'static str,
    rx: bool,
    class: Class,
    pop: u8,
) -> Base {
    Base {
        cat,
        sku,
        name,
        generic,
        unit,
        pack,
        price,
        rx,
        class,
        pop,
    }
}

use Class::*;

#[rustfmt::skip]
const BASES: &[Base] = &[
    // Antibiotics
    b(1, "AMOX500", "Amoxicillin 500 mg capsules", "Amoxicillin", "pack", 21, "1.12", true, Oral, 5),
    b(1, "AMOX250", "Amoxicillin 250 mg capsules", "Amoxicillin", "pack", 21, "0.98", true, Oral, 3),
    b(1, "AMOX125S", "Amoxicillin 125 mg/5 ml oral suspension 100 ml", "Amoxicillin", "bottle", 1, "1.65", true, Oral, 4),
    b(1, "COAMOX625", "Co-amoxiclav 500 mg/125 mg tablets", "Co-amoxiclav", "pack", 21, "2.10", true, Oral, 4),
    b(1, "CLARI500", "Clarithromycin 500 mg tablets", "Clarithromycin", "pack", 14, "1.60", true, Oral, 3),
    b(1, "DOXY100", "Doxycycline 100 mg capsules", "Doxycycline", "pack", 8, "0.95", true, Oral, 3),
    b(1, "FLUC500", "Flucloxacillin 500 mg capsules", "Flucloxacillin", "pack", 28, "2.40", true, Oral, 4),
    b(1, "NITRO100", "Nitrofurantoin 100 mg modified-release capsules", "Nitrofurantoin", "pack", 14, "4.80", true, Oral, 4),
    b(1, "TRIM200", "Trimethoprim 200 mg tablets", "Trimethoprim", "pack", 6, "0.70", true, Oral, 3),
    b(1, "PENV250", "Phenoxymethylpenicillin 250 mg tablets", "Phenoxymethylpenicillin", "pack", 28, "1.35", true, Oral, 3),
    b(1, "CEFA500", "Cefalexin 500 mg capsules", "Cefalexin", "pack", 21, "1.90", true, Oral, 2),
    b(1, "METRO400", "Metronidazole 400 mg tablets", "Metronidazole", "pack", 21, "2.25", true, Oral, 2),
    b(1, "AZI250", "Azithromycin 250 mg tablets", "Azithromycin", "pack", 4, "1.05", true, Oral, 2),
    b(1, "CIPRO500", "Ciprofloxacin 500 mg tablets", "Ciprofloxacin", "pack", 10, "1.15", true, Oral, 2),
    // Analgesics
    b(2, "PARA500", "Paracetamol 500 mg tablets", "Paracetamol", "pack", 32, "0.45", false, Oral, 5),
    b(2, "PARA120S", "Paracetamol 120 mg/5 ml oral suspension 100 ml", "Paracetamol", "bottle", 1, "1.10", false, Oral, 4),
    b(2, "IBU200", "Ibuprofen 200 mg tablets", "Ibuprofen", "pack", 24, "0.55", false, Oral, 4),
    b(2, "IBU400", "Ibuprofen 400 mg tablets", "Ibuprofen", "pack", 24, "0.85", false, Oral, 4),
    b(2, "IBU100S", "Ibuprofen 100 mg/5 ml oral suspension 100 ml", "Ibuprofen", "bottle", 1, "1.40", false, Oral, 3),
    b(2, "NAP500", "Naproxen 500 mg tablets", "Naproxen", "pack", 28, "1.60", true, Oral, 3),
    b(2, "COCOD30", "Co-codamol 30 mg/500 mg tablets", "Co-codamol", "pack", 30, "1.45", true, Oral, 4),
    b(2, "CODE30", "Codeine phosphate 30 mg tablets", "Codeine", "pack", 28, "1.30", true, Oral, 2),
    b(2, "DICLO50", "Diclofenac sodium 50 mg gastro-resistant tablets", "Diclofenac", "pack", 28, "0.95", true, Oral, 3),
    b(2, "TRAM50", "Tramadol 50 mg capsules", "Tramadol", "pack", 30, "1.25", true, Oral, 2),
    b(2, "ASP75", "Aspirin 75 mg dispersible tablets", "Aspirin", "pack", 28, "0.40", false, Oral, 3),
    b(2, "LIDO1", "Lidocaine 1% injection 5 ml ampoule", "Lidocaine", "ampoule", 1, "0.62", true, Injection, 3),
    // Cardiovascular
    b(3, "AMLO5", "Amlodipine 5 mg tablets", "Amlodipine", "pack", 28, "0.60", true, Oral, 4),
    b(3, "AMLO10", "Amlodipine 10 mg tablets", "Amlodipine", "pack", 28, "0.75", true, Oral, 3),
    b(3, "RAMI5", "Ramipril 5 mg capsules", "Ramipril", "pack", 28, "0.90", true, Oral, 3),
    b(3, "RAMI10", "Ramipril 10 mg capsules", "Ramipril", "pack", 28, "1.10", true, Oral, 3),
    b(3, "ATOR20", "Atorvastatin 20 mg tablets", "Atorvastatin", "pack", 28, "0.85", true, Oral, 4),
    b(3, "ATOR40", "Atorvastatin 40 mg tablets", "Atorvastatin", "pack", 28, "1.05", true, Oral, 3),
    b(3, "SIMV40", "Simvastatin 40 mg tablets", "Simvastatin", "pack", 28, "0.80", true, Oral, 2),
    b(3, "BISO2.5", "Bisoprolol 2.5 mg tablets", "Bisoprolol", "pack", 28, "0.70", true, Oral, 2),
    b(3, "BISO5", "Bisoprolol 5 mg tablets", "Bisoprolol", "pack", 28, "0.75", true, Oral, 3),
    b(3, "LISI10", "Lisinopril 10 mg tablets", "Lisinopril", "pack", 28, "0.80", true, Oral, 2),
    b(3, "LOSA50", "Losartan 50 mg tablets", "Losartan", "pack", 28, "0.95", true, Oral, 2),
    b(3, "BENDRO2.5", "Bendroflumethiazide 2.5 mg tablets", "Bendroflumethiazide", "pack", 28, "0.65", true, Oral, 2),
    b(3, "FURO40", "Furosemide 40 mg tablets", "Furosemide", "pack", 28, "0.70", true, Oral, 2),
    b(3, "GTN400", "Glyceryl trinitrate 400 micrograms/dose sublingual spray", "Glyceryl trinitrate", "spray", 1, "3.95", true, Topical, 2),
    // Respiratory and allergy
    b(4, "SALB100", "Salbutamol 100 micrograms/dose inhaler", "Salbutamol", "inhaler", 1, "1.50", true, Topical, 5),
    b(4, "BECL100", "Beclometasone 100 micrograms/dose inhaler", "Beclometasone", "inhaler", 1, "3.70", true, Topical, 3),
    b(4, "PRED5", "Prednisolone 5 mg tablets", "Prednisolone", "pack", 28, "0.95", true, Oral, 4),
    b(4, "MONT10", "Montelukast 10 mg tablets", "Montelukast", "pack", 28, "1.20", true, Oral, 2),
    b(4, "CETI10", "Cetirizine 10 mg tablets", "Cetirizine", "pack", 30, "0.55", false, Oral, 4),
    b(4, "LORA10", "Loratadine 10 mg tablets", "Loratadine", "pack", 30, "0.60", false, Oral, 3),
    b(4, "CHLOR4", "Chlorphenamine 4 mg tablets", "Chlorphenamine", "pack", 28, "0.85", false, Oral, 3),
    b(4, "BECLNS", "Beclometasone 50 micrograms/dose nasal spray", "Beclometasone", "spray", 1, "2.10", false, Topical, 2),
    b(4, "SALBNEB", "Salbutamol 2.5 mg/2.5 ml nebuliser liquid", "Salbutamol", "pack", 20, "2.60", true, Injection, 2),
    // Gastrointestinal
    b(5, "OMEP20", "Omeprazole 20 mg gastro-resistant capsules", "Omeprazole", "pack", 28, "0.75", true, Oral, 4),
    b(5, "LANS30", "Lansoprazole 30 mg gastro-resistant capsules", "Lansoprazole", "pack", 28, "0.90", true, Oral, 3),
    b(5, "LOPE2", "Loperamide 2 mg capsules", "Loperamide", "pack", 6, "0.45", false, Oral, 3),
    b(5, "ORS", "Oral rehydration salts sachets", "Oral rehydration salts", "pack", 20, "3.10", false, Oral, 3),
    b(5, "LACT300", "Lactulose 3.1–3.7 g/5 ml oral solution 300 ml", "Lactulose", "bottle", 1, "2.05", false, Oral, 2),
    b(5, "METO10", "Metoclopramide 10 mg tablets", "Metoclopramide", "pack", 28, "0.95", true, Oral, 2),
    b(5, "SENNA", "Senna 7.5 mg tablets", "Senna", "pack", 60, "1.15", false, Oral, 2),
    b(5, "ONDA4", "Ondansetron 4 mg tablets", "Ondansetron", "pack", 10, "1.40", true, Oral, 2),
    // Skin and eye preparations
    b(6, "HC1", "Hydrocortisone 1% cream 15 g", "Hydrocortisone", "tube", 1, "1.20", false, Topical, 4),
    b(6, "CLOT1", "Clotrimazole 1% cream 20 g", "Clotrimazole", "tube", 1, "1.05", false, Topical, 3),
    b(6, "FUSI2", "Fusidic acid 2% cream 15 g", "Fusidic acid", "tube", 1, "2.40", true, Topical, 3),
    b(6, "BETN01", "Betamethasone valerate 0.1% cream 30 g", "Betamethasone", "tube", 1, "1.90", true, Topical, 2),
    b(6, "EMOL500", "Emollient cream 500 g", "Emollient", "tub", 1, "4.20", false, Topical, 3),
    b(6, "ACIC5", "Aciclovir 5% cream 2 g", "Aciclovir", "tube", 1, "0.95", false, Topical, 2),
    b(6, "PERM5", "Permethrin 5% cream 30 g", "Permethrin", "tube", 1, "6.50", false, Topical, 2),
    b(6, "CHLORED", "Chloramphenicol 0.5% eye drops 10 ml", "Chloramphenicol", "bottle", 1, "1.95", true, Topical, 3),
    // Endocrine and diabetes
    b(7, "METF500", "Metformin 500 mg tablets", "Metformin", "pack", 28, "0.55", true, Oral, 4),
    b(7, "METF850", "Metformin 850 mg tablets", "Metformin", "pack", 56, "1.10", true, Oral, 2),
    b(7, "GLIC80", "Gliclazide 80 mg tablets", "Gliclazide", "pack", 28, "0.70", true, Oral, 2),
    b(7, "LEVO50", "Levothyroxine 50 micrograms tablets", "Levothyroxine", "pack", 28, "0.95", true, Oral, 3),
    b(7, "LEVO100", "Levothyroxine 100 micrograms tablets", "Levothyroxine", "pack", 28, "1.00", true, Oral, 3),
    b(7, "GLUGEL", "Glucose 40% oral gel 25 g", "Glucose", "tube", 1, "3.05", false, Topical, 2),
    b(7, "GLUCAGON", "Glucagon 1 mg injection kit", "Glucagon", "kit", 1, "11.52", true, Fridge, 1),
    // Emergency drugs
    b(8, "ADR1", "Adrenaline (epinephrine) 1 mg/ml (1 in 1,000) 1 ml ampoule", "Adrenaline", "ampoule", 1, "0.95", true, Injection, 2),
    b(8, "ADRAI300", "Adrenaline 300 micrograms auto-injector", "Adrenaline", "each", 1, "26.45", true, Injection, 1),
    b(8, "CHLORINJ", "Chlorphenamine 10 mg/ml injection 1 ml ampoule", "Chlorphenamine", "ampoule", 1, "3.40", true, Injection, 1),
    b(8, "HCINJ100", "Hydrocortisone sodium succinate 100 mg injection vial", "Hydrocortisone", "vial", 1, "1.05", true, Injection, 1),
    b(8, "BENPEN600", "Benzylpenicillin 600 mg powder for injection vial", "Benzylpenicillin", "vial", 1, "2.65", true, Injection, 1),
    b(8, "WFI10", "Water for injections 10 ml ampoule", "Water for injections", "ampoule", 1, "0.35", false, Injection, 2),
    b(8, "OXY-CYL", "Medical oxygen cylinder CD (460 l)", "Oxygen", "cylinder", 1, "18.00", false, Consumable, 1),
    // Vaccines
    b(9, "FLUQIV", "Influenza vaccine (quadrivalent, inactivated) 0.5 ml pre-filled syringe", "Influenza vaccine", "dose", 1, "9.94", true, Fridge, 5),
    b(9, "PPV23", "Pneumococcal polysaccharide vaccine (PPV23) 0.5 ml", "Pneumococcal vaccine", "dose", 1, "8.50", true, Fridge, 3),
    b(9, "TDIPV", "Tetanus, diphtheria and polio vaccine (Td/IPV)", "Td/IPV vaccine", "dose", 1, "6.95", true, Fridge, 3),
    b(9, "HEPB20", "Hepatitis B vaccine 20 micrograms/1 ml", "Hepatitis B vaccine", "dose", 1, "12.20", true, Fridge, 3),
    b(9, "HEPA", "Hepatitis A vaccine (adult) 1 ml", "Hepatitis A vaccine", "dose", 1, "18.10", true, Fridge, 2),
    b(9, "TYPHI", "Typhoid Vi polysaccharide vaccine 0.5 ml", "Typhoid vaccine", "dose", 1, "10.03", true, Fridge, 2),
    b(9, "MMR", "Measles, mumps and rubella vaccine (live)", "MMR vaccine", "dose", 1, "7.64", true, Fridge, 3),
    b(9, "HPV9", "Human papillomavirus vaccine (9-valent) 0.5 ml", "HPV vaccine", "dose", 1, "105.00", true, Fridge, 2),
    b(9, "HZV", "Herpes zoster vaccine (recombinant, adjuvanted)", "Shingles vaccine", "dose", 1, "140.00", true, Fridge, 2),
    b(9, "MENACWY", "Meningococcal ACWY conjugate vaccine", "MenACWY vaccine", "dose", 1, "30.00", true, Fridge, 2),
    b(9, "HEXA", "DTaP/IPV/Hib/HepB (hexavalent) vaccine", "Hexavalent vaccine", "dose", 1, "21.50", true, Fridge, 3),
    b(9, "ROTA", "Rotavirus vaccine (live, oral) 1.5 ml", "Rotavirus vaccine", "dose", 1, "34.76", true, Fridge, 2),
    // Dressings
    b(10, "DRS-001", "Sterile dressing pack", "Dressing pack", "pack", 1, "0.95", false, SterileDressing, 5),
    b(10, "NAD10", "Non-adherent dressing 10 x 10 cm", "Non-adherent dressing", "each", 1, "0.32", false, SterileDressing, 4),
    b(10, "FOAM10", "Foam dressing with border 10 x 10 cm", "Foam dressing", "each", 1, "1.85", false, SterileDressing, 3),
    b(10, "HYDRO10", "Hydrocolloid dressing 10 x 10 cm", "Hydrocolloid dressing", "each", 1, "1.45", false, SterileDressing, 3),
    b(10, "ALG10", "Alginate dressing 10 x 10 cm", "Alginate dressing", "each", 1, "1.20", false, SterileDressing, 2),
    b(10, "AGALG10", "Silver alginate dressing 10 x 10 cm", "Silver alginate dressing", "each", 1, "3.90", false, SterileDressing, 2),
    b(10, "ISL9", "Adhesive island dressing 9 x 10 cm", "Island dressing", "each", 1, "0.28", false, SterileDressing, 4),
    b(10, "FILM6", "Transparent film dressing 6 x 7 cm", "Film dressing", "each", 1, "0.25", false, SterileDressing, 3),
    b(10, "GAUZE75", "Sterile gauze swabs 7.5 x 7.5 cm", "Gauze swabs", "pack", 5, "0.18", false, SterileDressing, 4),
    b(10, "STERI6", "Skin closure strips 6 x 75 mm", "Skin closure strips", "pack", 3, "0.90", false, SterileDressing, 3),
    b(10, "CREPE75", "Crepe bandage 7.5 cm x 4.5 m", "Crepe bandage", "each", 1, "0.55", false, Bandage, 3),
    b(10, "CONF5", "Conforming bandage 5 cm x 4 m", "Conforming bandage", "each", 1, "0.22", false, Bandage, 3),
    b(10, "TUBD", "Tubular bandage size D, 1 m", "Tubular bandage", "roll", 1, "1.10", false, Bandage, 2),
    b(10, "PLAST", "Fabric plasters, assorted", "Plasters", "box", 100, "2.40", false, Bandage, 4),
    // Consumables
    b(11, "GLOVE-S", "Nitrile examination gloves, small", "Examination gloves", "box", 100, "3.20", false, Consumable, 4),
    b(11, "GLOVE-M", "Nitrile examination gloves, medium", "Examination gloves", "box", 100, "3.20", false, Consumable, 5),
    b(11, "GLOVE-L", "Nitrile examination gloves, large", "Examination gloves", "box", 100, "3.20", false, Consumable, 4),
    b(11, "SYR2", "Syringe 2 ml Luer slip", "Syringe", "box", 100, "3.60", false, Consumable, 3),
    b(11, "SYR5", "Syringe 5 ml Luer slip", "Syringe", "box", 100, "4.10", false, Consumable, 4),
    b(11, "SYR10", "Syringe 10 ml Luer slip", "Syringe", "box", 100, "5.20", false, Consumable, 3),
    b(11, "NDL21", "Hypodermic needle 21G x 1.5 in (green)", "Needle", "box", 100, "2.30", false, Consumable, 4),
    b(11, "NDL23", "Hypodermic needle 23G x 1 in (blue)", "Needle", "box", 100, "2.30", false, Consumable, 4),
    b(11, "NDL25", "Hypodermic needle 25G x 5/8 in (orange)", "Needle", "box", 100, "2.30", false, Consumable, 3),
    b(11, "ALCWIPE", "Alcohol skin wipes 70% isopropyl", "Alcohol wipes", "box", 100, "1.35", false, Consumable, 4),
    b(11, "SHARPS1", "Sharps container 1 l", "Sharps container", "each", 1, "1.60", false, Consumable, 3),
    b(11, "SHARPS5", "Sharps container 5 l", "Sharps container", "each", 1, "2.90", false, Consumable, 2),
    b(11, "TONGUE", "Wooden tongue depressors", "Tongue depressors", "box", 100, "1.90", false, Consumable, 2),
    b(11, "APRON", "Disposable aprons, white, on a roll", "Aprons", "roll", 200, "6.40", false, Consumable, 3),
    b(11, "MASK2R", "Type IIR surgical face masks", "Face masks", "box", 50, "2.75", false, Consumable, 3),
    b(11, "COUCH50", "Couch roll 50 cm x 40 m", "Couch roll", "roll", 1, "1.70", false, Consumable, 4),
    b(11, "COTTON", "Cotton wool balls, non-sterile", "Cotton wool", "pack", 100, "0.85", false, Consumable, 2),
    b(11, "SPEC60", "Specimen pot 60 ml, sterile", "Specimen pot", "box", 50, "4.50", false, Consumable, 3),
    b(11, "SAL20", "Sodium chloride 0.9% 20 ml pods", "Sodium chloride 0.9%", "box", 25, "4.95", false, Diagnostic, 3),
    b(11, "HANDGEL", "Alcohol hand gel 500 ml pump", "Hand gel", "bottle", 1, "2.60", false, Consumable, 3),
    b(11, "EARSPEC", "Otoscope speculum tips, 4 mm", "Speculum tips", "box", 250, "5.80", false, Consumable, 2),
    b(11, "TOURN", "Single-use tourniquets", "Tourniquet", "roll", 25, "3.40", false, Consumable, 2),
    // Diagnostics
    b(12, "URINE10", "Urine reagent strips, 10 parameters", "Urinalysis strips", "tub", 100, "9.95", false, Diagnostic, 4),
    b(12, "GLUSTRIP", "Blood glucose test strips", "Glucose test strips", "tub", 50, "8.40", false, Diagnostic, 3),
    b(12, "LANCET", "Safety lancets 28G", "Lancets", "box", 200, "7.20", false, Diagnostic, 3),
    b(12, "HCG", "Pregnancy test cassettes (hCG)", "Pregnancy test", "box", 20, "6.50", false, Diagnostic, 2),
    b(12, "STREPA", "Strep A rapid antigen tests", "Strep A test", "box", 20, "38.00", false, Diagnostic, 2),
    b(12, "CRP", "CRP point-of-care test cassettes", "CRP test", "box", 20, "52.00", false, Diagnostic, 2),
    b(12, "COVAG", "COVID-19 rapid antigen tests", "COVID-19 antigen test", "box", 25, "22.50", false, Diagnostic, 2),
    b(12, "EDTA4", "Blood collection tubes EDTA 4 ml (purple)", "EDTA tube", "box", 100, "11.80", false, Diagnostic, 3),
    b(12, "SST5", "Blood collection tubes serum gel 5 ml (gold)", "Serum tube", "box", 100, "12.40", false, Diagnostic, 3),
    b(12, "FIT", "Faecal immunochemical test kits", "FIT kit", "box", 10, "24.00", false, Diagnostic, 2),
];

/// Pack sizes a product also comes in (multiples of its usual pack).
const PACKS: [u32; 6] = [1, 2, 4, 10, 3, 6];

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap_or_default()
}

/// An item of the demo catalogue with what its history is planned by.
struct ItemSpec {
    item: StockItem,
    class: Class,
    supplier: usize,
    /// Units given out at most at once.
    dmax: i64,
    /// Share of the movements (popularity).
    weight: f64,
    /// In the catalogue from this day.
    start: NaiveDate,
    discontinued: Option<NaiveDate>,
}

fn ean13(body: u64) -> String {
    let digits = format!("{:012}", body % 1_000_000_000_000);
    let sum: u32 = digits
        .bytes()
        .enumerate()
        .map(|(i, c)| (c - b'0') as u32 * if i % 2 == 0 { 1 } else { 3 })
        .sum();
    format!("{digits}{}", (10 - sum % 10) % 10)
}

fn catalogue(
    seed: u64,
    n: u64,
    tenant: Uuid,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> Vec<ItemSpec> {
    let nb = BASES.len() as u64;
    (0..n)
        .map(|i| {
            let bi = (i % nb) as usize;
            let v = i / nb;
            let base = &BASES[bi];
            let mut rng = DemoRng::for_item(seed, 10, i);
            let makers = base.class.makers();
            let round = if v == 0 { 0 } else { k_pack(v, makers.len()) };
            let (mult, (code, maker)) = if v == 0 {
                (1, makers[bi % makers.len()])
            } else {
                let k = (v - 1) as usize;
                (
                    PACKS[round % PACKS.len()],
                    makers[(k + bi + 1) % makers.len()],
                )
            };
            let sku = match (v, round) {
                (0, _) => base.sku.to_string(),
                (_, 0) => format!("{}-{code}", base.sku),
                _ => format!("{}-{code}{}", base.sku, round + 1),
            };
            let pack = base.pack * mult;
            let mut name = base.name.to_string();
            if pack > 1 {
                name.push_str(&format!(", {pack}"));
            }
            if v > 0 {
                name.push_str(&format!(" ({maker})"));
            }
            // A bigger pack costs a little less a unit; makers differ.
            let factor = Decimal::from(mult)
                * (Decimal::ONE - Decimal::new(5, 2) * Decimal::from(mult.min(4) - 1))
                * (Decimal::new(90, 2) + Decimal::new(rng.below(25) as i64, 2));
            let price = (dec(base.price) * factor)
                .round_dp(2)
                .max(Decimal::new(1, 2));
            let markup = Decimal::new(150 + rng.below(80) as i64, 2);
            let sale = (price * markup).round_dp(2).max(Decimal::new(10, 2));
            let pop = base.pop as f64 * 0.72f64.powi(v as i32);
            let scale = pop.round().max(1.0) as i64;
            let dmax = base.class.dmax();
            let avg = (1 + dmax) as f64 / 2.0;
            let reorder = ((2.0 * avg * scale as f64).ceil() as i64).max(2);
            let order = ((8.0 * avg * scale as f64).ceil() as i64).max(4);
            let supplier = match base.class {
                Fridge => 2,
                SterileDressing | Bandage => 3,
                Consumable | Diagnostic => 4,
                _ => bi % 2,
            };
            let start = if v > 0 && rng.chance(10) {
                today - Duration::days(60 + rng.below(640) as i64)
            } else {
                today - Duration::days(730)
            };
            // Taken off the list a while ago, at least three months after
            // it came in.
            let discontinued = (v > 0 && rng.chance(1))
                .then(|| today - Duration::days(30 + rng.below(300) as i64))
                .filter(|d| *d >= start + Duration::days(90));
            let lots = base.class.lots();
            let item = StockItem {
                id: StockItem::id_for(tenant, &sku),
                tenant_id: tenant,
                barcode: rng
                    .chance(60)
                    .then(|| ean13(5_060_000_000_000 / 10 + 4_000_000 + i)),
                name,
                generic_name: Some(base.generic.to_string()),
                brand_name: None,
                manufacturer: Some(maker.to_string()),
                category_id: Some(category_id(tenant, base.cat)),
                unit: base.unit.to_string(),
                pack_size: pack,
                purchase_price: price,
                sale_price: sale,
                tax_rate: dec(base.class.tax()),
                min_stock: (reorder / 2).max(1),
                max_stock: Some(reorder + order),
                reorder_point: reorder,
                track_batches: lots,
                track_expiry: lots,
                prescription_required: base.rx,
                storage: base.class.storage().map(str::to_string),
                discontinued: false,
                updated_at: now,
                sku,
            };
            ItemSpec {
                item,
                class: base.class,
                supplier,
                dmax,
                weight: pop.powf(1.5),
                start,
                discontinued,
            }
        })
        .collect()
}

/// The round of variant `v` (≥ 1) through the makers: its pack size, and
/// what its SKU's suffix counts.
fn k_pack(v: u64, makers: usize) -> usize {
    (v - 1) as usize / makers
}

fn category_id(tenant: Uuid, i: usize) -> Uuid {
    derived_id(tenant, &format!("demo:stock_category:{}", CATEGORIES[i].0))
}

fn supplier_id(tenant: Uuid, i: usize) -> Uuid {
    derived_id(tenant, &format!("demo:supplier:{}", SUPPLIERS[i].0))
}

// ------------------------------------------------------------------ history

/// Who does what in the demo history.
struct People {
    /// Receives and dispenses, per site.
    desk: Vec<Uuid>,
    /// Adjusts, writes off, approves orders.
    manager: Uuid,
    /// The second desk of the lot that went below zero.
    other_desk: Uuid,
}

#[derive(Debug, Clone)]
enum What {
    AddItem(usize),
    Discontinue(usize),
    Receive {
        item: usize,
        site: usize,
        lot: String,
        expiry: Option<NaiveDate>,
        qty: i64,
        cost: Decimal,
        order: Option<(usize, u32)>,
    },
    Dispense {
        item: usize,
        site: usize,
        batch: Uuid,
        qty: i64,
        patient: Option<Uuid>,
    },
    Adjust {
        item: usize,
        site: usize,
        batch: Uuid,
        qty: i64,
        kind: MovementKind,
        reason: String,
    },
    SendTransfer(usize),
    ReceiveTransfer(usize),
    CreateOrder(usize),
    OrderStep(usize, OrderStep),
}

#[derive(Debug, Clone)]
struct Ev {
    at: DateTime<Utc>,
    by: Uuid,
    what: What,
}

impl Ev {
    fn day(&self) -> NaiveDate {
        self.at.date_naive()
    }
    /// Movements it makes.
    fn movements(&self) -> u64 {
        match self.what {
            What::Receive { .. }
            | What::Dispense { .. }
            | What::Adjust { .. }
            | What::SendTransfer(_)
            | What::ReceiveTransfer(_) => 1,
            _ => 0,
        }
    }
}

struct TransferSpec {
    id: Uuid,
    item: usize,
    batch: Uuid,
    qty: i64,
    from: usize,
    to: usize,
}

struct OrderSpec {
    id: Uuid,
    supplier: usize,
    /// (item, ordered, unit cost).
    lines: Vec<(usize, i64, Decimal)>,
    created: DateTime<Utc>,
}

struct Plan {
    items: Vec<ItemSpec>,
    events: Vec<Ev>,
    transfers: Vec<TransferSpec>,
    orders: Vec<OrderSpec>,
}

/// A lot in the simulation: its stock at each site.
#[derive(Debug, Clone)]
struct Lot {
    batch: Uuid,
    expiry: Option<NaiveDate>,
    qty: Vec<i64>,
    /// Kept aside (the two expired lots left on the shelf): never used.
    held: bool,
}

fn at_minute(day: NaiveDate, minute: u64, now: DateTime<Utc>) -> DateTime<Utc> {
    let t =
        day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc() + Duration::minutes(minute as i64);
    t.min(now - Duration::minutes(1))
}

/// Splits `total` over `weights` (largest remainder), each at least `min[i]`.
fn share(total: u64, weights: &[f64], min: &[u64]) -> Vec<u64> {
    let base: u64 = min.iter().sum();
    let extra = total.saturating_sub(base);
    let sum: f64 = weights.iter().sum::<f64>().max(f64::MIN_POSITIVE);
    let mut out: Vec<u64> = min.to_vec();
    let mut rest: Vec<(f64, usize)> = Vec::with_capacity(weights.len());
    let mut given = 0;
    for (i, w) in weights.iter().enumerate() {
        let exact = extra as f64 * w / sum;
        let whole = exact.floor() as u64;
        out[i] += whole;
        given += whole;
        rest.push((exact - whole as f64, i));
    }
    rest.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, i) in rest.into_iter().take(extra.saturating_sub(given) as usize) {
        out[i] += 1;
    }
    out
}

const NEG_REASONS: &[&str] = &[
    "Breakage",
    "Damaged packaging, not usable",
    "Used in the clinic (not charged)",
    "Count correction after a shelf check",
    "Dropped on the floor, discarded",
];
const POS_REASONS: &[&str] = &[
    "Found during a shelf check",
    "Returned unopened by a patient",
    "Count correction after a shelf check",
];

/// What the planner needs beyond the catalogue.
struct PlanInput<'a> {
    seed: u64,
    sites: usize,
    movements: u64,
    today: NaiveDate,
    now: DateTime<Utc>,
    people: &'a People,
    patients: &'a [Uuid],
}

fn plan(p: &PlanInput, items: Vec<ItemSpec>) -> ClinicResult<Plan> {
    let n = items.len();
    let today = p.today;
    let mut pick = DemoRng::for_item(p.seed, 12, 0);
    // The last three items are new: in the catalogue, not received yet.
    let new_items: HashSet<usize> = (n.saturating_sub(3)..n).collect();
    let stocked = |i: usize| !new_items.contains(&i);
    // The lot below zero: the most used medicine kept by lot, not
    // prescription-only (so anyone may have given it out).
    let negative = (0..n)
        .filter(|&i| {
            stocked(i) && items[i].item.track_batches && !items[i].item.prescription_required
        })
        .max_by(|&a, &b| items[a].weight.total_cmp(&items[b].weight).then(b.cmp(&a)));
    // Two expired lots left on the shelf, of well-used items kept by lot.
    let candidates: Vec<usize> = (0..n)
        .filter(|&i| {
            stocked(i)
                && Some(i) != negative
                && items[i].item.track_batches
                && items[i].discontinued.is_none()
                && items[i].weight > 3.0
        })
        .take(64)
        .collect();
    let mut held: Vec<usize> = vec![];
    if candidates.len() >= 2 {
        let a = pick.below(candidates.len() as u64) as usize;
        let b = (a + 1 + pick.below(candidates.len() as u64 - 1) as usize) % candidates.len();
        held = vec![candidates[a], candidates[b]];
    }
    // A few items end below their reorder point at the home site.
    let low: HashSet<usize> = (0..n)
        .filter(|&i| {
            stocked(i)
                && Some(i) != negative
                && !held.contains(&i)
                && items[i].discontinued.is_none()
                && DemoRng::for_item(p.seed, 13, i as u64).chance(1)
        })
        .collect();
    // Transfers: between the well-used items stocked at both sites.
    let mut by_weight: Vec<usize> = (0..n)
        .filter(|&i| stocked(i) && Some(i) != negative)
        .collect();
    by_weight.sort_by(|&a, &b| items[b].weight.total_cmp(&items[a].weight).then(a.cmp(&b)));
    let transfer_items: HashSet<usize> = by_weight.iter().take(24).copied().collect();

    // Slots: one movement each, per item and site, shared by weight.
    let sites = p.sites.max(1);
    let site_share = |s: usize| {
        if sites == 1 {
            1.0
        } else if s == 0 {
            0.6
        } else {
            0.4 / (sites - 1) as f64
        }
    };
    let mut weights = Vec::with_capacity(n * sites);
    let mut mins = Vec::with_capacity(n * sites);
    for (i, it) in items.iter().enumerate() {
        let active = {
            let end = it.discontinued.unwrap_or(today);
            ((end - it.start).num_days().max(1) as f64 / 730.0).min(1.0)
        };
        for s in 0..sites {
            if !stocked(i) {
                weights.push(0.0);
                mins.push(0);
                continue;
            }
            weights.push(it.weight * active * site_share(s));
            mins.push(match (s, Some(i) == negative, held.contains(&i)) {
                (0, true, _) => 12,
                (0, _, true) => 6,
                _ => 2,
            });
        }
    }
    if mins.iter().sum::<u64>() > p.movements {
        return Err(ClinicError::internal(
            "too few demo movements for the catalogue",
        ));
    }
    let slots = share(p.movements, &weights, &mins);

    let mut events: Vec<Ev> = Vec::with_capacity(p.movements as usize + n * 2);
    let mut transfers: Vec<TransferSpec> = vec![];
    let mut transfers_left = 3;
    let mut in_transit_left = 1;
    for (i, it) in items.iter().enumerate() {
        events.push(Ev {
            at: at_minute(
                if stocked(i) {
                    it.start - Duration::days(1)
                } else {
                    today - Duration::days(5)
                },
                8 * 60,
                p.now,
            ),
            by: p.people.manager,
            what: What::AddItem(i),
        });
        if let Some(d) = it.discontinued.filter(|_| stocked(i)) {
            events.push(Ev {
                at: at_minute(d, 16 * 60, p.now),
                by: p.people.manager,
                what: What::Discontinue(i),
            });
        }
        if !stocked(i) {
            continue;
        }
        let counts: Vec<u64> = (0..sites).map(|s| slots[i * sites + s]).collect();
        let mut sim = ItemSim {
            p,
            i,
            it,
            rng: DemoRng::for_item(p.seed, 11, i as u64),
            lots: vec![],
            lot_names: HashSet::new(),
            out: &mut events,
            low: low.contains(&i),
            transfer: transfer_items.contains(&i),
        };
        sim.run(
            &counts,
            Some(i) == negative,
            held.contains(&i),
            &mut transfers,
            &mut transfers_left,
            &mut in_transit_left,
        )?;
    }

    // Purchase orders, from the home site's deliveries of the last weeks.
    let mut orders: Vec<OrderSpec> = vec![];
    let windows: [(usize, i64, i64, bool); 5] = [
        (0, 45, 33, false),
        (1, 36, 24, false),
        (2, 30, 12, false),
        (3, 26, 9, false),
        (4, 14, 2, true),
    ];
    for (sup, from, to, partly) in windows {
        let (a, z) = (today - Duration::days(from), today - Duration::days(to));
        let mut seen = HashSet::new();
        let mut lines: Vec<(usize, i64, Decimal)> = vec![];
        let mut first: Option<DateTime<Utc>> = None;
        let k = orders.len();
        for e in events.iter_mut() {
            if lines.len() >= 10 {
                break;
            }
            if let What::Receive {
                item,
                site: 0,
                qty,
                cost,
                order,
                ..
            } = &mut e.what
            {
                let d = e.at.date_naive();
                if d < a
                    || d > z
                    || order.is_some()
                    || items[*item].supplier != sup
                    || !seen.insert(*item)
                {
                    continue;
                }
                *order = Some((k, lines.len() as u32));
                lines.push((*item, *qty, *cost));
                first = Some(first.map_or(e.at, |f| f.min(e.at)));
            }
        }
        let Some(first) = first else { continue };
        if partly {
            // One line came short (a back-order), one not at all.
            lines[0].1 += 6;
            if let Some(extra) =
                (0..n).find(|&i| items[i].supplier == sup && stocked(i) && !seen.contains(&i))
            {
                lines.push((
                    extra,
                    items[extra].item.max_stock.unwrap_or(10),
                    items[extra].item.purchase_price,
                ));
            }
        }
        let created = at_minute(
            (first - Duration::days(2 + pick.below(2) as i64)).date_naive(),
            11 * 60,
            p.now,
        );
        orders.push(OrderSpec {
            id: new_id(created),
            supplier: sup,
            lines,
            created,
        });
    }
    // One waiting for approval: the new items and the low ones.
    {
        let want: Vec<usize> = new_items
            .iter()
            .chain(low.iter())
            .copied()
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let sup = want.first().map_or(0, |&i| items[i].supplier);
        let mut lines: Vec<(usize, i64, Decimal)> = want
            .iter()
            .filter(|&&i| items[i].supplier == sup)
            .map(|&i| {
                (
                    i,
                    items[i].item.max_stock.unwrap_or(10),
                    items[i].item.purchase_price,
                )
            })
            .collect();
        if lines.is_empty() {
            lines = (0..n.min(3))
                .map(|i| (i, 10, items[i].item.purchase_price))
                .collect();
        }
        let created = at_minute(today - Duration::days(1), 14 * 60 + 20, p.now);
        orders.push(OrderSpec {
            id: new_id(created),
            supplier: sup,
            lines,
            created,
        });
    }
    let last = orders.len() - 1;
    for (k, o) in orders.iter().enumerate() {
        events.push(Ev {
            at: o.created,
            by: p.people.desk[0],
            what: What::CreateOrder(k),
        });
        if k != last {
            events.push(Ev {
                at: o.created + Duration::minutes(50),
                by: p.people.manager,
                what: What::OrderStep(k, OrderStep::Approve),
            });
            events.push(Ev {
                at: o.created + Duration::minutes(65),
                by: p.people.desk[0],
                what: What::OrderStep(k, OrderStep::MarkSent),
            });
        }
    }
    let made: u64 = events.iter().map(Ev::movements).sum();
    if made != p.movements {
        return Err(ClinicError::internal(format!(
            "demo stock: {made} movements planned, {} wanted",
            p.movements
        )));
    }
    // In time order (stable: a day's events keep the order they were made in).
    events.sort_by_key(|e| e.at);
    Ok(Plan {
        items,
        events,
        transfers,
        orders,
    })
}

struct ItemSim<'a, 'p> {
    p: &'a PlanInput<'p>,
    i: usize,
    it: &'a ItemSpec,
    rng: DemoRng,
    /// First expiry first (no expiry last).
    lots: Vec<Lot>,
    lot_names: HashSet<String>,
    out: &'a mut Vec<Ev>,
    /// Ends below its reorder point at the home site.
    low: bool,
    /// May be sent from the home site to another.
    transfer: bool,
}

impl ItemSim<'_, '_> {
    fn push(&mut self, at: DateTime<Utc>, by: Uuid, what: What) {
        self.out.push(Ev { at, by, what });
    }

    fn new_lot(&mut self, day: NaiveDate, closing: bool) -> (String, Option<NaiveDate>) {
        if !self.it.item.track_batches {
            return (String::new(), None);
        }
        let lot = loop {
            let l = format!(
                "{}{}{:04}{}",
                (b'A' + self.rng.below(26) as u8) as char,
                (b'A' + self.rng.below(26) as u8) as char,
                self.rng.below(10_000),
                (b'A' + self.rng.below(26) as u8) as char
            );
            if self.lot_names.insert(l.clone()) {
                break l;
            }
        };
        let (lo, hi) = self.it.class.shelf_months();
        let mut expiry = day + Duration::days(((lo + self.rng.below(hi - lo + 1)) * 30) as i64);
        if closing {
            // Bought near the end of the history: it lasts beyond it.
            expiry = expiry.max(self.p.today + Duration::days(120 + self.rng.below(400) as i64));
        }
        (lot, Some(expiry))
    }

    fn cost(&mut self, day: NaiveDate) -> Decimal {
        // Prices rise about 3 % a year; deliveries differ a little.
        let years_ago = (self.p.today - day).num_days() as f64 / 365.0;
        let f = 1.0 - 0.03 * years_ago + (self.rng.below(5) as f64 - 2.0) / 100.0;
        let f = Decimal::from_str(&format!("{f:.3}")).unwrap_or(Decimal::ONE);
        (self.it.item.purchase_price * f)
            .round_dp(2)
            .max(Decimal::new(1, 2))
    }

    fn insert_lot(&mut self, lot: Lot) -> usize {
        let key = |l: &Lot| (l.expiry.is_none(), l.expiry);
        let pos = self
            .lots
            .iter()
            .position(|l| key(l) > key(&lot))
            .unwrap_or(self.lots.len());
        self.lots.insert(pos, lot);
        pos
    }

    /// Receives `qty` into a new lot (or the item's one lot) at `site`.
    fn receive(&mut self, at: DateTime<Utc>, site: usize, qty: i64, closing: bool) {
        let day = at.date_naive();
        let (lot, expiry) = self.new_lot(day, closing);
        let batch = StockBatch::id_for(self.it.item.id, &lot);
        match self.lots.iter_mut().find(|l| l.batch == batch) {
            Some(l) => l.qty[site] += qty,
            None => {
                let mut q = vec![0; self.p.sites.max(1)];
                q[site] = qty;
                self.insert_lot(Lot {
                    batch,
                    expiry,
                    qty: q,
                    held: false,
                });
            }
        }
        let cost = self.cost(day);
        let by = self.p.people.desk[site];
        self.push(
            at,
            by,
            What::Receive {
                item: self.i,
                site,
                lot,
                expiry,
                qty,
                cost,
                order: None,
            },
        );
    }

    fn dispense(&mut self, at: DateTime<Utc>, site: usize, lot: usize, qty: i64, by: Uuid) {
        self.lots[lot].qty[site] -= qty;
        let patient = (!self.p.patients.is_empty() && self.rng.chance(self.it.class.to_patient()))
            .then(|| *self.rng.pick(self.p.patients));
        let batch = self.lots[lot].batch;
        self.push(
            at,
            by,
            What::Dispense {
                item: self.i,
                site,
                batch,
                qty,
                patient,
            },
        );
    }

    fn adjust(
        &mut self,
        at: DateTime<Utc>,
        site: usize,
        lot: usize,
        qty: i64,
        kind: MovementKind,
        reason: String,
    ) {
        self.lots[lot].qty[site] += qty;
        let batch = self.lots[lot].batch;
        let by = self.p.people.manager;
        self.push(
            at,
            by,
            What::Adjust {
                item: self.i,
                site,
                batch,
                qty,
                kind,
                reason,
            },
        );
    }

    fn write_off(&mut self, at: DateTime<Utc>, site: usize, lot: usize) {
        let e = self.lots[lot].expiry.unwrap_or(self.p.today);
        let q = self.lots[lot].qty[site];
        self.adjust(
            at,
            site,
            lot,
            -q,
            MovementKind::ExpiryWriteOff,
            format!("Expired on {e}: written off"),
        );
    }

    /// Usable stock at `site` on `day` (lots not expired then), and the
    /// first lot to take from.
    fn usable(&self, site: usize, day: NaiveDate) -> (i64, Option<usize>) {
        let mut total = 0;
        let mut first = None;
        for (k, l) in self.lots.iter().enumerate() {
            if l.held || l.qty[site] <= 0 || l.expiry.is_some_and(|e| e < day) {
                continue;
            }
            total += l.qty[site];
            first.get_or_insert(k);
        }
        (total, first)
    }

    /// Lots at `site` that will have expired by today with stock left.
    fn expiring_before_end(&self, site: usize) -> Vec<usize> {
        (0..self.lots.len())
            .filter(|&k| {
                let l = &self.lots[k];
                !l.held && l.qty[site] > 0 && l.expiry.is_some_and(|e| e < self.p.today)
            })
            .collect()
    }

    #[allow(clippy::too_many_arguments)]
    fn run(
        &mut self,
        counts: &[u64],
        negative: bool,
        held: bool,
        transfers: &mut Vec<TransferSpec>,
        transfers_left: &mut u32,
        in_transit_left: &mut u32,
    ) -> ClinicResult<()> {
        let p = self.p;
        let today = p.today;
        let it = self.it;
        let sites = counts.len();
        let rp = it.item.reorder_point;
        let max = it.item.max_stock.unwrap_or(rp * 4);
        let end = it
            .discontinued
            .map_or(today - Duration::days(1), |d| d - Duration::days(1));
        let scripted = if negative { 4 } else { 0 };
        // The slots' days and minutes, per site, then merged in time order.
        let mut slots: Vec<(DateTime<Utc>, usize)> = vec![];
        for (s, &c) in counts.iter().enumerate() {
            let c = c - if s == 0 { scripted } else { 0 };
            let last = if negative && s == 0 {
                today - Duration::days(4)
            } else {
                end
            };
            let span = (last - it.start).num_days().max(0) as u64;
            for _ in 0..c {
                let day = it.start + Duration::days(self.rng.below(span + 1) as i64);
                let minute = 8 * 60 + 30 + self.rng.below(510);
                slots.push((at_minute(day, minute, p.now), s));
            }
        }
        slots.sort();
        let mut left: Vec<u64> = (0..sites)
            .map(|s| slots.iter().filter(|x| x.1 == s).count() as u64)
            .collect();
        let mut clock: Vec<DateTime<Utc>> = vec![DateTime::<Utc>::MIN_UTC; sites];
        // The held lot (an expired one left on the shelf) takes the first
        // home-site slot between 11 and 2 months ago.
        let mut held_slot = held.then(|| {
            slots.iter().position(|(t, s)| {
                *s == 0
                    && t.date_naive() >= today - Duration::days(330)
                    && t.date_naive() <= today - Duration::days(60)
            })
        });
        let mut pending_in: Vec<Option<usize>> = vec![None; sites];
        for (k, &(slot_at, s)) in slots.iter().enumerate() {
            left[s] -= 1;
            let at = slot_at.max(clock[s]);
            clock[s] = at;
            let day = at.date_naive();
            let by = p.people.desk[s];
            if held_slot == Some(Some(k)) {
                held_slot = None;
                let (lot, _) = self.new_lot(day, false);
                let expiry = today - Duration::days(6 + self.rng.below(40) as i64);
                let qty = 2 + self.rng.below(5) as i64;
                let batch = StockBatch::id_for(it.item.id, &lot);
                let mut q = vec![0; sites];
                q[s] = qty;
                self.insert_lot(Lot {
                    batch,
                    expiry: Some(expiry),
                    qty: q,
                    held: true,
                });
                let cost = self.cost(day);
                self.push(
                    at,
                    by,
                    What::Receive {
                        item: self.i,
                        site: s,
                        lot,
                        expiry: Some(expiry),
                        qty,
                        cost,
                        order: None,
                    },
                );
                continue;
            }
            if let Some(t) = pending_in[s].take() {
                let tr = &transfers[t];
                if let Some(l) = self.lots.iter_mut().find(|l| l.batch == tr.batch) {
                    l.qty[s] += tr.qty;
                }
                self.push(at, by, What::ReceiveTransfer(t));
                continue;
            }
            let expiring = self.expiring_before_end(s);
            let (usable_end, _) = self.usable(s, today);
            let ends_low = s == 0 && self.low;
            let need_receipt = u64::from(!ends_low && it.discontinued.is_none() && usable_end < rp);
            let need = expiring.len() as u64 + need_receipt;
            // The rest of the slots are what the end needs: expired lots
            // written off, stock back above the reorder point.
            if left[s] < need {
                if let Some(&lot) = expiring.first() {
                    let e = self.lots[lot].expiry.unwrap_or(today);
                    let when = at.max(at_minute(
                        e + Duration::days(1),
                        9 * 60 + self.rng.below(60),
                        p.now,
                    ));
                    clock[s] = when;
                    self.write_off(when, s, lot);
                } else {
                    self.receive(at, s, (max - usable_end).max(rp), true);
                }
                continue;
            }
            let last_free = left[s] <= need;
            if let Some(lot) = (0..self.lots.len()).find(|&l| {
                let x = &self.lots[l];
                !x.held && x.qty[s] > 0 && x.expiry.is_some_and(|e| e < day)
            }) {
                self.write_off(at, s, lot);
                continue;
            }
            let (usable, first) = self.usable(s, day);
            if ends_low && last_free {
                // Ends below the reorder point: a big dispense, or a small
                // delivery when there is nothing left.
                match first {
                    Some(f) if usable_end >= 1 => {
                        let target =
                            (rp - 1 - self.rng.below((rp / 2).max(1) as u64) as i64).max(0);
                        let q = (usable_end - target).clamp(1, self.lots[f].qty[s]);
                        self.dispense(at, s, f, q, by);
                    }
                    _ => self.receive(at, s, (rp / 2).max(1), true),
                }
                continue;
            }
            let keep_up = !ends_low && it.discontinued.is_none();
            let want_receipt = usable < rp || (last_free && usable_end <= rp && keep_up);
            if want_receipt {
                // Short at a second site: sometimes sent from the home site.
                let (home_usable, home_first) = self.usable(0, day);
                let (home_end, _) = self.usable(0, today);
                let q = ((max - usable).max(rp) / 2).max(1);
                if s > 0
                    && self.transfer
                    && *transfers_left > 0
                    && left[s] > need + 1
                    && !last_free
                    && home_usable > q
                    && home_end - q >= rp
                {
                    if let Some(f) = home_first {
                        let q = q.min(self.lots[f].qty[0]).max(1);
                        self.lots[f].qty[0] -= q;
                        let id = new_id(at);
                        transfers.push(TransferSpec {
                            id,
                            item: self.i,
                            batch: self.lots[f].batch,
                            qty: q,
                            from: 0,
                            to: s,
                        });
                        *transfers_left -= 1;
                        pending_in[s] = Some(transfers.len() - 1);
                        self.push(
                            at,
                            p.people.desk[0],
                            What::SendTransfer(transfers.len() - 1),
                        );
                        continue;
                    }
                }
                let closing = left[s] <= need + 2;
                self.receive(at, s, (max - usable).max(rp), closing);
                continue;
            }
            let f =
                first.ok_or_else(|| ClinicError::internal("demo stock: no lot to take from"))?;
            // The last free slot of a well-used item at home: sent to the
            // other site shortly before today, still in transit.
            if s == 0
                && sites > 1
                && last_free
                && self.transfer
                && *in_transit_left > 0
                && day >= today - Duration::days(10)
                && usable_end - 5 >= rp
                && self.lots[f].qty[0] >= 5
            {
                *in_transit_left -= 1;
                self.lots[f].qty[0] -= 5;
                transfers.push(TransferSpec {
                    id: new_id(at),
                    item: self.i,
                    batch: self.lots[f].batch,
                    qty: 5,
                    from: 0,
                    to: 1,
                });
                self.push(at, by, What::SendTransfer(transfers.len() - 1));
                continue;
            }
            let lot_counts = self.lots[f].expiry.is_none_or(|e| e >= today);
            if self.rng.chance(4) {
                let negative_adj = !last_free && self.rng.chance(70);
                if negative_adj {
                    let q = 1 + self.rng.below(2) as i64;
                    let q = q.min(self.lots[f].qty[s]);
                    let r = self.rng.pick(NEG_REASONS).to_string();
                    self.adjust(at, s, f, -q, MovementKind::Adjustment, r);
                } else {
                    let r = self.rng.pick(POS_REASONS).to_string();
                    self.adjust(at, s, f, 1, MovementKind::Adjustment, r);
                }
                continue;
            }
            let mut q = (1 + self.rng.below(it.dmax as u64) as i64).min(self.lots[f].qty[s]);
            if last_free && lot_counts && keep_up {
                q = q.min(usable_end - rp).max(1);
            }
            self.dispense(at, s, f, q, by);
        }
        if negative {
            // Two deliveries, then two desks give out the last of the
            // first lot at the same time: it ends below zero, the other
            // lot still has stock.
            let d3 = today - Duration::days(3);
            let d1 = today - Duration::days(1);
            let by = p.people.desk[0];
            let (lot_a, _) = self.new_lot(d3, false);
            let (lot_b, _) = self.new_lot(d3, false);
            let add = |sim: &mut Self, lot: String, expiry: NaiveDate, qty: i64, minute: u64| {
                let batch = StockBatch::id_for(it.item.id, &lot);
                let mut q = vec![0; sites];
                q[0] = qty;
                sim.insert_lot(Lot {
                    batch,
                    expiry: Some(expiry),
                    qty: q,
                    held: false,
                });
                let at = at_minute(d3, minute, p.now);
                let cost = sim.cost(d3);
                sim.push(
                    at,
                    by,
                    What::Receive {
                        item: sim.i,
                        site: 0,
                        lot,
                        expiry: Some(expiry),
                        qty,
                        cost,
                        order: None,
                    },
                );
                batch
            };
            let a = add(self, lot_a, today + Duration::days(35), 5, 9 * 60 + 10);
            add(self, lot_b, today + Duration::days(420), 40, 9 * 60 + 12);
            let ka = self.lots.iter().position(|l| l.batch == a).unwrap_or(0);
            self.dispense(at_minute(d1, 10 * 60 + 2, p.now), 0, ka, 5, by);
            self.dispense(
                at_minute(d1, 10 * 60 + 3, p.now),
                0,
                ka,
                3,
                p.people.other_desk,
            );
        }
        Ok(())
    }
}

// ------------------------------------------------------------------ writing

fn movement(
    tenant: Uuid,
    kind: MovementKind,
    item: &StockItem,
    batch: Uuid,
    site: Uuid,
    quantity: i64,
    at: DateTime<Utc>,
) -> StockMovement {
    StockMovement {
        id: new_id(at),
        tenant_id: tenant,
        item_id: item.id,
        batch_id: batch,
        site_id: site,
        kind,
        quantity,
        unit_cost: Decimal::ZERO,
        on: at.date_naive(),
        reason: None,
        patient_id: None,
        prescription_id: None,
        prescription_line: None,
        invoice_id: None,
        invoice_line: None,
        purchase_order_id: None,
        transfer_id: None,
        stocktake_id: None,
        override_reason: None,
        by: Uuid::nil(),
        at,
    }
}

/// Turns the plan's events into mutations.
#[derive(Clone, Copy)]
struct Render<'a> {
    tenant: Uuid,
    sites: &'a [Uuid],
    site_names: &'a [String],
    plan: &'a Plan,
    /// Orders whose events are made (the others' deliveries are plain).
    orders: &'a HashSet<usize>,
}

impl Render<'_> {
    fn item(&self, i: usize) -> &StockItem {
        &self.plan.items[i].item
    }

    fn mutation(
        &self,
        e: &Ev,
        number: &mut dyn FnMut() -> ClinicResult<String>,
    ) -> ClinicResult<Mutation> {
        let t = self.tenant;
        Ok(match &e.what {
            What::AddItem(i) => {
                let mut item = self.item(*i).clone();
                item.updated_at = e.at;
                Mutation::new(AddStockItem { item })
            }
            What::Discontinue(i) => Mutation::new(ChangeStockItem {
                item: self.item(*i).id,
                discontinued: Some(true),
                ..Default::default()
            }),
            What::Receive {
                item,
                site,
                lot,
                expiry,
                qty,
                cost,
                order,
            } => {
                let it = self.item(*item);
                let batch = StockBatch::id_for(it.id, lot);
                let mut m = movement(
                    t,
                    MovementKind::Receipt,
                    it,
                    batch,
                    self.sites[*site],
                    *qty,
                    e.at,
                );
                m.unit_cost = *cost;
                let order = order.filter(|(k, _)| self.orders.contains(k));
                Mutation::new(ReceiveStock {
                    receipts: vec![Receipt {
                        movement: m,
                        lot: lot.clone(),
                        expiry: *expiry,
                        order_line: order.map(|(_, l)| l),
                    }],
                    supplier: Some(supplier_id(t, self.plan.items[*item].supplier)),
                    purchase_order: order.map(|(k, _)| self.plan.orders[k].id),
                })
            }
            What::Dispense {
                item,
                site,
                batch,
                qty,
                patient,
            } => {
                let it = self.item(*item);
                let mut m = movement(
                    t,
                    MovementKind::Dispense,
                    it,
                    *batch,
                    self.sites[*site],
                    -qty,
                    e.at,
                );
                m.patient_id = *patient;
                if it.prescription_required {
                    m.override_reason =
                        Some("Paper prescription (FP10) checked at the desk".into());
                }
                Mutation::new(DispenseStock { movements: vec![m] })
            }
            What::Adjust {
                item,
                site,
                batch,
                qty,
                kind,
                reason,
            } => {
                let mut m = movement(
                    t,
                    *kind,
                    self.item(*item),
                    *batch,
                    self.sites[*site],
                    *qty,
                    e.at,
                );
                m.reason = Some(reason.clone());
                Mutation::new(AdjustStock { movements: vec![m] })
            }
            What::SendTransfer(k) => {
                let tr = &self.plan.transfers[*k];
                let it = self.item(tr.item);
                let mut m = movement(
                    t,
                    MovementKind::TransferOut,
                    it,
                    tr.batch,
                    self.sites[tr.from],
                    -tr.qty,
                    e.at,
                );
                m.transfer_id = Some(tr.id);
                Mutation::new(SendTransfer {
                    transfer: StockTransfer {
                        id: tr.id,
                        tenant_id: t,
                        from_site: self.sites[tr.from],
                        to_site: self.sites[tr.to],
                        lines: vec![TransferLine {
                            item_id: it.id,
                            batch_id: tr.batch,
                            quantity: tr.qty,
                        }],
                        status: TransferStatus::InTransit,
                        note: Some(format!(
                            "{} is short: sent with the courier",
                            self.site_names[tr.to]
                        )),
                        sent_by: e.by,
                        sent_at: e.at,
                        received_by: None,
                        received_at: None,
                    },
                    movements: vec![m],
                })
            }
            What::ReceiveTransfer(k) => {
                let tr = &self.plan.transfers[*k];
                let mut m = movement(
                    t,
                    MovementKind::TransferIn,
                    self.item(tr.item),
                    tr.batch,
                    self.sites[tr.to],
                    tr.qty,
                    e.at,
                );
                m.transfer_id = Some(tr.id);
                Mutation::new(ReceiveTransfer {
                    transfer: tr.id,
                    movements: vec![m],
                })
            }
            What::CreateOrder(k) => {
                let o = &self.plan.orders[*k];
                let lines = o
                    .lines
                    .iter()
                    .map(|(i, q, c)| {
                        let it = self.item(*i);
                        OrderLine {
                            item_id: it.id,
                            sku: it.sku.clone(),
                            name: it.name.clone(),
                            quantity: *q,
                            unit_cost: *c,
                            received: 0,
                        }
                    })
                    .collect();
                Mutation::new(CreatePurchaseOrder {
                    order: PurchaseOrder {
                        id: o.id,
                        tenant_id: t,
                        number: number()?,
                        supplier_id: supplier_id(t, o.supplier),
                        supplier_name: SUPPLIERS[o.supplier].0.into(),
                        site_id: self.sites[0],
                        lines,
                        status: OrderStatus::Pending,
                        expected_on: Some(o.created.date_naive() + Duration::days(3)),
                        notes: String::new(),
                        created_by: e.by,
                        created_at: o.created,
                        approved_by: None,
                        approved_at: None,
                        sent_at: None,
                        cancel_reason: None,
                        updated_at: o.created,
                    },
                })
            }
            What::OrderStep(k, step) => Mutation::new(ChangeOrderStatus {
                order: self.plan.orders[*k].id,
                step: *step,
                reason: None,
            }),
        })
    }

    /// Whether the event is made at all (an order's steps only with it).
    fn made(&self, e: &Ev) -> bool {
        match e.what {
            What::CreateOrder(k) | What::OrderStep(k, _) => self.orders.contains(&k),
            _ => true,
        }
    }
}

fn catalogue_docs(tenant: Uuid) -> (Vec<StockCategory>, Vec<Supplier>) {
    let cats = CATEGORIES
        .iter()
        .enumerate()
        .map(|(i, (name, parent, desc))| StockCategory {
            id: category_id(tenant, i),
            name: name.to_string(),
            parent_id: parent.map(|p| category_id(tenant, p)),
            description: Some(desc.to_string()),
            active: true,
        })
        .collect();
    let sups = SUPPLIERS
        .iter()
        .enumerate()
        .map(|(i, (name, contact, email, phone, terms))| Supplier {
            id: supplier_id(tenant, i),
            name: name.to_string(),
            contact_person: Some(contact.to_string()),
            email: Some(email.to_string()),
            phone: Some(phone.to_string()),
            address: Some(format!(
                "Unit {}, Trade Park, Leeds LS{} 2AB",
                3 + i * 4,
                10 + i
            )),
            tax_id: Some(format!(
                "GB {} {:04} {:02}",
                200 + i * 37,
                1000 + i * 811,
                10 + i * 7
            )),
            payment_terms: Some(terms.to_string()),
            active: true,
        })
        .collect();
    (cats, sups)
}

/// Writes the demo clinic's stock: catalogue, orders, transfers and about
/// two years of movements at both sites (`size`'s counts), deterministic
/// from `seed`.
pub fn write_demo_inventory(
    db: &Db,
    seed: u64,
    size: DemoSize,
    actor: Option<Uuid>,
    now: DateTime<Utc>,
) -> ClinicResult<DemoInventory> {
    if size.stock_items() == 0 {
        return Ok(DemoInventory::default());
    }
    use chrono::SubsecRound;
    let now = now.trunc_subsecs(6);
    let today = now.date_naive();
    let tenant = db.tenant_id;
    let synced = db.is_synced()?;
    let home = crate::scheduling::home_site(db)?;
    let mut all_sites = db.sites()?;
    all_sites.sort_by_key(|s| (s.id != home.id, s.name.clone()));
    all_sites.truncate(2);
    let sites: Vec<Uuid> = all_sites.iter().map(|s| s.id).collect();
    let site_names: Vec<String> = all_sites.iter().map(|s| s.name.clone()).collect();
    let user = |email: &str| -> ClinicResult<Uuid> {
        Ok(db
            .credentials(email)?
            .map(|c| c.user_id)
            .or(actor)
            .unwrap_or_default())
    };
    let people = People {
        desk: vec![
            user("pharmacy@demo.clinic")?,
            user("clinician02@demo.clinic")?,
        ],
        manager: user("manager@demo.clinic")?,
        other_desk: user("clinician01@demo.clinic")?,
    };
    let patients: Vec<Uuid> = db
        .query_docs(
            "SELECT json_object('p', id) FROM patients ORDER BY pk LIMIT 5000",
            &[],
        )?
        .iter()
        .filter_map(|d| d["p"].as_str().and_then(|s| s.parse().ok()))
        .collect();
    let input = PlanInput {
        seed,
        sites: sites.len(),
        movements: size.stock_movements(),
        today,
        now,
        people: &people,
        patients: &patients,
    };
    let items = catalogue(seed, size.stock_items(), tenant, today, now);
    let plan = plan(&input, items)?;
    let (cats, sups) = catalogue_docs(tenant);
    let mut out = DemoInventory {
        stock_items: plan.items.len() as u64,
        ..Default::default()
    };
    if synced {
        write_synced(
            db,
            &plan,
            &sites,
            &site_names,
            &cats,
            &sups,
            actor,
            now,
            &mut out,
        )?;
        out.stock_movements = db.movement_count()? as u64;
        out.stock_items = db.stock_item_count()? as u64;
        return Ok(out);
    }
    let all_orders: HashSet<usize> = (0..plan.orders.len()).collect();
    let render = Render {
        tenant,
        sites: &sites,
        site_names: &site_names,
        plan: &plan,
        orders: &all_orders,
    };
    let mut recs = Records::default();
    let cx0 = Context {
        tenant,
        at: now - Duration::days(731),
        user: Some(people.manager).filter(|u| !u.is_nil()),
    };
    for c in &cats {
        apply(
            &Mutation::new(SaveDocument::new(c.clone())),
            &cx0,
            &mut recs,
        )?;
    }
    for s in &sups {
        apply(
            &Mutation::new(SaveDocument::new(s.clone())),
            &cx0,
            &mut recs,
        )?;
    }
    let mut number = || -> ClinicResult<String> {
        Ok((PURCHASE_ORDER_NUMBERS.format)(
            db.next_number(PURCHASE_ORDER_NUMBERS.name)?,
        ))
    };
    let mut batches: Vec<Uuid> = vec![];
    let mut batch_seen: HashSet<Uuid> = HashSet::new();
    for e in &plan.events {
        let m = render.mutation(e, &mut number)?;
        let cx = Context {
            tenant,
            at: e.at,
            user: Some(e.by).filter(|u| !u.is_nil()),
        };
        let applied = apply(&m, &cx, &mut recs)?;
        for id in applied.changed {
            if let Some(mv) = recs.get::<StockMovement>(id) {
                db.put_movement(mv)?;
                out.stock_movements += 1;
                recs.remove(id);
            } else if recs.get::<StockBatch>(id).is_some() && batch_seen.insert(id) {
                batches.push(id);
            }
        }
    }
    for it in &plan.items {
        let stored = recs
            .get::<StockItem>(it.item.id)
            .ok_or_else(|| ClinicError::internal("a demo stock item was not made"))?;
        db.put_stock_item(stored)?;
    }
    for id in batches {
        if let Some(b) = recs.get::<StockBatch>(id) {
            db.put_batch(b)?;
            out.lots += 1;
        }
    }
    let docs: Vec<Uuid> = cats
        .iter()
        .map(|c| c.id)
        .chain(sups.iter().map(|s| s.id))
        .chain(plan.orders.iter().map(|o| o.id))
        .chain(plan.transfers.iter().map(|t| t.id))
        .collect();
    for id in docs {
        if let Some(r) = recs.any(id) {
            db.put_record(r)?;
        }
    }
    out.purchase_orders = plan.orders.len() as u64;
    out.transfers = plan.transfers.len() as u64;
    Ok(out)
}

/// On an enrolled store: the catalogue, each lot's stock before the last
/// days as an opening receipt, and the movements (and orders) of those
/// days, all queued as a desk queues them.
#[allow(clippy::too_many_arguments)]
fn write_synced(
    db: &Db,
    plan: &Plan,
    sites: &[Uuid],
    site_names: &[String],
    cats: &[StockCategory],
    sups: &[Supplier],
    actor: Option<Uuid>,
    now: DateTime<Utc>,
    out: &mut DemoInventory,
) -> ClinicResult<()> {
    let tenant = db.tenant_id;
    let today = now.date_naive();
    let window = today - Duration::days(crate::demo::SYNCED_APPOINTMENT_DAYS);
    for c in cats {
        db.commit_mutation(actor, now, &Mutation::new(SaveDocument::new(c.clone())))?;
    }
    for s in sups {
        db.commit_mutation(actor, now, &Mutation::new(SaveDocument::new(s.clone())))?;
    }
    // Orders made within the window or delivered only within it (made,
    // approved and sent just before it), as far as this desk has numbers.
    let mut deliveries: HashMap<usize, Vec<NaiveDate>> = HashMap::new();
    for e in &plan.events {
        if let What::Receive {
            order: Some((k, _)),
            ..
        } = e.what
        {
            deliveries.entry(k).or_default().push(e.day());
        }
    }
    let mut recent: HashSet<usize> = plan
        .orders
        .iter()
        .enumerate()
        .filter(|(k, o)| {
            let days = deliveries.get(k).map(Vec::as_slice).unwrap_or(&[]);
            o.created.date_naive() >= window
                || (!days.is_empty() && days.iter().all(|d| *d >= window))
        })
        .map(|(k, _)| k)
        .collect();
    if (db.numbers_left(PURCHASE_ORDER_NUMBERS.name)?.max(0) as usize) < recent.len() {
        recent.clear();
    }
    let all: HashSet<usize> = (0..plan.orders.len()).collect();
    let render = Render {
        tenant,
        sites,
        site_names,
        plan,
        orders: &all,
    };
    let queued = Render {
        orders: &recent,
        ..render
    };
    // The history before the window, in memory: each lot's stock and
    // cost when the window opens.
    let mut recs = Records::default();
    let mut balance: BTreeMap<(usize, Uuid, usize), i64> = BTreeMap::new();
    let mut sent_before: HashSet<usize> = HashSet::new();
    let mut n = 0u64;
    let mut number = || -> ClinicResult<String> {
        n += 1;
        Ok((PURCHASE_ORDER_NUMBERS.format)(n))
    };
    let site_of: HashMap<Uuid, usize> = sites.iter().enumerate().map(|(k, s)| (*s, k)).collect();
    let item_of: HashMap<Uuid, usize> = plan
        .items
        .iter()
        .enumerate()
        .map(|(k, it)| (it.item.id, k))
        .collect();
    let mut rest = vec![];
    for e in &plan.events {
        let before = e.day() < window;
        match e.what {
            What::CreateOrder(k) | What::OrderStep(k, _) if recent.contains(&k) => {
                rest.push(e);
                continue;
            }
            What::SendTransfer(k) if before => {
                sent_before.insert(k);
            }
            What::ReceiveTransfer(k) if !before && sent_before.contains(&k) => {
                // Arrives in the window: part of the opening stock there.
                let tr = &plan.transfers[k];
                *balance.entry((tr.item, tr.batch, tr.to)).or_default() += tr.qty;
                continue;
            }
            _ => {}
        }
        if !before {
            rest.push(e);
            continue;
        }
        let m = render.mutation(e, &mut number)?;
        let cx = Context {
            tenant,
            at: e.at,
            user: Some(e.by).filter(|u| !u.is_nil()),
        };
        let applied = apply(&m, &cx, &mut recs)?;
        for id in applied.changed {
            if let Some(mv) = recs.get::<StockMovement>(id) {
                let key = (item_of[&mv.item_id], mv.batch_id, site_of[&mv.site_id]);
                *balance.entry(key).or_default() += mv.quantity;
                recs.remove(id);
            }
        }
    }
    // The catalogue as it stood when the window opened (the items added
    // since come with the window's events).
    for it in &plan.items {
        if let Some(item) = recs.get::<StockItem>(it.item.id) {
            db.commit_mutation(
                actor,
                now,
                &Mutation::new(AddStockItem { item: item.clone() }),
            )?;
        }
    }
    // Opening stock: one receipt per lot and site, by site, 100 a delivery.
    let open_day = window - Duration::days(1);
    for (s, site) in sites.iter().enumerate() {
        let lines: Vec<Receipt> = balance
            .iter()
            .filter(|((_, _, bs), q)| *bs == s && **q > 0)
            .filter_map(|((i, batch, _), q)| {
                let b = recs.get::<StockBatch>(*batch)?;
                let it = &plan.items[*i].item;
                let mut m = movement(tenant, MovementKind::Receipt, it, *batch, *site, *q, now);
                m.on = open_day;
                m.unit_cost = b.unit_cost;
                m.reason =
                    Some("Opening balance: stock on hand before the demo's recent days".into());
                Some(Receipt {
                    movement: m,
                    lot: b.lot.clone(),
                    expiry: b.expiry,
                    order_line: None,
                })
            })
            .collect();
        for chunk in lines.chunks(100) {
            db.commit_mutation(
                actor,
                now,
                &Mutation::new(ReceiveStock {
                    receipts: chunk.to_vec(),
                    supplier: None,
                    purchase_order: None,
                }),
            )?;
        }
    }
    let mut number = || -> ClinicResult<String> {
        Ok((PURCHASE_ORDER_NUMBERS.format)(
            db.next_number(PURCHASE_ORDER_NUMBERS.name)?,
        ))
    };
    for e in rest {
        if !queued.made(e) {
            continue;
        }
        if let What::SendTransfer(k) | What::ReceiveTransfer(k) = e.what {
            if sent_before.contains(&k) {
                continue;
            }
        }
        let m = queued.mutation(e, &mut number)?;
        // The movements keep the day they happened; the desk queues them now.
        db.commit_mutation(actor, now, &m)?;
    }
    out.purchase_orders = recent.len() as u64;
    out.transfers = plan
        .transfers
        .iter()
        .enumerate()
        .filter(|(k, _)| !sent_before.contains(k))
        .count() as u64;
    out.lots = db
        .query_docs("SELECT json_object('n', count(*)) FROM stock_batches", &[])?
        .first()
        .and_then(|d| d["n"].as_u64())
        .unwrap_or(0);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_largest_catalogue_is_valid_and_unique() {
        let now = DateTime::parse_from_rfc3339("2026-11-25T11:07:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let tenant = Uuid::from_u128(1);
        let items = catalogue(1, DemoSize::L.stock_items(), tenant, now.date_naive(), now);
        assert_eq!(items.len() as u64, DemoSize::L.stock_items());
        let mut skus = HashSet::new();
        let mut codes = HashSet::new();
        for it in &items {
            it.item.validate().unwrap();
            assert_eq!(normalize_sku(&it.item.sku).unwrap(), it.item.sku);
            assert!(skus.insert(it.item.sku.clone()), "{}", it.item.sku);
            if let Some(b) = &it.item.barcode {
                assert_eq!(b.len(), 13);
                assert!(codes.insert(b.clone()), "{b}");
            }
        }
        assert!(skus.contains("AMOX500") && skus.contains("DRS-001"));
        assert!(codes.len() > items.len() / 2);
    }

    /// Any seed's history is accepted by the rules, event by event, and
    /// ends as planned: the size's movements, one lot below zero.
    #[test]
    fn every_seed_makes_a_history_the_rules_accept() {
        let now = DateTime::parse_from_rfc3339("2026-11-25T11:07:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let tenant = Uuid::from_u128(1);
        let sites = [Uuid::from_u128(10), Uuid::from_u128(11)];
        let names = ["North".to_string(), "South".to_string()];
        let people = People {
            desk: vec![Uuid::from_u128(20), Uuid::from_u128(21)],
            manager: Uuid::from_u128(22),
            other_desk: Uuid::from_u128(23),
        };
        let patients: Vec<Uuid> = (0..50).map(|i| Uuid::from_u128(100 + i)).collect();
        for seed in 2..=5 {
            let input = PlanInput {
                seed,
                sites: 2,
                movements: DemoSize::S.stock_movements(),
                today: now.date_naive(),
                now,
                people: &people,
                patients: &patients,
            };
            let items = catalogue(seed, DemoSize::S.stock_items(), tenant, input.today, now);
            let plan = plan(&input, items).unwrap();
            let orders: HashSet<usize> = (0..plan.orders.len()).collect();
            let render = Render {
                tenant,
                sites: &sites,
                site_names: &names,
                plan: &plan,
                orders: &orders,
            };
            let mut recs = Records::default();
            let mut onhand: HashMap<(Uuid, Uuid), i64> = HashMap::new();
            let mut moved = 0;
            let mut n = 0;
            let mut number = || {
                n += 1;
                Ok((PURCHASE_ORDER_NUMBERS.format)(n))
            };
            for e in &plan.events {
                let m = render.mutation(e, &mut number).unwrap();
                let cx = Context {
                    tenant,
                    at: e.at,
                    user: Some(e.by),
                };
                let applied = apply(&m, &cx, &mut recs)
                    .unwrap_or_else(|err| panic!("seed {seed}: {e:?}: {err:?}"));
                for id in applied.changed {
                    if let Some(mv) = recs.get::<StockMovement>(id) {
                        *onhand.entry((mv.batch_id, mv.site_id)).or_default() += mv.quantity;
                        moved += 1;
                        recs.remove(id);
                    }
                }
            }
            assert_eq!(moved, DemoSize::S.stock_movements(), "seed {seed}");
            let below: Vec<_> = onhand.values().filter(|q| **q < 0).collect();
            assert_eq!(below.len(), 1, "seed {seed}");
        }
    }
}
