//! stdout on a thread of its own: the runtime (which also reads the
//! connection and answers its pings) never blocks on a slow pipe. A pipe
//! that stays stuck holds the socket back (backpressure), and past
//! `--max-stall` the library drops messages and says how many.

use std::io::Write;

use tokio::sync::{mpsc, oneshot};

/// Bytes written before they are handed to the writer thread at the latest.
const BUFFER: usize = 64 * 1024;

/// A buffered stdout whose writes happen on another thread.
pub(crate) struct Stdout {
    buffer: Vec<u8>,
    full: Option<mpsc::Sender<Vec<u8>>>,
    /// Buffers the writer is done with, to reuse.
    empty: std::sync::mpsc::Receiver<Vec<u8>>,
    /// How the writer thread ended (never joined: a thread stuck on a pipe
    /// must not keep the process from exiting).
    ended: Option<oneshot::Receiver<std::io::Result<()>>>,
}

impl Stdout {
    pub fn new() -> Stdout {
        // Two buffers may wait while a third is being filled.
        let (full, mut to_write) = mpsc::channel::<Vec<u8>>(2);
        let (done, empty) = std::sync::mpsc::channel();
        let (end, ended) = oneshot::channel();
        std::thread::spawn(move || {
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            let result = (|| {
                while let Some(mut bytes) = to_write.blocking_recv() {
                    out.write_all(&bytes)?;
                    out.flush()?;
                    bytes.clear();
                    let _ = done.send(bytes);
                }
                Ok(())
            })();
            let _ = end.send(result);
        });
        Stdout {
            buffer: Vec::with_capacity(BUFFER),
            full: Some(full),
            empty,
            ended: Some(ended),
        }
    }

    /// Hand what was written so far to the writer thread; waits only while
    /// two buffers are already waiting (a slow pipe).
    pub async fn send(&mut self) -> Result<(), String> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let next = self
            .empty
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(BUFFER));
        let bytes = std::mem::replace(&mut self.buffer, next);
        let sent = match &self.full {
            Some(full) => full.send(bytes).await.is_ok(),
            None => false,
        };
        match sent {
            true => Ok(()),
            false => Err(self.failure().await),
        }
    }

    /// Write out everything and stop the writer thread; with `patience`,
    /// give up on a pipe that stays stuck that long.
    pub async fn close(mut self, patience: Option<std::time::Duration>) -> Result<(), String> {
        let finish = async {
            self.send().await?;
            self.full = None;
            match self.ended.take() {
                Some(ended) => match ended.await {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) => Err(format!("stdout: {e}")),
                    Err(_) => Err("stdout: the writer thread failed".into()),
                },
                None => Ok(()),
            }
        };
        match patience {
            None => finish.await,
            Some(limit) => tokio::time::timeout(limit, finish)
                .await
                .unwrap_or_else(|_| Err("stdout: stuck; unwritten output left behind".into())),
        }
    }

    /// Why the writer thread stopped.
    async fn failure(&mut self) -> String {
        self.full = None;
        match self.ended.take() {
            Some(ended) => match ended.await {
                Ok(Err(e)) => format!("stdout: {e}"),
                _ => "stdout: closed".into(),
            },
            None => "stdout: closed".into(),
        }
    }
}

impl Write for Stdout {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    /// Buffers are handed over by [`Stdout::send`]; nothing to do here.
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
