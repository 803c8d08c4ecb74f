//! USD-M and COIN-M futures: stream names ([`stream`]) and, later, events.

pub mod stream;
