//! Reading decimals off the wire fast: Binance's prices and quantities are
//! short plain decimal strings (`"0.35130000"`), which fit a 64-bit mantissa.
//! Those are parsed here in one pass with no allocation; anything else
//! (exponents, more than 19 digits) goes to `rust_decimal`'s exact parser.

use std::fmt;

use rust_decimal::Decimal;
use serde::de::{self, Deserializer, Visitor};

/// Parse a decimal string exactly, keeping its scale (`"0.10"` has scale 2).
pub fn parse(text: &str) -> Option<Decimal> {
    let bytes = text.as_bytes();
    let (negative, digits) = match bytes.first() {
        Some(b'-') => (true, &bytes[1..]),
        _ => (false, bytes),
    };
    let mut mantissa: u64 = 0;
    let mut count = 0usize;
    let mut scale: Option<u32> = None;
    for (i, &b) in digits.iter().enumerate() {
        match b {
            b'0'..=b'9' => {
                count += 1;
                if count > 19 {
                    return slow(text);
                }
                mantissa = mantissa * 10 + u64::from(b - b'0');
            }
            b'.' if scale.is_none() && i > 0 => scale = Some((digits.len() - i - 1) as u32),
            _ => return slow(text),
        }
    }
    let scale = scale.unwrap_or(0);
    if count == 0 || scale > 28 || (scale == 0 && digits.last() == Some(&b'.')) {
        return slow(text);
    }
    Some(Decimal::from_parts(
        mantissa as u32,
        (mantissa >> 32) as u32,
        0,
        negative,
        scale,
    ))
}

fn slow(text: &str) -> Option<Decimal> {
    Decimal::from_str_exact(text)
        .or_else(|_| Decimal::from_scientific(text))
        .ok()
}

struct DecimalVisitor;

impl Visitor<'_> for DecimalVisitor {
    type Value = Decimal;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a decimal number in a string, such as \"0.00100000\"")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Decimal, E> {
        parse(v).ok_or_else(|| E::invalid_value(de::Unexpected::Str(v), &self))
    }
}

/// `deserialize_with` for a `Decimal` field.
pub(crate) fn de<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
    d.deserialize_str(DecimalVisitor)
}

/// `deserialize_with` for an `Option<Decimal>` field (`null` is `None`).
pub(crate) fn de_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
    struct OptVisitor;
    impl<'de> Visitor<'de> for OptVisitor {
        type Value = Option<Decimal>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a decimal number in a string, or null")
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            de(d).map(Some)
        }
    }
    d.deserialize_option(OptVisitor)
}

/// Reads a `Decimal` through the fast parser (for use inside other impls).
pub(crate) struct Fast(pub Decimal);

impl<'de> de::Deserialize<'de> for Fast {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        de(d).map(Fast)
    }
}

#[cfg(test)]
mod tests {
    use super::parse;
    use rust_decimal::Decimal;
    use std::str::FromStr;

    #[test]
    fn agrees_with_rust_decimal_and_keeps_scale() {
        for s in [
            "0",
            "0.00000000",
            "0.35130000",
            "6195.00000000",
            "-1.5",
            "922327.00000000",
            "12345678901234567890.5",
            "1e-8",
            "0.1000000000000000000000000001",
        ] {
            let ours = parse(s).unwrap_or_else(|| panic!("{s}"));
            let theirs = Decimal::from_str_exact(s)
                .or_else(|_| Decimal::from_scientific(s))
                .unwrap();
            assert_eq!(ours, theirs, "{s}");
            assert_eq!(ours.to_string(), theirs.to_string(), "{s}");
        }
        assert_eq!(parse("0.10").unwrap().to_string(), "0.10");
        for bad in ["", ".", "1.", ".5", "1.2.3", "abc", "1,5", "-", "--1"] {
            assert!(
                parse(bad).is_none() || Decimal::from_str(bad).is_ok(),
                "{bad:?} accepted"
            );
        }
    }
}
