//! Reading request fields leniently, as ASP.NET model binding does: names in any case, and values
//! as JSON types or as text (XML and form bodies carry only text).

use serde_json::{Map, Value};

/// The field `key` (any case).
fn get<'a>(m: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    m.get(key).or_else(|| {
        m.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// A text field; absent, null and empty are None.
pub fn text(m: &Map<String, Value>, key: &str) -> Option<String> {
    match get(m, key)? {
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// A whole number, written as a number or as text.
pub fn number(m: &Map<String, Value>, key: &str) -> Result<Option<i64>, String> {
    match text(m, key) {
        None => Ok(None),
        Some(t) => t
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| format!("{key} must be a whole number, not `{t}`")),
    }
}

pub fn boolean(m: &Map<String, Value>, key: &str) -> Result<Option<bool>, String> {
    match text(m, key).map(|t| t.trim().to_ascii_lowercase()) {
        None => Ok(None),
        Some(t) if t == "true" || t == "1" => Ok(Some(true)),
        Some(t) if t == "false" || t == "0" => Ok(Some(false)),
        Some(t) => Err(format!("{key} must be true or false, not `{t}`")),
    }
}

/// A required GUID of at most 36 characters (Starfish's limit).
pub fn guid(m: &Map<String, Value>, key: &str) -> Result<uuid::Uuid, String> {
    let t = text(m, key).ok_or_else(|| format!("{key} is required"))?;
    if t.len() > 36 {
        return Err(format!("{key} must be at most 36 characters"));
    }
    uuid::Uuid::parse_str(t.trim()).map_err(|_| format!("{key} `{t}` is not a GUID"))
}
