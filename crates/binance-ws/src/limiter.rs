//! Pacing: new connections under Binance's 300 attempts per 5 minutes, and
//! control messages under its 5 a second per connection.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// At most `max` events in any `window`; `acquire` waits for room.
pub(crate) struct Window {
    max: usize,
    window: Duration,
    times: Mutex<VecDeque<Instant>>,
}

impl Window {
    pub fn new(max: usize, window: Duration) -> Self {
        Window {
            max: max.max(1),
            window,
            times: Mutex::new(VecDeque::new()),
        }
    }

    /// When the next event may happen (now if there is room); records it.
    pub fn reserve(&self) -> Instant {
        let now = Instant::now();
        let mut times = self.times.lock().unwrap();
        while times
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= self.window)
        {
            times.pop_front();
        }
        // Reservations may lie in the future; the slot is `window` after the
        // `max`-th most recent one.
        let at = if times.len() >= self.max {
            times[times.len() - self.max] + self.window
        } else {
            now
        };
        let at = at.max(times.back().copied().unwrap_or(now)).max(now);
        times.push_back(at);
        at
    }

    /// Wait for room, then record the event.
    pub async fn acquire(&self) {
        let at = self.reserve();
        tokio::time::sleep_until(at).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn never_more_than_max_in_a_window() {
        let w = Window::new(5, Duration::from_secs(1));
        let start = Instant::now();
        let mut at = Vec::new();
        for _ in 0..12 {
            w.acquire().await;
            at.push(Instant::now() - start);
        }
        for i in 5..at.len() {
            assert!(at[i] - at[i - 5] >= Duration::from_secs(1), "{at:?}");
        }
        assert!(
            at[4] < Duration::from_millis(1),
            "the first five go at once: {at:?}"
        );
    }
}
