//! Sample snapshots of every document, shared by the tests and the examples
//! (`#[path]`-included by `examples/`).

#![allow(dead_code)]

use clinic_print::*;

/// The five names of issue #17 that the old writer printed as `?`.
pub const NAMES: [&str; 5] = [
    "Łukasz Wróbel",
    "Nguyễn Thị Minh",
    "Αλέξης Παπαδόπουλος",
    "محمد الأحمد",
    "王秀英",
];

pub const LOGO_PNG: &[u8] = include_bytes!("logo.png");

pub fn letterhead() -> Letterhead {
    Letterhead {
        name: "Riverside Practice".into(),
        address_lines: vec![
            "12 Mill Lane".into(),
            "Leeds LS1 4AB".into(),
            "United Kingdom".into(),
        ],
        phone: Some("+44 113 496 0000".into()),
        email: Some("desk@riverside.example".into()),
        legal_name: Some("Riverside Medical Partnership LLP".into()),
        tax_id: Some("VAT GB 123 4567 89".into()),
        logo_png: Some(LOGO_PNG.to_vec()),
    }
}

/// A day sheet of `n` rows; the first five rows are the five names.
pub fn day_sheet(n: usize) -> DaySheet {
    let rows = (0..n)
        .map(|i| {
            let minutes = 8 * 60 + i * 10;
            let (h, m) = (minutes / 60 % 24, minutes % 60);
            let end = minutes + 10;
            DaySheetRow {
                time: format!("{h:02}:{m:02}–{:02}:{:02}", end / 60 % 24, end % 60),
                patient: NAMES
                    .get(i)
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| format!("Patient {i:03} Example")),
                patient_number: format!("P{:07}", 1000 + i),
                detail: if i % 3 == 0 {
                    "Follow-up".into()
                } else {
                    "Consultation".into()
                },
                room: format!("Room {}", i % 4 + 1),
                status: if i == 7 {
                    "DOUBLE BOOKED".into()
                } else {
                    "scheduled".into()
                },
                attention: i == 7,
            }
        })
        .collect();
    DaySheet {
        letterhead: letterhead(),
        title: "Day sheet: Dr Grace Hopper".into(),
        subtitle: "Riverside Practice, Monday 23 November 2026".into(),
        detail_heading: "Type".into(),
        rows,
        footer: "Printed 22 Nov 2026 10:15 by Ada Admin".into(),
    }
}

pub fn patient() -> PatientDetails {
    PatientDetails {
        name: "Nguyễn Thị Minh".into(),
        number: "P0000013".into(),
        date_of_birth: Some("1985-12-10".into()),
        address_lines: vec!["4 Kirkgate".into(), "Leeds LS2 7DJ".into()],
    }
}

pub fn clinician() -> Clinician {
    Clinician {
        name: "Dr Grace Hopper".into(),
        role: Some("General practitioner, MBBS MRCGP".into()),
        registration: Some("GMC 7654321".into()),
    }
}

pub fn prescription() -> Prescription {
    Prescription {
        letterhead: letterhead(),
        number: "RX-2026-000417".into(),
        issued: "23 Nov 2026".into(),
        patient: patient(),
        prescriber: clinician(),
        items: vec![
            PrescriptionItem {
                medicine: "Amoxicillin 500 mg capsules".into(),
                directions: "One capsule three times a day for 7 days".into(),
                quantity: "21 capsules".into(),
                repeats: None,
            },
            PrescriptionItem {
                medicine: "Paracetamol 500 mg tablets".into(),
                directions: "One or two tablets every 4–6 hours when needed, at most 8 in 24 hours"
                    .into(),
                quantity: "32 tablets".into(),
                repeats: Some("1 repeat".into()),
            },
        ],
        notes: vec!["Allergies checked: none known.".into()],
        signature: Some("Signed electronically by Dr Grace Hopper on 23 Nov 2026 at 10:42".into()),
        footer: "Prescription RX-2026-000417".into(),
    }
}

pub fn referral_letter() -> ReferralLetter {
    ReferralLetter {
        letterhead: letterhead(),
        date: "23 November 2026".into(),
        reference: Some("Our ref: R-2026-0042".into()),
        recipient: Addressee {
            name: "Dr Chidi Okafor".into(),
            lines: vec![
                "Department of Cardiology".into(),
                "Leeds General Infirmary".into(),
                "Great George Street, Leeds LS1 3EX".into(),
            ],
        },
        patient: PatientDetails {
            name: "Αλέξης Παπαδόπουλος".into(),
            ..patient()
        },
        salutation: "Dear Dr Okafor,".into(),
        paragraphs: vec![
            "Thank you for seeing this 41-year-old man, who describes three episodes of \
             palpitations with light-headedness over the last month."
                .into(),
            "His resting ECG today shows sinus rhythm at 72 beats per minute with no \
             pre-excitation. Blood tests, including thyroid function, were normal."
                .into(),
            "I would be grateful for your assessment and an ambulatory ECG.".into(),
        ],
        closing: "Yours sincerely,".into(),
        author: clinician(),
        footer: "Referral R-2026-0042".into(),
    }
}

fn charge_lines() -> Vec<ChargeLine> {
    vec![
        ChargeLine {
            description: "Consultation, 30 minutes".into(),
            quantity: "1".into(),
            unit_price: "85.00".into(),
            tax_rate: "exempt".into(),
            amount: "85.00".into(),
        },
        ChargeLine {
            description: "Travel vaccination certificate".into(),
            quantity: "2".into(),
            unit_price: "12.50".into(),
            tax_rate: "20%".into(),
            amount: "25.00".into(),
        },
    ]
}

pub fn invoice() -> Invoice {
    Invoice {
        letterhead: letterhead(),
        number: "INV-2026-001234".into(),
        issue_date: "23 Nov 2026".into(),
        due_date: Some("23 Dec 2026".into()),
        bill_to: Addressee {
            name: "محمد الأحمد".into(),
            lines: vec!["27 Park Row".into(), "Leeds LS1 5HD".into()],
        },
        patient: Some(patient()),
        currency: "GBP".into(),
        lines: charge_lines(),
        subtotal: "110.00".into(),
        taxes: vec![AmountLine {
            label: "VAT 20% on 25.00".into(),
            amount: "5.00".into(),
        }],
        total: "115.00".into(),
        payments: vec![AmountLine {
            label: "Paid 23 Nov 2026 (card)".into(),
            amount: "-50.00".into(),
        }],
        balance_due: "65.00".into(),
        payment_terms: Some(
            "Payable within 30 days to sort code 12-34-56, account 12345678.".into(),
        ),
        notes: vec!["Thank you for choosing Riverside Practice.".into()],
        footer: "Invoice INV-2026-001234".into(),
    }
}

pub fn receipt() -> Receipt {
    Receipt {
        letterhead: letterhead(),
        number: "RCT-2026-000321".into(),
        refund: false,
        date: "23 Nov 2026".into(),
        received_from: Addressee {
            name: "王秀英".into(),
            lines: vec!["27 Park Row".into(), "Leeds LS1 5HD".into()],
        },
        currency: "GBP".into(),
        amount: "50.00".into(),
        method: "Card".into(),
        reference: Some("Terminal auth 845213".into()),
        allocations: vec![AmountLine {
            label: "Invoice INV-2026-001234".into(),
            amount: "50.00".into(),
        }],
        notes: vec![],
        footer: "Receipt RCT-2026-000321".into(),
    }
}

pub fn credit_note() -> CreditNote {
    CreditNote {
        letterhead: letterhead(),
        number: "CN-2026-000045".into(),
        date: "24 Nov 2026".into(),
        invoice_number: "INV-2026-001234".into(),
        bill_to: Addressee {
            name: "Łukasz Wróbel".into(),
            lines: vec!["27 Park Row".into(), "Leeds LS1 5HD".into()],
        },
        reason: "Vaccination certificate issued twice in error".into(),
        currency: "GBP".into(),
        lines: vec![ChargeLine {
            description: "Travel vaccination certificate".into(),
            quantity: "1".into(),
            unit_price: "12.50".into(),
            tax_rate: "20%".into(),
            amount: "12.50".into(),
        }],
        subtotal: "12.50".into(),
        taxes: vec![AmountLine {
            label: "VAT 20%".into(),
            amount: "2.50".into(),
        }],
        total: "15.00".into(),
        notes: vec![],
        footer: "Credit note CN-2026-000045".into(),
    }
}

pub fn report() -> Report {
    Report {
        letterhead: letterhead(),
        title: "Takings by clinician".into(),
        subtitle: Some("1–30 November 2026".into()),
        columns: vec![
            ReportColumn {
                heading: "Clinician".into(),
                numeric: false,
            },
            ReportColumn {
                heading: "Appointments".into(),
                numeric: true,
            },
            ReportColumn {
                heading: "Invoiced (GBP)".into(),
                numeric: true,
            },
        ],
        rows: vec![
            vec!["Dr Grace Hopper".into(), "212".into(), "18,020.00".into()],
            vec!["Dr Chidi Okafor".into(), "187".into(), "15,895.50".into()],
        ],
        summary: vec![
            AmountLine {
                label: "Appointments".into(),
                amount: "399".into(),
            },
            AmountLine {
                label: "Invoiced (GBP)".into(),
                amount: "33,915.50".into(),
            },
        ],
        footer: "Printed 1 Dec 2026 09:00 by Mia Manager".into(),
    }
}
