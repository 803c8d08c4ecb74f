//! The simulator's request parsing (`binance_sim::fuzzing`): query strings,
//! stream paths, control messages, REST requests (public, signed, admin),
//! WebSocket API requests with signed parameters, and accounts files.
//!
//! The first byte picks what the rest is (`byte & 0x0f`, modulo 6) and two
//! flags: `0x10` sign the request for the fuzz account, `0x20` send its API
//! key header (REST).
//!
//! | mode | rest of the input |
//! |---|---|
//! | 0 | a query string |
//! | 1 | a stream-server path: `/ws/<names>` or `/stream?streams=<names>` |
//! | 2 | a control message (`SUBSCRIBE` …) |
//! | 3 | `METHOD URI` on the first line, the body after it |
//! | 4 | a WebSocket API request frame |
//! | 5 | an accounts file (JSON, keys as PEM) |
//!
//! Checked: nothing panics or hangs; a stream's canonical name checks as itself.
#![no_main]

use binance_sim::fuzzing;
use binance_types::control::ControlRequest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&head, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let sign = head & 0x10 != 0;
    let key = head & 0x20 != 0;
    match (head & 0x0f) % 6 {
        0 => {
            let _ = fuzzing::stream_query(&text);
        }
        1 => {
            if let Some(Ok(names)) = fuzzing::stream_path(&text) {
                for name in names {
                    assert_eq!(fuzzing::check_stream(&name), Ok(name.clone()));
                }
            }
        }
        2 => {
            if let Ok(
                ControlRequest::Subscribe { streams, .. }
                | ControlRequest::Unsubscribe { streams, .. },
            ) = ControlRequest::parse(rest)
            {
                for name in streams {
                    if let Ok(canonical) = fuzzing::check_stream(&name) {
                        assert_eq!(fuzzing::check_stream(&canonical), Ok(canonical.clone()));
                    }
                }
            }
        }
        3 => {
            let (line, body) = text.split_once('\n').unwrap_or((&text, ""));
            let (method, uri) = line.split_once(' ').unwrap_or(("GET", line));
            let api_key = key.then_some(fuzzing::API_KEY);
            let _ = fuzzing::rest(method, uri, api_key, body, sign);
        }
        4 => {
            let _ = fuzzing::ws_api(&text, sign);
        }
        _ => {
            let _ = binance_sim::AccountSpec::from_json(&text);
        }
    }
});
