//! Fan-out from the market to connections: each published frame is encoded
//! once and handed to every connection subscribed to its stream.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use binance_types::{Micros, Retime, StreamName};
use serde::Serialize;
use tokio::sync::mpsc;

use crate::notation::{Notation, Written};

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

/// Appended to a stream name to key its microsecond subscribers.
pub const MICROS_SUFFIX: &str = "#us";

/// A connection's inbox.
pub type Inbox = mpsc::Sender<Arc<Published>>;

/// Who listens to which stream.
#[derive(Default)]
pub struct Hub {
    streams: Mutex<HashMap<Arc<str>, Subscribers>>,
    /// Subscriptions cut by [`Hub::silence`], by stream: still held by their
    /// connections, no longer fed. Locked after `streams`.
    silenced: Mutex<HashMap<String, Vec<(u64, Inbox)>>>,
}

struct Subscribers {
    /// The stream's name, shared by every frame published on it.
    name: Arc<str>,
    list: Vec<(u64, Inbox)>,
}

impl Hub {
    /// Add a connection to a stream (once); a subscription the connection
    /// had silenced is fed again.
    pub fn subscribe(&self, stream: &str, conn: u64, inbox: &Inbox) {
        let mut streams = self.streams.lock().unwrap();
        remove(&mut self.silenced.lock().unwrap(), stream, conn);
        add(&mut streams, stream, conn, inbox);
    }

    /// Remove a connection from a stream, silenced or not.
    pub fn unsubscribe(&self, stream: &str, conn: u64) {
        let mut streams = self.streams.lock().unwrap();
        remove(&mut self.silenced.lock().unwrap(), stream, conn);
        if let Some(subs) = streams.get_mut(stream) {
            subs.list.retain(|(id, _)| *id != conn);
            if subs.list.is_empty() {
                streams.remove(stream);
            }
        }
    }

    /// Stop feeding `stream` (a hub key: the name, or the name with
    /// [`MICROS_SUFFIX`]) to every connection subscribed to it now, which
    /// stays subscribed; returns their ids. Connections that subscribe later
    /// (or again, after unsubscribing) are fed as usual.
    pub fn silence(&self, stream: &str) -> Vec<u64> {
        let mut streams = self.streams.lock().unwrap();
        let Some(subs) = streams.remove(stream) else {
            return Vec::new();
        };
        let ids = subs.list.iter().map(|(id, _)| *id).collect();
        let mut silenced = self.silenced.lock().unwrap();
        silenced
            .entry(stream.to_owned())
            .or_default()
            .extend(subs.list);
        ids
    }

    /// Feed every silenced subscription again.
    pub fn unsilence_all(&self) {
        let mut streams = self.streams.lock().unwrap();
        for (stream, list) in self.silenced.lock().unwrap().drain() {
            for (conn, inbox) in list {
                add(&mut streams, &stream, conn, &inbox);
            }
        }
    }

    /// True when anyone listens to `stream` (so the market can skip encoding).
    pub fn wanted(&self, stream: &str) -> bool {
        self.streams.lock().unwrap().contains_key(stream)
    }

    /// Publish an event on `stream` in each time unit someone listens in,
    /// encoding it once per unit.
    pub fn emit<T>(&self, stream: &StreamName, event: T)
    where
        T: Serialize + Written + Retime<Micros>,
        T::Output: Serialize,
    {
        let event = event.written(Notation::Spot);
        let stream = stream.to_string();
        if self.wanted(&stream) {
            self.publish(&stream, encode(&event));
        }
        let micros = format!("{stream}{MICROS_SUFFIX}");
        if self.wanted(&micros) {
            self.publish(&micros, encode(&event.retime()));
        }
    }

    /// True when anyone listens to `stream` in either time unit.
    pub fn wanted_any_unit(&self, stream: &StreamName) -> bool {
        let stream = stream.to_string();
        self.wanted(&stream) || self.wanted(&format!("{stream}{MICROS_SUFFIX}"))
    }

    /// Hand a frame to every subscriber. A subscriber whose inbox is full is
    /// too slow to keep up; it is dropped, and its connection closes, as
    /// Binance does with slow consumers.
    pub fn publish(&self, stream: &str, json: String) {
        self.publish_named(stream, None, json);
    }

    /// [`Hub::publish`] to the subscribers of hub key `key`, the frame named
    /// `stream` in combined frames (a user-data key filtered by event type
    /// is still named by its listen key).
    pub fn publish_as(&self, key: &str, stream: &str, json: String) {
        self.publish_named(key, Some(stream), json);
    }

    fn publish_named(&self, key: &str, name: Option<&str>, json: String) {
        let mut streams = self.streams.lock().unwrap();
        let Some(subs) = streams.get_mut(key) else {
            return;
        };
        let frame = Arc::new(Published {
            stream: name.map_or_else(|| subs.name.clone(), Arc::from),
            json,
        });
        subs.list
            .retain(|(_, inbox)| inbox.try_send(frame.clone()).is_ok());
        if subs.list.is_empty() {
            streams.remove(key);
        }
    }

    /// The connections fed `stream` now, in any unit or filter (hub keys
    /// `<stream>` and `<stream>#…`), each once.
    pub fn subscribers(&self, stream: &str) -> Vec<u64> {
        let streams = self.streams.lock().unwrap();
        let mut ids: Vec<u64> = streams
            .iter()
            .filter(|(key, _)| {
                key.strip_prefix(stream)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('#'))
            })
            .flat_map(|(_, subs)| subs.list.iter().map(|(id, _)| *id))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }
}

/// Add `conn` to the subscribers of `stream`, once.
fn add(streams: &mut HashMap<Arc<str>, Subscribers>, stream: &str, conn: u64, inbox: &Inbox) {
    let name: Arc<str> = Arc::from(stream);
    let subs = streams.entry(name.clone()).or_insert_with(|| Subscribers {
        name,
        list: Vec::new(),
    });
    if !subs.list.iter().any(|(id, _)| *id == conn) {
        subs.list.push((conn, inbox.clone()));
    }
}

/// Forget a silenced subscription of `conn` to `stream`.
fn remove(silenced: &mut HashMap<String, Vec<(u64, Inbox)>>, stream: &str, conn: u64) {
    if let Some(list) = silenced.get_mut(stream) {
        list.retain(|(id, _)| *id != conn);
        if list.is_empty() {
            silenced.remove(stream);
        }
    }
}

/// An event's JSON.
fn encode<T: Serialize>(event: &T) -> String {
    serde_json::to_string(event).expect("events serialise")
}
