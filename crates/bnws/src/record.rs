//! `bnws record` and `bnws replay`: the capture format of `shared/captures/`
//! ([`binance_types::capture`]), gzip-compressed in rotating files.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

use binance_types::capture::{unix_seconds, CaptureWriter};
use binance_ws::{ErrorKind, Message, SocketManager, Status};

/// One recording file being written.
struct Writer {
    file: CaptureWriter<File>,
    path: PathBuf,
}

impl Writer {
    fn open(dir: &Path, seq: u32, url: &str) -> Result<Writer, String> {
        let now = unix_seconds(SystemTime::now());
        let path = dir.join(format!("bnws-{}-{seq:04}.gz", now as u64));
        let file = File::create(&path)
            .and_then(|file| CaptureWriter::gzip(file, url, now))
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(Writer { file, path })
    }

    fn frame(&mut self, at: f64, text: &str) -> Result<(), String> {
        self.file
            .frame(at, text)
            .map_err(|e| format!("{}: {e}", self.path.display()))
    }

    fn finish(self) -> Result<PathBuf, String> {
        self.file
            .finish()
            .map_err(|e| format!("{}: {e}", self.path.display()))?;
        Ok(self.path)
    }
}

/// Where `bnws record` puts what it reads.
pub(crate) struct Outputs {
    /// Rotating gzip capture files in this directory.
    pub out: Option<PathBuf>,
    /// Start a new file after this many frames.
    pub rotate: u64,
    /// The NATS JetStream sink.
    pub sink: Option<crate::nats::SinkConfig>,
    /// The gap ledger file (JSON lines).
    pub ledger: Option<PathBuf>,
}

/// The gap ledger: every `gap` and `gap_filled` status, one JSON line each,
/// in a file opened at the first one.
struct Ledger {
    path: Option<PathBuf>,
    file: Option<File>,
    lines: u64,
}

impl Ledger {
    fn write(&mut self, line: &str) -> Result<(), String> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let io = |e: std::io::Error| format!("{}: {e}", path.display());
        if self.file.is_none() {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(io)?;
            self.file = Some(file);
        }
        if let Some(file) = &mut self.file {
            // One write a line, flushed: a crash loses no written gap.
            file.write_all(format!("{line}\n").as_bytes()).map_err(io)?;
            file.flush().map_err(io)?;
        }
        self.lines += 1;
        Ok(())
    }
}

/// Whether a status belongs in the gap ledger (its JSON `state` is `gap`
/// or `gap_filled`); its JSON line if so.
fn ledger_line(status: &Status) -> Option<String> {
    let json = status.to_json();
    matches!(json["state"].as_str(), Some("gap" | "gap_filled")).then(|| json.to_string())
}

pub(crate) async fn record(
    manager: &SocketManager,
    market: binance_types::venue::Venue,
    names: &[String],
    outputs: Outputs,
    count: Option<u64>,
) -> Result<ExitCode, String> {
    let Outputs {
        out,
        rotate,
        sink,
        ledger,
    } = outputs;
    if let Some(out) = &out {
        std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    }
    let ledger_path = ledger.or_else(|| out.as_ref().map(|o| o.join("ledger.jsonl")));
    let mut ledger = Ledger {
        path: ledger_path,
        file: None,
        lines: 0,
    };
    // NATS first: an unreachable server is said before any frame is read.
    let mut sink = match sink {
        Some(config) => Some(crate::nats::Sink::start(config).await?),
        None => None,
    };
    let prefix = sink
        .as_ref()
        .map(|s| s.config.prefix.clone())
        .unwrap_or_default();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    // Always the combined envelope, so every frame names its stream.
    let socket = match market {
        binance_types::venue::Venue::Spot => manager.multiplex_socket(&refs),
        futures => manager.futures_multiplex_socket(futures, &refs),
    };
    let mut socket = socket.map_err(|e| e.to_string())?.raw().receive_times();
    let url = socket.urls().join(" ");
    let mut seq = 0;
    let mut writer = match &out {
        Some(out) => Some(Writer::open(out, seq, &url)?),
        None => None,
    };
    let (mut frames, mut bytes, mut in_file, mut reconnects) = (0u64, 0u64, 0u64, 0u64);
    let started = Instant::now();
    let mut progress = tokio::time::interval(Duration::from_secs(1));
    let mut batch = Vec::with_capacity(crate::BATCH);
    let mut losses = crate::Losses::default();
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let mut interrupted = false;
    let code = loop {
        let want = count.map_or(crate::BATCH, |c| {
            c.saturating_sub(frames).min(crate::BATCH as u64) as usize
        });
        if want == 0 {
            break ExitCode::SUCCESS;
        }
        let received = tokio::select! {
            biased;
            _ = &mut ctrl_c => {
                interrupted = true;
                break ExitCode::SUCCESS;
            }
            _ = progress.tick() => {
                let rate = frames as f64 / started.elapsed().as_secs_f64().max(0.001);
                let nats = sink.as_ref().map_or(String::new(), |s| {
                    format!(", NATS {} stored {} buffered", s.counts.stored.load(std::sync::atomic::Ordering::Relaxed), s.buffered())
                });
                eprint!("\rbnws: {frames} messages, {} KiB, {rate:.0}/s, {reconnects} reconnects{nats}   ", bytes / 1024);
                continue;
            }
            r = socket.recv_many(&mut batch, want) => r,
        };
        for message in batch.drain(..) {
            match message {
                Message::Raw(frame) if crate::is_json(frame.text()) => {
                    if let Some(sink) = &mut sink {
                        match crate::nats::frame_message(&prefix, market, &frame) {
                            Some(m) => sink.send(m).await?,
                            None => {
                                let cut = frame
                                    .text()
                                    .char_indices()
                                    .nth(80)
                                    .map_or(frame.text().len(), |(i, _)| i);
                                eprintln!("\nbnws: frame not in a combined envelope, left out of NATS: {:?}", &frame.text()[..cut]);
                            }
                        }
                    }
                    frames += 1;
                    bytes += frame.text().len() as u64;
                    let Some(w) = &mut writer else {
                        continue;
                    };
                    let at = unix_seconds(frame.received_at.unwrap_or_else(SystemTime::now));
                    w.frame(at, frame.text())?;
                    in_file += 1;
                    if in_file >= rotate {
                        if let (Some(out), Some(w)) = (&out, &mut writer) {
                            // The next file is open before this one closes: no frame falls between.
                            seq += 1;
                            let next = Writer::open(out, seq, &url)?;
                            let done = std::mem::replace(w, next).finish()?;
                            eprintln!("\nbnws: wrote {}", done.display());
                            in_file = 0;
                        }
                    }
                }
                Message::Raw(frame) => {
                    eprintln!();
                    let _ = losses.malformed(frame.text(), None);
                }
                Message::Status(s) => {
                    if s == Status::Reconnected {
                        reconnects += 1;
                    }
                    eprintln!();
                    let _ = losses.status(&s, None);
                    if let Some(line) = ledger_line(&s) {
                        ledger.write(&line)?;
                        if let Some(sink) = &mut sink {
                            sink.send(crate::nats::ledger_message(&prefix, market, &line))
                                .await?;
                        }
                    }
                }
                _ => {}
            }
        }
        match received {
            Ok(_) => {}
            Err(e) if e.kind() == &ErrorKind::MaxReconnects => {
                if let Some(w) = writer.take() {
                    let _ = w.finish();
                }
                finish_sink(sink.take(), false).await?;
                return Ok(losses.finish(crate::gave_up(&mut std::io::stdout())));
            }
            Err(e) => {
                if let Some(w) = writer.take() {
                    let _ = w.finish();
                }
                let _ = finish_sink(sink.take(), true).await;
                return Err(e.to_string());
            }
        }
    };
    if let Some(w) = writer {
        let path = w.finish()?;
        eprintln!("\nbnws: wrote {} ({frames} messages)", path.display());
    }
    if ledger.lines > 0 {
        if let Some(path) = &ledger.path {
            eprintln!(
                "bnws: {} gap ledger lines in {}",
                ledger.lines,
                path.display()
            );
        }
    }
    finish_sink(sink, interrupted).await?;
    Ok(losses.finish(code))
}

/// Wait for NATS to acknowledge everything queued (after Ctrl-C, for at
/// most 10 s; a Ctrl-C while waiting gives up), and say what it stored.
async fn finish_sink(sink: Option<crate::nats::Sink>, interrupted: bool) -> Result<(), String> {
    let Some(sink) = sink else {
        return Ok(());
    };
    let counts = sink.counts.clone();
    let patience = interrupted.then_some(Duration::from_secs(10));
    let finished = tokio::select! {
        r = sink.finish(patience) => r,
        _ = tokio::signal::ctrl_c() => Err("interrupted".to_string()),
    };
    use std::sync::atomic::Ordering::Relaxed;
    let (stored, duplicates, retried) = (
        counts.stored.load(Relaxed),
        counts.duplicates.load(Relaxed),
        counts.retried.load(Relaxed),
    );
    match finished {
        Ok(_) => {
            eprintln!("\nbnws: NATS stored {stored} messages ({duplicates} duplicates dropped by JetStream, {retried} publishes retried)");
            Ok(())
        }
        Err(e) => Err(format!(
            "{e}: messages not acknowledged by NATS are lost ({stored} stored, {duplicates} duplicates)"
        )),
    }
}

/// Where `bnws replay` reads from and what it does with it.
pub(crate) struct ReplayArgs<'a> {
    /// A recording file, or `nats://HOST:PORT[,…]/STREAM`.
    pub file: &'a Path,
    /// Serve on this port instead of printing.
    pub serve: Option<u16>,
    /// Serving speed.
    pub speed: f64,
    /// Depth snapshots to serve.
    pub snapshots: Option<&'a Path>,
    /// NATS: only this subject (wildcards allowed).
    pub subject: Option<&'a str>,
    /// NATS: go on with new messages after the last one.
    pub follow: bool,
}

pub(crate) async fn replay(args: ReplayArgs<'_>) -> Result<ExitCode, String> {
    let ReplayArgs {
        file,
        serve,
        speed,
        snapshots,
        subject,
        follow,
    } = args;
    let nats = file.to_str().filter(|f| f.starts_with("nats://"));
    if nats.is_none() && (subject.is_some() || follow) {
        eprintln!("bnws: --subject and --follow read from nats://HOST:PORT/STREAM, not a file");
        return Ok(ExitCode::from(2));
    }
    if nats.is_some() && follow && serve.is_some() {
        eprintln!("bnws: --follow prints as it goes; --serve plays what is stored: one of them");
        return Ok(ExitCode::from(2));
    }
    let (url, frames) = match nats {
        Some(address) => {
            let url = match crate::nats::parse_url(address) {
                Ok(u) => u,
                Err(e) => {
                    eprintln!("bnws: {e}");
                    return Ok(ExitCode::from(2));
                }
            };
            if serve.is_none() {
                return print_nats(&url, subject, follow).await;
            }
            let mut frames = Vec::new();
            crate::nats::read_stream(&url, subject, false, |f| {
                frames.push(f);
                Ok(())
            })
            .await?;
            (address.to_string(), frames)
        }
        None => binance_sim::replay::read_ws_capture(file)?,
    };
    let Some(port) = serve else {
        let stdout = std::io::stdout();
        let mut out = std::io::BufWriter::new(stdout.lock());
        for frame in &frames {
            writeln!(out, "{}", frame.text).map_err(|e| e.to_string())?;
        }
        out.flush().map_err(|e| e.to_string())?;
        return Ok(ExitCode::SUCCESS);
    };
    let depth = match snapshots {
        Some(path) => binance_sim::replay::read_depth_capture(path)?,
        None => Default::default(),
    };
    let frames_len = frames.len();
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| format!("port {port}: {e}"))?;
    let server = binance_sim::replay::ReplayServer::serve(listener, frames, depth, speed)
        .await
        .map_err(|e| e.to_string())?;
    eprintln!(
        "bnws: replaying {} ({} frames, recorded from {url}) at {}/stream",
        file.display(),
        frames_len,
        server.ws_url()
    );
    let _ = tokio::signal::ctrl_c().await;
    Ok(ExitCode::SUCCESS)
}

/// `bnws replay nats://…` to stdout: each frame as its combined envelope.
async fn print_nats(
    url: &crate::nats::NatsUrl,
    subject: Option<&str>,
    follow: bool,
) -> Result<ExitCode, String> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut printed = 0u64;
    let skipped = crate::nats::read_stream(url, subject, follow, |frame| {
        writeln!(out, "{}", frame.text).map_err(|e| format!("stdout: {e}"))?;
        printed += 1;
        if follow {
            out.flush().map_err(|e| format!("stdout: {e}"))?;
        }
        Ok(())
    })
    .await?;
    out.flush().map_err(|e| format!("stdout: {e}"))?;
    eprintln!("bnws: {printed} frames");
    if skipped > 0 {
        eprintln!("bnws: {skipped} messages that are not frames (the gap ledger) left out; --subject PREFIX.ledger prints them");
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    /// What the recorder writes (gzip, rotated by the caller) is what the
    /// replay reads, frame for frame and time for time.
    #[test]
    fn the_replay_reads_what_the_recorder_writes() {
        let dir = std::env::temp_dir().join(format!("bnws-capture-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut writer = super::Writer::open(&dir, 0, "ws://127.0.0.1:1/stream").unwrap();
        let frames = [
            (1_700_000_000.125, r#"{"stream":"a@trade","data":{"t":1}}"#),
            (1_700_000_000.5, r#"{"stream":"a@trade","data":{"t":2}}"#),
        ];
        for (at, text) in frames {
            writer.frame(at, text).unwrap();
        }
        let path = writer.finish().unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert!(bytes.starts_with(&[0x1f, 0x8b]), "gzip");
        let (url, read) = binance_sim::replay::read_ws_capture(&path).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(url, "ws://127.0.0.1:1/stream");
        let read: Vec<(f64, &str)> = read.iter().map(|r| (r.at, r.text.as_str())).collect();
        assert_eq!(read, frames);
    }
}
