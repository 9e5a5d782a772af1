//! Storage of encounters (typed columns for the clinician's day and the
//! chart, the whole record in `doc`) and of the drafts autosaved while a
//! note is typed, which stay on this workstation until they become edits.

use crate::records::Projection;
use crate::{parse_ts, parse_uuid, ts, Db, StoreResult};
use chrono::{DateTime, Utc};
use clinic_core::clinical::{Encounter, Prescription, PrescriptionStatus};
use clinic_core::sync::{AnyRecord, RecordKind};
use clinic_core::ClinicError;
use rusqlite::{params, OptionalExtension};
use uuid::Uuid;

fn parse_encounter(text: &str) -> rusqlite::Result<Encounter> {
    serde_json::from_str(text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, e.into())
    })
}

/// Text typed into one field of a note and not yet made a change of.
#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    pub encounter_id: Uuid,
    pub field: String,
    pub user_id: Uuid,
    pub text: String,
    /// The field's revision the text was typed over.
    pub base: Option<Uuid>,
    pub saved_at: DateTime<Utc>,
}

impl Db<'_> {
    pub fn put_encounter(&self, e: &Encounter) -> StoreResult<()> {
        let doc = serde_json::to_string(e).map_err(ClinicError::internal)?;
        self.conn
            .prepare_cached(
                "INSERT INTO encounters (id, tenant_id, patient_id, clinician_id, appointment_id, status,
                     started_at, signed_at, doc, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                 ON CONFLICT (id) DO UPDATE SET patient_id = excluded.patient_id,
                     clinician_id = excluded.clinician_id, appointment_id = excluded.appointment_id,
                     status = excluded.status, started_at = excluded.started_at,
                     signed_at = excluded.signed_at, doc = excluded.doc, updated_at = excluded.updated_at",
            )?
            .execute(params![
                e.id.to_string(),
                e.tenant_id.to_string(),
                e.patient_id.to_string(),
                e.clinician_id.to_string(),
                e.appointment_id.map(|a| a.to_string()),
                e.status.as_str(),
                ts(e.started_at),
                e.signature.as_ref().map(|s| ts(s.at)),
                doc,
                ts(e.updated_at),
            ])?;
        Ok(())
    }

    pub fn encounter(&self, id: Uuid) -> StoreResult<Option<Encounter>> {
        Ok(self
            .conn
            .prepare_cached("SELECT doc FROM encounters WHERE id = ?1")?
            .query_row([id.to_string()], |r| {
                parse_encounter(&r.get::<_, String>(0)?)
            })
            .optional()?)
    }

    fn encounters_where(
        &self,
        sql: &str,
        args: &[&dyn rusqlite::ToSql],
    ) -> StoreResult<Vec<Encounter>> {
        let mut st = self.conn.prepare_cached(sql)?;
        let rows = st.query_map(args, |r| parse_encounter(&r.get::<_, String>(0)?))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// A patient's encounters, newest first, at most `limit`.
    pub fn patient_encounters(&self, patient: Uuid, limit: u32) -> StoreResult<Vec<Encounter>> {
        self.encounters_where(
            "SELECT doc FROM encounters WHERE patient_id = ?1 ORDER BY started_at DESC, id DESC LIMIT ?2",
            &[&patient.to_string(), &limit],
        )
    }

    /// The encounters of a clinician started in `[from, to)`, oldest first.
    pub fn clinician_encounters(
        &self,
        clinician: Uuid,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<Encounter>> {
        self.encounters_where(
            "SELECT doc FROM encounters WHERE clinician_id = ?1 AND started_at >= ?2 AND started_at < ?3
             ORDER BY started_at, id",
            &[&clinician.to_string(), &ts(from), &ts(to)],
        )
    }

    /// The encounters started for an appointment.
    pub fn appointment_encounters(&self, appointment: Uuid) -> StoreResult<Vec<Encounter>> {
        self.encounters_where(
            "SELECT doc FROM encounters WHERE appointment_id = ?1 ORDER BY started_at, id",
            &[&appointment.to_string()],
        )
    }

    pub fn encounter_count(&self) -> StoreResult<i64> {
        Ok(self.query_row("SELECT count(*) FROM encounters", [], |r| r.get(0))?)
    }

    // ---- drafts ----

    /// Saves what is typed into a field (insert or replace): the autosave.
    /// `base` is kept from the first save of the draft (what it was typed over).
    pub fn save_draft(&self, d: &Draft) -> StoreResult<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO encounter_drafts (encounter_id, field, user_id, text, base, saved_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (encounter_id, field, user_id) DO UPDATE SET text = excluded.text,
                     saved_at = excluded.saved_at",
            )?
            .execute(params![
                d.encounter_id.to_string(),
                d.field,
                d.user_id.to_string(),
                d.text,
                d.base.map(|b| b.to_string()),
                ts(d.saved_at),
            ])?;
        Ok(())
    }

    fn drafts_where(&self, sql: &str, args: &[&dyn rusqlite::ToSql]) -> StoreResult<Vec<Draft>> {
        let mut st = self.conn.prepare_cached(sql)?;
        let rows = st.query_map(args, |r| {
            Ok(Draft {
                encounter_id: parse_uuid(&r.get::<_, String>(0)?),
                field: r.get(1)?,
                user_id: parse_uuid(&r.get::<_, String>(2)?),
                text: r.get(3)?,
                base: r.get::<_, Option<String>>(4)?.map(|s| parse_uuid(&s)),
                saved_at: parse_ts(&r.get::<_, String>(5)?),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The drafts of an encounter (every author's on this desk).
    pub fn encounter_drafts(&self, encounter: Uuid) -> StoreResult<Vec<Draft>> {
        self.drafts_where(
            "SELECT encounter_id, field, user_id, text, base, saved_at FROM encounter_drafts
             WHERE encounter_id = ?1 ORDER BY field, user_id",
            &[&encounter.to_string()],
        )
    }

    /// One author's drafts saved before `before` (all of theirs with `None`).
    pub fn user_drafts(
        &self,
        user: Uuid,
        before: Option<DateTime<Utc>>,
    ) -> StoreResult<Vec<Draft>> {
        let before = before.map(ts).unwrap_or_else(|| "9999".into());
        self.drafts_where(
            "SELECT encounter_id, field, user_id, text, base, saved_at FROM encounter_drafts
             WHERE user_id = ?1 AND saved_at < ?2 ORDER BY saved_at",
            &[&user.to_string(), &before],
        )
    }

    pub fn delete_draft(&self, encounter: Uuid, field: &str, user: Uuid) -> StoreResult<()> {
        self.execute(
            "DELETE FROM encounter_drafts WHERE encounter_id = ?1 AND field = ?2 AND user_id = ?3",
            params![encounter.to_string(), field, user.to_string()],
        )?;
        Ok(())
    }
}

fn parse_prescription(text: &str) -> rusqlite::Result<Prescription> {
    serde_json::from_str(text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, e.into())
    })
}

impl Db<'_> {
    pub fn put_prescription(&self, p: &Prescription) -> StoreResult<()> {
        let doc = serde_json::to_string(p).map_err(ClinicError::internal)?;
        self.conn
            .prepare_cached(
                "INSERT INTO prescriptions (id, tenant_id, patient_id, encounter_id, status, issued_at, expires_on,
                     doc, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT (id) DO UPDATE SET patient_id = excluded.patient_id,
                     encounter_id = excluded.encounter_id, status = excluded.status,
                     issued_at = excluded.issued_at, expires_on = excluded.expires_on, doc = excluded.doc,
                     updated_at = excluded.updated_at",
            )?
            .execute(params![
                p.id.to_string(),
                p.tenant_id.to_string(),
                p.patient_id.to_string(),
                p.encounter_id.to_string(),
                p.status.as_str(),
                ts(p.issued_at),
                p.expires_on.to_string(),
                doc,
                ts(p.updated_at),
            ])?;
        Ok(())
    }

    pub fn prescription(&self, id: Uuid) -> StoreResult<Option<Prescription>> {
        Ok(self
            .conn
            .prepare_cached("SELECT doc FROM prescriptions WHERE id = ?1")?
            .query_row([id.to_string()], |r| {
                parse_prescription(&r.get::<_, String>(0)?)
            })
            .optional()?)
    }

    /// A patient's prescriptions, newest first (`active_only`: those still active).
    pub fn patient_prescriptions(
        &self,
        patient: Uuid,
        active_only: bool,
    ) -> StoreResult<Vec<Prescription>> {
        let mut st = self.conn.prepare_cached(
            "SELECT doc FROM prescriptions WHERE patient_id = ?1 AND (?2 = 0 OR status = 'active')
             ORDER BY issued_at DESC, id DESC",
        )?;
        let rows = st.query_map(params![patient.to_string(), active_only], |r| {
            parse_prescription(&r.get::<_, String>(0)?)
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// Whether a prescription is still to be taken.
pub fn is_current(p: &Prescription, today: chrono::NaiveDate) -> bool {
    p.status == PrescriptionStatus::Active && p.expires_on >= today
}

/// Prescriptions in their own table.
#[derive(Debug)]
pub struct PrescriptionProjection;
pub static PRESCRIPTIONS: PrescriptionProjection = PrescriptionProjection;

impl Projection for PrescriptionProjection {
    fn kinds(&self) -> &'static [&'static str] {
        &[Prescription::KIND]
    }
    fn load(&self, db: &Db, id: Uuid) -> StoreResult<Option<AnyRecord>> {
        Ok(db.prescription(id)?.map(AnyRecord::new))
    }
    fn put(&self, db: &Db, r: &AnyRecord) -> StoreResult<()> {
        let p = r
            .get::<Prescription>()
            .ok_or_else(|| ClinicError::internal("not a prescription"))?;
        db.put_prescription(p)
    }
    fn discard(&self, db: &Db, id: Uuid) -> StoreResult<()> {
        db.discard_from("prescriptions", id)
    }
    fn hashes(&self, db: &Db, wanted: &dyn Fn(Uuid) -> bool) -> StoreResult<Vec<(Uuid, String)>> {
        db.table_hashes::<Prescription>("prescriptions", wanted)
    }
}

/// Encounters in their own table.
#[derive(Debug)]
pub struct EncounterProjection;
pub static PROJECTION: EncounterProjection = EncounterProjection;

impl Projection for EncounterProjection {
    fn kinds(&self) -> &'static [&'static str] {
        &[Encounter::KIND]
    }
    fn load(&self, db: &Db, id: Uuid) -> StoreResult<Option<AnyRecord>> {
        Ok(db.encounter(id)?.map(AnyRecord::new))
    }
    fn put(&self, db: &Db, r: &AnyRecord) -> StoreResult<()> {
        let e = r
            .get::<Encounter>()
            .ok_or_else(|| ClinicError::internal("not an encounter"))?;
        db.put_encounter(e)
    }
    fn discard(&self, db: &Db, id: Uuid) -> StoreResult<()> {
        db.discard_from("encounters", id)
    }
    fn hashes(&self, db: &Db, wanted: &dyn Fn(Uuid) -> bool) -> StoreResult<Vec<(Uuid, String)>> {
        db.table_hashes::<Encounter>("encounters", wanted)
    }
}
