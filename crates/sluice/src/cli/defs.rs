//! `sluice apply` and `sluice export`: definition files between a local directory and the server,
//! as a `DefinitionBundle` of `/`-separated relative paths (checked so an export cannot write
//! outside its directory).

use super::GlobalOpts;
use super::client::{Client, decode};
use super::output::{emit, emit_json, emit_line};
use anyhow::{Context, Result, bail};
use reqwest::StatusCode;
use sluice_types::{ApplyReport, DefinitionBundle, DefinitionFile};
use std::fmt::Write as _;
use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;

/// Deeper than any sensible definitions tree; guards against symlink loops.
const MAX_DEPTH: usize = 32;

pub async fn apply(global: &GlobalOpts, dir: &Path) -> Result<ExitCode> {
    let bundle = collect_bundle(dir)?;
    if bundle.files.is_empty() {
        bail!("no *.toml files under {}", dir.display());
    }
    let client = Client::connect(global).await?;
    // 422 answers the report too, when some files had problems.
    let raw = client
        .post_raw_accepting(
            "/definitions/apply",
            &bundle,
            &[StatusCode::UNPROCESSABLE_ENTITY],
        )
        .await?;
    let report: ApplyReport = decode(raw.clone())?;
    if global.json {
        emit_json(&raw);
    } else {
        emit(&report_text(&report));
        for error in &report.errors {
            eprintln!("error: {error}");
        }
    }
    Ok(if report.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// What applying did: one line per definition, then the counts.
fn report_text(r: &ApplyReport) -> String {
    let mut out = String::new();
    for (label, items) in [
        ("created", &r.created),
        ("updated", &r.updated),
        ("unchanged", &r.unchanged),
    ] {
        for item in items {
            let _ = writeln!(out, "{label:<10} {item}");
        }
    }
    let _ = writeln!(
        out,
        "{} created, {} updated, {} unchanged, {} errors",
        r.created.len(),
        r.updated.len(),
        r.unchanged.len(),
        r.errors.len()
    );
    out
}

pub async fn export(global: &GlobalOpts, dir: &Path) -> Result<ExitCode> {
    let client = Client::connect(global).await?;
    let bundle: DefinitionBundle = client.get("/definitions/export", &[]).await?;
    // Check every path before writing anything.
    let targets = bundle
        .files
        .iter()
        .map(|f| safe_relative(&f.path).map(|rel| (dir.join(rel), f)))
        .collect::<Result<Vec<_>>>()?;
    for (target, file) in &targets {
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(target, &file.content)
            .with_context(|| format!("writing {}", target.display()))?;
        if !global.json {
            emit_line(&format!("wrote {}", target.display()));
        }
    }
    if global.json {
        let written: Vec<String> = targets
            .iter()
            .map(|(t, _)| t.display().to_string())
            .collect();
        emit_json(&written);
    } else {
        emit_line(&format!(
            "exported {} files to {}",
            targets.len(),
            dir.display()
        ));
    }
    Ok(ExitCode::SUCCESS)
}

/// Every `*.toml` file under `dir` (recursively; hidden files and directories skipped), sorted
/// by path.
pub fn collect_bundle(dir: &Path) -> Result<DefinitionBundle> {
    if !dir.is_dir() {
        bail!("{} is not a directory", dir.display());
    }
    let mut files = Vec::new();
    walk(dir, dir, 0, &mut files)?;
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(DefinitionBundle { files })
}

fn walk(root: &Path, dir: &Path, depth: usize, out: &mut Vec<DefinitionFile>) -> Result<()> {
    if depth > MAX_DEPTH {
        bail!("{} is nested too deeply (a symlink loop?)", dir.display());
    }
    let entries = std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("reading {}", dir.display()))?;
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        // Follows symlinks.
        let meta =
            std::fs::metadata(&path).with_context(|| format!("reading {}", path.display()))?;
        if meta.is_dir() {
            walk(root, &path, depth + 1, out)?;
        } else if meta.is_file() && path.extension().is_some_and(|e| e == "toml") {
            let content = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {} (must be UTF-8 text)", path.display()))?;
            out.push(DefinitionFile {
                path: bundle_path(root, &path)?,
                content,
            });
        }
    }
    Ok(())
}

/// `path` relative to `root`, `/`-separated.
pub fn bundle_path(root: &Path, path: &Path) -> Result<String> {
    let rel = path
        .strip_prefix(root)
        .with_context(|| format!("{} is not under {}", path.display(), root.display()))?;
    let parts = rel
        .components()
        .map(|c| match c {
            Component::Normal(part) => part
                .to_str()
                .with_context(|| format!("{}: file name is not UTF-8", path.display())),
            _ => bail!("{}: unexpected path component", path.display()),
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(parts.join("/"))
}

/// A bundle path as a relative path to write: refuses absolute paths, `..`, `.`, empty parts and
/// backslashes.
pub fn safe_relative(path: &str) -> Result<PathBuf> {
    if path.is_empty() {
        bail!("refusing an empty file path in the bundle");
    }
    if path.starts_with('/') || path.contains('\\') {
        bail!("refusing file path {path:?}: must be relative and `/`-separated");
    }
    let mut rel = PathBuf::new();
    for part in path.split('/') {
        if part.is_empty() || part == "." || part == ".." {
            bail!("refusing file path {path:?}: `{part}` is not allowed in it");
        }
        rel.push(part);
    }
    // Platform-specific forms (`C:` prefixes and the like).
    if rel.is_absolute() || !rel.components().all(|c| matches!(c, Component::Normal(_))) {
        bail!("refusing file path {path:?}: must be relative");
    }
    Ok(rel)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_paths() {
        assert_eq!(
            safe_relative("Sales/sub/load.toml").unwrap(),
            PathBuf::from("Sales").join("sub").join("load.toml")
        );
        assert_eq!(safe_relative("a.toml").unwrap(), PathBuf::from("a.toml"));
        for bad in [
            "",
            "/etc/passwd",
            "../x.toml",
            "a/../../x.toml",
            "a/./b.toml",
            "a//b.toml",
            "a/",
            "a\\b.toml",
            "..",
        ] {
            assert!(safe_relative(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn collects_toml_files_recursively() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("Sales/daily")).unwrap();
        std::fs::create_dir_all(root.join(".hidden")).unwrap();
        std::fs::write(root.join("conn.toml"), "a = 1").unwrap();
        std::fs::write(root.join("Sales/load.toml"), "b = 2").unwrap();
        std::fs::write(root.join("Sales/daily/x.toml"), "c = 3").unwrap();
        std::fs::write(root.join("Sales/readme.md"), "no").unwrap();
        std::fs::write(root.join(".hidden/h.toml"), "no").unwrap();
        let bundle = collect_bundle(root).unwrap();
        let paths: Vec<&str> = bundle.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(
            paths,
            ["Sales/daily/x.toml", "Sales/load.toml", "conn.toml"]
        );
        assert_eq!(bundle.files[1].content, "b = 2");
    }

    #[test]
    fn collect_needs_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        assert!(collect_bundle(&dir.path().join("missing")).is_err());
    }

    #[test]
    fn bundle_paths_round_trip() {
        let root = Path::new("/defs");
        let p = bundle_path(root, &root.join("A").join("b.toml")).unwrap();
        assert_eq!(p, "A/b.toml");
        assert_eq!(safe_relative(&p).unwrap(), Path::new("A").join("b.toml"));
    }

    #[test]
    fn report() {
        let r = ApplyReport {
            created: vec!["Sales/load".into()],
            unchanged: vec!["Default/x".into()],
            errors: vec!["bad.toml: type: unknown".into()],
            ..Default::default()
        };
        assert_eq!(
            report_text(&r),
            "created    Sales/load\nunchanged  Default/x\n1 created, 0 updated, 1 unchanged, 1 errors\n"
        );
    }
}
