//! Fast synthetic zone generator for benchmarks (see `zonefeed::synth`).
//!
//!     cargo run --release --example zonegen -- [DOMAINS] [TLD] [SEED] [DAY] | gzip > com.zone.gz

use std::io::{BufWriter, Write};

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let domains = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    let tld = args.get(2).map_or("com", String::as_str);
    let seed = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1);
    let stdout = std::io::stdout();
    let mut w = BufWriter::with_capacity(1 << 20, stdout.lock());
    let day = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(0);
    let n = zonefeed::synth::write_zone_day(&mut w, tld, domains, seed, day)?;
    w.flush()?;
    eprintln!("zonegen: {domains} domains, {n} records");
    Ok(())
}
