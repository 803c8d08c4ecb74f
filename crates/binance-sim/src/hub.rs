//! Fan-out from the market to connections: each published frame is encoded
//! once and handed to every connection subscribed to its stream.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

/// One event of one stream, encoded once as Binance's raw JSON.
#[derive(Debug)]
pub struct Published {
    /// The stream name (`btcusdt@trade`).
    pub stream: Arc<str>,
    /// The raw payload JSON.
    pub json: String,
}

impl Published {
    /// The text frame for a connection in raw or combined mode.
    pub fn frame(&self, combined: bool) -> String {
        if combined {
            format!(r#"{{"stream":"{}","data":{}}}"#, self.stream, self.json)
        } else {
            self.json.clone()
        }
    }
}

/// A connection's inbox.
pub type Inbox = mpsc::Sender<Arc<Published>>;

/// Who listens to which stream.
#[derive(Default)]
pub struct Hub {
    streams: Mutex<HashMap<Arc<str>, Subscribers>>,
}

struct Subscribers {
    /// The stream's name, shared by every frame published on it.
    name: Arc<str>,
    list: Vec<(u64, Inbox)>,
}

impl Hub {
    /// Add a connection to a stream (once).
    pub fn subscribe(&self, stream: &str, conn: u64, inbox: &Inbox) {
        let mut streams = self.streams.lock().unwrap();
        let name: Arc<str> = Arc::from(stream);
        let subs = streams.entry(name.clone()).or_insert_with(|| Subscribers {
            name,
            list: Vec::new(),
        });
        if !subs.list.iter().any(|(id, _)| *id == conn) {
            subs.list.push((conn, inbox.clone()));
        }
    }

    /// Remove a connection from a stream.
    pub fn unsubscribe(&self, stream: &str, conn: u64) {
        let mut streams = self.streams.lock().unwrap();
        if let Some(subs) = streams.get_mut(stream) {
            subs.list.retain(|(id, _)| *id != conn);
            if subs.list.is_empty() {
                streams.remove(stream);
            }
        }
    }

    /// True when anyone listens to `stream` (so the market can skip encoding).
    pub fn wanted(&self, stream: &str) -> bool {
        self.streams.lock().unwrap().contains_key(stream)
    }

    /// Hand a frame to every subscriber. A subscriber whose inbox is full is
    /// too slow to keep up; it is dropped, and its connection closes, as
    /// Binance does with slow consumers.
    pub fn publish(&self, stream: &str, json: String) {
        let mut streams = self.streams.lock().unwrap();
        let Some(subs) = streams.get_mut(stream) else {
            return;
        };
        let frame = Arc::new(Published {
            stream: subs.name.clone(),
            json,
        });
        subs.list
            .retain(|(_, inbox)| inbox.try_send(frame.clone()).is_ok());
        if subs.list.is_empty() {
            streams.remove(stream);
        }
    }
}
