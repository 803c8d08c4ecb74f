//! The capture format: recorded traffic, as in `shared/captures/` and as
//! `bnws record` writes it (gzip-compressed), read back by the simulator's
//! replay and `bnws replay`.
//!
//! A WebSocket capture is text lines: the first `URL <-> UNIX_SECONDS`, then
//! one `UNIX_SECONDS: FRAME` per frame received. A REST capture holds
//! `URL -> UNIX_SECONDS: BODY` lines. Blank lines are ignored. Readers take
//! plain text or gzip (one or more members), told apart by gzip's magic
//! bytes.
//!
//! ```
//! use binance_types::capture::{self, CaptureWriter};
//! let mut writer = CaptureWriter::gzip(Vec::new(), "wss://x/stream", 1.5).unwrap();
//! writer.frame(2.25, r#"{"e":"trade"}"#).unwrap();
//! let bytes = writer.finish().unwrap();
//! let capture = capture::read_ws(&bytes[..]).unwrap();
//! assert_eq!(capture.url, "wss://x/stream");
//! assert_eq!(capture.frames[0].at, 2.25);
//! assert_eq!(capture.frames[0].text, r#"{"e":"trade"}"#);
//! ```

use std::io::{self, Read, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use flate2::write::GzEncoder;
use flate2::Compression;

/// One recorded frame and when it was received.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    /// Receive time, UNIX seconds.
    pub at: f64,
    /// The frame text.
    pub text: String,
}

/// A WebSocket capture: where it was recorded from and its frames.
#[derive(Debug, Clone, PartialEq)]
pub struct WsCapture {
    /// The URL (or URLs, space-separated) the frames came from.
    pub url: String,
    /// The frames, in the order received.
    pub frames: Vec<Recorded>,
}

/// One recorded REST answer.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpRecorded {
    /// The request URL.
    pub url: String,
    /// When the answer came, UNIX seconds.
    pub at: f64,
    /// The answer body.
    pub body: String,
}

/// Why a capture could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaptureError {
    /// Reading (or gunzipping) failed.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The capture is not UTF-8 text.
    #[error("not UTF-8 text")]
    NotText,
    /// The capture holds no line at all.
    #[error("empty capture")]
    Empty,
    /// A line is not in the format; `line` counts from 1.
    #[error("line {line}: {reason}")]
    Line {
        /// Which line.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
}

/// `t` as UNIX seconds, the capture's time format.
pub fn unix_seconds(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

enum Sink<W: Write> {
    Plain(W),
    Gzip(GzEncoder<W>),
}

/// Writes a WebSocket capture to `W`, plain or gzip-compressed.
pub struct CaptureWriter<W: Write> {
    sink: Sink<W>,
}

impl<W: Write> CaptureWriter<W> {
    /// A plain-text capture of frames from `url`, started at `at` (UNIX seconds).
    pub fn new(out: W, url: &str, at: f64) -> io::Result<Self> {
        Self::start(Sink::Plain(out), url, at)
    }

    /// The same, gzip-compressed (fast level: a recorder must keep up).
    pub fn gzip(out: W, url: &str, at: f64) -> io::Result<Self> {
        Self::start(
            Sink::Gzip(GzEncoder::new(out, Compression::fast())),
            url,
            at,
        )
    }

    fn start(sink: Sink<W>, url: &str, at: f64) -> io::Result<Self> {
        let mut writer = CaptureWriter { sink };
        writeln!(writer.out(), "{url} <-> {at}")?;
        Ok(writer)
    }

    fn out(&mut self) -> &mut dyn Write {
        match &mut self.sink {
            Sink::Plain(w) => w,
            Sink::Gzip(w) => w,
        }
    }

    /// One frame received at `at` (UNIX seconds). A frame is one line: one
    /// holding a line break would not read back as written.
    pub fn frame(&mut self, at: f64, text: &str) -> io::Result<()> {
        if text.contains(['\n', '\r']) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a captured frame must be one line",
            ));
        }
        writeln!(self.out(), "{at}: {text}")
    }

    /// Flush everything (and end the gzip stream), returning the writer.
    pub fn finish(self) -> io::Result<W> {
        match self.sink {
            Sink::Plain(mut w) => {
                w.flush()?;
                Ok(w)
            }
            Sink::Gzip(w) => w.finish(),
        }
    }
}

/// All of `input` as text, gunzipped when it is gzip.
pub fn read_text(mut input: impl Read) -> Result<String, CaptureError> {
    let mut bytes = Vec::new();
    input.read_to_end(&mut bytes)?;
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut plain = Vec::new();
        flate2::read::MultiGzDecoder::new(&bytes[..]).read_to_end(&mut plain)?;
        bytes = plain;
    }
    String::from_utf8(bytes).map_err(|_| CaptureError::NotText)
}

/// The numbered non-blank lines of `text`.
fn lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(n, line)| (n + 1, line))
        .filter(|(_, line)| !line.trim().is_empty())
}

fn time(line: usize, at: &str) -> Result<f64, CaptureError> {
    at.parse().map_err(|_| CaptureError::Line {
        line,
        reason: format!("bad time `{at}`"),
    })
}

/// Parse WebSocket capture text.
pub fn parse_ws(text: &str) -> Result<WsCapture, CaptureError> {
    let mut lines = lines(text);
    let (n, head) = lines.next().ok_or(CaptureError::Empty)?;
    let (url, _) = head.split_once(" <-> ").ok_or(CaptureError::Line {
        line: n,
        reason: "first line is not `URL <-> TIME`".into(),
    })?;
    let frames = lines
        .map(|(n, line)| {
            let (at, frame) = line.split_once(": ").ok_or(CaptureError::Line {
                line: n,
                reason: "not `TIME: FRAME`".into(),
            })?;
            Ok(Recorded {
                at: time(n, at)?,
                text: frame.to_owned(),
            })
        })
        .collect::<Result<_, CaptureError>>()?;
    Ok(WsCapture {
        url: url.to_owned(),
        frames,
    })
}

/// Read a WebSocket capture, plain or gzip.
pub fn read_ws(input: impl Read) -> Result<WsCapture, CaptureError> {
    parse_ws(&read_text(input)?)
}

/// Parse REST capture text.
pub fn parse_http(text: &str) -> Result<Vec<HttpRecorded>, CaptureError> {
    lines(text)
        .map(|(n, line)| {
            let bad = || CaptureError::Line {
                line: n,
                reason: "not `URL -> TIME: BODY`".into(),
            };
            let (url, rest) = line.split_once(" -> ").ok_or_else(bad)?;
            let (at, body) = rest.split_once(": ").ok_or_else(bad)?;
            Ok(HttpRecorded {
                url: url.to_owned(),
                at: time(n, at)?,
                body: body.to_owned(),
            })
        })
        .collect()
}

/// Read a REST capture, plain or gzip.
pub fn read_http(input: impl Read) -> Result<Vec<HttpRecorded>, CaptureError> {
    parse_http(&read_text(input)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_round_trip_and_errors() {
        let mut writer = CaptureWriter::new(Vec::new(), "ws://a", 1.0).unwrap();
        writer.frame(1.5, "{}").unwrap();
        assert!(writer.frame(2.0, "a\nb").is_err());
        let bytes = writer.finish().unwrap();
        assert_eq!(bytes, b"ws://a <-> 1\n1.5: {}\n");
        assert_eq!(read_ws(&bytes[..]).unwrap().frames.len(), 1);
        assert!(matches!(parse_ws(""), Err(CaptureError::Empty)));
        assert!(matches!(
            parse_ws("ws://a <-> 1\n\nx: {}"),
            Err(CaptureError::Line { line: 3, .. })
        ));
        let http = parse_http("https://h/api/v3/depth?symbol=X -> 3.5: {\"a\":1}").unwrap();
        assert_eq!(http[0].at, 3.5);
        assert_eq!(http[0].body, "{\"a\":1}");
    }
}
