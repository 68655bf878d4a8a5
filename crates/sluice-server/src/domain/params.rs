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
    expand(text, |name| {
        values
            .get(name)
            .map(String::as_str)
            .ok_or_else(|| ParamError::Missing(name.to_string()))
    })
}

/// The names referenced in `text` (for validation before a run has values), each once, in order.
pub fn references(text: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    let _ = expand(text, |name| {
        if seen.insert(name.to_string()) {
            names.push(name.to_string());
        }
        Ok("")
    });
    names
}

/// One pass over `text` (linear in its length whatever it holds: texts come from users), asking
/// `value` for each reference.
fn expand<'v>(
    text: &str,
    mut value: impl FnMut(&str) -> Result<&'v str, ParamError>,
) -> Result<String, ParamError> {
    let mut out = String::with_capacity(text.len());
    let mut pos = 0;
    // The next `${` and `@@VAR:` at or after `pos`, found once each and looked for again only
    // once passed.
    let find = |from: usize, pat: &str| text[from..].find(pat).map(|i| from + i);
    let (mut dollar, mut at) = (find(0, "${"), find(0, "@@VAR:"));
    loop {
        if dollar.is_some_and(|d| d < pos) {
            dollar = find(pos, "${");
        }
        if at.is_some_and(|a| a < pos) {
            at = find(pos, "@@VAR:");
        }
        let (start, is_dollar) = match (dollar, at) {
            (None, None) => break,
            (Some(d), Some(a)) if a < d => (a, false),
            (Some(d), _) => (d, true),
            (None, Some(a)) => (a, false),
        };
        if is_dollar && start > pos && text.as_bytes()[start - 1] == b'$' {
            // `$${` is an escaped literal `${`.
            out.push_str(&text[pos..start - 1]);
            out.push_str("${");
            pos = start + 2;
            continue;
        }
        out.push_str(&text[pos..start]);
        let (open, close) = if is_dollar { (2, "}") } else { (6, "@@") };
        let body_start = start + open;
        let end = text[body_start..]
            .find(close)
            .ok_or(ParamError::Unterminated(start))?;
        let name = text[body_start..body_start + end].trim();
        if !valid_name(name) {
            return Err(ParamError::BadName(name.to_string()));
        }
        out.push_str(value(name)?);
        pos = body_start + end + close.len();
    }
    out.push_str(&text[pos..]);
    Ok(out)
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
