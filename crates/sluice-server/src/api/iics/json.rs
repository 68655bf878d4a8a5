//! Lenient JSON bodies: Informatica's own examples carry a trailing comma (`{"a": 1,}`), and
//! scripts copy them. Trailing commas before `}` or `]` are dropped (outside strings), and
//! integers wider than a double holds exactly (taskflow `RunId`s have 37 digits) become strings,
//! so no digit is lost; anything else must be valid JSON.

use super::V2Error;
use axum::body::Bytes;
use serde::de::DeserializeOwned;

/// Integers of more digits than this are quoted: a double holds 15 exactly.
const EXACT_DIGITS: usize = 15;

/// Writes a number literal, quoted when it is an integer too wide for a double.
fn flush_number(number: &mut String, out: &mut String) {
    let digits = number.strip_prefix('-').unwrap_or(number);
    if digits.len() > EXACT_DIGITS && digits.bytes().all(|b| b.is_ascii_digit()) {
        out.push('"');
        out.push_str(number);
        out.push('"');
    } else {
        out.push_str(number);
    }
    number.clear();
}

/// Removes commas that directly precede a closing bracket and quotes wide integers, outside
/// string literals.
pub fn strip_trailing_commas(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    let (mut in_string, mut escaped) = (false, false);
    let mut pending_comma: Option<String> = None;
    let mut number = String::new();
    for c in input.chars() {
        if !in_string && (c.is_ascii_digit() || "+-.eE".contains(c)) && pending_comma.is_none() {
            number.push(c);
            continue;
        }
        flush_number(&mut number, &mut out);
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        if let Some(buf) = pending_comma.as_mut() {
            if c.is_whitespace() {
                buf.push(c);
                continue;
            }
            let buf = pending_comma.take().expect("just seen");
            if c == '}' || c == ']' {
                // Keep the whitespace, drop the comma.
                out.push_str(&buf[1..]);
            } else {
                out.push_str(&buf);
            }
        }
        match c {
            ',' => pending_comma = Some(",".into()),
            '"' => {
                in_string = true;
                out.push(c);
            }
            c if c.is_ascii_digit() || "+-.eE".contains(c) => number.push(c),
            _ => out.push(c),
        }
    }
    flush_number(&mut number, &mut out);
    if let Some(buf) = pending_comma {
        out.push_str(&buf);
    }
    out
}

/// Parses a v2 JSON body leniently; a malformed one is a 400 with the v2 error object.
pub fn parse<T: DeserializeOwned>(body: &Bytes) -> Result<T, V2Error> {
    let text = std::str::from_utf8(body)
        .map_err(|_| V2Error::bad_request("The request body is not valid UTF-8."))?;
    let text = if text.trim().is_empty() { "{}" } else { text };
    serde_json::from_str(&strip_trailing_commas(text))
        .map_err(|e| V2Error::bad_request(format!("The request body is not valid: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_commas_go_strings_stay() {
        assert_eq!(strip_trailing_commas(r#"{"a": 1,}"#), r#"{"a": 1}"#);
        assert_eq!(strip_trailing_commas("[1, 2 ,\n]"), "[1, 2 \n]");
        assert_eq!(
            strip_trailing_commas(r#"{"s": "x,}", "t": "\",]",}"#),
            r#"{"s": "x,}", "t": "\",]"}"#
        );
        assert_eq!(
            strip_trailing_commas(r#"{"a": [1,2], "b": 3}"#),
            r#"{"a": [1,2], "b": 3}"#
        );
    }

    #[test]
    fn wide_integers_become_strings_and_nothing_else_changes() {
        let wide = "2026224716632241356812345678901234567";
        assert_eq!(
            strip_trailing_commas(&format!(r#"{{"runid": [{wide}, -{wide},]}}"#)),
            format!(r#"{{"runid": ["{wide}", "-{wide}"]}}"#)
        );
        for same in [
            r#"{"a": 123456789012345, "b": -1.5e300, "c": true, "d": null}"#,
            r#"{"s": "1234567890123456789"}"#,
            "[1.2345678901234567]",
        ] {
            assert_eq!(strip_trailing_commas(same), same);
        }
    }
}
