//! A log that forgets its oldest entries: the level changes, trades and
//! aggregate trades kept for the history window.
//!
//! Forgotten entries are hidden at once and freed in one drain once they are
//! a quarter as many as the kept ones: each drain moves at most four kept
//! entries per freed one (amortised O(1)), the kept ones stay one slice, and
//! the storage never holds more than 1.25 times the kept entries.

/// Entries numbered from 0 in push order, of which the newest are kept.
#[derive(Debug, Clone)]
pub(crate) struct Recent<T> {
    items: Vec<T>,
    /// Forgotten entries still at the front of `items`.
    hidden: usize,
    /// Forgotten entries already freed.
    freed: u64,
}

impl<T> Default for Recent<T> {
    fn default() -> Self {
        Recent {
            items: Vec::new(),
            hidden: 0,
            freed: 0,
        }
    }
}

impl<T> Recent<T> {
    pub(crate) fn push(&mut self, item: T) {
        self.items.push(item);
    }

    /// The kept entries, oldest first.
    pub(crate) fn as_slice(&self) -> &[T] {
        &self.items[self.hidden..]
    }

    /// Number of the oldest kept entry (entries before it are forgotten).
    pub(crate) fn start(&self) -> u64 {
        self.freed + self.hidden as u64
    }

    /// Number the next entry pushed will get.
    pub(crate) fn end(&self) -> u64 {
        self.freed + self.items.len() as u64
    }

    /// Entry number `n`, if kept.
    pub(crate) fn get(&self, n: u64) -> Option<&T> {
        let i = usize::try_from(n.checked_sub(self.start())?).ok()?;
        self.as_slice().get(i)
    }

    /// Forget the first `count` kept entries (at most all of them).
    pub(crate) fn forget(&mut self, count: usize) {
        self.hidden += count.min(self.items.len() - self.hidden);
        if self.hidden > 0 && 4 * self.hidden >= self.items.len() - self.hidden {
            self.items.drain(..self.hidden);
            self.freed += self.hidden as u64;
            self.hidden = 0;
        }
    }

    /// Entries in storage, forgotten ones not yet freed included.
    #[cfg(test)]
    pub(crate) fn stored(&self) -> usize {
        self.items.len()
    }
}

impl<T: Clone> Recent<T> {
    pub(crate) fn extend_from_slice(&mut self, items: &[T]) {
        self.items.extend_from_slice(items);
    }
}

#[cfg(test)]
mod tests {
    use super::Recent;

    #[test]
    fn numbers_survive_forgetting_and_storage_stays_near_the_kept() {
        let mut log = Recent::default();
        for i in 0..10_000u64 {
            log.push(i);
            if log.as_slice().len() > 100 {
                log.forget(log.as_slice().len() - 100);
            }
            assert!(4 * log.stored() <= 5 * log.as_slice().len());
            assert_eq!(log.end(), i + 1);
        }
        assert_eq!(log.start(), 9_900);
        assert_eq!(log.as_slice().first(), Some(&9_900));
        assert_eq!(log.get(9_950), Some(&9_950));
        assert_eq!(log.get(9_899), None);
        assert_eq!(log.get(10_000), None);
        log.forget(usize::MAX);
        assert!(log.as_slice().is_empty());
        assert_eq!(log.start(), 10_000);
    }
}
