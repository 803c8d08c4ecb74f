//! `bnws record` and `bnws replay`: the capture format of `shared/captures/`
//! (`URL <-> TIME` then `TIME: FRAME` lines), gzip-compressed in rotating files.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use binance_ws::{ErrorKind, Message, SocketManager, Status};
use flate2::write::GzEncoder;
use flate2::Compression;

fn seconds(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// One recording file being written.
struct Writer {
    file: GzEncoder<File>,
    path: PathBuf,
}

impl Writer {
    fn open(dir: &Path, seq: u32, url: &str) -> Result<Writer, String> {
        let stamp = seconds(SystemTime::now()) as u64;
        let path = dir.join(format!("bnws-{stamp}-{seq:04}.gz"));
        let file = File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut file = GzEncoder::new(file, Compression::fast());
        writeln!(file, "{url} <-> {}", seconds(SystemTime::now()))
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(Writer { file, path })
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
    names: &[String],
    out: &Path,
    rotate: u64,
    count: Option<u64>,
) -> Result<ExitCode, String> {
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut socket = manager
        .multiplex_socket(&refs)
        .map_err(|e| e.to_string())?
        .raw()
        .receive_times();
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
                    let at = frame
                        .received_at
                        .map_or_else(|| seconds(SystemTime::now()), seconds);
                    writeln!(writer.file, "{at}: {}", frame.text())
                        .map_err(|e| format!("{}: {e}", writer.path.display()))?;
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

/// A recording's text, gunzipped when it is gzip.
fn read_text(path: &Path) -> Result<String, String> {
    let mut raw = Vec::new();
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut raw))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut text = String::new();
        flate2::read::MultiGzDecoder::new(&raw[..])
            .read_to_string(&mut text)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(text)
    } else {
        String::from_utf8(raw).map_err(|e| format!("{}: {e}", path.display()))
    }
}

pub(crate) async fn replay(
    file: &Path,
    serve: Option<u16>,
    speed: f64,
    snapshots: Option<&Path>,
) -> Result<ExitCode, String> {
    let text = read_text(file)?;
    let (url, frames) = binance_sim::replay::parse_ws_capture(&text, file)?;
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
