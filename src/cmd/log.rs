//! The library's messages on stderr, through the `log` facade: warnings and notes always
//! (`warning: …`, `note: …`, under --quiet too, as errors), each import's phase timings with
//! `-v` (`trace: …`, what `scripts/bench.sh` reads its floors from). The library only calls
//! `log::warn!`, `log::info!` and `log::debug!`; this is the one place that prints them.

use log::{Level, LevelFilter, Log, Metadata, Record};

struct Stderr;

static LOGGER: Stderr = Stderr;

impl Log for Stderr {
    fn enabled(&self, m: &Metadata<'_>) -> bool {
        m.level() <= log::max_level() && m.target().starts_with("zonefeed")
    }

    fn log(&self, r: &Record<'_>) {
        if !self.enabled(r.metadata()) {
            return;
        }
        let prefix = match r.level() {
            Level::Error => "error",
            Level::Warn => "warning",
            Level::Info => "note",
            Level::Debug | Level::Trace => "trace",
        };
        eprintln!("{prefix}: {}", r.args());
    }

    fn flush(&self) {}
}

/// Installs the logger: notes and warnings, and with `verbose` the traces too. A second call
/// (the tests run commands in one process) only sets the level.
pub fn init(verbose: u8) {
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(if verbose > 0 { LevelFilter::Debug } else { LevelFilter::Info });
}
