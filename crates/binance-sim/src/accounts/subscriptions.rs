//! User-data subscriptions on WebSocket API connections, and the listen
//! tokens that open margin ones: who sees which wallet's events, and
//! `eventStreamTerminated` when a subscription ends.

use std::collections::HashMap;

use binance_types::user::EventStreamTerminated;
use binance_types::wsapi::SubscriptionEvent;
use binance_types::{Micros, Millis, Retime, Time};
use serde::Serialize;
use serde_json::value::RawValue;
use tokio::sync::mpsc;

use super::spec::Wallet;
use crate::api_error::ApiErr;

/// Events made under the accounts' lock, sent after: (account, wallet, the
/// event).
pub(super) type Events = Vec<(usize, Wallet, UserEvent)>;

/// A user-data event encoded in each time unit a subscription can ask for.
pub(super) struct UserEvent {
    millis: Box<RawValue>,
    micros: Box<RawValue>,
}

impl UserEvent {
    /// The event (in milliseconds) encoded in both units.
    pub fn new<T>(event: T) -> Self
    where
        T: Serialize + Retime<Micros>,
        T::Output: Serialize,
    {
        UserEvent {
            millis: raw(&event),
            micros: raw(&event.retime()),
        }
    }

    /// The event's JSON in milliseconds.
    #[cfg(test)]
    pub fn millis(&self) -> &str {
        self.millis.get()
    }
}

/// A user-data subscription on one WebSocket API connection.
struct Sub {
    conn: u64,
    id: u64,
    account: usize,
    wallet: Wallet,
    /// Ends with `eventStreamTerminated` at this time (listen tokens).
    expires: Option<u64>,
    /// From `session.logon` (ended by `session.logout`).
    logon: bool,
    /// Times in microseconds (`timeUnit=MICROSECOND`).
    micros: bool,
    out: mpsc::UnboundedSender<String>,
}

impl Sub {
    /// Send one event, wrapped as `{"subscriptionId":N,"event":{…}}`, in
    /// the subscription's time unit.
    fn send(&self, event: &UserEvent) {
        let event = match self.micros {
            true => &event.micros,
            false => &event.millis,
        };
        let frame = SubscriptionEvent {
            subscription_id: self.id,
            event,
        };
        let _ = self
            .out
            .send(serde_json::to_string(&frame).expect("events serialise"));
    }

    /// End it with `eventStreamTerminated`.
    fn terminate(&self, now: u64) {
        self.send(&UserEvent::new(EventStreamTerminated::<Millis> {
            event_time: Time::new(now),
        }));
    }
}

/// A value's JSON, to embed in frames.
fn raw<T: Serialize>(value: &T) -> Box<RawValue> {
    serde_json::value::to_raw_value(value).expect("events serialise")
}

/// A WebSocket API connection that subscribes: its id, where its frames
/// go, and whether it asked for microseconds.
pub(crate) struct Listener {
    /// The connection id.
    pub conn: u64,
    /// Its outgoing frames.
    pub out: mpsc::UnboundedSender<String>,
    /// Times in microseconds (`timeUnit=MICROSECOND`).
    pub micros: bool,
}

/// A listen token: which wallet it opens, until when.
pub(super) struct Token {
    pub account: usize,
    pub wallet: Wallet,
    pub expires: u64,
}

/// Who a subscription is for.
pub(crate) enum SubTarget {
    /// The spot wallet of an authenticated account.
    Account {
        /// The account.
        account: usize,
        /// Made through `session.logon`.
        logon: bool,
    },
    /// The wallet of a listen token.
    Token(String),
}

/// Which subscriptions of a connection to end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unsubscribe {
    All,
    Id(u64),
    Logon,
    /// The connection closed: no event to send.
    Silently,
}

/// Every subscription and listen token.
#[derive(Default)]
pub(super) struct Subscriptions {
    subs: Vec<Sub>,
    pub tokens: HashMap<String, Token>,
}

impl Subscriptions {
    /// Subscribe a connection (subscription `id`) to a target at the
    /// exchange's time `now`. `-1209` for an unknown or expired token,
    /// `-2035` when the connection already has one for that wallet.
    pub fn subscribe(
        &mut self,
        to: &Listener,
        id: u64,
        target: SubTarget,
        now: u64,
    ) -> Result<(), ApiErr> {
        let conn = to.conn;
        let (account, wallet, expires, logon) = match target {
            SubTarget::Account { account, logon } => (account, Wallet::Spot, None, logon),
            SubTarget::Token(token) => {
                self.tokens.retain(|_, t| t.expires > now);
                let t = self
                    .tokens
                    .get(&token)
                    .ok_or_else(|| ApiErr::new(400, -1209, "Invalid listenToken."))?;
                (t.account, t.wallet.clone(), Some(t.expires), false)
            }
        };
        if expires.is_none()
            && self
                .subs
                .iter()
                .any(|s| s.conn == conn && s.account == account && s.wallet == wallet)
        {
            return Err(ApiErr::new(
                400,
                -2035,
                "User Data Stream subscription already active.",
            ));
        }
        self.subs.push(Sub {
            conn,
            id,
            account,
            wallet,
            expires,
            logon,
            micros: to.micros,
            out: to.out.clone(),
        });
        Ok(())
    }

    /// End subscriptions of a connection (all, one id, or the logon one),
    /// each with `eventStreamTerminated` unless silently; how many ended.
    pub fn unsubscribe(&mut self, conn: u64, which: Unsubscribe, now: u64) -> usize {
        let mut ended = 0;
        self.subs.retain(|s| {
            let hit = s.conn == conn
                && match which {
                    Unsubscribe::All | Unsubscribe::Silently => true,
                    Unsubscribe::Id(id) => s.id == id,
                    Unsubscribe::Logon => s.logon,
                };
            if hit {
                ended += 1;
                if which != Unsubscribe::Silently {
                    s.terminate(now);
                }
            }
            !hit
        });
        ended
    }

    /// End the subscriptions whose listen token expired by `now`.
    pub fn expire(&mut self, now: u64) {
        self.subs.retain(|s| match s.expires {
            Some(t) if t <= now => {
                s.terminate(now);
                false
            }
            _ => true,
        });
    }

    /// The connections with a subscription, each once.
    pub fn connections(&self) -> Vec<u64> {
        let mut conns: Vec<u64> = self.subs.iter().map(|s| s.conn).collect();
        conns.sort_unstable();
        conns.dedup();
        conns
    }

    /// Subscription ids of a connection.
    pub fn ids(&self, conn: u64) -> Vec<u64> {
        self.subs
            .iter()
            .filter(|s| s.conn == conn)
            .map(|s| s.id)
            .collect()
    }

    /// How many subscriptions are live.
    pub fn len(&self) -> usize {
        self.subs.len()
    }

    /// Hand events to their wallets' subscribers (under the accounts' lock,
    /// so every subscriber sees them in the order they happened).
    pub fn deliver(&self, events: Events) {
        for (account, wallet, event) in events {
            for sub in self
                .subs
                .iter()
                .filter(|s| s.account == account && s.wallet == wallet)
            {
                sub.send(&event);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminated_has_binances_bytes() {
        let want = crate::vectors::vector("user/wsapi/eventStreamTerminated.json");
        let (out, mut rx) = mpsc::unbounded_channel();
        let mut subs = Subscriptions::default();
        let target = SubTarget::Account {
            account: 0,
            logon: false,
        };
        let listener = Listener {
            conn: 7,
            out,
            micros: false,
        };
        subs.subscribe(&listener, 0, target, 0).unwrap();
        assert_eq!(subs.unsubscribe(7, Unsubscribe::All, 1728973001334), 1);
        assert_eq!(rx.try_recv().unwrap(), want.to_string());
    }
}
