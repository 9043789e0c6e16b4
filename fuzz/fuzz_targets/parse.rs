//! Any bytes into the parser: no panic, no hang, every record canonical text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zonefeed::zone::name::Origin;
use zonefeed::zone::parser::{parse_chunk, State, VecSink};

fuzz_target!(|data: &[u8]| {
    let Ok(origin) = Origin::parse("example") else { return };
    let st = State { origin: Some(origin), ..State::default() };
    let mut sink = VecSink::default();
    let _ = parse_chunk(data, 1, st, &mut sink);
    for r in &sink.0 {
        assert!(!r.owner.is_empty() && !r.owner.contains('\0'));
        assert!(!r.rdata.contains('\0'), "canonical RDATA never holds a NUL");
    }
});
