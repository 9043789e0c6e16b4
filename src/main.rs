//! The `zonefeed` binary: flags in, a command run, an exit code out.

use std::process::ExitCode;

use clap::Parser;

// mimalloc: the parse workers and the sorter allocate from several threads at once, where
// glibc's allocator contends; mimalloc keeps per-thread heaps.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = zonefeed::cli::Cli::parse();
    let json = cli.global.output_format().is_json();
    match zonefeed::cmd::run(&cli) {
        Ok(status) => status.into(),
        Err(err) => zonefeed::cmd::report(&err, json),
    }
}
