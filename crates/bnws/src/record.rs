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

pub(crate) async fn record(
    manager: &SocketManager,
    market: binance_types::venue::Venue,
    names: &[String],
    out: &Path,
    rotate: u64,
    count: Option<u64>,
) -> Result<ExitCode, String> {
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    // Always the combined envelope, so every frame names its stream.
    let socket = match market {
        binance_types::venue::Venue::Spot => manager.multiplex_socket(&refs),
        futures => manager.futures_multiplex_socket(futures, &refs),
    };
    let mut socket = socket.map_err(|e| e.to_string())?.raw().receive_times();
    let url = socket.urls().join(" ");
    let mut seq = 0;
    let mut writer = Writer::open(out, seq, &url)?;
    let (mut frames, mut bytes, mut in_file, mut reconnects) = (0u64, 0u64, 0u64, 0u64);
    let started = Instant::now();
    let mut progress = tokio::time::interval(Duration::from_secs(1));
    let mut batch = Vec::with_capacity(crate::BATCH);
    let mut losses = crate::Losses::default();
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let code = loop {
        let want = count.map_or(crate::BATCH, |c| {
            c.saturating_sub(frames).min(crate::BATCH as u64) as usize
        });
        if want == 0 {
            break ExitCode::SUCCESS;
        }
        let received = tokio::select! {
            biased;
            _ = &mut ctrl_c => break ExitCode::SUCCESS,
            _ = progress.tick() => {
                let rate = frames as f64 / started.elapsed().as_secs_f64().max(0.001);
                eprint!("\rbnws: {frames} messages, {} KiB, {rate:.0}/s, {reconnects} reconnects   ", bytes / 1024);
                continue;
            }
            r = socket.recv_many(&mut batch, want) => r,
        };
        for message in batch.drain(..) {
            match message {
                Message::Raw(frame) if crate::is_json(frame.text()) => {
                    let at = unix_seconds(frame.received_at.unwrap_or_else(SystemTime::now));
                    writer.frame(at, frame.text())?;
                    frames += 1;
                    in_file += 1;
                    bytes += frame.text().len() as u64;
                    if in_file >= rotate {
                        // The next file is open before this one closes: no frame falls between.
                        seq += 1;
                        let next = Writer::open(out, seq, &url)?;
                        let done = std::mem::replace(&mut writer, next).finish()?;
                        eprintln!("\nbnws: wrote {}", done.display());
                        in_file = 0;
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
                }
                _ => {}
            }
        }
        match received {
            Ok(_) => {}
            Err(e) if e.kind() == &ErrorKind::MaxReconnects => {
                let _ = writer.finish();
                return Ok(losses.finish(crate::gave_up(&mut std::io::stdout())));
            }
            Err(e) => {
                let _ = writer.finish();
                return Err(e.to_string());
            }
        }
    };
    let path = writer.finish()?;
    eprintln!("\nbnws: wrote {} ({frames} messages)", path.display());
    Ok(losses.finish(code))
}

pub(crate) async fn replay(
    file: &Path,
    serve: Option<u16>,
    speed: f64,
    snapshots: Option<&Path>,
) -> Result<ExitCode, String> {
    let (url, frames) = binance_sim::replay::read_ws_capture(file)?;
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
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| format!("port {port}: {e}"))?;
    let server = binance_sim::replay::ReplayServer::serve(listener, frames, depth, speed)
        .await
        .map_err(|e| e.to_string())?;
    eprintln!(
        "bnws: replaying {} (recorded from {url}) at {}/stream",
        file.display(),
        server.ws_url()
    );
    let _ = tokio::signal::ctrl_c().await;
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
