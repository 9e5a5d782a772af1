//! Storage of appointments and of the shared reference records (staff,
//! sites, rooms, appointment types, working time, waitlist).

use crate::identity::{parse_uuid, ts};
use crate::{db_err, Db};
use chrono::{DateTime, Duration, Utc};
use clinic_core::directory::RefDoc;
use clinic_core::schedule::{Appointment, Span, MAX_MINUTES};
use clinic_core::sync::OverlapProbe;
use clinic_core::{ClinicError, ClinicResult};
use rusqlite::{params, OptionalExtension};
use uuid::Uuid;

fn parse_appointment(text: &str) -> rusqlite::Result<Appointment> {
    serde_json::from_str(text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, e.into())
    })
}

fn parse_ref(text: &str) -> rusqlite::Result<RefDoc> {
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
    pub fn put_appointment(&self, a: &Appointment) -> ClinicResult<()> {
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
            .map_err(db_err)?
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
            .map_err(db_err)?;
        Ok(())
    }

    pub fn appointment(&self, id: Uuid) -> ClinicResult<Option<Appointment>> {
        self.conn
            .prepare_cached("SELECT doc FROM appointments WHERE id = ?1")
            .map_err(db_err)?
            .query_row([id.to_string()], |r| {
                parse_appointment(&r.get::<_, String>(0)?)
            })
            .optional()
            .map_err(db_err)
    }

    /// Removes a booking the server refused outright (its mutation stays
    /// in the outbox, shown until a person resolves it).
    pub fn discard_unaccepted_appointment(&self, id: Uuid) -> ClinicResult<()> {
        self.execute(
            "INSERT OR IGNORE INTO sync_discard (id) VALUES (?1)",
            [id.to_string()],
        )
        .map_err(db_err)?;
        self.execute("DELETE FROM appointments WHERE id = ?1", [id.to_string()])
            .map_err(db_err)?;
        self.execute("DELETE FROM sync_discard WHERE id = ?1", [id.to_string()])
            .map_err(db_err)?;
        Ok(())
    }

    /// Appointments matching `f`, by start time.
    pub fn appointments(&self, f: &AppointmentFilter) -> ClinicResult<Vec<Appointment>> {
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
        let mut st = self.conn.prepare_cached(&sql).map_err(db_err)?;
        let rows = st
            .query_map(rusqlite::params_from_iter(args.iter()), |r| {
                parse_appointment(&r.get::<_, String>(0)?)
            })
            .map_err(db_err)?;
        rows.collect::<Result<_, _>>().map_err(db_err)
    }

    /// Live appointments that may overlap a booking or move (the records
    /// the shared rule checks it against).
    pub fn overlap_candidates(&self, probe: &OverlapProbe) -> ClinicResult<Vec<Appointment>> {
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
    pub fn appointment_conflicts(&self, site: Option<Uuid>) -> ClinicResult<Vec<Appointment>> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT doc FROM appointments WHERE in_conflict = 1 AND (?1 IS NULL OR site_id = ?1) ORDER BY start_at",
            )
            .map_err(db_err)?;
        let rows = st
            .query_map([site.map(|s| s.to_string())], |r| {
                parse_appointment(&r.get::<_, String>(0)?)
            })
            .map_err(db_err)?;
        rows.collect::<Result<_, _>>().map_err(db_err)
    }

    pub fn appointment_ids(&self) -> ClinicResult<Vec<Uuid>> {
        let mut st = self
            .conn
            .prepare("SELECT id FROM appointments ORDER BY id")
            .map_err(db_err)?;
        let rows = st
            .query_map([], |r| Ok(parse_uuid(&r.get::<_, String>(0)?)))
            .map_err(db_err)?;
        rows.collect::<Result<_, _>>().map_err(db_err)
    }

    /// Writes a reference record; staff, sites and rooms also go to the
    /// tables sign-in and the rest of the store use.
    pub fn put_ref(&self, doc: &RefDoc, now: DateTime<Utc>) -> ClinicResult<()> {
        let text = serde_json::to_string(doc).map_err(ClinicError::internal)?;
        self.conn
            .prepare_cached(
                "INSERT INTO sync_refs (id, kind, doc) VALUES (?1, ?2, ?3)
                 ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, doc = excluded.doc",
            )
            .map_err(db_err)?
            .execute(params![doc.id().to_string(), doc.kind(), text])
            .map_err(db_err)?;
        let tenant = self.tenant_id.to_string();
        let at = ts(now);
        match doc {
            RefDoc::Site(s) => {
                self.execute(
                        "INSERT INTO sites (id, tenant_id, name, timezone, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)
                         ON CONFLICT (id) DO UPDATE SET name = excluded.name, timezone = excluded.timezone, updated_at = excluded.updated_at",
                        params![s.id.to_string(), tenant, s.name, s.timezone, at],
                    )
                    .map_err(db_err)?;
            }
            RefDoc::Room(r) => {
                self.execute(
                        "INSERT INTO rooms (id, tenant_id, site_id, name, kind, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)
                         ON CONFLICT (id) DO UPDATE SET site_id = excluded.site_id, name = excluded.name, kind = excluded.kind, updated_at = excluded.updated_at",
                        params![r.id.to_string(), tenant, r.site_id.to_string(), r.name, r.kind, at],
                    )
                    .map_err(db_err)?;
            }
            RefDoc::Staff(s) => {
                // A local account with this e-mail under another id (made
                // before this workstation was enrolled) keeps its row.
                let clash: Option<String> = self
                    .query_row(
                        "SELECT id FROM users WHERE email = ?1 AND id <> ?2",
                        params![s.email, s.id.to_string()],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(db_err)?;
                if clash.is_some() {
                    return Ok(());
                }
                self.execute(
                        "INSERT INTO users (id, tenant_id, email, name, password_hash, status, created_at, updated_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)
                         ON CONFLICT (id) DO UPDATE SET email = excluded.email, name = excluded.name,
                             password_hash = excluded.password_hash, status = excluded.status, updated_at = excluded.updated_at",
                        params![
                            s.id.to_string(),
                            tenant,
                            s.email,
                            s.name,
                            s.password_hash,
                            if s.active { "active" } else { "disabled" },
                            at
                        ],
                    )
                    .map_err(db_err)?;
                self.execute(
                    "DELETE FROM user_roles WHERE user_id = ?1",
                    [s.id.to_string()],
                )
                .map_err(db_err)?;
                for key in &s.roles {
                    if let Some(role) = self.role_by_key(key)? {
                        self.execute(
                                "INSERT OR IGNORE INTO user_roles (user_id, role_id, tenant_id) VALUES (?1, ?2, ?3)",
                                params![s.id.to_string(), role.id.to_string(), tenant],
                            )
                            .map_err(db_err)?;
                    }
                }
                if s.specialization.is_some() || s.registration_number.is_some() {
                    self.upsert_clinician_profile(
                        s.id,
                        &crate::identity::ClinicianProfile {
                            specialization: s.specialization.clone(),
                            registration_number: s.registration_number.clone(),
                            ..Default::default()
                        },
                        now,
                    )?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    pub fn get_ref(&self, id: Uuid) -> ClinicResult<Option<RefDoc>> {
        self.conn
            .prepare_cached("SELECT doc FROM sync_refs WHERE id = ?1")
            .map_err(db_err)?
            .query_row([id.to_string()], |r| parse_ref(&r.get::<_, String>(0)?))
            .optional()
            .map_err(db_err)
    }

    /// Reference records of one kind (`staff`, `appointment_type`, …).
    pub fn refs(&self, kind: &str) -> ClinicResult<Vec<RefDoc>> {
        let mut st = self
            .conn
            .prepare_cached("SELECT doc FROM sync_refs WHERE kind = ?1 ORDER BY id")
            .map_err(db_err)?;
        let rows = st
            .query_map([kind], |r| parse_ref(&r.get::<_, String>(0)?))
            .map_err(db_err)?;
        rows.collect::<Result<_, _>>().map_err(db_err)
    }

    pub fn ref_ids(&self) -> ClinicResult<Vec<Uuid>> {
        let mut st = self
            .conn
            .prepare("SELECT id FROM sync_refs ORDER BY id")
            .map_err(db_err)?;
        let rows = st
            .query_map([], |r| Ok(parse_uuid(&r.get::<_, String>(0)?)))
            .map_err(db_err)?;
        rows.collect::<Result<_, _>>().map_err(db_err)
    }
}
