//! Secrets at rest: a connection's literal `password` and `secret` are sealed with AES-256-GCM
//! before any backend writes them, and opened when read back. Every backend stores the sealed
//! form, so a copy of the database (or of its write-ahead log) holds no secret a reader can use.
//!
//! A sealed field is stored as `{"sealed": "v1:<kid>:<base64 of nonce ‖ ciphertext ‖ tag>"}`, an
//! object no definition can hold, so a password that merely looks sealed is never mistaken for
//! one. The associated data binds the ciphertext to its connection and field: a sealed value
//! copied into another row does not open.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use rand::RngCore;
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// The fields of a connection config that hold secrets.
const SECRET_FIELDS: [&str; 2] = ["password", "secret"];
const VERSION: &str = "v1";
const NONCE_LEN: usize = 12;

/// Why a sealed value could not be opened (or a key not used).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    #[error(
        "sealed with key `{0}`, which this server does not have (set SLUICE_SECRET_KEY_PREVIOUS or restore the key file)"
    )]
    UnknownKey(String),
    #[error("a sealed value is malformed")]
    Malformed,
    #[error(
        "a sealed value does not open with key `{0}`: the key is wrong or the value was altered"
    )]
    Tampered(String),
    #[error("a secret key must be 32 bytes, base64-encoded")]
    BadKey,
}

/// One AES-256 key and its id (the first 8 hex digits of its SHA-256), which sealed values name.
#[derive(Clone)]
pub struct SecretKey {
    kid: String,
    cipher: Aes256Gcm,
}

impl SecretKey {
    pub fn from_bytes(bytes: &[u8]) -> Result<SecretKey, SealError> {
        let cipher = Aes256Gcm::new_from_slice(bytes).map_err(|_| SealError::BadKey)?;
        let digest = Sha256::digest(bytes);
        let kid = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
        Ok(SecretKey { kid, cipher })
    }

    /// A key written as base64 (surrounding whitespace ignored), as in `SLUICE_SECRET_KEY`.
    pub fn from_base64(text: &str) -> Result<SecretKey, SealError> {
        let bytes = B64.decode(text.trim()).map_err(|_| SealError::BadKey)?;
        SecretKey::from_bytes(&bytes)
    }

    /// A new random key and its base64 text.
    pub fn generate() -> (SecretKey, String) {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let key = SecretKey::from_bytes(&bytes).expect("32 bytes make a key");
        (key, B64.encode(bytes))
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretKey({})", self.kid)
    }
}

/// The key that seals, and the earlier ones that still open what they sealed until it is
/// sealed again.
#[derive(Clone, Debug)]
pub struct Keyring {
    current: SecretKey,
    previous: Vec<SecretKey>,
}

impl Keyring {
    pub fn new(current: SecretKey, previous: Vec<SecretKey>) -> Keyring {
        Keyring { current, previous }
    }

    /// A keyring of one fresh random key (tests, throwaway stores).
    pub fn ephemeral() -> Keyring {
        Keyring::new(SecretKey::generate().0, Vec::new())
    }

    pub fn current_kid(&self) -> &str {
        self.current.kid()
    }

    fn key(&self, kid: &str) -> Option<&SecretKey> {
        std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| k.kid == kid)
    }

    pub fn seal(&self, plain: &str, aad: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let payload = Payload {
            msg: plain.as_bytes(),
            aad: aad.as_bytes(),
        };
        let sealed = self
            .current
            .cipher
            .encrypt(Nonce::from_slice(&nonce), payload)
            .expect("AES-GCM seals any message under 64 GiB");
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        format!("{VERSION}:{}:{}", self.current.kid, B64.encode(bytes))
    }

    pub fn open(&self, sealed: &str, aad: &str) -> Result<String, SealError> {
        let (kid, bytes) = parse(sealed)?;
        let key = self
            .key(kid)
            .ok_or_else(|| SealError::UnknownKey(kid.to_string()))?;
        let (nonce, body) = bytes.split_at(NONCE_LEN);
        let payload = Payload {
            msg: body,
            aad: aad.as_bytes(),
        };
        let plain = key
            .cipher
            .decrypt(Nonce::from_slice(nonce), payload)
            .map_err(|_| SealError::Tampered(kid.to_string()))?;
        String::from_utf8(plain).map_err(|_| SealError::Malformed)
    }

    /// A connection config (as JSON) with every literal secret sealed for connection `id`.
    pub fn seal_config(&self, id: Uuid, mut config: Value) -> Value {
        for field in SECRET_FIELDS {
            if let Some(slot) = config.get_mut(field)
                && let Value::String(plain) = slot
            {
                let sealed = self.seal(plain, &aad(id, field));
                *slot = serde_json::json!({ "sealed": sealed });
            }
        }
        config
    }

    /// The config as stored, with every sealed secret opened.
    pub fn open_config(&self, id: Uuid, mut config: Value) -> Result<Value, SealError> {
        for field in SECRET_FIELDS {
            if let Some(slot) = config.get_mut(field)
                && let Some(sealed) = sealed_text(slot)
            {
                *slot = Value::String(self.open(sealed, &aad(id, field))?);
            }
        }
        Ok(config)
    }

    /// Whether a stored config holds a secret in plain text or sealed with an earlier key, and
    /// so must be sealed again.
    pub fn needs_sealing(&self, config: &Value) -> bool {
        SECRET_FIELDS.iter().any(|field| match config.get(*field) {
            Some(Value::String(_)) => true,
            Some(slot) => sealed_text(slot)
                .and_then(|s| parse(s).ok())
                .is_some_and(|(kid, _)| kid != self.current.kid),
            None => false,
        })
    }
}

fn aad(id: Uuid, field: &str) -> String {
    format!("sluice/connection/{id}/{field}")
}

fn sealed_text(slot: &Value) -> Option<&str> {
    slot.as_object()
        .filter(|o| o.len() == 1)
        .and_then(|o| o.get("sealed"))
        .and_then(Value::as_str)
}

fn parse(sealed: &str) -> Result<(&str, Vec<u8>), SealError> {
    let mut parts = sealed.splitn(3, ':');
    let (Some(VERSION), Some(kid), Some(body)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(SealError::Malformed);
    };
    let bytes = B64.decode(body).map_err(|_| SealError::Malformed)?;
    // A nonce and a 16-byte tag at the least.
    if bytes.len() < NONCE_LEN + 16 {
        return Err(SealError::Malformed);
    }
    Ok((kid, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn seals_and_opens_bound_to_the_connection_and_field() {
        let ring = Keyring::ephemeral();
        let id = Uuid::new_v4();
        let stored = ring.seal_config(id, json!({"host": "h", "password": "hunter2"}));
        let text = stored.to_string();
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains(ring.current_kid()));
        assert!(!ring.needs_sealing(&stored));
        let opened = ring.open_config(id, stored.clone()).unwrap();
        assert_eq!(opened, json!({"host": "h", "password": "hunter2"}));
        // Copied into another connection, or into the other field, it does not open.
        assert!(matches!(
            ring.open_config(Uuid::new_v4(), stored.clone()),
            Err(SealError::Tampered(_))
        ));
        let moved = json!({ "secret": stored["password"].clone() });
        assert!(ring.open_config(id, moved).is_err());
    }

    #[test]
    fn env_references_and_lookalikes_stay_as_they_are() {
        let ring = Keyring::ephemeral();
        let id = Uuid::new_v4();
        let config = json!({"password": {"env": "PGPASSWORD"}});
        assert!(!ring.needs_sealing(&config));
        assert_eq!(ring.seal_config(id, config.clone()), config);
        // A literal password that looks like a sealed value is sealed like any other.
        let lookalike = json!({"secret": format!("v1:{}:AAAA", ring.current_kid())});
        assert!(ring.needs_sealing(&lookalike));
        let stored = ring.seal_config(id, lookalike.clone());
        assert_eq!(ring.open_config(id, stored).unwrap(), lookalike);
    }

    #[test]
    fn a_rotated_ring_opens_old_values_and_asks_for_them_again() {
        let old = Keyring::ephemeral();
        let id = Uuid::new_v4();
        let stored = old.seal_config(id, json!({"secret": "s3cret"}));
        let new = Keyring::new(SecretKey::generate().0, vec![old.current.clone()]);
        assert!(new.needs_sealing(&stored));
        assert_eq!(
            new.open_config(id, stored.clone()).unwrap(),
            json!({"secret": "s3cret"})
        );
        let without_old = Keyring::ephemeral();
        assert_eq!(
            without_old.open_config(id, stored),
            Err(SealError::UnknownKey(old.current_kid().to_string()))
        );
    }

    #[test]
    fn altered_and_malformed_values_are_refused() {
        let ring = Keyring::ephemeral();
        let sealed = ring.seal("value", "aad");
        let mut bytes = B64.decode(sealed.rsplit(':').next().unwrap()).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let altered = format!("v1:{}:{}", ring.current_kid(), B64.encode(bytes));
        assert!(matches!(
            ring.open(&altered, "aad"),
            Err(SealError::Tampered(_))
        ));
        for bad in ["", "v1", "v2:k:AAAA", "v1:k:not base64!", "v1:k:AAAA"] {
            assert!(ring.open(bad, "aad").is_err(), "{bad}");
        }
        assert_eq!(
            SecretKey::from_base64("c2hvcnQ=").unwrap_err(),
            SealError::BadKey
        );
    }
}
