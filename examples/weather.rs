//! The main job: reads hourly weather observations at the New York City airports, decodes each
//! row into a typed observation, sends rows with missing readings (`NA`) to a dead-letter output,
//! and prints a summary.
//!
//! ```text
//! cargo run --release --example weather [PATH]
//! ```
//!
//! `PATH` defaults to `examples/data/weather.csv` (see `examples/data/README.md`).

use std::collections::BTreeMap;
use std::error::Error;
use std::time::Instant;

use rheoflow::aggregate::{Count, Max, Mean, Min};
use rheoflow::prelude::*;
use serde::Deserialize;

/// One hourly observation. Every reading is required: a row with `NA` in any of them does not
/// decode and goes to the dead-letter output. (Wind gusts are reported only when it gusts, so the
/// column is not read.)
#[derive(Debug, Deserialize)]
#[allow(dead_code)] // Every reading is decoded, and so checked; the summary uses the temperature.
struct Observation {
    origin: String,
    time_hour: String,
    temp: f64,
    dewp: f64,
    humid: f64,
    wind_dir: f64,
    wind_speed: f64,
    precip: f64,
    pressure: f64,
    visib: f64,
}

/// Per station: observations, mean, min and max temperature (°F).
type StationStats = (u64, Option<f64>, Option<f64>, Option<f64>);

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "examples/data/weather.csv".to_owned());
    let header = read_header(&path)?;
    let started = Instant::now();

    let (dead_letters, dead) = error_policy::channel(1024)?;
    let observations = source::csv_file::<Observation>(&path)
        .await?
        .on_error(ErrorPolicy::dead_letter(dead_letters))
        .into_flow();

    // A running aggregate per station; the last update of each key is its final value.
    let temp = |o: &Observation| o.temp;
    let mut stations: BTreeMap<String, StationStats> = BTreeMap::new();
    let stats = observations
        .key_by(|o: &Observation| o.origin.clone())
        .aggregate((Count, Mean::of(temp), Min::of(temp), Max::of(temp)))
        .for_each(|(station, stats)| {
            stations.insert(station, stats);
        });

    // Dead letters, by the columns that were missing.
    let mut dead_count = 0u64;
    let mut missing: BTreeMap<String, u64> = BTreeMap::new();
    let dead_letters = dead.for_each(|letter| {
        dead_count += 1;
        let raw = letter.record().to_string_lossy();
        for (column, value) in header.iter().zip(raw.trim_end().split(',')) {
            if value == "NA" && column != "wind_gust" {
                *missing.entry(column.clone()).or_default() += 1;
            }
        }
    });

    let (stats, dead_letters) = tokio::join!(stats, dead_letters);
    stats?;
    dead_letters?;
    let elapsed = started.elapsed();

    let good: u64 = stations.values().map(|s| s.0).sum();
    let read = good + dead_count;
    println!("weather summary for {path}");
    println!("  rows read        {read:>8}");
    println!("  rows decoded     {good:>8}");
    println!("  rows dead-letter {dead_count:>8}");
    for (column, count) in &missing {
        println!("    missing {column:<12} {count:>6}");
    }
    println!("  per station (temperature °F):");
    for (station, (count, mean, min, max)) in &stations {
        println!(
            "    {station}  {count:>6} rows  mean {:>6.1}  min {:>6.1}  max {:>6.1}",
            mean.unwrap_or(f64::NAN),
            min.unwrap_or(f64::NAN),
            max.unwrap_or(f64::NAN),
        );
    }
    println!(
        "  {:.0} events/s ({read} rows in {:.1} ms)",
        read as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1e3
    );
    Ok(())
}

/// The column names, to say which readings a dead-lettered row was missing.
fn read_header(path: &str) -> std::io::Result<Vec<String>> {
    use std::io::BufRead;
    let mut line = String::new();
    std::io::BufReader::new(std::fs::File::open(path)?).read_line(&mut line)?;
    Ok(line.trim_end().split(',').map(str::to_owned).collect())
}
