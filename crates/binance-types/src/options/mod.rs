//! European options market data (reference §7).
//!
//! - [`stream`]: typed options stream names ([`OptionsStream`]) and their
//!   routed paths (`/public` or `/market` on the USD-M host).
//! - [`market`]: the options-only events (trades, mark prices with greeks,
//!   index prices, open interest, new symbols); tickers, book tickers,
//!   depth and klines have the futures shapes.
//! - [`decode_options`]: a raw or combined options frame into an
//!   [`OptionsFrame`], and back to the JSON Binance sends. Unknown event
//!   types are kept verbatim ([`OptionsEvent::Unknown`]), never an error.
//! - The options order book follows the futures procedure (§5.4, `pu`):
//!   [`book_sync`](crate::book_sync) with
//!   [`Procedure::Futures`](crate::book_sync::Procedure), snapshots from
//!   `/eapi/v1/depth`.
//!
//! ```
//! use binance_types::options::{decode_options, OptionsEvent};
//! let bytes = br#"{"stream":"btcusdt@optionMarkPrice","data":[{"s":"BTC-251123-126000-C","mp":"1249.61","E":1762867543321,"e":"markPrice","i":"104334.60217391","P":"0.000","bo":"1200.000","ao":"1300.000","bq":"0.3000","aq":"0.6000","b":"0.92159033","a":"0.94461441","hl":"1499.533","ll":"999.688","vo":"0.93310237","rf":"0.0","d":"0.14869196","t":"-172.12148811","g":"0.00001326","v":"43.43627792"}]}"#;
//! let frame = decode_options(bytes).unwrap();
//! assert_eq!(frame.stream(), Some("btcusdt@optionMarkPrice"));
//! let OptionsEvent::MarkPrices(marks) = frame.event else { panic!("not mark prices") };
//! assert_eq!(marks[0].delta.to_string(), "0.14869196");
//! assert_eq!(marks[0].theta.to_string(), "-172.12148811");
//! ```

pub mod market;
pub mod stream;

use serde::Serialize;

use crate::control::ControlResponse;
use crate::frame::{DecodeError, UnknownEvent};
use crate::futures::market::{BookTicker, DepthUpdate, KlineEvent, Ticker};
use crate::futures::{decode_frame, unknown, VenueEvent, VenueFrame};
pub use market::{IndexPrice, NewOptionSymbol, OpenInterest, OptionMarkPrice, OptionTrade};
pub use stream::{OptionSymbol, OptionsStream};

/// Everything an options market stream connection sends; times are
/// milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum OptionsEvent {
    /// `24hrTicker` (`<symbol>@optionTicker`).
    Ticker(Box<Ticker>),
    /// An array of `24hrTicker` (`<underlying>@optionTicker@<YYMMDD>`).
    Tickers(Vec<Ticker>),
    /// `trade` (`@optionTrade`).
    Trade(OptionTrade),
    /// `bookTicker`.
    BookTicker(BookTicker),
    /// `depthUpdate` (diff with `pu`, and partial depth).
    DepthUpdate(DepthUpdate),
    /// One `markPrice`.
    MarkPrice(Box<OptionMarkPrice>),
    /// An array of `markPrice` (`<underlying>@optionMarkPrice`).
    MarkPrices(Vec<OptionMarkPrice>),
    /// One `indexPrice`.
    IndexPrice(IndexPrice),
    /// An array of `indexPrice` (`!index@arr`).
    IndexPrices(Vec<IndexPrice>),
    /// `kline` (`<symbol>@kline_<interval>`).
    Kline(Box<KlineEvent>),
    /// One `openInterest`.
    OpenInterest(OpenInterest),
    /// An array of `openInterest` (`<underlying>@optionOpenInterest@<YYMMDD>`).
    OpenInterests(Vec<OpenInterest>),
    /// `optionSymbol` (`!optionSymbol`).
    NewSymbol(Box<NewOptionSymbol>),
    /// The answer to a `SUBSCRIBE`-family control request.
    ControlResponse(ControlResponse),
    /// An event this version does not know, kept verbatim.
    Unknown(UnknownEvent),
}

/// A decoded options frame: its envelope and its event.
pub type OptionsFrame<'a> = VenueFrame<'a, OptionsEvent>;

/// Decode an options frame (raw `/ws/…` or combined `/stream?streams=…`).
pub fn decode_options(bytes: &[u8]) -> Result<OptionsFrame<'_>, DecodeError> {
    decode_frame(bytes).map_err(|e| DecodeError::new(bytes, &e))
}

impl VenueEvent for OptionsEvent {
    fn array(first: Option<&str>, payload: &[u8]) -> Result<Self, serde_json::Error> {
        use OptionsEvent as E;
        Ok(match first {
            Some("markPrice") => E::MarkPrices(serde_json::from_slice(payload)?),
            Some("indexPrice") => E::IndexPrices(serde_json::from_slice(payload)?),
            Some("openInterest") => E::OpenInterests(serde_json::from_slice(payload)?),
            Some("24hrTicker") => E::Tickers(serde_json::from_slice(payload)?),
            _ => E::Unknown(unknown(payload)?),
        })
    }

    fn object(e: Option<&str>, control: bool, payload: &[u8]) -> Result<Self, serde_json::Error> {
        use OptionsEvent as E;
        Ok(match e {
            Some("24hrTicker") => E::Ticker(serde_json::from_slice(payload)?),
            Some("trade") => E::Trade(serde_json::from_slice(payload)?),
            Some("bookTicker") => E::BookTicker(serde_json::from_slice(payload)?),
            Some("depthUpdate") => E::DepthUpdate(serde_json::from_slice(payload)?),
            Some("markPrice") => E::MarkPrice(serde_json::from_slice(payload)?),
            Some("indexPrice") => E::IndexPrice(serde_json::from_slice(payload)?),
            Some("kline") => E::Kline(serde_json::from_slice(payload)?),
            Some("openInterest") => E::OpenInterest(serde_json::from_slice(payload)?),
            Some("optionSymbol") => E::NewSymbol(serde_json::from_slice(payload)?),
            None if control => E::ControlResponse(serde_json::from_slice(payload)?),
            _ => E::Unknown(unknown(payload)?),
        })
    }
}
