//! Storage of appointments (typed columns for the calendar's range queries,
//! the whole record as the feed carries it in `doc`). Appointment types,
//! working time and the waitlist are whole documents in `records`.

use crate::records::Projection;
use crate::{parse_uuid, ts, Db, StoreResult};
use chrono::Duration;
use clinic_core::scheduling::{Appointment, OverlapProbe, Span, MAX_MINUTES};
use clinic_core::sync::{AnyRecord, Mutation, RecordKind, Records};
use clinic_core::ClinicError;
use rusqlite::{params, OptionalExtension};
use uuid::Uuid;

fn parse_appointment(text: &str) -> rusqlite::Result<Appointment> {
    serde_json::from_str(text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, e.into())
    })
}

/// Which appointments a calendar query returns.
#[derive(Debug, Clone, Default)]
pub struct AppointmentFilter {
    pub site_id: Option<Uuid>,
    pub clinician_id: Option<Uuid>,
    pub patient_id: Option<Uuid>,
    pub room_id: Option<Uuid>,
    /// Only the occurrences of this series.
    pub series_id: Option<Uuid>,
    /// Only those overlapping this span.
    pub span: Option<Span>,
    /// Include cancelled, no-show and rescheduled ones.
    pub include_ended: bool,
}

impl Db<'_> {
    /// Writes an appointment as it now is (insert or replace).
    pub fn put_appointment(&self, a: &Appointment) -> StoreResult<()> {
        let doc = serde_json::to_string(a).map_err(ClinicError::internal)?;
        self.conn
            .prepare_cached(
                "INSERT INTO appointments (id, tenant_id, site_id, patient_id, clinician_id, room_id, start_at, end_at,
                     status, in_conflict, series_id, doc, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
                 ON CONFLICT (id) DO UPDATE SET site_id = excluded.site_id, patient_id = excluded.patient_id,
                     clinician_id = excluded.clinician_id, room_id = excluded.room_id, start_at = excluded.start_at,
                     end_at = excluded.end_at, status = excluded.status, in_conflict = excluded.in_conflict,
                     series_id = excluded.series_id, doc = excluded.doc, updated_at = excluded.updated_at",
            )
            ?
            .execute(params![
                a.id.to_string(),
                a.tenant_id.to_string(),
                a.site_id.to_string(),
                a.patient_id.to_string(),
                a.clinician_id.to_string(),
                a.room_id.map(|r| r.to_string()),
                ts(a.start),
                ts(a.end()),
                a.status.as_str(),
                a.conflict.is_some(),
                a.series.as_ref().map(|s| s.id.to_string()),
                doc,
                ts(a.updated_at),
            ])
            ?;
        Ok(())
    }

    pub fn appointment(&self, id: Uuid) -> StoreResult<Option<Appointment>> {
        Ok(self
            .conn
            .prepare_cached("SELECT doc FROM appointments WHERE id = ?1")?
            .query_row([id.to_string()], |r| {
                parse_appointment(&r.get::<_, String>(0)?)
            })
            .optional()?)
    }

    /// Removes a booking the server refused outright (its mutation stays
    /// in the outbox, shown until a person resolves it).
    pub fn discard_unaccepted_appointment(&self, id: Uuid) -> StoreResult<()> {
        self.discard_from("appointments", id)
    }

    /// Appointments matching `f`, by start time.
    pub fn appointments(&self, f: &AppointmentFilter) -> StoreResult<Vec<Appointment>> {
        let mut sql = String::from("SELECT doc FROM appointments WHERE 1 = 1");
        let mut args: Vec<String> = Vec::new();
        let mut arg = |sql: &mut String, cond: &str, v: String| {
            args.push(v);
            sql.push_str(&cond.replace('?', &format!("?{}", args.len())));
        };
        if let Some(s) = f.site_id {
            arg(&mut sql, " AND site_id = ?", s.to_string());
        }
        if let Some(c) = f.clinician_id {
            arg(&mut sql, " AND clinician_id = ?", c.to_string());
        }
        if let Some(p) = f.patient_id {
            arg(&mut sql, " AND patient_id = ?", p.to_string());
        }
        if let Some(r) = f.room_id {
            arg(&mut sql, " AND room_id = ?", r.to_string());
        }
        if let Some(x) = f.series_id {
            arg(&mut sql, " AND series_id = ?", x.to_string());
        }
        if let Some(span) = f.span {
            // start_at is indexed: bound it on both sides (no appointment
            // is longer than MAX_MINUTES), then check the end.
            let earliest = span.start - Duration::minutes(MAX_MINUTES as i64);
            arg(&mut sql, " AND start_at >= ?", ts(earliest));
            arg(&mut sql, " AND start_at < ?", ts(span.end));
            arg(&mut sql, " AND end_at > ?", ts(span.start));
        }
        if !f.include_ended {
            sql.push_str(" AND status NOT IN ('cancelled', 'no_show', 'rescheduled')");
        }
        sql.push_str(" ORDER BY start_at, id");
        let mut st = self.conn.prepare_cached(&sql)?;
        let rows = st.query_map(rusqlite::params_from_iter(args.iter()), |r| {
            parse_appointment(&r.get::<_, String>(0)?)
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Live appointments that may overlap a booking or move (the records
    /// the shared rule checks it against).
    pub fn overlap_candidates(&self, probe: &OverlapProbe) -> StoreResult<Vec<Appointment>> {
        let mut out = Vec::new();
        let span = Some(probe.span);
        for f in [
            AppointmentFilter {
                clinician_id: Some(probe.clinician_id),
                span,
                ..Default::default()
            },
            AppointmentFilter {
                patient_id: Some(probe.patient_id),
                span,
                ..Default::default()
            },
            AppointmentFilter {
                room_id: probe.room_id,
                span,
                ..Default::default()
            },
        ] {
            if f.room_id.is_none() && f.clinician_id.is_none() && f.patient_id.is_none() {
                continue;
            }
            for a in self.appointments(&f)? {
                if !out.iter().any(|o: &Appointment| o.id == a.id) {
                    out.push(a);
                }
            }
        }
        Ok(out)
    }

    /// Appointments whose double booking nobody has resolved yet, at a site.
    pub fn appointment_conflicts(&self, site: Option<Uuid>) -> StoreResult<Vec<Appointment>> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT doc FROM appointments WHERE in_conflict = 1 AND (?1 IS NULL OR site_id = ?1) ORDER BY start_at",
            )
            ?;
        let rows = st.query_map([site.map(|s| s.to_string())], |r| {
            parse_appointment(&r.get::<_, String>(0)?)
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn appointment_ids(&self) -> StoreResult<Vec<Uuid>> {
        let mut st = self
            .conn
            .prepare("SELECT id FROM appointments ORDER BY id")?;
        let rows = st.query_map([], |r| Ok(parse_uuid(&r.get::<_, String>(0)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// Appointments in their own table, and the overlap candidates a booking
/// or move is checked against.
#[derive(Debug)]
pub struct AppointmentProjection;
pub static PROJECTION: AppointmentProjection = AppointmentProjection;

impl Projection for AppointmentProjection {
    fn kinds(&self) -> &'static [&'static str] {
        &[Appointment::KIND]
    }
    fn load(&self, db: &Db, id: Uuid) -> StoreResult<Option<AnyRecord>> {
        Ok(db.appointment(id)?.map(AnyRecord::new))
    }
    fn put(&self, db: &Db, r: &AnyRecord) -> StoreResult<()> {
        let a = r
            .get::<Appointment>()
            .ok_or_else(|| ClinicError::internal("not an appointment"))?;
        db.put_appointment(a)
    }
    fn discard(&self, db: &Db, id: Uuid) -> StoreResult<()> {
        db.discard_unaccepted_appointment(id)
    }
    fn hashes(&self, db: &Db, wanted: &dyn Fn(Uuid) -> bool) -> StoreResult<Vec<(Uuid, String)>> {
        db.table_hashes::<Appointment>("appointments", wanted)
    }
    fn load_context(&self, db: &Db, m: &Mutation, recs: &mut Records) -> StoreResult<()> {
        if let Some(probe) = OverlapProbe::of(m, recs) {
            for a in db.overlap_candidates(&probe)? {
                recs.offer(AnyRecord::new(a));
            }
        }
        Ok(())
    }
}
