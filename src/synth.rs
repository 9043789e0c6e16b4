//! Fast synthetic TLD zones in CZDS form, for benchmarks (../shared/zonegen.py's czds style,
//! at millions of domains a second instead of thousands).
//!
//! Deterministic for a given (tld, domains, seed, day): each domain gets 1-6 NS records at
//! shared provider hosts, ~10% get in-bailiwick name servers with A glue, ~7% a DS. From day to
//! day, as in zonegen, 0.6% (of day 0's size) are born, 0.5% die and 0.4% change their
//! delegation, so two days give a re-import with ~1.5% of domains changed. [`write_zone_churn`]
//! scales those rates to another share a day: .com changes about 0.2% of its domains a day.

use std::io::{self, Write};

/// SplitMix64: tiny, fast, good enough to pick names and counts.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const SYL: &[u8; 18] = b"bcdfghjklmnprstvwz";
const VOW: &[u8; 6] = b"aeiouy";

fn label(mut v: u64, out: &mut Vec<u8>) {
    loop {
        let r = (v % 108) as usize;
        out.push(SYL[r / 6]);
        out.push(VOW[r % 6]);
        v /= 108;
        if v == 0 {
            break;
        }
    }
}

const ADD: f64 = 0.006;
const DEL: f64 = 0.005;
const MOD: f64 = 0.004;

fn mix(a: u64, b: u64, c: u64) -> u64 {
    Rng(a ^ b.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ c.rotate_left(29)).next()
}

fn unit(seed: u64, what: u64, i: u64, day: u64) -> f64 {
    (mix(seed ^ what, i, day) >> 11) as f64 / (1u64 << 53) as f64
}

/// Writes day 0 of a zone of `domains` delegations under `tld`; returns the number of records.
pub fn write_zone(w: &mut impl Write, tld: &str, domains: u64, seed: u64) -> io::Result<u64> {
    write_zone_day(w, tld, domains, seed, 0)
}

/// Writes day `day` of the zone (see the module docs); returns the number of records.
pub fn write_zone_day(w: &mut impl Write, tld: &str, domains: u64, seed: u64, day: u64) -> io::Result<u64> {
    write_zone_churn(w, tld, domains, seed, day, CHURN)
}

/// The share of day 0's domains born, removed or changed each day: zonegen's rates.
pub const CHURN: f64 = ADD + DEL + MOD;

/// [`write_zone_day`] with `churn` of the domains born, removed or changed each day, in
/// zonegen's proportions. Day 0 is the same whatever the churn.
pub fn write_zone_churn(w: &mut impl Write, tld: &str, domains: u64, seed: u64, day: u64, churn: f64) -> io::Result<u64> {
    let scale = churn / CHURN;
    let (add, del, modify) = (ADD * scale, DEL * scale, MOD * scale);
    let mut records = 5;
    writeln!(w, "{tld}.\t900\tin\tsoa\ta.nic-servers.net. hostmaster.nic-servers.net. {} 1800 900 604800 86400", 2026110100 + day)?;
    for l in ["a", "b", "c", "d"] {
        writeln!(w, "{tld}.\t172800\tin\tns\t{l}.nic-servers.net.")?;
    }
    let providers: Vec<Vec<u8>> = (0..2000u64)
        .map(|k| {
            let mut p = Vec::new();
            label(k * 7919 + 101, &mut p);
            p.extend_from_slice(b"-dns.net.");
            p
        })
        .collect();
    let mut line = Vec::with_capacity(256);
    let mut name = Vec::with_capacity(64);
    let stride = 2_654_435_761u64;
    let per_day = ((domains as f64 * add) as u64).max(1);
    let modulus = domains * 4 + 1000;
    for i in 0..domains + day * per_day {
        let born = if i < domains { 0 } else { 1 + (i - domains) / per_day };
        if born > day || (born + 1..=day).any(|d| unit(seed, 1, i, d) < del) {
            continue;
        }
        let epoch = (born + 1..=day).filter(|&d| unit(seed, 2, i, d) < modify).count() as u64;
        let mut rng = Rng(mix(seed, i, epoch));
        name.clear();
        // A bijection of i keeps names unique while spreading them over the alphabet.
        label((i.wrapping_mul(stride) % modulus) + 1, &mut name);
        if mix(seed, i, 7) % 100 < 15 {
            name.extend_from_slice(itoa(mix(seed, i, 8) % 1000).as_bytes());
        }
        name.push(b'.');
        name.extend_from_slice(tld.as_bytes());
        name.push(b'.');
        let u = rng.below(100);
        let nns = if u < 70 {
            2
        } else if u < 85 {
            3
        } else if u < 95 {
            4
        } else if u < 98 {
            1
        } else {
            6
        };
        let glue = rng.below(10) == 0;
        for j in 0..nns {
            line.clear();
            line.extend_from_slice(&name);
            line.extend_from_slice(b"\t172800\tin\tns\t");
            if glue {
                line.extend_from_slice(format!("ns{}.", j + 1).as_bytes());
                line.extend_from_slice(&name);
            } else {
                let k = ((rng.next() >> 11) as f64 / (1u64 << 53) as f64).powi(3) * providers.len() as f64;
                line.extend_from_slice(format!("ns{}.", j % 2 + 1).as_bytes());
                line.extend_from_slice(&providers[(k as usize + j / 2) % providers.len()]);
            }
            line.push(b'\n');
            w.write_all(&line)?;
            records += 1;
        }
        if glue {
            for j in 0..nns {
                let a = rng.next();
                writeln!(
                    w,
                    "ns{}.{}\t172800\tin\ta\t{}.{}.{}.{}",
                    j + 1,
                    std::str::from_utf8(&name).unwrap_or(""),
                    a % 223 + 1,
                    (a >> 8) & 255,
                    (a >> 16) & 255,
                    (a >> 24) % 254 + 1
                )?;
                records += 1;
            }
        }
        if rng.below(100) < 7 {
            let d: String = (0..4).map(|_| format!("{:016X}", rng.next())).collect();
            writeln!(w, "{}\t86400\tin\tds\t{} 13 2 {d}", std::str::from_utf8(&name).unwrap_or(""), rng.below(65535) + 1)?;
            records += 1;
        }
    }
    Ok(records)
}

/// [`write_zone_churn`] in the order CZDS serves a file (the registry agreement's zone file
/// format): every line in alphabetical order but the SOA, which comes first and again at the
/// end. A domain's glue then sits far from it (`ns1.x.com.` among the n's). The zone is
/// sorted in memory: for zones up to tens of millions of domains.
pub fn write_zone_czds(w: &mut impl Write, tld: &str, domains: u64, seed: u64, day: u64, churn: f64) -> io::Result<u64> {
    let mut text = Vec::new();
    let records = write_zone_churn(&mut text, tld, domains, seed, day, churn)?;
    let mut lines: Vec<&[u8]> = text.split_inclusive(|&b| b == b'\n').collect();
    // The generator writes the SOA first.
    let soa = lines.remove(0);
    lines.sort_unstable();
    w.write_all(soa)?;
    for l in lines {
        w.write_all(l)?;
    }
    w.write_all(soa)?;
    Ok(records + 1)
}

fn itoa(v: u64) -> String {
    v.to_string()
}
