//! Declares the app's own commands so that the capability file can grant
//! exactly them (nothing is reachable from the UI unless granted there).

fn main() {
    tauri_build::try_build(
        tauri_build::Attributes::new().app_manifest(
            tauri_build::AppManifest::new().commands(clinic_desktop_commands::COMMANDS),
        ),
    )
    .expect("tauri build step failed");
}

#[path = "src/command_names.rs"]
mod clinic_desktop_commands;
