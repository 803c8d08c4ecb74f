//! Times on the wire: integers whose unit the type carries.
//!
//! Binance sends milliseconds unless the connection asked for
//! `timeUnit=MICROSECOND`; decoding with [`Micros`] makes every time field a
//! `Time<Micros>`, so the two can never be mixed up; [`Retime`] turns an
//! event of one unit into the same event in the other.

use std::fmt;
use std::marker::PhantomData;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A unit for [`Time`]: [`Millis`] (Binance's default) or [`Micros`].
pub trait TimeUnit:
    Copy + Default + fmt::Debug + PartialEq + Eq + Send + Sync + Unpin + 'static
{
    /// How many of this unit make one second.
    const PER_SECOND: u64;
    /// The value of `timeUnit` that selects this unit (`MILLISECOND`, `MICROSECOND`).
    const QUERY_VALUE: &'static str;
}

/// Milliseconds since the Unix epoch (Binance's default).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Millis;

/// Microseconds since the Unix epoch (`timeUnit=MICROSECOND`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Micros;

impl TimeUnit for Millis {
    const PER_SECOND: u64 = 1_000;
    const QUERY_VALUE: &'static str = "MILLISECOND";
}

impl TimeUnit for Micros {
    const PER_SECOND: u64 = 1_000_000;
    const QUERY_VALUE: &'static str = "MICROSECOND";
}

/// A point in time as Binance sends it: an integer count of `U` since the epoch.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Time<U: TimeUnit = Millis> {
    value: u64,
    unit: PhantomData<U>,
}

impl<U: TimeUnit> Time<U> {
    /// A time from its raw wire value.
    pub const fn new(value: u64) -> Self {
        Time {
            value,
            unit: PhantomData,
        }
    }

    /// The raw wire value, in `U`.
    pub const fn get(self) -> u64 {
        self.value
    }

    /// Milliseconds since the epoch (truncated for microseconds).
    pub fn as_millis(self) -> u64 {
        self.value / (U::PER_SECOND / 1_000)
    }

    /// Microseconds since the epoch.
    pub fn as_micros(self) -> u64 {
        self.value * (1_000_000 / U::PER_SECOND)
    }

    /// The time as a [`SystemTime`].
    pub fn to_system_time(self) -> SystemTime {
        UNIX_EPOCH + Duration::from_micros(self.as_micros())
    }

    /// The current time in this unit.
    pub fn now() -> Self {
        let since = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Self::new((since.as_micros() / u128::from(1_000_000 / U::PER_SECOND)) as u64)
    }
}

/// A wire value with its times in unit `V`: what Binance sends a
/// connection that asked for `timeUnit=MICROSECOND` is the same event with
/// every time field in microseconds. Values without times are unchanged.
pub trait Retime<V: TimeUnit> {
    /// The value in `V`.
    type Output;
    /// The value with every time field converted to `V` (truncated when `V`
    /// is coarser).
    fn retime(self) -> Self::Output;
}

impl<U: TimeUnit, V: TimeUnit> Retime<V> for Time<U> {
    type Output = Time<V>;
    fn retime(self) -> Time<V> {
        if V::PER_SECOND >= U::PER_SECOND {
            Time::new(self.value * (V::PER_SECOND / U::PER_SECOND))
        } else {
            Time::new(self.value / (U::PER_SECOND / V::PER_SECOND))
        }
    }
}

impl<V: TimeUnit, T: Retime<V>> Retime<V> for Option<T> {
    type Output = Option<T::Output>;
    fn retime(self) -> Self::Output {
        self.map(Retime::retime)
    }
}

impl<V: TimeUnit, T: Retime<V>> Retime<V> for Vec<T> {
    type Output = Vec<T::Output>;
    fn retime(self) -> Self::Output {
        self.into_iter().map(Retime::retime).collect()
    }
}

/// [`Retime`] for types that carry no time: the value itself.
macro_rules! timeless {
    ($($t:ty),* $(,)?) => {
        $(impl<V: $crate::time::TimeUnit> $crate::time::Retime<V> for $t {
            type Output = $t;
            fn retime(self) -> $t {
                self
            }
        })*
    };
}
pub(crate) use timeless;

timeless!(String, u64, i64, bool, rust_decimal::Decimal);

/// [`Retime`] for a wire struct generic over its time unit: each named
/// field retimed (the compiler checks that every field is named).
macro_rules! retimed {
    ($($name:ident { $($field:ident),* $(,)? })*) => {
        $(impl<U: $crate::time::TimeUnit, V: $crate::time::TimeUnit> $crate::time::Retime<V>
            for $name<U>
        {
            type Output = $name<V>;
            fn retime(self) -> $name<V> {
                $name { $($field: $crate::time::Retime::<V>::retime(self.$field)),* }
            }
        })*
    };
}
pub(crate) use retimed;

impl<U: TimeUnit> fmt::Debug for Time<U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = if U::PER_SECOND == 1_000 { "ms" } else { "us" };
        write!(f, "{}{unit}", self.value)
    }
}

impl<U: TimeUnit> fmt::Display for Time<U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.value, f)
    }
}

impl<U: TimeUnit> Serialize for Time<U> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.value)
    }
}

impl<'de, U: TimeUnit> Deserialize<'de> for Time<U> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        u64::deserialize(d).map(Time::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_convert() {
        let ms = Time::<Millis>::new(1_672_515_782_136);
        assert_eq!(ms.as_micros(), 1_672_515_782_136_000);
        let us = Time::<Micros>::new(1_672_515_782_136_123);
        assert_eq!(us.as_millis(), 1_672_515_782_136);
        assert_eq!(
            format!("{ms:?} {us:?}"),
            "1672515782136ms 1672515782136123us"
        );
        let us: Time<Micros> = Retime::<Micros>::retime(ms);
        assert_eq!(us.get(), 1_672_515_782_136_000);
        let back: Time<Millis> = Retime::<Millis>::retime(us);
        assert_eq!(back, ms);
    }
}
