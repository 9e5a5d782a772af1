//! Writes every sample document (tests/print/samples.rs) as PDF into a
//! folder, to look at: `cargo run -p clinic-print --example print_samples -- DIR [us-letter]`.

#[path = "../tests/print/samples.rs"]
mod samples;

use clinic_print::{render, write_pdf, Paper};
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().unwrap_or_else(|| "print-samples".into()));
    let paper = match args.next().as_deref() {
        Some("us-letter") => Paper::UsLetter,
        _ => Paper::A4,
    };
    std::fs::create_dir_all(&dir)?;
    let documents = [
        ("day-sheet", render(&samples::day_sheet(130), paper)?),
        ("prescription", render(&samples::prescription(), paper)?),
        (
            "referral-letter",
            render(&samples::referral_letter(), paper)?,
        ),
        ("invoice", render(&samples::invoice(), paper)?),
        ("receipt", render(&samples::receipt(), paper)?),
        ("credit-note", render(&samples::credit_note(), paper)?),
        ("report", render(&samples::report(), paper)?),
    ];
    for (name, pdf) in documents {
        let path = dir.join(format!("{name}.pdf"));
        write_pdf(&path, &pdf)?;
        println!("{}", path.display());
    }
    Ok(())
}
