//! The per-value text algorithms of masking: partial masks, hex, dictionary picks, and the
//! format-preserving replacement (letters to letters, digits to digits) behind `email` and `phone`.

use super::Prf;
use sha2::{Digest, Sha256};

/// Keyed pseudo-random numbers for one value: the value's HMAC first, then SHA-256 of it with a
/// counter when a long value needs more. Nothing here allocates.
pub(super) struct Keystream {
    seed: [u8; 32],
    block: [u8; 32],
    used: usize,
    counter: u32,
}

impl Keystream {
    pub(super) fn new(seed: [u8; 32]) -> Keystream {
        Keystream {
            seed,
            block: seed,
            used: 0,
            counter: 0,
        }
    }

    /// A number in `0..n` (`n` at most a few dozen: 16 bits make the modulo bias negligible).
    fn below(&mut self, n: u32) -> u32 {
        if self.used + 2 > self.block.len() {
            self.counter = self.counter.wrapping_add(1);
            self.block = Sha256::new()
                .chain_update(self.seed)
                .chain_update(self.counter.to_le_bytes())
                .finalize()
                .into();
            self.used = 0;
        }
        let drawn = u16::from_le_bytes([self.block[self.used], self.block[self.used + 1]]);
        self.used += 2;
        u32::from(drawn) % n
    }
}

/// The classes format-preserving masking keeps.
#[derive(Clone, Copy, PartialEq)]
enum Class {
    Digit,
    Upper,
    Lower,
    Other,
}

fn class(c: char) -> Class {
    if c.is_ascii_digit() {
        Class::Digit
    } else if c.is_alphabetic() {
        if c.is_uppercase() {
            Class::Upper
        } else {
            Class::Lower
        }
    } else if c.is_numeric() {
        Class::Digit
    } else {
        Class::Other
    }
}

/// One character replaced within its class. An ASCII letter or digit always becomes a different
/// one (so a masked value never equals the original); other letters and digits become ASCII
/// ones, keeping case; everything else stays.
fn replace(c: char, stream: &mut Keystream) -> char {
    let (base, size) = match class(c) {
        Class::Digit => (b'0', 10),
        Class::Upper => (b'A', 26),
        Class::Lower => (b'a', 26),
        Class::Other => return c,
    };
    let index = match u32::from(c).checked_sub(u32::from(base)) {
        // The same ASCII character: step forward by 1..size, never landing on itself.
        Some(at) if at < size => (at + 1 + stream.below(size - 1)) % size,
        _ => stream.below(size),
    };
    // `index < size <= 26`, so this stays within the class's ASCII range.
    char::from(base + index as u8)
}

fn replace_all(value: &str, stream: &mut Keystream, out: &mut String) {
    out.extend(value.chars().map(|c| replace(c, stream)));
}

/// `partial`: counts characters, not bytes. If the kept ends would cover the whole value, the
/// whole value is masked.
pub(super) fn partial(
    value: &str,
    keep_first: usize,
    keep_last: usize,
    mask_char: char,
    out: &mut String,
) {
    let length = value.chars().count();
    if keep_first.saturating_add(keep_last) >= length {
        out.extend(std::iter::repeat_n(mask_char, length));
        return;
    }
    let last_from = length - keep_last;
    out.extend(value.chars().enumerate().map(|(at, c)| {
        if at < keep_first || at >= last_from {
            c
        } else {
            mask_char
        }
    }));
}

/// Lowercase hex of the digest, cut to `length` characters.
pub(super) fn hex(digest: &[u8; 32], length: usize, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (at, byte) in digest.iter().enumerate().take(length.div_ceil(2)) {
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        if 2 * at + 1 < length {
            out.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
    }
}

/// `substitute`: the entry `pick` points at, or the next one that is not the original (nor, for
/// an original of 4 bytes or more, contains it). Validation guarantees two different entries, so
/// one that differs from the original always exists.
pub(super) fn substitute<'d>(dictionary: &'d [String], pick: u64, original: &str) -> &'d str {
    let count = dictionary.len();
    if count == 0 {
        return "";
    }
    let start = (pick % count as u64) as usize;
    let candidates = || (0..count).map(|step| dictionary[(start + step) % count].as_str());
    candidates()
        .find(|entry| *entry != original && (original.len() < 4 || !entry.contains(original)))
        .or_else(|| candidates().find(|entry| *entry != original))
        .unwrap_or(dictionary[start].as_str())
}

/// `email`: `local@domain` keeps its shape. The local part is keyed on the whole address; the
/// domain on the domain alone (ASCII case ignored), so every address of one domain gets the same
/// pseudo-domain. The top-level domain (from the last dot) stays. A value that is not an address
/// (no `@` with text on both sides) has all its letters and digits replaced.
pub(super) fn email(value: &str, local_prf: &Prf, domain_prf: &Prf, out: &mut String) {
    let mut stream = Keystream::new(local_prf.digest(value.as_bytes()));
    let Some((local, domain)) = value
        .rsplit_once('@')
        .filter(|(local, domain)| !local.is_empty() && !domain.is_empty())
    else {
        replace_all(value, &mut stream, out);
        return;
    };
    replace_all(local, &mut stream, out);
    out.push('@');
    let mut stream = Keystream::new(domain_prf.digest_ascii_lowercase(domain));
    let (name, tld) = match domain.rfind('.') {
        Some(dot) => domain.split_at(dot),
        None => (domain, ""),
    };
    replace_all(name, &mut stream, out);
    out.push_str(tld);
}

/// `phone`: every digit (and letter) replaced, other characters kept; the last `keep_last`
/// digits stay unless that would keep every digit.
pub(super) fn phone(value: &str, stream: &mut Keystream, keep_last: usize, out: &mut String) {
    let digits = value.chars().filter(|&c| class(c) == Class::Digit).count();
    let masked_digits = if keep_last >= digits {
        digits
    } else {
        digits - keep_last
    };
    let mut seen = 0;
    for c in value.chars() {
        if class(c) == Class::Digit {
            seen += 1;
            if seen > masked_digits {
                out.push(c);
                continue;
            }
        }
        out.push(replace(c, stream));
    }
}
