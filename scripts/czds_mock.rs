//! A local CZDS for the benchmark script: the integration tests' CZDS server, throttled.
//!
//!     cargo run --release --example czds_mock -- RATE_BYTES_PER_SEC URL_FILE ZONE.zone.gz...
//!
//! Serves each file as the zone its name starts with (`com.zone.gz` -> `com`), logs in the
//! tests' account (`czds_server::USER` / `PASSWORD`), writes its base URL to URL_FILE and runs
//! until killed. The server code is the tests' own, included here rather than copied.

#[allow(dead_code)]
#[path = "../tests/it/http.rs"]
mod http;

#[allow(dead_code)]
#[path = "../tests/it/czds_server.rs"]
mod czds_server;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 {
        eprintln!("usage: czds_mock RATE_BYTES_PER_SEC URL_FILE ZONE.zone.gz...");
        std::process::exit(2);
    }
    let rate: u64 = args[0].parse().unwrap_or_else(|_| {
        eprintln!("czds_mock: `{}` is not a rate in bytes per second", args[0]);
        std::process::exit(2)
    });
    let server = czds_server::Czds::start();
    for f in &args[2..] {
        let path = std::path::Path::new(f);
        let tld = path.file_name().and_then(|n| n.to_str()).and_then(|n| n.split('.').next()).unwrap_or("zone").to_string();
        match std::fs::read(path) {
            Ok(data) => server.add_zone(&tld, data),
            Err(e) => {
                eprintln!("czds_mock: {f}: {e}");
                std::process::exit(1);
            }
        }
    }
    server.state().faults.rate = Some(rate);
    if let Err(e) = std::fs::write(&args[1], server.base()) {
        eprintln!("czds_mock: {}: {e}", args[1]);
        std::process::exit(1);
    }
    loop {
        std::thread::park();
    }
}
