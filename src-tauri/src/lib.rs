//! The clinic desktop application: a Tauri 2 shell. It owns the window, the
//! menu, the single-instance lock, the log file and the sync loop; every
//! screen's work is a `clinic_client` use-case reached through `commands`,
//! which only convert arguments and results.

#[macro_use]
pub mod command_names;
pub mod bindings;
pub mod commands;
mod state;

pub use state::Desktop;

use std::path::PathBuf;
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem, Submenu};
use tauri::{Emitter, Manager};

/// Where this workstation's store lives: `CLINIC_DATA_DIR`, else the
/// platform's application data directory.
fn data_dir(app: &tauri::App) -> PathBuf {
    std::env::var_os("CLINIC_DATA_DIR")
        .map(PathBuf::from)
        .or_else(|| app.path().app_data_dir().ok())
        .unwrap_or_else(|| PathBuf::from("clinic-data"))
}

/// Logs go to `<data dir>/logs/desktop.log` (never patient data: only
/// what happened, error codes and timings).
fn start_logging(dir: &std::path::Path) -> std::io::Result<PathBuf> {
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs)?;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(logs.join("desktop.log"))?;
    let filter = tracing_subscriber::EnvFilter::try_from_env("CLINIC_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(std::sync::Mutex::new(file))
        .try_init();
    Ok(logs)
}

fn menu(app: &tauri::AppHandle) -> tauri::Result<Menu<tauri::Wry>> {
    let clinic = Submenu::with_items(
        app,
        "Clinic",
        true,
        &[
            &MenuItem::with_id(app, "lock", "Lock workstation", true, Some("CmdOrCtrl+L"))?,
            &MenuItem::with_id(app, "switch_user", "Switch user", true, None::<&str>)?,
            &PredefinedMenuItem::separator(app)?,
            &PredefinedMenuItem::quit(app, Some("Quit"))?,
        ],
    )?;
    let edit = Submenu::with_items(
        app,
        "Edit",
        true,
        &[
            &PredefinedMenuItem::undo(app, None)?,
            &PredefinedMenuItem::redo(app, None)?,
            &PredefinedMenuItem::separator(app)?,
            &PredefinedMenuItem::cut(app, None)?,
            &PredefinedMenuItem::copy(app, None)?,
            &PredefinedMenuItem::paste(app, None)?,
            &PredefinedMenuItem::select_all(app, None)?,
        ],
    )?;
    Menu::with_items(app, &[&clinic, &edit])
}

/// Runs the application until its window closes.
pub fn run() {
    let result = tauri::Builder::default()
        .setup(|app| {
            let dir = data_dir(app);
            std::fs::create_dir_all(&dir)?;
            let logs = start_logging(&dir)?;
            let desktop = Desktop::new(dir, logs)?;
            tracing::info!(
                version = env!("CARGO_PKG_VERSION"),
                "clinic desktop started"
            );
            app.manage(desktop);
            let handle = app.handle().clone();
            app.set_menu(menu(&handle)?)?;
            app.on_menu_event(|app, event| {
                let desktop = app.state::<Desktop>();
                let changed = match event.id().as_ref() {
                    "lock" => desktop.lock().is_ok(),
                    "switch_user" => desktop.sign_out().is_ok(),
                    _ => false,
                };
                if changed {
                    let _ = app.emit("state-changed", ());
                }
            });
            state::start_idle_watch(handle);
            Ok(())
        })
        .invoke_handler(commands::handler())
        .run(tauri::generate_context!());
    if let Err(e) = result {
        eprintln!("clinic desktop: {e}");
        std::process::exit(1);
    }
}
