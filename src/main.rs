//! The `zonefeed` binary: flags in, a command run, an exit code out.

use std::process::ExitCode;

use clap::Parser;

// mimalloc: the parse workers and the sorter allocate from several threads at once, where
// glibc's allocator contends; mimalloc keeps per-thread heaps.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    zonefeed::cmd::run(zonefeed::cli::Cli::parse())
}
