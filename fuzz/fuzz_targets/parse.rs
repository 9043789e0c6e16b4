//! Any bytes into the parser: no panic, no hang, every record canonical text, and the CZDS
//! fast path gives exactly what the full lexer gives (records, errors, end state), and an
//! owner text it hands on is the owner's canonical text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zonefeed::zone::name::Origin;
use zonefeed::zone::parser::{parse_chunk_with, CheckedSink, Options, State};

fuzz_target!(|data: &[u8]| {
    let Ok(origin) = Origin::parse("example") else { return };
    let run = |no_fast_path| {
        let st = State { origin: Some(origin.clone()), ..State::default() };
        let mut sink = CheckedSink::default();
        let out = parse_chunk_with(data, 1, st, &mut sink, &Options { no_fast_path, ..Options::default() });
        (sink.records.0, format!("{out:?}"))
    };
    let (fast, full) = (run(false), run(true));
    for r in &fast.0 {
        assert!(!r.owner.is_empty() && !r.owner.contains('\0'));
        assert!(!r.rdata.contains('\0'), "canonical RDATA never holds a NUL");
    }
    assert_eq!(fast, full, "the fast path and the full lexer disagree");
});
