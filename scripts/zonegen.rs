//! Fast synthetic zone generator for benchmarks (see `zonefeed::synth`).
//!
//!     cargo run --release --example zonegen -- [DOMAINS] [TLD] [SEED] [DAY] [CHURN%] | gzip > com.zone.gz
//!
//! CHURN%: the share of domains born, removed or changed a day (default 1.5, zonegen's).
//! `--czds-order` writes the lines in the order CZDS serves them (sorted, the SOA first and
//! last; sorted in memory), else domains come in a scattered order.

use std::io::{BufWriter, Write};

fn main() -> std::io::Result<()> {
    let mut args: Vec<String> = std::env::args().collect();
    let czds_order = args.iter().any(|a| a == "--czds-order");
    args.retain(|a| a != "--czds-order");
    let domains = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    let tld = args.get(2).map_or("com", String::as_str);
    let seed = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1);
    let stdout = std::io::stdout();
    let mut w = BufWriter::with_capacity(1 << 20, stdout.lock());
    let day = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(0);
    let churn = args.get(5).and_then(|s| s.parse::<f64>().ok()).map_or(zonefeed::synth::CHURN, |p| p / 100.0);
    let n = if czds_order {
        zonefeed::synth::write_zone_czds(&mut w, tld, domains, seed, day, churn)?
    } else {
        zonefeed::synth::write_zone_churn(&mut w, tld, domains, seed, day, churn)?
    };
    w.flush()?;
    eprintln!("zonegen: {domains} domains, {n} records");
    Ok(())
}
