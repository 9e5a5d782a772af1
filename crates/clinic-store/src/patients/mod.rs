//! Patient rows, their list items, archive and merge, and the search index
//! ([`search`]).

pub mod search;

use crate::records::Projection;
use crate::{parse_ts, parse_uuid, ts, Db, StoreResult};
use chrono::{DateTime, NaiveDate, Utc};
use clinic_core::patients::*;
use clinic_core::sync::{doc_hash, AnyRecord, RecordKind};
use clinic_core::ClinicError;
use rusqlite::{params, OptionalExtension, Row, ToSql};
use uuid::Uuid;

/// The detail columns, named as the domain's fields ([`DETAIL_FIELDS`]).
static DETAIL_COLUMNS: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| DETAIL_FIELDS.join(", "));
const DETAIL_COUNT: usize = DETAIL_FIELDS.len();

fn enum_text<T: serde::Serialize>(v: &Option<T>) -> Option<String> {
    v.as_ref()
        .and_then(|v| serde_json::to_value(v).ok())
        .and_then(|v| v.as_str().map(str::to_string))
}

fn enum_parse<T: serde::de::DeserializeOwned>(s: Option<String>) -> Option<T> {
    s.and_then(|s| serde_json::from_value(serde_json::Value::String(s)).ok())
}

fn date_text(d: Option<NaiveDate>) -> Option<String> {
    d.map(|d| d.format("%Y-%m-%d").to_string())
}

fn parse_date(s: Option<String>) -> Option<NaiveDate> {
    s.and_then(|s| NaiveDate::parse_from_str(&s, "%Y-%m-%d").ok())
}

/// Values of [`DETAIL_COLUMNS`], in order (their SQL types: a test checks
/// they round-trip every field).
fn detail_values(d: &PatientDetails) -> Vec<Box<dyn ToSql>> {
    vec![
        Box::new(d.first_name.clone()),
        Box::new(d.middle_name.clone()),
        Box::new(d.last_name.clone()),
        Box::new(d.preferred_name.clone()),
        Box::new(date_text(d.date_of_birth)),
        Box::new(enum_text(&d.sex_at_birth)),
        Box::new(d.gender.clone()),
        Box::new(d.phone.clone()),
        Box::new(d.alt_phone.clone()),
        Box::new(d.email.clone()),
        Box::new(d.address_line1.clone()),
        Box::new(d.address_line2.clone()),
        Box::new(d.city.clone()),
        Box::new(d.state.clone()),
        Box::new(d.postcode.clone()),
        Box::new(d.country.clone()),
        Box::new(d.national_id_kind.map(|k| k.key().to_string())),
        Box::new(d.national_id.clone()),
        Box::new(enum_text(&d.preferred_channel)),
        Box::new(d.preferred_language.clone()),
        Box::new(d.reminders_opt_in),
        Box::new(d.blood_group.clone()),
        Box::new(d.smoking_status.clone()),
        Box::new(d.alcohol_use.clone()),
        Box::new(d.family_history.clone()),
        Box::new(enum_text(&d.risk_level)),
        Box::new(enum_text(&d.alert_level)),
        Box::new(serde_json::to_string(&d.flags).unwrap_or_else(|_| "[]".into())),
    ]
}

/// Reads [`DETAIL_COLUMNS`] starting at column `o`.
fn details_from_row(r: &Row, o: usize) -> rusqlite::Result<PatientDetails> {
    Ok(PatientDetails {
        first_name: r.get(o)?,
        middle_name: r.get(o + 1)?,
        last_name: r.get(o + 2)?,
        preferred_name: r.get(o + 3)?,
        date_of_birth: parse_date(r.get(o + 4)?),
        sex_at_birth: enum_parse(r.get(o + 5)?),
        gender: r.get(o + 6)?,
        phone: r.get(o + 7)?,
        alt_phone: r.get(o + 8)?,
        email: r.get(o + 9)?,
        address_line1: r.get(o + 10)?,
        address_line2: r.get(o + 11)?,
        city: r.get(o + 12)?,
        state: r.get(o + 13)?,
        postcode: r.get(o + 14)?,
        country: r.get(o + 15)?,
        national_id_kind: r
            .get::<_, Option<String>>(o + 16)?
            .and_then(|k| clinic_core::patients::NationalIdKind::from_key(&k)),
        national_id: r.get(o + 17)?,
        preferred_channel: enum_parse(r.get(o + 18)?),
        preferred_language: r.get(o + 19)?,
        reminders_opt_in: r.get(o + 20)?,
        blood_group: r.get(o + 21)?,
        smoking_status: r.get(o + 22)?,
        alcohol_use: r.get(o + 23)?,
        family_history: r.get(o + 24)?,
        risk_level: enum_parse(r.get(o + 25)?),
        alert_level: enum_parse(r.get(o + 26)?),
        flags: serde_json::from_str(&r.get::<_, String>(o + 27)?).unwrap_or_default(),
    })
}

pub(crate) fn sort_name(d: &PatientDetails) -> String {
    clinic_core::search::fold(&format!("{} {}", d.last_name, d.first_name))
}

fn phone_digits(d: &PatientDetails) -> Option<String> {
    d.phone.as_deref().and_then(|p| validate_phone(p).ok())
}

/// Inserts one list item row of any kind.
fn insert_item(
    db: &Db,
    table: &str,
    cols: &[&str],
    id: Uuid,
    patient: Uuid,
    values: Vec<Box<dyn ToSql>>,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let names = cols.join(", ");
    let marks: Vec<String> = (0..cols.len()).map(|i| format!("?{}", i + 6)).collect();
    let sql = format!(
        "INSERT OR REPLACE INTO {table} (id, tenant_id, patient_id, created_at, updated_at, {names}) VALUES (?1, ?2, ?3, ?4, ?5, {})",
        marks.join(", ")
    );
    let mut all: Vec<Box<dyn ToSql>> = vec![
        Box::new(id.to_string()),
        Box::new(db.tenant_id.to_string()),
        Box::new(patient.to_string()),
        Box::new(ts(now)),
        Box::new(ts(now)),
    ];
    all.extend(values);
    let refs: Vec<&dyn ToSql> = all.iter().map(|b| b.as_ref()).collect();
    db.conn.prepare_cached(&sql)?.execute(refs.as_slice())?;
    Ok(())
}

const LIST_TABLES: [&str; 6] = [
    "patient_allergies",
    "patient_conditions",
    "patient_medications",
    "patient_insurances",
    "patient_emergency_contacts",
    "patient_consents",
];

impl Db<'_> {
    /// Inserts a validated new patient with the next offline patient number.
    pub fn insert_patient(
        &self,
        id: Uuid,
        details: &PatientDetails,
        lists: &PatientLists,
        now: DateTime<Utc>,
    ) -> StoreResult<Patient> {
        let seq = self.next_number("patient")?;
        let p = Patient {
            id,
            tenant_id: self.tenant_id,
            patient_number: format_patient_number(seq),
            details: details.clone(),
            lists: lists.clone(),
            created_at: now,
            updated_at: now,
            archived_at: None,
            merged_into: None,
            archive_reason: None,
            merged_into_number: None,
            redacted: vec![],
        };
        self.put_patient(&p)?;
        Ok(p)
    }

    /// Writes a whole patient record as it is (new or not): the row, its
    /// list items in the record's order, and its search entry. Used for
    /// local changes and for records received from the server alike.
    pub fn put_patient(&self, p: &Patient) -> StoreResult<()> {
        let seq = clinic_core::patients::parse_patient_number(&p.patient_number)
            .ok_or_else(|| ClinicError::internal("a record without a valid patient number"))?;
        let existing = self.patient_pk(p.id)?;
        let head: Vec<Box<dyn ToSql>> = vec![
            Box::new(p.id.to_string()),
            Box::new(self.tenant_id.to_string()),
            Box::new(p.patient_number.clone()),
            Box::new(seq as i64),
            Box::new(sort_name(&p.details)),
            Box::new(phone_digits(&p.details)),
            Box::new(ts(p.created_at)),
            Box::new(ts(p.updated_at)),
            Box::new(p.archived_at.map(ts)),
            Box::new(p.merged_into.map(|m| m.to_string())),
            Box::new(p.archive_reason.clone()),
        ];
        let mut values = head;
        values.extend(detail_values(&p.details));
        let refs: Vec<&dyn ToSql> = values.iter().map(|b| b.as_ref()).collect();
        let pk = match existing {
            Some((pk, _, _)) => {
                let sets: Vec<String> = "id, tenant_id, patient_number, number_seq, sort_name, phone_digits, created_at, updated_at, deleted_at, merged_into, archive_reason"
                    .split(',')
                    .chain(DETAIL_COLUMNS.split(','))
                    .map(str::trim)
                    .enumerate()
                    // Identity columns never change; setting them anyway
                    // would make SQLite check every reference to the row.
                    .skip(4)
                    .map(|(i, c)| format!("{c} = ?{}", i + 1))
                    .collect();
                let sql = format!("UPDATE patients SET {} WHERE id = ?1", sets.join(", "));
                self.conn.prepare_cached(&sql)?.execute(refs.as_slice())?;
                self.unindex_patient(pk)?;
                for t in LIST_TABLES {
                    self.conn
                        .prepare_cached(&format!("DELETE FROM {t} WHERE patient_id = ?1"))?
                        .execute([p.id.to_string()])?;
                }
                pk
            }
            None => {
                let sql = format!(
                    "INSERT INTO patients (id, tenant_id, patient_number, number_seq, sort_name, phone_digits, created_at, updated_at, deleted_at, merged_into, archive_reason, {})
                     VALUES ({})",
                    *DETAIL_COLUMNS,
                    (1..=11 + DETAIL_COUNT).map(|i| format!("?{i}")).collect::<Vec<_>>().join(", ")
                );
                self.conn.prepare_cached(&sql)?.execute(refs.as_slice())?;
                self.conn.last_insert_rowid()
            }
        };
        self.insert_list_items(p.id, &p.lists, p.created_at)?;
        if p.archived_at.is_none() {
            self.index_patient(pk, &p.patient_number, seq, &p.details)?;
        }
        Ok(())
    }

    /// Removes a record the server never accepted (its registration was
    /// refused): the refused mutation, with every detail typed, stays in the
    /// outbox for a person to see. Nothing else may delete a patient.
    pub fn discard_unaccepted_patient(&self, id: Uuid) -> StoreResult<()> {
        let Some((pk, _, _)) = self.patient_pk(id)? else {
            return Ok(());
        };
        self.unindex_patient(pk)?;
        for t in LIST_TABLES {
            self.execute(
                &format!("DELETE FROM {t} WHERE patient_id = ?1"),
                [id.to_string()],
            )?;
        }
        self.execute(
            "INSERT INTO sync_discard (id) VALUES (?1)",
            [id.to_string()],
        )?;
        self.execute("DELETE FROM patients WHERE pk = ?1", [pk])?;
        self.execute("DELETE FROM sync_discard WHERE id = ?1", [id.to_string()])?;
        Ok(())
    }

    /// Ids of every patient record (archived too), for whole-copy checks.
    pub fn patient_ids(&self) -> StoreResult<Vec<Uuid>> {
        let mut st = self.conn.prepare("SELECT id FROM patients ORDER BY pk")?;
        let rows = st.query_map([], |r| r.get::<_, String>(0))?;
        Ok(rows
            .map(|r| r.map(|s| parse_uuid(&s)))
            .collect::<Result<_, _>>()?)
    }

    pub fn insert_list_items(
        &self,
        patient: Uuid,
        l: &PatientLists,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        for a in &l.allergies {
            insert_item(
                self,
                "patient_allergies",
                &["substance", "reaction", "severity", "code"],
                a.id,
                patient,
                vec![
                    Box::new(a.substance.clone()),
                    Box::new(a.reaction.clone()),
                    Box::new(enum_text(&Some(a.severity))),
                    Box::new(a.code.as_ref().and_then(|c| serde_json::to_string(c).ok())),
                ],
                now,
            )?;
        }
        for c in &l.conditions {
            insert_item(
                self,
                "patient_conditions",
                &["name", "icd10", "active", "onset"],
                c.id,
                patient,
                vec![
                    Box::new(c.name.clone()),
                    Box::new(c.icd10.clone()),
                    Box::new(c.active),
                    Box::new(date_text(c.onset)),
                ],
                now,
            )?;
        }
        for m in &l.medications {
            insert_item(
                self,
                "patient_medications",
                &["name", "dose", "frequency", "started_on"],
                m.id,
                patient,
                vec![
                    Box::new(m.name.clone()),
                    Box::new(m.dose.clone()),
                    Box::new(m.frequency.clone()),
                    Box::new(date_text(m.started_on)),
                ],
                now,
            )?;
        }
        for i in &l.insurances {
            insert_item(
                self,
                "patient_insurances",
                &[
                    "provider",
                    "policy_number",
                    "group_number",
                    "member_number",
                    "plan",
                    "valid_from",
                    "valid_to",
                    "copay",
                    "is_primary",
                ],
                i.id,
                patient,
                vec![
                    Box::new(i.provider.clone()),
                    Box::new(i.policy_number.clone()),
                    Box::new(i.group_number.clone()),
                    Box::new(i.member_number.clone()),
                    Box::new(i.plan.clone()),
                    Box::new(date_text(i.valid_from)),
                    Box::new(date_text(i.valid_to)),
                    Box::new(i.copay.clone()),
                    Box::new(i.is_primary),
                ],
                now,
            )?;
        }
        for e in &l.emergency_contacts {
            insert_item(
                self,
                "patient_emergency_contacts",
                &["name", "relationship", "phone", "email"],
                e.id,
                patient,
                vec![
                    Box::new(e.name.clone()),
                    Box::new(e.relationship.clone()),
                    Box::new(e.phone.clone()),
                    Box::new(e.email.clone()),
                ],
                now,
            )?;
        }
        for c in &l.consents {
            insert_item(
                self,
                "patient_consents",
                &["kind", "purpose", "given_on", "withdrawn_on"],
                c.id,
                patient,
                vec![
                    Box::new(c.kind.clone()),
                    Box::new(c.purpose.clone()),
                    Box::new(date_text(Some(c.given_on))),
                    Box::new(date_text(c.withdrawn_on)),
                ],
                now,
            )?;
        }
        Ok(())
    }

    fn patient_pk(&self, id: Uuid) -> StoreResult<Option<(i64, String, i64)>> {
        Ok(self.query_row(
            "SELECT pk, patient_number, number_seq FROM patients WHERE id = ?1 AND tenant_id = ?2",
            params![id.to_string(), self.tenant_id.to_string()],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?)
    }

    /// Loads a patient (archived or not) with its live list items.
    pub fn patient(&self, id: Uuid) -> StoreResult<Option<Patient>> {
        let sql = format!(
            "SELECT id, patient_number, created_at, updated_at, deleted_at, merged_into,
                (SELECT s.patient_number FROM patients s WHERE s.id = patients.merged_into), archive_reason, {}
             FROM patients WHERE id = ?1 AND tenant_id = ?2",
            *DETAIL_COLUMNS
        );
        let head = self
            .query_row(
                &sql,
                params![id.to_string(), self.tenant_id.to_string()],
                |r| {
                    Ok(Patient {
                        id: parse_uuid(&r.get::<_, String>(0)?),
                        tenant_id: self.tenant_id,
                        patient_number: r.get(1)?,
                        created_at: parse_ts(&r.get::<_, String>(2)?),
                        updated_at: parse_ts(&r.get::<_, String>(3)?),
                        archived_at: r.get::<_, Option<String>>(4)?.map(|s| parse_ts(&s)),
                        merged_into: r.get::<_, Option<String>>(5)?.map(|s| parse_uuid(&s)),
                        merged_into_number: r.get(6)?,
                        archive_reason: r.get(7)?,
                        details: details_from_row(r, 8)?,
                        lists: PatientLists::default(),
                        redacted: vec![],
                    })
                },
            )
            .optional()?;
        let Some(mut p) = head else { return Ok(None) };
        p.lists = self.patient_lists(id)?;
        Ok(Some(p))
    }

    /// The patient with this number, typed in any accepted form (`p000001-3`).
    pub fn patient_by_number(&self, number: &str) -> StoreResult<Option<Uuid>> {
        let Some(seq) = clinic_core::patients::parse_patient_number(number) else {
            return Ok(None);
        };
        Ok(self
            .query_row(
                "SELECT id FROM patients WHERE tenant_id = ?1 AND patient_number = ?2",
                params![self.tenant_id.to_string(), format_patient_number(seq)],
                |r| r.get::<_, String>(0),
            )
            .optional()
            .map(|o| o.map(|s| parse_uuid(&s)))?)
    }

    /// Live list items of one patient, oldest first (`select` lacks the WHERE clause).
    fn list_items<T>(
        &self,
        select: &str,
        patient: &str,
        row: impl FnMut(&Row) -> rusqlite::Result<T>,
    ) -> StoreResult<Vec<T>> {
        let sql = format!(
            "{select} WHERE patient_id = ?1 AND deleted_at IS NULL ORDER BY created_at, rowid"
        );
        let mut st = self.conn.prepare_cached(&sql)?;
        let rows = st.query_map([patient], row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn patient_lists(&self, id: Uuid) -> StoreResult<PatientLists> {
        let pid = id.to_string();
        Ok(PatientLists {
        allergies: self.list_items(
            "SELECT id, substance, reaction, severity, code FROM patient_allergies",
            &pid,
            |r| {
                Ok(Allergy {
                    id: parse_uuid(&r.get::<_, String>(0)?),
                    substance: r.get(1)?,
                    reaction: r.get(2)?,
                    severity: enum_parse(r.get(3)?).unwrap_or(Severity::Moderate),
                    code: r
                        .get::<_, Option<String>>(4)?
                        .and_then(|c| serde_json::from_str(&c).ok()),
                })
            },
        )?,
        conditions: self.list_items(
            "SELECT id, name, icd10, active, onset FROM patient_conditions",
            &pid,
            |r| {
                Ok(Condition {
                    id: parse_uuid(&r.get::<_, String>(0)?),
                    name: r.get(1)?,
                    icd10: r.get(2)?,
                    active: r.get(3)?,
                    onset: parse_date(r.get(4)?),
                })
            },
        )?,
        medications: self.list_items(
            "SELECT id, name, dose, frequency, started_on FROM patient_medications",
            &pid,
            |r| {
                Ok(Medication {
                    id: parse_uuid(&r.get::<_, String>(0)?),
                    name: r.get(1)?,
                    dose: r.get(2)?,
                    frequency: r.get(3)?,
                    started_on: parse_date(r.get(4)?),
                })
            },
        )?,
        insurances: self.list_items("SELECT id, provider, policy_number, group_number, member_number, plan, valid_from, valid_to, copay, is_primary FROM patient_insurances", &pid, |r| {
                Ok(InsuranceCoverage {
                    id: parse_uuid(&r.get::<_, String>(0)?),
                    provider: r.get(1)?,
                    policy_number: r.get(2)?,
                    group_number: r.get(3)?,
                    member_number: r.get(4)?,
                    plan: r.get(5)?,
                    valid_from: parse_date(r.get(6)?),
                    valid_to: parse_date(r.get(7)?),
                    copay: r.get(8)?,
                    is_primary: r.get(9)?,
                })
            })?,
        emergency_contacts: self.list_items(
            "SELECT id, name, relationship, phone, email FROM patient_emergency_contacts",
            &pid,
            |r| {
                Ok(EmergencyContact {
                    id: parse_uuid(&r.get::<_, String>(0)?),
                    name: r.get(1)?,
                    relationship: r.get(2)?,
                    phone: r.get(3)?,
                    email: r.get(4)?,
                })
            },
        )?,
        consents: self.list_items(
            "SELECT id, kind, purpose, given_on, withdrawn_on FROM patient_consents",
            &pid,
            |r| {
                Ok(Consent {
                    id: parse_uuid(&r.get::<_, String>(0)?),
                    kind: r.get(1)?,
                    purpose: r.get(2)?,
                    given_on: parse_date(r.get(3)?).unwrap_or_default(),
                    withdrawn_on: parse_date(r.get(4)?),
                })
            },
        )?,
        })
    }

    /// Live patients that might be the same person as `d` (not `exclude`), best first.
    pub fn duplicate_candidates(
        &self,
        d: &PatientDetails,
        exclude: Option<Uuid>,
    ) -> StoreResult<Vec<DuplicateCandidate>> {
        let sql = format!(
            "SELECT id, patient_number, {} FROM patients
             WHERE tenant_id = ?1 AND deleted_at IS NULL AND (
                date_of_birth = ?2 OR (national_id IS NOT NULL AND national_id = ?3)
                OR (phone_digits IS NOT NULL AND phone_digits = ?4) OR (email IS NOT NULL AND email = ?5 COLLATE NOCASE))
             LIMIT 500",
            *DETAIL_COLUMNS
        );
        let mut st = self.conn.prepare_cached(&sql)?;
        let rows = st.query_map(
            params![
                self.tenant_id.to_string(),
                date_text(d.date_of_birth),
                d.national_id,
                phone_digits(d),
                d.email
            ],
            |r| {
                Ok((
                    parse_uuid(&r.get::<_, String>(0)?),
                    r.get::<_, String>(1)?,
                    details_from_row(r, 2)?,
                ))
            },
        )?;
        let mut out = Vec::new();
        for row in rows {
            let (id, number, existing) = row?;
            if Some(id) == exclude {
                continue;
            }
            if let Some((score, reasons)) = duplicate_score(d, &existing) {
                out.push(DuplicateCandidate {
                    patient_id: id,
                    patient_number: number,
                    first_name: existing.first_name,
                    last_name: existing.last_name,
                    date_of_birth: existing.date_of_birth,
                    score,
                    reasons,
                });
            }
        }
        out.sort_by(|a, b| b.score.cmp(&a.score).then(a.last_name.cmp(&b.last_name)));
        out.truncate(10);
        Ok(out)
    }

    pub fn patient_count(&self) -> StoreResult<i64> {
        Ok(self.query_row(
            "SELECT count(*) FROM patients WHERE tenant_id = ?1 AND deleted_at IS NULL",
            [self.tenant_id.to_string()],
            |r| r.get(0),
        )?)
    }
}

/// Patients in their own tables (row, list items, search index).
#[derive(Debug)]
pub struct PatientProjection;
pub static PROJECTION: PatientProjection = PatientProjection;

impl Projection for PatientProjection {
    fn kinds(&self) -> &'static [&'static str] {
        &[Patient::KIND]
    }
    fn load(&self, db: &Db, id: Uuid) -> StoreResult<Option<AnyRecord>> {
        Ok(db.patient(id)?.map(AnyRecord::new))
    }
    fn put(&self, db: &Db, r: &AnyRecord) -> StoreResult<()> {
        let p = r
            .get::<Patient>()
            .ok_or_else(|| ClinicError::internal("not a patient"))?;
        db.put_patient(p)
    }
    fn discard(&self, db: &Db, id: Uuid) -> StoreResult<()> {
        db.discard_unaccepted_patient(id)
    }
    fn hashes(&self, db: &Db, wanted: &dyn Fn(Uuid) -> bool) -> StoreResult<Vec<(Uuid, String)>> {
        let mut out = Vec::new();
        for id in db.patient_ids()?.into_iter().filter(|id| wanted(*id)) {
            if let Some(p) = db.patient(id)? {
                out.push((id, doc_hash(&p.doc())));
            }
        }
        Ok(out)
    }
}
