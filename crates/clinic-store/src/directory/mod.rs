//! Tenants, sites, rooms, roles, users and clinician profiles; and the
//! directory's records every workstation of a tenant receives (staff and
//! the clinic's own roles, changed by named mutations; the plan; sites and
//! rooms, whole documents), written to those tables too.

use crate::records::{Documents, Projection};
use crate::{parse_ts, parse_uuid, ts, Db, StoreError, StoreResult};
use chrono::{DateTime, Utc};
use clinic_core::directory::{
    ClinicPlan, CustomRole, RoomDoc, SiteDoc, StaffMember, USER_MUTATIONS,
};
use clinic_core::permissions::{BuiltinRole, PermissionMatrix};
use clinic_core::sync::{AnyRecord, Mutation, RecordKind, Records};
use clinic_core::ClinicError;
use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tenant {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
    pub plan: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Site {
    pub id: Uuid,
    pub name: String,
    pub timezone: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Role {
    pub id: Uuid,
    pub key: String,
    pub name: String,
    pub builtin: bool,
    pub permissions: PermissionMatrix,
}

/// A user as listed and shown (never includes the password hash).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub phone: Option<String>,
    pub status: String,
    pub roles: Vec<String>,
    pub last_login_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// What sign-in needs about a user.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub user_id: Uuid,
    pub password_hash: String,
    pub status: String,
    pub failed_logins: i64,
    pub locked_until: Option<DateTime<Utc>>,
    /// Reset by an administrator: a new password first.
    pub must_change_password: bool,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ClinicianProfile {
    pub specialization: Option<String>,
    pub qualifications: Option<String>,
    pub registration_number: Option<String>,
    pub experience_years: Option<i64>,
    pub bio: Option<String>,
    pub consultation_fee: Option<String>,
}

impl Db<'_> {
    pub fn insert_tenant(&self, t: &Tenant, now: DateTime<Utc>) -> StoreResult<()> {
        self.execute(
                "INSERT INTO tenants (id, name, slug, plan, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                params![t.id.to_string(), t.name, t.slug, t.plan, ts(now)],
            )
            ?;
        Ok(())
    }

    pub fn tenant(&self) -> StoreResult<Tenant> {
        Ok(self.query_row(
            "SELECT id, name, slug, plan FROM tenants WHERE id = ?1",
            [self.tenant_id.to_string()],
            |r| {
                Ok(Tenant {
                    id: parse_uuid(&r.get::<_, String>(0)?),
                    name: r.get(1)?,
                    slug: r.get(2)?,
                    plan: r.get(3)?,
                })
            },
        )?)
    }

    pub fn insert_site(&self, s: &Site, now: DateTime<Utc>) -> StoreResult<()> {
        self.execute(
                "INSERT INTO sites (id, tenant_id, name, timezone, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                params![s.id.to_string(), self.tenant_id.to_string(), s.name, s.timezone, ts(now)],
            )
            ?;
        Ok(())
    }

    pub fn sites(&self) -> StoreResult<Vec<Site>> {
        let mut st = self
            .conn
            .prepare("SELECT id, name, timezone FROM sites WHERE tenant_id = ?1 AND deleted_at IS NULL ORDER BY name")
            ?;
        let rows = st.query_map([self.tenant_id.to_string()], |r| {
            Ok(Site {
                id: parse_uuid(&r.get::<_, String>(0)?),
                name: r.get(1)?,
                timezone: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn insert_room(
        &self,
        id: Uuid,
        site_id: Uuid,
        name: &str,
        kind: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.execute(
                "INSERT INTO rooms (id, tenant_id, site_id, name, kind, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
                params![id.to_string(), self.tenant_id.to_string(), site_id.to_string(), name, kind, ts(now)],
            )
            ?;
        Ok(())
    }

    /// (id, name) of the rooms of a site, by name.
    pub fn rooms_of(&self, site: Uuid) -> StoreResult<Vec<(Uuid, String)>> {
        let mut st = self.conn.prepare_cached(
            "SELECT id, name FROM rooms WHERE site_id = ?1 AND deleted_at IS NULL ORDER BY name",
        )?;
        let rows = st.query_map([site.to_string()], |r| {
            Ok((parse_uuid(&r.get::<_, String>(0)?), r.get(1)?))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn insert_role(&self, role: &Role, now: DateTime<Utc>) -> StoreResult<()> {
        let perms = serde_json::to_string(&role.permissions).map_err(ClinicError::internal)?;
        self.execute(
                "INSERT INTO roles (id, tenant_id, key, name, builtin, permissions, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
                params![role.id.to_string(), self.tenant_id.to_string(), role.key, role.name, role.builtin, perms, ts(now)],
            )
            .map_err(|e| match e {
                rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation => {
                    StoreError::from(ClinicError::conflict(format!("a role named {} already exists", role.key)))
                }
                e => StoreError::from(e),
            })?;
        Ok(())
    }

    /// Inserts the built-in roles (ids from `next_id`).
    pub fn insert_builtin_roles(
        &self,
        mut next_id: impl FnMut() -> Uuid,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        for r in BuiltinRole::ALL {
            self.insert_role(
                &Role {
                    id: next_id(),
                    key: r.key().into(),
                    name: r.display_name().into(),
                    builtin: true,
                    permissions: r.matrix(),
                },
                now,
            )?;
        }
        Ok(())
    }

    fn role_from_row(r: &rusqlite::Row) -> rusqlite::Result<Role> {
        let perms: String = r.get(4)?;
        Ok(Role {
            id: parse_uuid(&r.get::<_, String>(0)?),
            key: r.get(1)?,
            name: r.get(2)?,
            builtin: r.get(3)?,
            permissions: serde_json::from_str(&perms).unwrap_or_default(),
        })
    }

    pub fn roles(&self) -> StoreResult<Vec<Role>> {
        let mut st = self
            .conn
            .prepare("SELECT id, key, name, builtin, permissions FROM roles WHERE tenant_id = ?1 AND deleted_at IS NULL ORDER BY builtin DESC, key")
            ?;
        let rows = st.query_map([self.tenant_id.to_string()], Self::role_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn role_by_key(&self, key: &str) -> StoreResult<Option<Role>> {
        Ok(self.query_row(
                "SELECT id, key, name, builtin, permissions FROM roles WHERE tenant_id = ?1 AND key = ?2 AND deleted_at IS NULL",
                params![self.tenant_id.to_string(), key],
                Self::role_from_row,
            )
            .optional()?)
    }

    /// The permission matrices of a user's roles.
    pub fn user_permissions(&self, user_id: Uuid) -> StoreResult<Vec<PermissionMatrix>> {
        let mut st = self.conn.prepare(
            "SELECT r.permissions FROM user_roles ur JOIN roles r ON r.id = ur.role_id
                 WHERE ur.user_id = ?1 AND r.deleted_at IS NULL",
        )?;
        let rows = st
            .query_map([user_id.to_string()], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows
            .iter()
            .filter_map(|p| serde_json::from_str(p).ok())
            .collect())
    }

    /// Adds a member of staff on this workstation alone (setting up a
    /// store, enrolling it): their record, which the directory writes to
    /// the tables sign-in reads. Changes that other desks must see go
    /// through the directory's mutations instead.
    pub fn insert_user(&self, s: &StaffMember) -> StoreResult<()> {
        if self.credentials(&s.email)?.is_some() {
            return Err(
                ClinicError::field("email", "a user with this email already exists").into(),
            );
        }
        self.put_record(&AnyRecord::new(s.clone()))
    }

    /// A member of staff's record (`None` for an account made before
    /// records existed that no migration reached, which cannot happen).
    pub fn staff(&self, id: Uuid) -> StoreResult<Option<StaffMember>> {
        self.document::<StaffMember>(id)
    }

    pub fn credentials(&self, email: &str) -> StoreResult<Option<Credentials>> {
        Ok(self
            .query_row(
                "SELECT id, password_hash, status, failed_logins, locked_until, must_change_password FROM users
                 WHERE tenant_id = ?1 AND email = ?2 AND deleted_at IS NULL",
                params![self.tenant_id.to_string(), email],
                |r| {
                    Ok(Credentials {
                        user_id: parse_uuid(&r.get::<_, String>(0)?),
                        password_hash: r.get(1)?,
                        status: r.get(2)?,
                        failed_logins: r.get(3)?,
                        locked_until: r.get::<_, Option<String>>(4)?.map(|s| parse_ts(&s)),
                        must_change_password: r.get(5)?,
                    })
                },
            )
            .optional()?)
    }

    /// Records a sign-in attempt: `failed_logins == 0` is a success (resets
    /// the count, stamps the last login); otherwise the new count and lock.
    pub fn record_login(
        &self,
        user_id: Uuid,
        failed_logins: i64,
        locked_until: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        if failed_logins == 0 {
            self.execute(
                "UPDATE users SET failed_logins = 0, locked_until = NULL, last_login_at = ?2 WHERE id = ?1",
                params![user_id.to_string(), ts(now)],
            )
        } else {
            self.execute(
                "UPDATE users SET failed_logins = ?2, locked_until = ?3 WHERE id = ?1",
                params![user_id.to_string(), failed_logins, locked_until.map(ts)],
            )
        }?;
        Ok(())
    }

    pub fn set_user_status(
        &self,
        user_id: Uuid,
        status: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.execute(
            "UPDATE users SET status = ?2, updated_at = ?3 WHERE id = ?1",
            params![user_id.to_string(), status, ts(now)],
        )?;
        Ok(())
    }

    pub fn users(&self) -> StoreResult<Vec<User>> {
        self.query_users(None)
    }

    /// (id, e-mail, password hash, active) of every member of staff: what
    /// the unlock wraps in the key envelope are checked against.
    pub fn unlock_credentials(&self) -> StoreResult<Vec<(Uuid, String, String, bool)>> {
        let mut st = self.conn.prepare_cached(
            "SELECT id, email, password_hash, status FROM users
             WHERE tenant_id = ?1 AND deleted_at IS NULL",
        )?;
        let rows = st.query_map(params![self.tenant_id.to_string()], |r| {
            Ok((
                parse_uuid(&r.get::<_, String>(0)?),
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)? == "active",
            ))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn user(&self, id: Uuid) -> StoreResult<Option<User>> {
        Ok(self.query_users(Some(id))?.into_iter().next())
    }

    /// Live users of the tenant (or the one with `id`), by email.
    fn query_users(&self, id: Option<Uuid>) -> StoreResult<Vec<User>> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT u.id, u.email, u.name, u.phone, u.status, u.last_login_at, u.created_at,
                        (SELECT group_concat(r.key, ',') FROM user_roles ur JOIN roles r ON r.id = ur.role_id WHERE ur.user_id = u.id)
                 FROM users u WHERE u.tenant_id = ?1 AND u.deleted_at IS NULL AND (?2 IS NULL OR u.id = ?2)
                 ORDER BY u.email",
            )
            ?;
        let rows = st.query_map(
            params![self.tenant_id.to_string(), id.map(|i| i.to_string())],
            |r| {
                Ok(User {
                    id: parse_uuid(&r.get::<_, String>(0)?),
                    email: r.get(1)?,
                    name: r.get(2)?,
                    phone: r.get(3)?,
                    status: r.get(4)?,
                    last_login_at: r.get::<_, Option<String>>(5)?.map(|s| parse_ts(&s)),
                    created_at: parse_ts(&r.get::<_, String>(6)?),
                    roles: r
                        .get::<_, Option<String>>(7)?
                        .map(|s| s.split(',').map(str::to_string).collect())
                        .unwrap_or_default(),
                })
            },
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn upsert_clinician_profile(
        &self,
        user_id: Uuid,
        p: &ClinicianProfile,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.execute(
                "INSERT INTO clinician_profiles (user_id, tenant_id, specialization, qualifications, registration_number,
                     experience_years, bio, consultation_fee, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)
                 ON CONFLICT(user_id) DO UPDATE SET specialization = excluded.specialization,
                     qualifications = excluded.qualifications, registration_number = excluded.registration_number,
                     experience_years = excluded.experience_years, bio = excluded.bio,
                     consultation_fee = excluded.consultation_fee, updated_at = excluded.updated_at",
                params![
                    user_id.to_string(), self.tenant_id.to_string(), p.specialization, p.qualifications,
                    p.registration_number, p.experience_years, p.bio, p.consultation_fee, ts(now)
                ],
            )
            .map_err(|e| match e {
                rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation => {
                    StoreError::from(ClinicError::field("registration_number", "another clinician already has this registration number"))
                }
                e => StoreError::from(e),
            })?;
        Ok(())
    }

    pub fn clinician_profile(&self, user_id: Uuid) -> StoreResult<Option<ClinicianProfile>> {
        Ok(self.query_row(
                "SELECT specialization, qualifications, registration_number, experience_years, bio, consultation_fee
                 FROM clinician_profiles WHERE user_id = ?1 AND deleted_at IS NULL",
                [user_id.to_string()],
                |r| {
                    Ok(ClinicianProfile {
                        specialization: r.get(0)?,
                        qualifications: r.get(1)?,
                        registration_number: r.get(2)?,
                        experience_years: r.get(3)?,
                        bio: r.get(4)?,
                        consultation_fee: r.get(5)?,
                    })
                },
            )
            .optional()?)
    }
}

/// The directory's records: documents in `records`, also written to the
/// tables sign-in, booking and the rest of the store read.
#[derive(Debug)]
pub struct DirectoryProjection;
pub static PROJECTION: DirectoryProjection = DirectoryProjection;

const KINDS: &[&str] = &[
    StaffMember::KIND,
    CustomRole::KIND,
    ClinicPlan::KIND,
    SiteDoc::KIND,
    RoomDoc::KIND,
];

impl Projection for DirectoryProjection {
    fn kinds(&self) -> &'static [&'static str] {
        KINDS
    }
    fn put(&self, db: &Db, r: &AnyRecord) -> StoreResult<()> {
        Documents::put_doc(db, r)?;
        let now = Utc::now();
        if let Some(s) = r.get::<SiteDoc>() {
            db.upsert_site(s, now)
        } else if let Some(room) = r.get::<RoomDoc>() {
            db.upsert_room(room, now)
        } else if let Some(s) = r.get::<StaffMember>() {
            db.upsert_staff(s, now)
        } else if let Some(role) = r.get::<CustomRole>() {
            db.upsert_custom_role(role, now)
        } else if r.get::<ClinicPlan>().is_some() {
            Ok(())
        } else {
            Err(ClinicError::internal("not a directory record").into())
        }
    }
    fn hashes(&self, db: &Db, wanted: &dyn Fn(Uuid) -> bool) -> StoreResult<Vec<(Uuid, String)>> {
        Documents::hashes_where(db, &|k| KINDS.contains(&k), wanted)
    }
    /// A record whose creation the server refused (or that a restored
    /// server no longer has) leaves the tables read beside it too: a member
    /// of staff's row is kept, disabled, under a freed e-mail, and a site's
    /// or room's is archived (other rows may point at them); a role goes
    /// with its grants.
    fn discard(&self, db: &Db, id: Uuid) -> StoreResult<()> {
        let key = id.to_string();
        let now = ts(Utc::now());
        let kind: Option<String> = db
            .query_row("SELECT kind FROM records WHERE id = ?1", [&key], |r| {
                r.get(0)
            })
            .optional()?;
        match kind.as_deref() {
            Some(StaffMember::KIND) => {
                db.execute("DELETE FROM user_roles WHERE user_id = ?1", [&key])?;
                db.execute(
                    "UPDATE users SET status = 'disabled', deleted_at = ?2, email = ?1 || '@refused.invalid' WHERE id = ?1",
                    params![key, now],
                )?;
            }
            Some(CustomRole::KIND) => {
                db.execute("DELETE FROM user_roles WHERE role_id = ?1", [&key])?;
                db.execute("DELETE FROM roles WHERE id = ?1 AND builtin = 0", [&key])?;
            }
            Some(SiteDoc::KIND) => {
                db.execute(
                    "UPDATE sites SET deleted_at = ?2 WHERE id = ?1",
                    params![key, now],
                )?;
            }
            Some(RoomDoc::KIND) => {
                db.execute(
                    "UPDATE rooms SET deleted_at = ?2 WHERE id = ?1",
                    params![key, now],
                )?;
            }
            _ => {}
        }
        db.execute("DELETE FROM records WHERE id = ?1", [&key])?;
        Ok(())
    }

    /// A change of users or roles is checked against every member of staff
    /// and every role of the clinic (e-mails are unique, a grant is within
    /// the author's own roles).
    fn load_context(&self, db: &Db, m: &Mutation, recs: &mut Records) -> StoreResult<()> {
        if USER_MUTATIONS.contains(&m.name()) {
            for kind in [StaffMember::KIND, CustomRole::KIND, ClinicPlan::KIND] {
                for r in Documents::of_kind(db, kind)? {
                    recs.offer(r);
                }
            }
        }
        Ok(())
    }
}

impl Db<'_> {
    fn upsert_custom_role(&self, r: &CustomRole, now: DateTime<Utc>) -> StoreResult<()> {
        // A role of this name made here under another id is a creation
        // the server will refuse (it had this one first): it steps aside.
        self.execute(
            "UPDATE roles SET key = key || '#superseded-' || id WHERE key = ?1 AND id <> ?2 AND builtin = 0",
            params![r.key, r.id.to_string()],
        )?;
        let perms = serde_json::to_string(&r.permissions)?;
        self.execute(
            "INSERT INTO roles (id, tenant_id, key, name, builtin, permissions, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, 0, ?5, ?6, ?6)
             ON CONFLICT (id) DO UPDATE SET key = excluded.key, name = excluded.name,
                 permissions = excluded.permissions, updated_at = excluded.updated_at",
            params![r.id.to_string(), self.tenant_id.to_string(), r.key, r.name, perms, ts(now)],
        )?;
        Ok(())
    }

    fn upsert_site(&self, s: &SiteDoc, now: DateTime<Utc>) -> StoreResult<()> {
        self.execute(
            "INSERT INTO sites (id, tenant_id, name, timezone, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, timezone = excluded.timezone, updated_at = excluded.updated_at,
                 deleted_at = NULL",
            params![s.id.to_string(), self.tenant_id.to_string(), s.name, s.timezone, ts(now)],
        )?;
        Ok(())
    }

    fn upsert_room(&self, r: &RoomDoc, now: DateTime<Utc>) -> StoreResult<()> {
        self.execute(
            "INSERT INTO rooms (id, tenant_id, site_id, name, kind, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)
             ON CONFLICT (id) DO UPDATE SET site_id = excluded.site_id, name = excluded.name, kind = excluded.kind, updated_at = excluded.updated_at,
                 deleted_at = NULL",
            params![r.id.to_string(), self.tenant_id.to_string(), r.site_id.to_string(), r.name, r.kind, ts(now)],
        )?;
        Ok(())
    }

    /// A member of staff as the directory has them: their account, roles and
    /// the parts of their clinician profile the directory carries (the rest
    /// of the profile, kept on this workstation, is left as it is).
    fn upsert_staff(&self, s: &StaffMember, now: DateTime<Utc>) -> StoreResult<()> {
        let tenant = self.tenant_id.to_string();
        // An account with this e-mail made here under another id is a
        // creation the server will refuse (it had this one first): it
        // steps aside, disabled, so the server's account can sign in.
        self.execute(
            "UPDATE users SET email = id || '@superseded.invalid', status = 'disabled' WHERE email = ?1 AND id <> ?2",
            params![s.email, s.id.to_string()],
        )?;
        self.execute(
            "INSERT INTO users (id, tenant_id, email, name, password_hash, status, created_at, updated_at, must_change_password)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8)
             ON CONFLICT (id) DO UPDATE SET email = excluded.email, name = excluded.name,
                 password_hash = excluded.password_hash, status = excluded.status, updated_at = excluded.updated_at,
                 must_change_password = excluded.must_change_password, deleted_at = NULL",
            params![
                s.id.to_string(),
                tenant,
                s.email,
                s.name,
                s.password_hash,
                if s.active { "active" } else { "disabled" },
                ts(now),
                s.must_change_password
            ],
        )?;
        self.execute(
            "DELETE FROM user_roles WHERE user_id = ?1",
            [s.id.to_string()],
        )?;
        for key in &s.roles {
            if let Some(role) = self.role_by_key(key)? {
                self.execute(
                    "INSERT OR IGNORE INTO user_roles (user_id, role_id, tenant_id) VALUES (?1, ?2, ?3)",
                    params![s.id.to_string(), role.id.to_string(), tenant],
                )?;
            }
        }
        if s.specialization.is_some() || s.registration_number.is_some() {
            let mut profile = self.clinician_profile(s.id)?.unwrap_or_default();
            profile.specialization = s.specialization.clone();
            profile.registration_number = s.registration_number.clone();
            self.upsert_clinician_profile(s.id, &profile, now)?;
        }
        Ok(())
    }
}
