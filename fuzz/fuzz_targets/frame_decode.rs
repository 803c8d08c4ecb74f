//! `binance_types::frame::decode_as` on arbitrary bytes, in both time units.
//!
//! Checked: decoding never panics; an error's offset lies inside the input;
//! a decoded frame encodes (`to_json`), and what it encodes to decodes again
//! to the same frame.
#![no_main]

use binance_types::frame::{self, Frame};
use binance_types::{Micros, Millis, TimeUnit};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    check::<Millis>(data);
    check::<Micros>(data);
});

fn check<U: TimeUnit>(data: &[u8]) {
    let frame: Frame<'_, U> = match frame::decode_as(data) {
        Ok(frame) => frame,
        Err(e) => {
            assert!(
                e.offset() <= data.len(),
                "offset {} past the end",
                e.offset()
            );
            let _ = e.to_string();
            let _ = e.position();
            return;
        }
    };
    let _ = (frame.stream(), frame.subscription_id());
    let json = frame.to_json();
    let again: Frame<'_, U> = frame::decode_as(json.as_bytes())
        .unwrap_or_else(|e| panic!("our own encoding {json} does not decode: {e}"));
    assert_eq!(again, frame, "{json}");
    let owned = frame.into_owned();
    assert_eq!(owned.to_json(), json);
}
