//! The build script of the crates that embed migrations (the workstation
//! store and the sync server): writes `migrations_sqlite.rs` and
//! `migrations_postgres.rs` into `OUT_DIR`, each a `MIGRATIONS` list of
//! `(name, sql)` of the `.sql` files of one folder, in name (= time) order.
use std::{env, fs, path::PathBuf};

fn main() {
    let here = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = here
        .ancestors()
        .find(|d| d.join("migrations").join("embed.rs").exists())
        .expect("the workspace's migrations folder")
        .join("migrations");
    for dialect in ["sqlite", "postgres"] {
        let dir = root.join(dialect);
        println!("cargo:rerun-if-changed={}", dir.display());
        let mut files: Vec<_> = fs::read_dir(&dir)
            .expect("migrations folder")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "sql"))
            .collect();
        files.sort();
        let mut out = String::from(
            "/// (name, sql) of every embedded migration, oldest first.\npub const MIGRATIONS: &[(&str, &str)] = &[\n",
        );
        for f in &files {
            println!("cargo:rerun-if-changed={}", f.display());
            let name = f.file_stem().unwrap().to_string_lossy();
            out.push_str(&format!(
                "    ({name:?}, include_str!({:?})),\n",
                f.canonicalize().unwrap().display().to_string()
            ));
        }
        out.push_str("];\n");
        let target =
            PathBuf::from(env::var("OUT_DIR").unwrap()).join(format!("migrations_{dialect}.rs"));
        fs::write(target, out).unwrap();
    }
}
