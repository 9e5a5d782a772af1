//! The clinic's enrolled workstations, as the sync server knows them: listed
//! and revoked by a full administrator. Each call confirms the
//! administrator's password with the server (and a TOTP code when their
//! account has one), which signs them in for that call only and out again:
//! a workstation keeps no administrator session on the server.

use crate::auth::Password;
use chrono::{DateTime, Utc};
use clinic_core::api::DeviceView;
use clinic_core::audit::AuditEntry;
use clinic_core::{ClinicError, ClinicResult, ErrorCode};
use clinic_sync::ServerClient;
use serde::Serialize;
use serde_json::json;
use std::collections::HashMap;
use uuid::Uuid;

#[cfg(feature = "ts")]
use ts_rs::TS;

/// One enrolled workstation, with names instead of ids.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct DeviceRow {
    pub id: Uuid,
    pub name: String,
    pub site_name: String,
    /// Who enrolled it (their name when this store knows them).
    pub enrolled_by: String,
    pub enrolled_at: DateTime<Utc>,
    /// When it last synced.
    pub last_seen_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// The workstation this list is shown on.
    pub this_device: bool,
}

impl super::Directory<'_> {
    /// The server, this store's clinic code and the signed-in user's email,
    /// for an administrator's call; refused on a standalone store.
    fn admin_server(&mut self) -> ClinicResult<(ServerClient, String, String, DateTime<Utc>)> {
        let (s, now) = self.ws.act_as_full_admin()?;
        let db = self.ws.store()?.db();
        let (url, pin) = db.server()?.ok_or_else(|| {
            ClinicError::new(
                ErrorCode::Conflict,
                "This computer is not connected to a sync server, so it has no devices to manage.",
            )
        })?;
        Ok((
            ServerClient::connect(&url, pin)?,
            db.tenant()?.slug,
            s.email,
            now,
        ))
    }

    /// Signs in to the server for one call and out again.
    fn as_server_admin<T>(
        &mut self,
        password: &Password,
        totp: Option<&str>,
        call: impl FnOnce(&ServerClient, &str) -> ClinicResult<T>,
    ) -> ClinicResult<(T, DateTime<Utc>)> {
        let (server, tenant, email, now) = self.admin_server()?;
        let pair = server.login(&tenant, &email, password.expose_for_transport(), totp)?;
        let out = call(&server, &pair.access_token);
        let _ = server.logout(&pair.refresh_token);
        Ok((out?, now))
    }

    fn device_rows(&self, devices: Vec<DeviceView>) -> ClinicResult<Vec<DeviceRow>> {
        let store = self.ws.store()?;
        let db = store.db();
        let sites: HashMap<Uuid, String> =
            db.sites()?.into_iter().map(|s| (s.id, s.name)).collect();
        let users: HashMap<Uuid, String> =
            db.users()?.into_iter().map(|u| (u.id, u.name)).collect();
        let me = store.device_id();
        let mut rows: Vec<DeviceRow> = devices
            .into_iter()
            .map(|d| DeviceRow {
                id: d.id,
                site_name: sites
                    .get(&d.site_id)
                    .cloned()
                    .unwrap_or_else(|| "another site".into()),
                enrolled_by: users
                    .get(&d.enrolled_by)
                    .cloned()
                    .unwrap_or_else(|| "an administrator".into()),
                name: d.name,
                enrolled_at: d.enrolled_at,
                last_seen_at: d.last_seen_at,
                revoked_at: d.revoked_at,
                this_device: d.id == me,
            })
            .collect();
        // Working devices first, then by name.
        rows.sort_by(|a, b| {
            (a.revoked_at.is_some(), a.name.to_lowercase())
                .cmp(&(b.revoked_at.is_some(), b.name.to_lowercase()))
        });
        Ok(rows)
    }

    /// Every workstation enrolled with the clinic's server.
    pub fn server_devices(
        &mut self,
        password: &Password,
        totp: Option<&str>,
    ) -> ClinicResult<Vec<DeviceRow>> {
        let (devices, _) =
            self.as_server_admin(password, totp, |server, token| server.devices(token))?;
        self.device_rows(devices)
    }

    /// Revokes a workstation (lost, stolen or replaced): the server refuses
    /// its syncs from now on; what it already sent stays. This workstation
    /// cannot revoke itself. Returns the list afterwards.
    pub fn revoke_device(
        &mut self,
        id: Uuid,
        password: &Password,
        totp: Option<&str>,
    ) -> ClinicResult<Vec<DeviceRow>> {
        if self.ws.store()?.device_id() == id {
            return Err(ClinicError::new(
                ErrorCode::Conflict,
                "This is the computer you are using; revoke it from another workstation.",
            ));
        }
        let (devices, now) = self.as_server_admin(password, totp, |server, token| {
            server.revoke_device(token, id)?;
            server.devices(token)
        })?;
        let user = self.ws.session().map(|s| s.user_id);
        self.ws.store_mut()?.write(|db| {
            Ok(db.append_audit(
                crate::workstation::new_id(now),
                user,
                now,
                AuditEntry::device("device.revoke", id, json!({})),
            )?)
        })?;
        self.device_rows(devices)
    }
}
