//! Chunk boundaries never change the result: the first byte picks a chunk size, the rest is
//! the zone; the pipeline's own split and in-order commit must give what one chunk gives.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&n, zone)) = data.split_first() else { return };
    let chunk = usize::from(n % 64) + 1;
    let whole = zonefeed::ingest::parse_in_chunks(zone.to_vec(), 1 << 20, "example");
    let cut = zonefeed::ingest::parse_in_chunks(zone.to_vec(), chunk, "example");
    match (&whole, &cut) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "chunk size {chunk}"),
        (Err(_), Err(_)) => {}
        _ => panic!("chunk size {chunk}: one chunk gave {whole:?}, small chunks gave {cut:?}"),
    }
});
