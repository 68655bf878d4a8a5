//! Where the key that seals secrets at rest comes from: `SLUICE_SECRET_KEY` (base64 of 32
//! bytes, with `SLUICE_SECRET_KEY_PREVIOUS` while rotating), else `<data_dir>/secret.key`,
//! created with mode 0600 on first start.
//!
//! Rotating the file key is crash-safe in three steps: the new key is written to
//! `secret.key.new`; the store is opened with both keys, which seals every secret again with the
//! new one in one transaction; then `secret.key.new` replaces `secret.key`. A crash between any
//! two steps leaves both files, and the next start (or `sluice secrets rotate`) finishes the job.

use super::seal::{Keyring, SealError, SecretKey};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

pub const KEY_FILE: &str = "secret.key";
pub const NEW_KEY_FILE: &str = "secret.key.new";
pub const ENV_KEY: &str = crate::domain::runtime_env::SECRET_KEY_ENV;
pub const ENV_PREVIOUS: &str = "SLUICE_SECRET_KEY_PREVIOUS";

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{what}: {source}")]
    Bad { what: String, source: SealError },
    #[error(
        "the secret key comes from {ENV_KEY}; to rotate it, start the server with the new key in \
         {ENV_KEY} and the old one in {ENV_PREVIOUS}"
    )]
    FromEnvironment,
}

/// Where the current key was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySource {
    Environment,
    File,
}

/// The keys a store opens with, and whether a file rotation is waiting to be finished.
#[derive(Debug, Clone)]
pub struct LoadedKeys {
    pub keyring: Keyring,
    pub source: KeySource,
    rotating: bool,
}

/// Reads the keys for the data directory, creating `secret.key` when there is no key at all.
pub fn load(data_dir: &Path) -> Result<LoadedKeys, KeyError> {
    if let Ok(text) = std::env::var(ENV_KEY) {
        let current = parse(&text, ENV_KEY)?;
        let previous = match std::env::var(ENV_PREVIOUS) {
            Ok(text) if !text.trim().is_empty() => vec![parse(&text, ENV_PREVIOUS)?],
            _ => Vec::new(),
        };
        return Ok(LoadedKeys {
            keyring: Keyring::new(current, previous),
            source: KeySource::Environment,
            rotating: false,
        });
    }
    let key_path = data_dir.join(KEY_FILE);
    let new_path = data_dir.join(NEW_KEY_FILE);
    let old = read_key(&key_path)?;
    let new = read_key(&new_path)?;
    let (keyring, rotating) = match (old, new) {
        (Some(old), Some(new)) => (Keyring::new(new, vec![old]), true),
        (Some(old), None) => (Keyring::new(old, Vec::new()), false),
        // The old key was already replaced; only the rename's leftover name remains.
        (None, Some(new)) => (Keyring::new(new, Vec::new()), true),
        (None, None) => (Keyring::new(create_key(&key_path)?, Vec::new()), false),
    };
    Ok(LoadedKeys {
        keyring,
        source: KeySource::File,
        rotating,
    })
}

/// Once the store has sealed everything with the new key: `secret.key.new` becomes `secret.key`.
pub fn finish(data_dir: &Path, keys: &LoadedKeys) -> Result<(), KeyError> {
    if !keys.rotating {
        return Ok(());
    }
    let key_path = data_dir.join(KEY_FILE);
    fs::rename(data_dir.join(NEW_KEY_FILE), &key_path).map_err(io(&key_path))?;
    sync_dir(data_dir)
}

/// Writes `secret.key.new` (unless a rotation that crashed left one, which is kept: what it
/// sealed must stay readable). The caller then loads, opens the store and finishes.
pub fn begin_rotation(data_dir: &Path) -> Result<(), KeyError> {
    if std::env::var_os(ENV_KEY).is_some() {
        return Err(KeyError::FromEnvironment);
    }
    let new_path = data_dir.join(NEW_KEY_FILE);
    if read_key(&new_path)?.is_none() {
        create_key(&new_path)?;
    }
    Ok(())
}

fn parse(text: &str, what: &str) -> Result<SecretKey, KeyError> {
    SecretKey::from_base64(text).map_err(|source| KeyError::Bad {
        what: what.to_string(),
        source,
    })
}

fn read_key(path: &Path) -> Result<Option<SecretKey>, KeyError> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(path)(e)),
    };
    let mode = fs::metadata(path).map_err(io(path))?.permissions().mode();
    if mode & 0o077 != 0 {
        tracing::warn!(
            path = %path.display(),
            "the secret key file can be read by other users; chmod 600 it"
        );
    }
    parse(&text, &path.display().to_string()).map(Some)
}

/// A new random key in a file only its owner can read, on disk before anything is sealed with
/// it.
fn create_key(path: &Path) -> Result<SecretKey, KeyError> {
    let (key, text) = SecretKey::generate();
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io(path))?;
    writeln!(file, "{text}").map_err(io(path))?;
    file.sync_all().map_err(io(path))?;
    sync_dir(path.parent().unwrap_or(Path::new(".")))?;
    Ok(key)
}

fn sync_dir(dir: &Path) -> Result<(), KeyError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> KeyError + '_ {
    move |source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The environment variables are left unset here: tests in this binary run in parallel and
    // must not see a key another test set.

    #[test]
    fn first_load_creates_a_private_key_and_later_loads_read_it() {
        let dir = tempfile::tempdir().unwrap();
        let first = load(dir.path()).unwrap();
        let mode = fs::metadata(dir.path().join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = load(dir.path()).unwrap();
        assert_eq!(first.keyring.current_kid(), again.keyring.current_kid());
        assert_eq!(again.source, KeySource::File);
    }

    #[test]
    fn a_rotation_keeps_the_old_key_until_it_is_finished() {
        let dir = tempfile::tempdir().unwrap();
        let old = load(dir.path()).unwrap();
        begin_rotation(dir.path()).unwrap();
        let during = load(dir.path()).unwrap();
        assert_ne!(during.keyring.current_kid(), old.keyring.current_kid());
        let sealed = old.keyring.seal("pw", "aad");
        assert_eq!(during.keyring.open(&sealed, "aad").unwrap(), "pw");
        // Beginning again after a crash keeps the half-used new key.
        begin_rotation(dir.path()).unwrap();
        let retried = load(dir.path()).unwrap();
        assert_eq!(retried.keyring.current_kid(), during.keyring.current_kid());
        finish(dir.path(), &retried).unwrap();
        assert!(!dir.path().join(NEW_KEY_FILE).exists());
        let after = load(dir.path()).unwrap();
        assert_eq!(after.keyring.current_kid(), during.keyring.current_kid());
        assert!(after.keyring.open(&sealed, "aad").is_err());
    }

    #[test]
    fn a_damaged_key_file_is_an_error_not_a_new_key() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(KEY_FILE), "not a key\n").unwrap();
        assert!(matches!(load(dir.path()), Err(KeyError::Bad { .. })));
    }
}
