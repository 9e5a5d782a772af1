//! How long a 300-row day sheet takes to render (the target: at most
//! 200 ms in a release build):
//! `cargo run --release -p clinic-print --example bench_daysheet [-- RUNS]`.
//! Prints the first render (which also loads the fonts and templates) and
//! the median and 95th percentile of the runs after it, each a fresh sheet
//! (another clinician's, so nothing is served from a previous render).

#[path = "../tests/print/samples.rs"]
mod samples;

use clinic_print::{render, Paper};
use std::time::Instant;

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse().expect("RUNS is a number"))
        .unwrap_or(30);
    let sheet = |run: usize| {
        let mut s = samples::day_sheet(300);
        s.title = format!("Day sheet: clinician {run}");
        s
    };
    let started = Instant::now();
    let first = render(&sheet(0), Paper::A4).expect("render");
    let first_ms = started.elapsed().as_secs_f64() * 1e3;
    let mut times: Vec<f64> = (1..=runs)
        .map(|run| {
            let doc = sheet(run);
            let started = Instant::now();
            let pdf = render(&doc, Paper::A4).expect("render");
            let ms = started.elapsed().as_secs_f64() * 1e3;
            assert!(pdf.len() > 10_000);
            ms
        })
        .collect();
    times.sort_by(f64::total_cmp);
    let at = |q: f64| times[((times.len() as f64 * q).ceil() as usize).clamp(1, times.len()) - 1];
    println!(
        "day sheet, 300 rows, {} KB: first render {first_ms:.0} ms; \
         {runs} more: median {:.1} ms, p95 {:.1} ms, max {:.1} ms",
        first.len() / 1024,
        at(0.5),
        at(0.95),
        times[times.len() - 1],
    );
}
