//! Parameter substitution in paths and SQL.
//!
//! `${name}` is replaced by the parameter's value; `$${` writes a literal `${`. Starfish's
//! `@@VAR:Name@@` is the same thing in Starfish's spelling, so a Starfish job argument
//! (`@@VAR:JobArgument@@`) is just a parameter named `JobArgument`. Built-in values live under the
//! `sluice.` prefix (`${sluice.data_dir}`, `${sluice.run_id}`, ...). A name that has no value is an
//! error, never an empty string: a silently empty filter would process the wrong rows.

use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    #[error(
        "parameter `{0}` has no value (pass it with the run, or give it a default in the task)"
    )]
    Missing(String),
    #[error("unterminated `${{` at byte {0}")]
    Unterminated(usize),
    #[error("`{0}` is not a valid parameter name (letters, digits, `_`, `.` and `-`)")]
    BadName(String),
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// Substitutes every reference in `text` from `values`.
pub fn substitute(text: &str, values: &BTreeMap<String, String>) -> Result<String, ParamError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut offset = 0;
    loop {
        let dollar = rest.find("${");
        let at = rest.find("@@VAR:");
        let next = match (dollar, at) {
            (None, None) => break,
            (Some(d), None) => (d, true),
            (None, Some(a)) => (a, false),
            (Some(d), Some(a)) => {
                if d < a {
                    (d, true)
                } else {
                    (a, false)
                }
            }
        };
        let (pos, is_dollar) = next;
        if is_dollar && pos > 0 && rest.as_bytes()[pos - 1] == b'$' {
            // `$${` is an escaped literal `${`.
            out.push_str(&rest[..pos - 1]);
            out.push_str("${");
            rest = &rest[pos + 2..];
            offset += pos + 2;
            continue;
        }
        out.push_str(&rest[..pos]);
        let (open, close) = if is_dollar { (2, "}") } else { (6, "@@") };
        let body = &rest[pos + open..];
        let end = body
            .find(close)
            .ok_or(ParamError::Unterminated(offset + pos))?;
        let name = body[..end].trim();
        if !valid_name(name) {
            return Err(ParamError::BadName(name.to_string()));
        }
        let value = values
            .get(name)
            .ok_or_else(|| ParamError::Missing(name.to_string()))?;
        out.push_str(value);
        let consumed = pos + open + end + close.len();
        rest = &rest[consumed..];
        offset += consumed;
    }
    out.push_str(rest);
    Ok(out)
}

/// The names referenced in `text` (for validation before a run has values).
pub fn references(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut probe = BTreeMap::new();
    // Substitute repeatedly, learning one missing name at a time.
    loop {
        match substitute(text, &probe) {
            Err(ParamError::Missing(name)) => {
                probe.insert(name.clone(), String::new());
                names.push(name);
            }
            _ => return names,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vals(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn substitutes_both_spellings() {
        let v = vals(&[("from", "2026-01-01"), ("JobArgument", "42")]);
        assert_eq!(
            substitute("a >= '${from}' AND id = @@VAR:JobArgument@@", &v).unwrap(),
            "a >= '2026-01-01' AND id = 42"
        );
    }

    #[test]
    fn escapes_and_errors() {
        let v = vals(&[("x", "1")]);
        assert_eq!(substitute("$${x} ${x}", &v).unwrap(), "${x} 1");
        assert_eq!(substitute("${y}", &v), Err(ParamError::Missing("y".into())));
        assert_eq!(substitute("ab ${x", &v), Err(ParamError::Unterminated(3)));
        assert!(matches!(
            substitute("${a b}", &v),
            Err(ParamError::BadName(_))
        ));
        assert_eq!(substitute("no refs", &v).unwrap(), "no refs");
    }

    #[test]
    fn lists_references() {
        assert_eq!(
            references("${a} @@VAR:b@@ ${a} ${sluice.data_dir}"),
            vec!["a", "b", "sluice.data_dir"]
        );
    }
}
