//! The patient record: identity, contacts, address, national identifier,
//! insurance, emergency contacts, health summary, flags and consents.
//!
//! Validation is pure: `today` is passed in, nothing reads the clock.

use super::national_id::{normalize_national_id, NationalIdKind};
use crate::error::{ClinicError, ClinicResult, FieldErrors, Invalid};
use crate::permissions::SensitiveFlag;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum SexAtBirth {
    Female,
    Male,
    Intersex,
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Severity {
    Mild,
    Moderate,
    Severe,
    LifeThreatening,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Level {
    None,
    Low,
    Medium,
    High,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum ContactChannel {
    Sms,
    Email,
    Phone,
    Post,
    None,
}

/// Calls macro `$m` with the name of every scalar field of [`PatientDetails`]
/// (the one list of them, for comparisons and permission checks).
macro_rules! detail_fields {
    ($m:ident) => {
        $m! {
            first_name,
            middle_name,
            last_name,
            preferred_name,
            date_of_birth,
            sex_at_birth,
            gender,
            phone,
            alt_phone,
            email,
            address_line1,
            address_line2,
            city,
            state,
            postcode,
            country,
            national_id_kind,
            national_id,
            preferred_channel,
            preferred_language,
            reminders_opt_in,
            blood_group,
            smoking_status,
            alcohol_use,
            family_history,
            risk_level,
            alert_level,
            flags
        }
    };
}

macro_rules! field_names {
    ($($f:ident),*) => {
        /// The names of every scalar field of [`PatientDetails`], in order
        /// (storage columns on both sides carry the same names).
        pub const DETAIL_FIELDS: &[&str] = &[$(stringify!($f)),*];
    };
}
detail_fields!(field_names);

/// Scalar fields a person types; the unit of validation and of edits.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PatientDetails {
    pub first_name: String,
    pub middle_name: Option<String>,
    pub last_name: String,
    pub preferred_name: Option<String>,
    pub date_of_birth: Option<NaiveDate>,
    pub sex_at_birth: Option<SexAtBirth>,
    pub gender: Option<String>,
    pub phone: Option<String>,
    pub alt_phone: Option<String>,
    pub email: Option<String>,
    pub address_line1: Option<String>,
    pub address_line2: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postcode: Option<String>,
    /// ISO 3166-1 alpha-2, upper case.
    pub country: Option<String>,
    pub national_id_kind: Option<NationalIdKind>,
    pub national_id: Option<String>,
    pub preferred_channel: Option<ContactChannel>,
    pub preferred_language: Option<String>,
    pub reminders_opt_in: Option<bool>,
    pub blood_group: Option<String>,
    pub smoking_status: Option<String>,
    pub alcohol_use: Option<String>,
    pub family_history: Option<String>,
    pub risk_level: Option<Level>,
    pub alert_level: Option<Level>,
    /// Short front-desk flags, e.g. "wheelchair", "interpreter: Polish".
    pub flags: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Allergy {
    pub id: Uuid,
    pub substance: String,
    pub reaction: Option<String>,
    pub severity: Severity,
    /// The substance or class of the medication table it names, when its
    /// name is there (prescribing checks use it); none: uncoded free text,
    /// which the checks report as not checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub code: Option<crate::clinical::medications::AllergyCode>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Condition {
    pub id: Uuid,
    pub name: String,
    pub icd10: Option<String>,
    pub active: bool,
    pub onset: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Medication {
    pub id: Uuid,
    pub name: String,
    pub dose: Option<String>,
    pub frequency: Option<String>,
    pub started_on: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct InsuranceCoverage {
    pub id: Uuid,
    pub provider: String,
    pub policy_number: Option<String>,
    pub group_number: Option<String>,
    pub member_number: Option<String>,
    pub plan: Option<String>,
    pub valid_from: Option<NaiveDate>,
    pub valid_to: Option<NaiveDate>,
    /// Exact decimal amount as text, e.g. "15.00".
    pub copay: Option<String>,
    pub is_primary: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct EmergencyContact {
    pub id: Uuid,
    pub name: String,
    pub relationship: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Consent {
    pub id: Uuid,
    /// e.g. "treatment", "data_processing", "sms_reminders", "research".
    pub kind: String,
    pub purpose: Option<String>,
    pub given_on: NaiveDate,
    pub withdrawn_on: Option<NaiveDate>,
}

/// Collections attached to a patient. Each item has its own id so that two
/// workstations adding different allergies offline both keep theirs.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PatientLists {
    pub allergies: Vec<Allergy>,
    pub conditions: Vec<Condition>,
    pub medications: Vec<Medication>,
    pub insurances: Vec<InsuranceCoverage>,
    pub emergency_contacts: Vec<EmergencyContact>,
    pub consents: Vec<Consent>,
}

/// A patient as stored and shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Patient {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub patient_number: String,
    #[serde(flatten)]
    pub details: PatientDetails,
    #[serde(flatten)]
    pub lists: PatientLists,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Set when archived (soft delete). Archived patients leave lists and searches.
    pub archived_at: Option<DateTime<Utc>>,
    /// Set when this record was merged into another (the survivor).
    pub merged_into: Option<Uuid>,
    /// Why it was archived (free text: kept with the record, never in the audit trail).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive_reason: Option<String>,
    /// The survivor's patient number, for people (ids are for machines).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_into_number: Option<String>,
    /// Groups of fields withheld from the viewer by their role.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redacted: Vec<SensitiveFlag>,
}

impl Patient {
    /// A newly registered patient: not archived, not merged, nothing withheld.
    pub fn registered(
        id: Uuid,
        tenant_id: Uuid,
        patient_number: String,
        details: PatientDetails,
        lists: PatientLists,
        at: DateTime<Utc>,
    ) -> Patient {
        Patient {
            id,
            tenant_id,
            patient_number,
            details,
            lists,
            created_at: at,
            updated_at: at,
            archived_at: None,
            merged_into: None,
            archive_reason: None,
            merged_into_number: None,
            redacted: vec![],
        }
    }
}

/// Input for new list items (ids are assigned by the use-case).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct NewLists {
    pub allergies: Vec<NewAllergy>,
    pub conditions: Vec<NewCondition>,
    pub medications: Vec<NewMedication>,
    pub insurances: Vec<NewInsurance>,
    pub emergency_contacts: Vec<NewEmergencyContact>,
    pub consents: Vec<NewConsent>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct NewAllergy {
    pub substance: String,
    pub reaction: Option<String>,
    pub severity: Severity,
}
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct NewCondition {
    pub name: String,
    pub icd10: Option<String>,
    #[serde(default = "yes")]
    pub active: bool,
    pub onset: Option<NaiveDate>,
}
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct NewMedication {
    pub name: String,
    pub dose: Option<String>,
    pub frequency: Option<String>,
    pub started_on: Option<NaiveDate>,
}
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct NewInsurance {
    pub provider: String,
    pub policy_number: Option<String>,
    pub group_number: Option<String>,
    pub member_number: Option<String>,
    pub plan: Option<String>,
    pub valid_from: Option<NaiveDate>,
    pub valid_to: Option<NaiveDate>,
    pub copay: Option<String>,
    #[serde(default)]
    pub is_primary: bool,
}
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct NewEmergencyContact {
    pub name: String,
    pub relationship: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
}
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct NewConsent {
    pub kind: String,
    pub purpose: Option<String>,
    pub given_on: NaiveDate,
    pub withdrawn_on: Option<NaiveDate>,
}

fn yes() -> bool {
    true
}

impl PatientLists {
    /// Every item's id with the group of fields that guards it, if any.
    pub fn items(&self) -> Vec<(Uuid, Option<SensitiveFlag>)> {
        let med = Some(SensitiveFlag::MedicalHistory);
        let fin = Some(SensitiveFlag::FinancialData);
        self.allergies
            .iter()
            .map(|x| (x.id, med))
            .chain(self.conditions.iter().map(|x| (x.id, med)))
            .chain(self.medications.iter().map(|x| (x.id, med)))
            .chain(self.insurances.iter().map(|x| (x.id, fin)))
            .chain(self.emergency_contacts.iter().map(|x| (x.id, None)))
            .chain(self.consents.iter().map(|x| (x.id, None)))
            .collect()
    }
}

impl NewLists {
    pub fn is_empty(&self) -> bool {
        self.allergies.is_empty()
            && self.conditions.is_empty()
            && self.medications.is_empty()
            && self.insurances.is_empty()
            && self.emergency_contacts.is_empty()
            && self.consents.is_empty()
    }

    /// Which sensitive groups these additions touch.
    pub fn flags_touched(&self) -> Vec<SensitiveFlag> {
        let mut f = Vec::new();
        if !(self.allergies.is_empty() && self.conditions.is_empty() && self.medications.is_empty())
        {
            f.push(SensitiveFlag::MedicalHistory);
        }
        if !self.insurances.is_empty() {
            f.push(SensitiveFlag::FinancialData);
        }
        f
    }

    /// Gives every new item an id from `next_id`.
    pub fn assign_ids(self, mut next_id: impl FnMut() -> Uuid) -> PatientLists {
        PatientLists {
            allergies: self
                .allergies
                .into_iter()
                .map(|a| Allergy {
                    id: next_id(),
                    code: crate::clinical::medications::MedicationTable::shipped()
                        .code_allergy(&a.substance),
                    substance: a.substance,
                    reaction: a.reaction,
                    severity: a.severity,
                })
                .collect(),
            conditions: self
                .conditions
                .into_iter()
                .map(|c| Condition {
                    id: next_id(),
                    name: c.name,
                    icd10: c.icd10,
                    active: c.active,
                    onset: c.onset,
                })
                .collect(),
            medications: self
                .medications
                .into_iter()
                .map(|m| Medication {
                    id: next_id(),
                    name: m.name,
                    dose: m.dose,
                    frequency: m.frequency,
                    started_on: m.started_on,
                })
                .collect(),
            insurances: self
                .insurances
                .into_iter()
                .map(|i| InsuranceCoverage {
                    id: next_id(),
                    provider: i.provider,
                    policy_number: i.policy_number,
                    group_number: i.group_number,
                    member_number: i.member_number,
                    plan: i.plan,
                    valid_from: i.valid_from,
                    valid_to: i.valid_to,
                    copay: i.copay,
                    is_primary: i.is_primary,
                })
                .collect(),
            emergency_contacts: self
                .emergency_contacts
                .into_iter()
                .map(|e| EmergencyContact {
                    id: next_id(),
                    name: e.name,
                    relationship: e.relationship,
                    phone: e.phone,
                    email: e.email,
                })
                .collect(),
            consents: self
                .consents
                .into_iter()
                .map(|c| Consent {
                    id: next_id(),
                    kind: c.kind,
                    purpose: c.purpose,
                    given_on: c.given_on,
                    withdrawn_on: c.withdrawn_on,
                })
                .collect(),
        }
    }
}

/// An edit: `None` leaves a field alone; for optional text fields `Some("")`
/// clears it. List items are added with `add` and removed by id.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PatientPatch {
    pub first_name: Option<String>,
    pub middle_name: Option<String>,
    pub last_name: Option<String>,
    pub preferred_name: Option<String>,
    pub date_of_birth: Option<NaiveDate>,
    pub sex_at_birth: Option<SexAtBirth>,
    pub gender: Option<String>,
    pub phone: Option<String>,
    pub alt_phone: Option<String>,
    pub email: Option<String>,
    pub address_line1: Option<String>,
    pub address_line2: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postcode: Option<String>,
    pub country: Option<String>,
    pub national_id_kind: Option<NationalIdKind>,
    pub national_id: Option<String>,
    pub preferred_channel: Option<ContactChannel>,
    pub preferred_language: Option<String>,
    pub reminders_opt_in: Option<bool>,
    pub blood_group: Option<String>,
    pub smoking_status: Option<String>,
    pub alcohol_use: Option<String>,
    pub family_history: Option<String>,
    pub risk_level: Option<Level>,
    pub alert_level: Option<Level>,
    /// Replaces all flags (use `add_flags`/`remove_flags` to change some).
    pub flags: Option<Vec<String>>,
    pub add_flags: Vec<String>,
    pub remove_flags: Vec<String>,
    pub add: NewLists,
    pub remove_ids: Vec<Uuid>,
}

fn set_opt(target: &mut Option<String>, v: &Option<String>) {
    if let Some(v) = v {
        *target = if v.trim().is_empty() {
            None
        } else {
            Some(v.clone())
        };
    }
}

impl PatientPatch {
    /// Applies the scalar part of this patch; returns the names of the fields it changed.
    pub fn apply_to(&self, d: &mut PatientDetails) -> Vec<&'static str> {
        let before = d.clone();
        if let Some(v) = &self.first_name {
            d.first_name = v.clone();
        }
        if let Some(v) = &self.last_name {
            d.last_name = v.clone();
        }
        set_opt(&mut d.middle_name, &self.middle_name);
        set_opt(&mut d.preferred_name, &self.preferred_name);
        if self.date_of_birth.is_some() {
            d.date_of_birth = self.date_of_birth;
        }
        if self.sex_at_birth.is_some() {
            d.sex_at_birth = self.sex_at_birth;
        }
        set_opt(&mut d.gender, &self.gender);
        set_opt(&mut d.phone, &self.phone);
        set_opt(&mut d.alt_phone, &self.alt_phone);
        set_opt(&mut d.email, &self.email);
        set_opt(&mut d.address_line1, &self.address_line1);
        set_opt(&mut d.address_line2, &self.address_line2);
        set_opt(&mut d.city, &self.city);
        set_opt(&mut d.state, &self.state);
        set_opt(&mut d.postcode, &self.postcode);
        set_opt(&mut d.country, &self.country);
        if self.national_id_kind.is_some() {
            d.national_id_kind = self.national_id_kind;
        }
        set_opt(&mut d.national_id, &self.national_id);
        if self.preferred_channel.is_some() {
            d.preferred_channel = self.preferred_channel;
        }
        set_opt(&mut d.preferred_language, &self.preferred_language);
        if self.reminders_opt_in.is_some() {
            d.reminders_opt_in = self.reminders_opt_in;
        }
        set_opt(&mut d.blood_group, &self.blood_group);
        set_opt(&mut d.smoking_status, &self.smoking_status);
        set_opt(&mut d.alcohol_use, &self.alcohol_use);
        set_opt(&mut d.family_history, &self.family_history);
        if self.risk_level.is_some() {
            d.risk_level = self.risk_level;
        }
        if self.alert_level.is_some() {
            d.alert_level = self.alert_level;
        }
        if let Some(f) = &self.flags {
            d.flags = f.clone();
        }
        d.flags.retain(|f| {
            !self
                .remove_flags
                .iter()
                .any(|r| r.trim().eq_ignore_ascii_case(f.trim()))
        });
        for f in &self.add_flags {
            if !d
                .flags
                .iter()
                .any(|x| x.trim().eq_ignore_ascii_case(f.trim()))
            {
                d.flags.push(f.clone());
            }
        }
        changed_fields(&before, d)
    }

    /// Scalar fields this patch sets, changed or not. Permission checks use
    /// this, so that an edit's outcome never tells a person the value of a
    /// field their role hides.
    pub fn touched_fields(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        macro_rules! touched {
            ($($f:ident),*) => { $( if self.$f.is_some() { out.push(stringify!($f)); } )* };
        }
        detail_fields!(touched);
        let flag_change = !self.add_flags.is_empty() || !self.remove_flags.is_empty();
        if flag_change && !out.contains(&"flags") {
            out.push("flags");
        }
        out
    }
}

/// Names of the scalar fields that differ between two versions.
pub fn changed_fields(a: &PatientDetails, b: &PatientDetails) -> Vec<&'static str> {
    let mut out = Vec::new();
    macro_rules! cmp {
        ($($f:ident),*) => { $( if a.$f != b.$f { out.push(stringify!($f)); } )* };
    }
    detail_fields!(cmp);
    out
}

/// The sensitive group a scalar field belongs to, if any.
pub fn field_flag(field: &str) -> Option<SensitiveFlag> {
    match field {
        "gender" | "risk_level" => Some(SensitiveFlag::SensitiveInfo),
        "blood_group" | "smoking_status" | "alcohol_use" | "family_history" => {
            Some(SensitiveFlag::MedicalHistory)
        }
        _ => None,
    }
}

const BLOOD_GROUPS: [&str; 8] = ["A+", "A-", "B+", "B-", "AB+", "AB-", "O+", "O-"];

fn trim_opt(v: &mut Option<String>) {
    if let Some(s) = v {
        let t = s.trim();
        if t.is_empty() {
            *v = None;
        } else if t.len() != s.len() {
            *s = t.to_string();
        }
    }
}

fn check_text(errs: &mut FieldErrors, field: &str, v: &str, max: usize) {
    if v.chars().count() > max {
        errs.add(field, format!("must be at most {max} characters"));
    }
    if v.chars().any(|c| c.is_control()) {
        errs.add(field, "must not contain control characters");
    }
}

fn check_name(errs: &mut FieldErrors, field: &str, v: &str, required: bool) {
    if v.is_empty() {
        if required {
            errs.add(field, "is required");
        }
        return;
    }
    check_text(errs, field, v, 100);
    if !v.chars().any(char::is_alphabetic) {
        errs.add(field, "must contain at least one letter");
    }
    if v.chars().any(|c| c.is_ascii_digit()) {
        errs.add(field, "must not contain digits");
    }
}

/// Validates a phone number as typed; returns its digits.
pub fn validate_phone(v: &str) -> Result<String, Invalid> {
    let mut digits = String::new();
    for (i, c) in v.chars().enumerate() {
        match c {
            '0'..='9' => digits.push(c),
            '+' if i == 0 => {}
            ' ' | '-' | '(' | ')' | '.' => {}
            _ => {
                return Err(Invalid::new(
                    "use digits, spaces, dashes, brackets and a leading +",
                ))
            }
        }
    }
    if !(7..=15).contains(&digits.len()) {
        return Err(Invalid(format!(
            "a phone number has 7 to 15 digits (this has {})",
            digits.len()
        )));
    }
    Ok(digits)
}

pub fn validate_email(v: &str) -> Result<(), Invalid> {
    let msg = || Invalid::new("is not a valid email address (example: name@example.com)");
    if v.len() > 254 || v.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(msg());
    }
    let (local, domain) = v.split_once('@').ok_or_else(msg)?;
    if local.is_empty()
        || domain.contains('@')
        || !domain.contains('.')
        || domain.starts_with('.')
        || domain.ends_with('.')
        || domain.contains("..")
    {
        return Err(msg());
    }
    Ok(())
}

/// Checks an exact money amount: non-negative, at most two decimals.
pub fn validate_amount(v: &str) -> Result<(), Invalid> {
    let (int, frac) = v.split_once('.').unwrap_or((v, ""));
    let ok = !int.is_empty()
        && int.len() <= 12
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.len() <= 2
        && frac.bytes().all(|b| b.is_ascii_digit())
        && !(v.contains('.') && frac.is_empty());
    if ok {
        Ok(())
    } else {
        Err(Invalid::new("enter an amount like 15 or 15.50"))
    }
}

/// Normalises and validates patient details in place (trims text, upper-cases
/// the country, normalises the national identifier). `today` is the clinic's date.
pub fn validate_details(d: &mut PatientDetails, today: NaiveDate) -> ClinicResult<()> {
    let mut errs = FieldErrors::default();
    d.first_name = d.first_name.trim().to_string();
    d.last_name = d.last_name.trim().to_string();
    for v in [
        &mut d.middle_name,
        &mut d.preferred_name,
        &mut d.gender,
        &mut d.phone,
        &mut d.alt_phone,
        &mut d.email,
        &mut d.address_line1,
        &mut d.address_line2,
        &mut d.city,
        &mut d.state,
        &mut d.postcode,
        &mut d.country,
        &mut d.national_id,
        &mut d.preferred_language,
        &mut d.blood_group,
        &mut d.smoking_status,
        &mut d.alcohol_use,
        &mut d.family_history,
    ] {
        trim_opt(v);
    }
    check_name(&mut errs, "first_name", &d.first_name, true);
    check_name(&mut errs, "last_name", &d.last_name, true);
    if let Some(v) = &d.middle_name {
        check_name(&mut errs, "middle_name", v, false);
    }
    if let Some(v) = &d.preferred_name {
        check_name(&mut errs, "preferred_name", v, false);
    }
    match d.date_of_birth {
        None => errs.add("date_of_birth", "is required"),
        Some(dob) if dob > today => errs.add("date_of_birth", "cannot be in the future"),
        Some(dob) if dob < NaiveDate::from_ymd_opt(1900, 1, 1).expect("valid date") => {
            errs.add("date_of_birth", "must be on or after 1900-01-01")
        }
        _ => {}
    }
    for (field, v) in [("phone", &d.phone), ("alt_phone", &d.alt_phone)] {
        if let Some(p) = v {
            if let Err(m) = validate_phone(p) {
                errs.add(field, m);
            }
        }
    }
    if let Some(e) = &d.email {
        if let Err(m) = validate_email(e) {
            errs.add("email", m);
        }
    }
    for (field, v, max) in [
        ("gender", &d.gender, 50),
        ("address_line1", &d.address_line1, 200),
        ("address_line2", &d.address_line2, 200),
        ("city", &d.city, 100),
        ("state", &d.state, 100),
        ("postcode", &d.postcode, 16),
        ("preferred_language", &d.preferred_language, 50),
        ("smoking_status", &d.smoking_status, 100),
        ("alcohol_use", &d.alcohol_use, 100),
        ("family_history", &d.family_history, 4000),
    ] {
        if let Some(s) = v {
            check_text(&mut errs, field, s, max);
        }
    }
    if let Some(c) = &mut d.country {
        *c = c.to_ascii_uppercase();
        if c.len() != 2 || !c.bytes().all(|b| b.is_ascii_uppercase()) {
            errs.add(
                "country",
                "use the two-letter country code, e.g. GB, US, NL",
            );
        }
    }
    match (&d.national_id, d.national_id_kind) {
        (Some(raw), Some(kind)) => match normalize_national_id(kind, raw) {
            Ok(n) => d.national_id = Some(n),
            Err(m) => errs.add("national_id", m),
        },
        (Some(_), None) => errs.add(
            "national_id_kind",
            "choose which kind of identifier this is",
        ),
        (None, _) => d.national_id_kind = None,
    }
    if let Some(b) = &mut d.blood_group {
        let up = b.to_ascii_uppercase().replace(' ', "");
        if BLOOD_GROUPS.contains(&up.as_str()) {
            *b = up;
        } else {
            errs.add("blood_group", "use one of A+, A-, B+, B-, AB+, AB-, O+, O-");
        }
    }
    d.flags = d
        .flags
        .iter()
        .map(|f| f.trim().to_string())
        .filter(|f| !f.is_empty())
        .collect();
    if d.flags.len() > 20 {
        errs.add("flags", "at most 20 flags");
    }
    for f in &d.flags {
        check_text(&mut errs, "flags", f, 60);
    }
    errs.into_result()
}

/// Whether `code` has the shape of an ICD-10 code (upper case): a letter,
/// a digit, a digit or letter, then an optional dot and up to four more
/// (J45.9, S72.001A).
pub fn is_icd10(code: &str) -> bool {
    let b = code.as_bytes();
    b.len() >= 3
        && b.len() <= 8
        && b[0].is_ascii_uppercase()
        && b[1].is_ascii_digit()
        && b[2].is_ascii_alphanumeric()
        && code[3..]
            .trim_start_matches('.')
            .bytes()
            .all(|x| x.is_ascii_alphanumeric())
}

/// The most items one list of a patient (allergies, insurances, …) holds.
pub const MAX_LIST_ITEMS: usize = 100;

/// List items as a change carries them (with their ids): the same rules as
/// at entry ([`validate_new_lists`]), so the server refuses what no
/// workstation would have let through.
pub fn validate_lists(l: &PatientLists, today: NaiveDate) -> ClinicResult<()> {
    let mut new: NewLists = serde_json::to_value(l)
        .and_then(serde_json::from_value)
        .map_err(|e| ClinicError::field("lists", format!("has a value of the wrong kind ({e})")))?;
    validate_new_lists(&mut new, today)
}

/// Refuses a list of more than [`MAX_LIST_ITEMS`].
pub fn check_list_sizes(l: &PatientLists) -> ClinicResult<()> {
    let mut errs = FieldErrors::default();
    check_counts(&mut errs, list_counts!(l));
    errs.into_result()
}

/// Each list's name and length.
macro_rules! list_counts {
    ($l:expr) => {
        [
            ("allergies", $l.allergies.len()),
            ("conditions", $l.conditions.len()),
            ("medications", $l.medications.len()),
            ("insurances", $l.insurances.len()),
            ("emergency_contacts", $l.emergency_contacts.len()),
            ("consents", $l.consents.len()),
        ]
    };
}
use list_counts;

fn check_counts(errs: &mut FieldErrors, counts: [(&str, usize); 6]) {
    for (field, n) in counts {
        if n > MAX_LIST_ITEMS {
            errs.add(field, format!("at most {MAX_LIST_ITEMS} per patient"));
        }
    }
}

/// Validates new list items.
pub fn validate_new_lists(l: &mut NewLists, today: NaiveDate) -> ClinicResult<()> {
    let mut errs = FieldErrors::default();
    let optional = |errs: &mut FieldErrors, field: &str, v: &mut Option<String>, max: usize| {
        trim_opt(v);
        if let Some(s) = v {
            check_text(errs, field, s, max);
        }
    };
    let required = |errs: &mut FieldErrors, field: &str, v: &mut String, max: usize| {
        *v = v.trim().to_string();
        if v.is_empty() {
            errs.add(field, "is required");
        } else {
            check_text(errs, field, v, max);
        }
    };
    for a in &mut l.allergies {
        required(&mut errs, "allergies.substance", &mut a.substance, 200);
        optional(&mut errs, "allergies.reaction", &mut a.reaction, 500);
    }
    for c in &mut l.conditions {
        required(&mut errs, "conditions.name", &mut c.name, 200);
        trim_opt(&mut c.icd10);
        if let Some(code) = &mut c.icd10 {
            *code = code.to_ascii_uppercase();
            if !is_icd10(code) {
                errs.add("conditions.icd10", "is not an ICD-10 code (example: J45.9)");
            }
        }
        if c.onset.is_some_and(|o| o > today) {
            errs.add("conditions.onset", "cannot be in the future");
        }
    }
    for m in &mut l.medications {
        required(&mut errs, "medications.name", &mut m.name, 200);
        optional(&mut errs, "medications.dose", &mut m.dose, 100);
        optional(&mut errs, "medications.frequency", &mut m.frequency, 100);
    }
    for i in &mut l.insurances {
        required(&mut errs, "insurances.provider", &mut i.provider, 200);
        for (field, v) in [
            ("insurances.policy_number", &mut i.policy_number),
            ("insurances.group_number", &mut i.group_number),
            ("insurances.member_number", &mut i.member_number),
            ("insurances.plan", &mut i.plan),
            ("insurances.copay", &mut i.copay),
        ] {
            optional(&mut errs, field, v, 100);
        }
        if let (Some(from), Some(to)) = (i.valid_from, i.valid_to) {
            if to < from {
                errs.add("insurances.valid_to", "must be on or after the start date");
            }
        }
        if let Some(c) = &i.copay {
            if let Err(m) = validate_amount(c) {
                errs.add("insurances.copay", m);
            }
        }
    }
    for e in &mut l.emergency_contacts {
        required(&mut errs, "emergency_contacts.name", &mut e.name, 200);
        trim_opt(&mut e.phone);
        trim_opt(&mut e.email);
        optional(
            &mut errs,
            "emergency_contacts.relationship",
            &mut e.relationship,
            100,
        );
        if e.phone.is_none() && e.email.is_none() {
            errs.add(
                "emergency_contacts.phone",
                "give a phone number or an email",
            );
        }
        if let Some(p) = &e.phone {
            if let Err(m) = validate_phone(p) {
                errs.add("emergency_contacts.phone", m);
            }
        }
        if let Some(m) = &e.email {
            if let Err(msg) = validate_email(m) {
                errs.add("emergency_contacts.email", msg);
            }
        }
    }
    for c in &mut l.consents {
        required(&mut errs, "consents.kind", &mut c.kind, 60);
        optional(&mut errs, "consents.purpose", &mut c.purpose, 500);
        if c.given_on > today {
            errs.add("consents.given_on", "cannot be in the future");
        }
        if c.withdrawn_on.is_some_and(|w| w < c.given_on) {
            errs.add(
                "consents.withdrawn_on",
                "must be on or after the date consent was given",
            );
        }
    }
    check_counts(&mut errs, list_counts!(l));
    errs.into_result()
}

/// A possible duplicate found at registration, with the reasons.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DuplicateCandidate {
    pub patient_id: Uuid,
    pub patient_number: String,
    pub first_name: String,
    pub last_name: String,
    pub date_of_birth: Option<NaiveDate>,
    pub score: u32,
    pub reasons: Vec<String>,
}

/// Scores how likely `existing` is the same person as `new`. Returns `None`
/// below the threshold. Pure so that the rules are testable and shared.
pub fn duplicate_score(
    new: &PatientDetails,
    existing: &PatientDetails,
) -> Option<(u32, Vec<String>)> {
    use crate::search::{damerau_levenshtein, fold};
    let mut score = 0;
    let mut reasons = Vec::new();
    if let (Some(a), Some(b)) = (&new.national_id, &existing.national_id) {
        if a == b && new.national_id_kind == existing.national_id_kind {
            score += 100;
            reasons.push("same national identifier".to_string());
        }
    }
    let same_dob = new.date_of_birth.is_some() && new.date_of_birth == existing.date_of_birth;
    let (nf, nl) = (fold(&new.first_name), fold(&new.last_name));
    let (ef, el) = (fold(&existing.first_name), fold(&existing.last_name));
    let close =
        |a: &str, b: &str| a == b || damerau_levenshtein(a, b) <= 1 + a.len().min(b.len()) / 6;
    let names_close = (close(&nf, &ef) && close(&nl, &el)) || (close(&nf, &el) && close(&nl, &ef));
    if same_dob && names_close {
        score += 80;
        reasons.push("similar name and same date of birth".to_string());
    } else if same_dob && close(&nl, &el) {
        score += 40;
        reasons.push("same last name and date of birth".to_string());
    }
    if let (Some(a), Some(b)) = (&new.phone, &existing.phone) {
        if validate_phone(a).ok() == validate_phone(b).ok() && names_close {
            score += 40;
            reasons.push("same phone and similar name".to_string());
        }
    }
    if let (Some(a), Some(b)) = (&new.email, &existing.email) {
        if a.eq_ignore_ascii_case(b) {
            score += 40;
            reasons.push("same email".to_string());
        }
    }
    (score >= 40).then_some((score, reasons))
}

/// Withholds the groups of fields the viewer may not see.
pub fn redact(p: &mut Patient, may_see: impl Fn(SensitiveFlag) -> bool) {
    if !may_see(SensitiveFlag::SensitiveInfo) {
        p.details.gender = None;
        p.details.risk_level = None;
        p.redacted.push(SensitiveFlag::SensitiveInfo);
    }
    if !may_see(SensitiveFlag::FinancialData) {
        p.lists.insurances.clear();
        p.redacted.push(SensitiveFlag::FinancialData);
    }
    if !may_see(SensitiveFlag::MedicalHistory) {
        p.lists.allergies.clear();
        p.lists.conditions.clear();
        p.lists.medications.clear();
        p.details.blood_group = None;
        p.details.smoking_status = None;
        p.details.alcohol_use = None;
        p.details.family_history = None;
        p.redacted.push(SensitiveFlag::MedicalHistory);
    }
}

/// The merge rule for scalar fields: the survivor keeps its values and gains
/// the duplicate's where it has none; flags are united.
pub fn fill_empty(keep: &mut PatientDetails, from: &PatientDetails) {
    macro_rules! fill {
        ($($f:ident),*) => { $( if keep.$f.is_none() { keep.$f = from.$f.clone(); } )* };
    }
    fill!(
        middle_name,
        preferred_name,
        sex_at_birth,
        gender,
        phone,
        alt_phone,
        email,
        address_line1,
        address_line2,
        city,
        state,
        postcode,
        country,
        preferred_channel,
        preferred_language,
        reminders_opt_in,
        blood_group,
        smoking_status,
        alcohol_use,
        family_history,
        risk_level,
        alert_level
    );
    if keep.national_id.is_none() {
        keep.national_id = from.national_id.clone();
        keep.national_id_kind = from.national_id_kind;
    }
    for f in &from.flags {
        if !keep.flags.contains(f) {
            keep.flags.push(f.clone());
        }
    }
}

/// Refuses changes to archived or merged records.
pub fn ensure_editable(p: &Patient) -> ClinicResult<()> {
    if let Some(into) = p.merged_into {
        let survivor = p
            .merged_into_number
            .clone()
            .unwrap_or_else(|| into.to_string());
        return Err(ClinicError::new(
            crate::error::ErrorCode::Conflict,
            format!("This record was merged into patient {survivor}; use that record instead."),
        ));
    }
    if p.archived_at.is_some() {
        return Err(ClinicError::new(
            crate::error::ErrorCode::Conflict,
            format!(
                "Patient {} is archived; restore the record (patient restore) before changing it.",
                p.patient_number
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()
    }

    fn valid() -> PatientDetails {
        PatientDetails {
            first_name: " Ada ".into(),
            last_name: "Lovelace".into(),
            date_of_birth: NaiveDate::from_ymd_opt(1985, 12, 10),
            phone: Some("+44 (0)20 7946 0958".into()),
            email: Some("ada@example.org".into()),
            country: Some("gb".into()),
            national_id_kind: Some(NationalIdKind::Nhs),
            national_id: Some("943 476 5919".into()),
            blood_group: Some("ab+".into()),
            ..Default::default()
        }
    }

    proptest::proptest! {
        /// Validation answers every input with Ok or field errors, never a panic,
        /// and whatever it accepts is normalised (trimmed, upper-case country).
        #[test]
        fn validation_never_panics(first in ".{0,120}", last in ".{0,40}", phone in ".{0,20}", email in ".{0,40}",
                                   country in ".{0,4}", nid in ".{0,14}", kind in 0usize..6, y in 1800i32..2100, o in 1u32..366) {
            let mut d = PatientDetails {
                first_name: first,
                last_name: last,
                date_of_birth: NaiveDate::from_yo_opt(y, o),
                phone: Some(phone),
                email: Some(email),
                country: Some(country),
                national_id_kind: Some(crate::patients::NationalIdKind::ALL[kind]),
                national_id: Some(nid),
                ..Default::default()
            };
            if validate_details(&mut d, today()).is_ok() {
                proptest::prop_assert_eq!(d.first_name.trim(), d.first_name.as_str());
                proptest::prop_assert!(d.country.as_ref().is_none_or(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase())));
                proptest::prop_assert!(d.date_of_birth.unwrap() <= today());
            }
        }
    }

    #[test]
    fn valid_details_are_normalised() {
        let mut d = valid();
        validate_details(&mut d, today()).unwrap();
        assert_eq!(d.first_name, "Ada");
        assert_eq!(d.country.as_deref(), Some("GB"));
        assert_eq!(d.national_id.as_deref(), Some("9434765919"));
        assert_eq!(d.blood_group.as_deref(), Some("AB+"));
    }

    #[test]
    fn each_bad_field_is_named() {
        type Mutation = Box<dyn Fn(&mut PatientDetails)>;
        let cases: Vec<(&str, Mutation)> = vec![
            ("first_name", Box::new(|d| d.first_name = "  ".into())),
            ("last_name", Box::new(|d| d.last_name = "L0velace".into())),
            (
                "date_of_birth",
                Box::new(|d| d.date_of_birth = NaiveDate::from_ymd_opt(2030, 1, 1)),
            ),
            ("date_of_birth", Box::new(|d| d.date_of_birth = None)),
            (
                "date_of_birth",
                Box::new(|d| d.date_of_birth = NaiveDate::from_ymd_opt(1850, 1, 1)),
            ),
            ("phone", Box::new(|d| d.phone = Some("12ab".into()))),
            ("phone", Box::new(|d| d.phone = Some("123".into()))),
            ("email", Box::new(|d| d.email = Some("ada@".into()))),
            (
                "email",
                Box::new(|d| d.email = Some("a b@example.org".into())),
            ),
            ("country", Box::new(|d| d.country = Some("GBR".into()))),
            (
                "national_id",
                Box::new(|d| d.national_id = Some("9434765918".into())),
            ),
            ("national_id_kind", Box::new(|d| d.national_id_kind = None)),
            (
                "blood_group",
                Box::new(|d| d.blood_group = Some("C+".into())),
            ),
            ("postcode", Box::new(|d| d.postcode = Some("X".repeat(40)))),
            ("city", Box::new(|d| d.city = Some("Lon\u{7}don".into()))),
        ];
        for (field, mutate) in cases {
            let mut d = valid();
            mutate(&mut d);
            let err = validate_details(&mut d, today()).unwrap_err();
            assert_eq!(err.code, crate::error::ErrorCode::Validation);
            assert!(
                err.fields.iter().any(|f| f.field == field),
                "expected {field} in {err:?}"
            );
        }
    }

    #[test]
    fn list_items_are_validated() {
        let mut l = NewLists {
            allergies: vec![NewAllergy {
                substance: " ".into(),
                reaction: None,
                severity: Severity::Mild,
            }],
            insurances: vec![NewInsurance {
                provider: "Acme".into(),
                policy_number: None,
                group_number: None,
                member_number: None,
                plan: None,
                valid_from: NaiveDate::from_ymd_opt(2026, 1, 1),
                valid_to: NaiveDate::from_ymd_opt(2025, 1, 1),
                copay: Some("12.345".into()),
                is_primary: true,
            }],
            emergency_contacts: vec![NewEmergencyContact {
                name: "Bo".into(),
                relationship: None,
                phone: None,
                email: None,
            }],
            conditions: vec![NewCondition {
                name: "Asthma".into(),
                icd10: Some("45".into()),
                active: true,
                onset: None,
            }],
            ..Default::default()
        };
        let err = validate_new_lists(&mut l, today()).unwrap_err();
        let fields: Vec<_> = err.fields.iter().map(|f| f.field.as_str()).collect();
        for f in [
            "allergies.substance",
            "insurances.valid_to",
            "insurances.copay",
            "emergency_contacts.phone",
            "conditions.icd10",
        ] {
            assert!(fields.contains(&f), "{f} missing from {fields:?}");
        }
    }

    #[test]
    fn flags_are_added_and_removed_without_replacing_the_rest() {
        let mut d = PatientDetails {
            flags: vec!["interpreter: Polish".into(), "wheelchair".into()],
            ..Default::default()
        };
        let patch = PatientPatch {
            add_flags: vec!["hearing loop".into(), "Wheelchair".into()],
            remove_flags: vec!["INTERPRETER: polish".into()],
            ..Default::default()
        };
        assert_eq!(patch.apply_to(&mut d), vec!["flags"]);
        assert_eq!(d.flags, vec!["wheelchair", "hearing loop"]);
        assert_eq!(patch.touched_fields(), vec!["flags"]);
        let p = PatientPatch {
            blood_group: Some("A+".into()),
            city: Some(String::new()),
            ..Default::default()
        };
        assert_eq!(p.touched_fields(), vec!["city", "blood_group"]);
    }

    #[test]
    fn amounts() {
        for ok in ["0", "15", "15.5", "15.50"] {
            assert!(validate_amount(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-1", "1.234", "1.", ".5", "1e3", "abc"] {
            assert!(validate_amount(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn duplicates_are_scored() {
        let mut a = valid();
        validate_details(&mut a, today()).unwrap();
        let mut b = a.clone();
        b.first_name = "Adda".into();
        b.national_id = None;
        b.email = None;
        b.phone = None;
        let (score, reasons) = duplicate_score(&b, &a).unwrap();
        assert!(score >= 80, "{reasons:?}");
        let mut c = b.clone();
        c.date_of_birth = NaiveDate::from_ymd_opt(1990, 1, 1);
        c.last_name = "Byron".into();
        assert!(duplicate_score(&c, &a).is_none());
    }

    #[test]
    fn redaction_hides_groups() {
        let mut d = valid();
        validate_details(&mut d, today()).unwrap();
        let mut p = Patient {
            id: Uuid::nil(),
            tenant_id: Uuid::nil(),
            patient_number: "P0000010".into(),
            details: d,
            lists: NewLists {
                allergies: vec![NewAllergy {
                    substance: "Penicillin".into(),
                    reaction: None,
                    severity: Severity::Severe,
                }],
                ..Default::default()
            }
            .assign_ids(Uuid::nil),
            created_at: DateTime::<Utc>::MIN_UTC,
            updated_at: DateTime::<Utc>::MIN_UTC,
            archived_at: None,
            merged_into: None,
            archive_reason: None,
            merged_into_number: None,
            redacted: vec![],
        };
        p.details.gender = Some("non-binary".into());
        redact(&mut p, |f| f == SensitiveFlag::FinancialData);
        assert!(p.details.gender.is_none());
        assert!(
            p.details.national_id.is_some(),
            "identifiers are for the front desk too"
        );
        assert!(p.lists.allergies.is_empty());
        assert!(p.details.blood_group.is_none());
        assert_eq!(
            p.redacted,
            vec![SensitiveFlag::SensitiveInfo, SensitiveFlag::MedicalHistory]
        );
    }
}
