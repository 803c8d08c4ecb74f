//! `--shard I/N` and `--shard-copies K`: a deterministic share of the listed
//! streams for collector `I` of `N`, by rendezvous (highest-random-weight)
//! hashing: each stream's `K` owners are the `K` collectors with the highest
//! weight `hash(stream, collector)`. The hash is stable (FNV-1a, then a
//! 64-bit mixer), so every machine agrees without talking, and going from
//! `N` to `N + 1` collectors moves only the streams the new one wins, about
//! `1/(N+1)` of them.

/// This collector's place among the collectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Shard {
    /// 1 to `count`.
    pub index: u32,
    /// Collectors in all.
    pub count: u32,
    /// Owners of each stream (1 to `count`).
    pub copies: u32,
}

/// Parse `I/N` (1 ≤ I ≤ N) with `copies` owners per stream.
pub(crate) fn parse(s: &str, copies: u32) -> Result<Shard, String> {
    let bad = || format!("--shard `{s}`: I/N, collector I (1 to N) of N, e.g. 1/3");
    let (i, n) = s.split_once('/').ok_or_else(bad)?;
    let index: u32 = i.trim().parse().map_err(|_| bad())?;
    let count: u32 = n.trim().parse().map_err(|_| bad())?;
    if count == 0 || index == 0 || index > count {
        return Err(bad());
    }
    if copies == 0 || copies > count {
        return Err(format!(
            "--shard-copies {copies}: 1 to N ({count}), the collectors that record each stream"
        ));
    }
    Ok(Shard {
        index,
        count,
        copies,
    })
}

/// SplitMix64's finaliser: spreads FNV's weak low bits over the word.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The weight of `stream` for collector `node`.
fn weight(stream: &str, node: u32) -> u64 {
    mix(crate::nats::fnv1a(stream.as_bytes()) ^ mix(u64::from(node)))
}

/// The `copies` owners (1-based) of `stream` among `count` collectors,
/// highest weight first.
pub(crate) fn owners(stream: &str, count: u32, copies: u32) -> Vec<u32> {
    let mut nodes: Vec<(u64, u32)> = (1..=count).map(|n| (weight(stream, n), n)).collect();
    nodes.sort_unstable_by(|a, b| b.cmp(a));
    nodes
        .into_iter()
        .take(copies as usize)
        .map(|(_, n)| n)
        .collect()
}

impl Shard {
    /// Whether this collector records `stream`.
    pub(crate) fn owns(&self, stream: &str) -> bool {
        owners(stream, self.count, self.copies).contains(&self.index)
    }

    /// This collector's share of `streams`, in their order.
    pub(crate) fn take(&self, streams: &[String]) -> Vec<String> {
        streams.iter().filter(|s| self.owns(s)).cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_shards_say_the_valid_form() {
        for bad in ["0/3", "4/3", "1", "a/b", "1/0"] {
            assert!(parse(bad, 1).unwrap_err().contains("I/N"), "{bad}");
        }
        assert!(parse("1/2", 3).unwrap_err().contains("--shard-copies"));
        assert_eq!(
            parse("2/3", 2).unwrap(),
            Shard {
                index: 2,
                count: 3,
                copies: 2
            }
        );
    }

    #[test]
    fn owners_are_distinct_and_stable() {
        let o = owners("btcusdt@trade", 5, 3);
        assert_eq!(o.len(), 3);
        let mut d = o.clone();
        d.sort();
        d.dedup();
        assert_eq!(d.len(), 3);
        assert_eq!(o, owners("btcusdt@trade", 5, 3));
        // The top owner among 5 is the top owner of the first two copies too.
        assert_eq!(owners("btcusdt@trade", 5, 1)[0], o[0]);
    }
}
