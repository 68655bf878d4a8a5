//! IICS parameter files: `$$name=value` lines under sections, read for one task. Pure.
//!
//! ```text
//! #USE_SECTIONS
//! [Global]
//! $$region=EU
//! [Sales].[Daily].[load_orders]
//! $$since=2024-01-01
//! ```
//!
//! `[Global]` (and lines before any section) apply to every task; a section whose last bracketed
//! part is the task's name applies to that task when its other parts are empty or line up with
//! the end of the task's folder path (`[Sales].[Daily]` matches folder `Sales/Daily` and `Daily`;
//! IICS writes project and folder, Sluice folders are paths). The task's own values override
//! `[Global]` whatever their order in the file. Names lose their `$$` (a Sluice parameter is
//! `${region}`).

use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ParamFileError {
    pub line: usize,
    pub message: String,
}

/// The parameters `text` gives the task `name` in folder `folder`.
pub fn parameters_for(
    text: &str,
    folder: &str,
    name: &str,
) -> Result<BTreeMap<String, String>, ParamFileError> {
    let mut global = BTreeMap::new();
    let mut own = BTreeMap::new();
    // None: outside any section (global); Some(true/false): in a section for this task or not.
    let mut section: Option<bool> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        let err = |message: String| ParamFileError {
            line: i + 1,
            message,
        };
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if line.starts_with('[') {
            let parts = section_parts(line).ok_or_else(|| {
                err(format!(
                    "`{line}` is not a section header like [Global] or [Folder].[task]"
                ))
            })?;
            let is_global = parts.len() == 1 && parts[0].eq_ignore_ascii_case("global");
            section = (!is_global).then(|| applies(&parts, folder, name));
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .ok_or_else(|| err(format!("`{line}` is not a `$$name=value` line")))?;
        let key = key.trim().trim_start_matches('$');
        if key.is_empty()
            || !key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        {
            return Err(err(format!("`{}` is not a valid parameter name", key)));
        }
        let value = value.trim().to_string();
        match section {
            None => {
                global.insert(key.to_string(), value);
            }
            Some(true) => {
                own.insert(key.to_string(), value);
            }
            Some(false) => {}
        }
    }
    global.extend(own);
    Ok(global)
}

/// `[a].[b].[c]` → `["a", "b", "c"]`.
fn section_parts(line: &str) -> Option<Vec<String>> {
    let inner = line.strip_prefix('[')?.strip_suffix(']')?;
    let parts: Vec<String> = inner.split("].[").map(|p| p.trim().to_string()).collect();
    if parts
        .iter()
        .any(|p| p.is_empty() || p.contains('[') || p.contains(']'))
    {
        return None;
    }
    Some(parts)
}

fn applies(parts: &[String], folder: &str, name: &str) -> bool {
    let (last, rest) = parts.split_last().expect("at least one part");
    if last != name {
        return false;
    }
    let folder: Vec<&str> = folder.split('/').filter(|p| !p.is_empty()).collect();
    let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
    rest.is_empty() || folder.ends_with(&rest) || rest.ends_with(&folder)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "#USE_SECTIONS\n\
        $$top=1\n\
        [Sales].[Daily].[load]\n\
        $$since = 2024-01-01\n\
        $$region=US\n\
        [Global]\n\
        $$region=EU\n\
        $$url=http://x/?a=b\n\
        [Other].[load]\n\
        $$since=never\n";

    #[test]
    fn the_task_section_overrides_global_in_any_order() {
        let p = parameters_for(FILE, "Sales/Daily", "load").unwrap();
        assert_eq!(p["region"], "US");
        assert_eq!(p["since"], "2024-01-01");
        assert_eq!(p["top"], "1");
        assert_eq!(p["url"], "http://x/?a=b", "only the first `=` splits");
    }

    #[test]
    fn folders_line_up_from_the_end() {
        assert_eq!(
            parameters_for(FILE, "Daily", "load").unwrap()["since"],
            "2024-01-01"
        );
        assert_eq!(
            parameters_for(FILE, "Other", "load").unwrap()["since"],
            "never"
        );
        let elsewhere = parameters_for(FILE, "Ops", "load").unwrap();
        assert!(!elsewhere.contains_key("since"));
        assert_eq!(elsewhere["region"], "EU");
        let other_task = parameters_for(FILE, "Sales/Daily", "other").unwrap();
        assert!(!other_task.contains_key("since"));
    }

    #[test]
    fn bad_lines_name_their_line() {
        let e = parameters_for("[Global]\n$$ok=1\nnot a line\n", "D", "t").unwrap_err();
        assert_eq!(e.line, 3);
        let e = parameters_for("[Global\n", "D", "t").unwrap_err();
        assert_eq!(e.line, 1);
        let e = parameters_for("$$bad name=1\n", "D", "t").unwrap_err();
        assert!(e.message.contains("bad name"), "{e}");
    }
}
