//! The shell's state: the open workstation (if unlocked), how it was
//! unlocked (the sync loop opens its own connections with it), the live
//! sync loop, and the progress of a first download.

use clinic_client::desk::{AppState, SessionView, Stage, SyncView};
use clinic_client::{Password, SystemClock, Workstation};
use clinic_core::{ClinicError, ClinicResult, ErrorCode};
use clinic_store::keys::{KeyEnvelope, Keychain, Passphrase, Unlock};
use clinic_store::Store;
use clinic_sync::live::LiveSync;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tauri::{Emitter, Manager};

#[derive(Default)]
struct Inner {
    ws: Option<Workstation>,
    unlock: Option<Unlock>,
    live: Option<LiveSync>,
}

/// A first download (or a sync started by hand) in the background.
#[derive(Debug, Default)]
pub struct SyncRun {
    running: AtomicBool,
    done: AtomicI64,
    total: AtomicI64,
}

pub struct Desktop {
    dir: PathBuf,
    log_dir: PathBuf,
    keychain: Option<Keychain>,
    inner: Mutex<Inner>,
    sync: Arc<SyncRun>,
    /// Held for the life of the process: one app per store.
    _instance: File,
}

impl std::fmt::Debug for Desktop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Desktop")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

/// Minutes without keyboard or mouse before the screen locks (the
/// workstation's own idle timeout, so both agree).
pub fn idle_lock_minutes() -> u32 {
    clinic_client::workstation::DEFAULT_IDLE_TIMEOUT.num_minutes() as u32
}

fn keychain() -> Option<Keychain> {
    Keychain::from_env(false)
}

/// Whether the store's key is also wrapped by the OS keychain.
fn keychain_linked(dir: &Path) -> bool {
    std::fs::read(Store::envelope_path(dir))
        .ok()
        .and_then(|b| serde_json::from_slice::<KeyEnvelope>(&b).ok())
        .is_some_and(|e| e.keychain_account().is_some())
}

fn clock() -> Arc<SystemClock> {
    Arc::new(SystemClock)
}

impl Desktop {
    /// Takes the store directory's single-instance lock.
    pub fn new(dir: PathBuf, log_dir: PathBuf) -> ClinicResult<Self> {
        let lock_path = dir.join("desktop.lock");
        let instance = File::create(&lock_path).map_err(ClinicError::internal)?;
        if instance.try_lock().is_err() {
            return Err(ClinicError::new(
                ErrorCode::Conflict,
                format!(
                    "The clinic app is already open for {} on this computer.",
                    dir.display()
                ),
            ));
        }
        Ok(Self {
            dir,
            log_dir,
            keychain: keychain(),
            inner: Mutex::new(Inner::default()),
            sync: Arc::default(),
            _instance: instance,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn log_dir(&self) -> &Path {
        &self.log_dir
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs a use-case on the open workstation.
    pub fn with<T>(&self, f: impl FnOnce(&mut Workstation) -> ClinicResult<T>) -> ClinicResult<T> {
        let mut inner = self.inner();
        let ws = inner.ws.as_mut().ok_or_else(|| {
            ClinicError::new(
                ErrorCode::SessionLocked,
                "The workstation is locked; unlock it to continue.",
            )
        })?;
        f(ws)
    }

    /// Runs a use-case that changed data, then tells the sync loop.
    pub fn change<T>(
        &self,
        f: impl FnOnce(&mut Workstation) -> ClinicResult<T>,
    ) -> ClinicResult<T> {
        let out = self.with(f)?;
        if let Some(live) = &self.inner().live {
            live.nudge();
        }
        Ok(out)
    }

    pub fn state(&self) -> AppState {
        let inner = self.inner();
        let ws = inner.ws.as_ref().filter(|w| !w.is_locked());
        let stage = match ws {
            _ if !Store::exists(&self.dir) => Stage::Setup,
            None => Stage::Locked,
            Some(w) if w.session().is_none() => Stage::SignIn,
            Some(_) => Stage::Ready,
        };
        let info = ws.and_then(|w| w.info().ok());
        let site = ws.and_then(|w| w.home_site().ok());
        let sync = ws.and_then(|w| w.sync_status(false).ok());
        AppState {
            stage,
            data_dir: self.dir.display().to_string(),
            clinic_name: info.map(|i| i.tenant.name),
            site_name: site.map(|s| s.name),
            device_name: ws.and_then(|w| w.device_name().ok().flatten()),
            enrolled: sync.is_some_and(|s| s.enrolled),
            keychain: self.keychain.is_some() && keychain_linked(&self.dir),
            user: ws.and_then(|w| w.session()).map(SessionView::of),
            idle_lock_minutes: idle_lock_minutes(),
            locale: ws
                .and_then(|w| w.locale().ok())
                .unwrap_or_else(|| "en-GB".to_string()),
            staff_unlock: Workstation::staff_can_unlock(&self.dir),
        }
    }

    pub fn create_store(&self, opts: clinic_client::InitOptions) -> ClinicResult<AppState> {
        let ws = Workstation::init(&self.dir, opts, clock())?;
        let mut inner = self.inner();
        inner.ws = Some(ws);
        drop(inner);
        Ok(self.state())
    }

    #[allow(clippy::too_many_arguments)]
    pub fn enroll(
        &self,
        server: &str,
        pin: Option<clinic_core::api::KeyPin>,
        tenant: &str,
        email: &str,
        password: &Password,
        device_name: &str,
        passphrase: Passphrase,
    ) -> ClinicResult<AppState> {
        let unlock = Unlock::Passphrase(passphrase.clone());
        let (ws, _) = Workstation::enroll(
            &self.dir,
            server,
            pin,
            tenant,
            email,
            password,
            None,
            device_name,
            passphrase,
            self.keychain.clone(),
            clock(),
        )?;
        let mut inner = self.inner();
        inner.ws = Some(ws);
        inner.unlock = Some(unlock);
        drop(inner);
        Ok(self.state())
    }

    /// Opens the store with the passphrase, or the OS keychain when `None`.
    pub fn unlock(&self, passphrase: Option<String>) -> ClinicResult<AppState> {
        let unlock = match passphrase {
            Some(p) => Unlock::Passphrase(Passphrase::for_unlock(p)),
            None => Unlock::Keychain(self.keychain.clone().ok_or_else(|| {
                ClinicError::new(
                    ErrorCode::KeyUnavailable,
                    "The computer's keychain is switched off here; type the store passphrase.",
                )
            })?),
        };
        let mut inner = self.inner();
        match inner.ws.as_mut() {
            Some(ws) => ws.unlock(&unlock)?,
            None => inner.ws = Some(Workstation::open(&self.dir, &unlock, clock())?),
        }
        inner.unlock = Some(unlock);
        drop(inner);
        tracing::info!("store unlocked");
        Ok(self.state())
    }

    /// Unlocks with a member of staff's own password and signs them in
    /// (a desk where they signed in before); the sync loop gets the
    /// store's key, so nothing is asked again while it stays unlocked.
    pub fn unlock_as(&self, email: &str, password: &Password) -> ClinicResult<AppState> {
        let mut inner = self.inner();
        match inner.ws.as_mut() {
            Some(ws) => ws.unlock_as(email, password)?,
            None => inner.ws = Some(Workstation::open_as(&self.dir, email, password, clock())?),
        }
        inner.unlock = inner.ws.as_ref().and_then(Workstation::key_unlock);
        drop(inner);
        tracing::info!("store unlocked by a member of staff's own password; signed in");
        self.ensure_sync();
        Ok(self.state())
    }

    /// Signs a person in (offline, against the local store) and makes sure
    /// the sync loop runs on an enrolled workstation.
    pub fn sign_in(&self, email: &str, password: &Password) -> ClinicResult<AppState> {
        self.with(|ws| ws.login(email, password).map(|_| ()))?;
        tracing::info!("signed in");
        self.ensure_sync();
        Ok(self.state())
    }

    /// The signed-in person's new password (the current one checked).
    pub fn change_password(&self, current: &Password, new: Password) -> ClinicResult<AppState> {
        self.with(|ws| ws.change_password(current, new))?;
        Ok(self.state())
    }

    /// Fast user switch: the store stays open, the session ends.
    pub fn sign_out(&self) -> ClinicResult<AppState> {
        self.with(|ws| ws.logout())?;
        Ok(self.state())
    }

    /// Closes the store, drops its key and stops the sync loop.
    pub fn lock(&self) -> ClinicResult<AppState> {
        let mut inner = self.inner();
        if let Some(ws) = inner.ws.as_mut() {
            let _ = ws.logout();
            ws.lock();
        }
        inner.unlock = None;
        inner.live = None;
        drop(inner);
        tracing::info!("workstation locked");
        Ok(self.state())
    }

    fn lock_if_idle(&self) -> bool {
        let mut inner = self.inner();
        let locked = inner.ws.as_mut().is_some_and(|ws| ws.lock_if_idle());
        if locked {
            inner.unlock = None;
            inner.live = None;
        }
        locked
    }

    /// Starts the live loop on an enrolled, unlocked workstation (after a
    /// first download on a fresh one, with progress for the status bar).
    fn ensure_sync(&self) {
        let inner = self.inner();
        let (Some(ws), Some(unlock)) = (inner.ws.as_ref(), inner.unlock.clone()) else {
            return;
        };
        if inner.live.is_some() || self.sync.running.load(Ordering::SeqCst) {
            return;
        }
        let Ok(transport) = ws.transport() else {
            return; // not enrolled: a standalone workstation
        };
        let first = ws.sync_status(false).is_ok_and(|s| s.cursor == 0);
        drop(inner);
        if !first {
            self.start_live(unlock);
            return;
        }
        let run = self.sync.clone();
        run.running.store(true, Ordering::SeqCst);
        let dir = self.dir.clone();
        std::thread::spawn(move || {
            let r = Store::open(&dir, &unlock).and_then(|mut store| {
                Ok(clinic_sync::engine::sync_now(
                    &mut store,
                    &transport,
                    chrono::Utc::now(),
                    &mut |done, total| {
                        run.done.store(done, Ordering::SeqCst);
                        run.total.store(total, Ordering::SeqCst);
                    },
                )?)
            });
            if let Err(e) = r {
                tracing::warn!(code = %e.code(), "first download failed; the live loop retries");
            }
            run.running.store(false, Ordering::SeqCst);
        });
    }

    fn start_live(&self, unlock: Unlock) {
        let mut inner = self.inner();
        let Some(ws) = inner.ws.as_ref() else { return };
        match ws.start_live_sync(unlock) {
            Ok(live) => inner.live = Some(live),
            Err(e) => tracing::warn!(code = %e.code, "live sync did not start"),
        }
    }

    /// The status bar: figures from the store, plus a running download.
    pub fn sync_view(&self) -> ClinicResult<SyncView> {
        // A first download that finished hands over to the live loop
        // (ensure_sync does nothing while one runs or the loop is up).
        let signed_in = self
            .inner()
            .ws
            .as_ref()
            .is_some_and(|w| w.session().is_some());
        if signed_in {
            self.ensure_sync();
        }
        let mut v = self.with(|ws| ws.sync_view())?;
        if self.sync.running.load(Ordering::SeqCst) {
            v.syncing = true;
            v.progress = Some(clinic_client::desk::Progress {
                done: self.sync.done.load(Ordering::SeqCst),
                total: self.sync.total.load(Ordering::SeqCst),
            });
        }
        Ok(v)
    }

    /// "Sync now": one full exchange on the app's own connection.
    pub fn sync_now(&self) -> ClinicResult<SyncView> {
        self.with(|ws| ws.sync_now(&mut |_, _| {}).map(|_| ()))?;
        self.sync_view()
    }

    pub fn keychain_linked(&self) -> bool {
        keychain_linked(&self.dir)
    }
}

/// Locks the workstation when it has been idle for the timeout, even if the
/// UI is not calling (a window left open on a screen nobody touches).
pub fn start_idle_watch(app: tauri::AppHandle) {
    std::thread::spawn(move || loop {
        std::thread::sleep(std::time::Duration::from_secs(15));
        let desktop = app.state::<Desktop>();
        if desktop.lock_if_idle() {
            tracing::info!("locked after being idle");
            let _ = app.emit("state-changed", ());
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(passphrase: &str) -> clinic_client::InitOptions {
        clinic_client::InitOptions {
            tenant_name: "Riverside".into(),
            admin_email: "admin@riverside.test".into(),
            admin_name: "Admin".into(),
            admin_password: Password::new("admin-password-1".into()),
            passphrase: Passphrase::new(passphrase.into()).unwrap(),
            keychain: None,
            site_name: "Main".into(),
            timezone: "Europe/London".into(),
        }
    }

    #[test]
    fn stages_follow_create_lock_unlock_sign_in_and_switch_user() {
        std::env::set_var("CLINIC_KEYCHAIN", "off");
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("ws");
        std::fs::create_dir_all(&dir).unwrap();
        let d = Desktop::new(dir.clone(), dir.join("logs")).unwrap();
        assert_eq!(d.state().stage, Stage::Setup);
        // A second app on the same store is refused.
        let again = Desktop::new(dir.clone(), dir.join("logs")).unwrap_err();
        assert_eq!(again.code, ErrorCode::Conflict);

        assert_eq!(
            d.create_store(opts("a long passphrase")).unwrap().stage,
            Stage::SignIn
        );
        let wrong = d.sign_in("admin@riverside.test", &Password::new("nope".into()));
        assert_eq!(wrong.unwrap_err().code, ErrorCode::InvalidCredentials);
        let admin_signs_in = || {
            d.sign_in(
                "admin@riverside.test",
                &Password::new("admin-password-1".into()),
            )
            .unwrap()
        };
        let s = admin_signs_in();
        assert_eq!(s.stage, Stage::Ready);
        assert_eq!(s.clinic_name.as_deref(), Some("Riverside"));
        assert!(s.user.as_ref().unwrap().is_admin);
        // What the main screen loads first.
        d.with(|w| w.patients().search("ri", 5)).unwrap();
        let today = chrono::Utc::now().date_naive();
        d.with(|w| w.calendar(today, today + chrono::Duration::days(1)))
            .unwrap();
        d.with(|w| w.conflicts_view()).unwrap();
        d.sync_view().unwrap();
        assert_eq!(d.state().stage, Stage::Ready, "stays signed in");
        // Switch user keeps the store open.
        assert_eq!(d.sign_out().unwrap().stage, Stage::SignIn);
        // Lock drops the store: nothing can be read until it is unlocked.
        assert_eq!(d.lock().unwrap().stage, Stage::Locked);
        assert_eq!(
            d.with(|w| w.patients().search("a", 5)).unwrap_err().code,
            ErrorCode::SessionLocked
        );
        let bad = d.unlock(Some("not the passphrase".into())).unwrap_err();
        assert_eq!(bad.code, ErrorCode::WrongKey);
        assert_eq!(d.state().stage, Stage::Locked);
        assert_eq!(
            d.unlock(Some("a long passphrase".into())).unwrap().stage,
            Stage::SignIn
        );
        let s = admin_signs_in();
        assert_eq!(s.stage, Stage::Ready);
        // Not enrolled: the status bar says so and nothing tries to sync.
        let v = d.sync_view().unwrap();
        assert!(!v.enrolled && !v.online && !v.syncing);
    }
}
