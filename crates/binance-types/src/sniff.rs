//! A few-byte look at the head of a frame, to pick its type before the one
//! real parse. Binance writes the discriminating key first (`"e"`,
//! `"stream"`, `"subscriptionId"`); anything this cannot read is left to the
//! slower general path, never guessed.

pub(crate) fn skip_ws(bytes: &[u8], mut pos: usize) -> usize {
    while pos < bytes.len() && matches!(bytes[pos], b' ' | b'\n' | b'\r' | b'\t') {
        pos += 1;
    }
    pos
}

/// A JSON string without escapes starting at `pos` (at its opening quote):
/// its contents and the position after the closing quote.
pub(crate) fn plain_string(bytes: &[u8], pos: usize) -> Option<(&str, usize)> {
    if bytes.get(pos) != Some(&b'"') {
        return None;
    }
    let start = pos + 1;
    let len = bytes[start..]
        .iter()
        .position(|&b| b == b'"' || b == b'\\')?;
    if bytes[start + len] == b'\\' {
        return None;
    }
    let text = std::str::from_utf8(&bytes[start..start + len]).ok()?;
    Some((text, start + len + 1))
}

/// What follows a key: a plain string, or the position of some other value.
pub(crate) enum Value<'a> {
    Str(&'a str, usize),
    Other(usize),
}

/// Read `"key" :` at `pos`; returns the key and the position of its value.
fn key(bytes: &[u8], pos: usize) -> Option<(&str, usize)> {
    let (key, pos) = plain_string(bytes, skip_ws(bytes, pos))?;
    let pos = skip_ws(bytes, pos);
    (bytes.get(pos) == Some(&b':')).then(|| (key, skip_ws(bytes, pos + 1)))
}

fn value(bytes: &[u8], pos: usize) -> Value<'_> {
    match plain_string(bytes, pos) {
        Some((s, end)) => Value::Str(s, end),
        None => Value::Other(pos),
    }
}

/// The first member of the object at `pos` (which must be `{`).
pub(crate) fn first_member(bytes: &[u8], pos: usize) -> Option<(&str, Value<'_>)> {
    if bytes.get(pos) != Some(&b'{') {
        return None;
    }
    let (k, at) = key(bytes, pos + 1)?;
    Some((k, value(bytes, at)))
}

/// After a value ending at `pos`, the next member must be `"want":`;
/// returns the position of its value.
pub(crate) fn next_member(bytes: &[u8], pos: usize, want: &str) -> Option<usize> {
    let pos = skip_ws(bytes, pos);
    if bytes.get(pos) != Some(&b',') {
        return None;
    }
    let (k, at) = key(bytes, pos + 1)?;
    (k == want).then_some(at)
}

/// An unsigned integer at `pos`, and the position after it.
pub(crate) fn unsigned(bytes: &[u8], pos: usize) -> Option<(u64, usize)> {
    let len = bytes[pos..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    let text = std::str::from_utf8(&bytes[pos..pos + len]).ok()?;
    Some((text.parse().ok()?, pos + len))
}
