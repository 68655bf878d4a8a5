//! One stable id per object, and every id format the compatibility APIs need, derived from it.
//!
//! A task's id is a UUID. From it follow: the 22-character federated id (the UUID in base 62, so it
//! decodes back), the 20-character IICS-style task id (base 36 of a hash: it does not decode, so the
//! store keeps it indexed), and the Starfish job GUID (the UUID itself). A folder's id is a UUID v5 of
//! its org and path, so the same folder has the same id on every node and after every reload.

use sha2::{Digest, Sha256};
use uuid::Uuid;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const BASE36: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// Namespace of the ids Sluice derives with UUID v5.
const SLUICE_NS: Uuid = Uuid::from_u128(0x5c1e_0000_7a5c_4d1f_9e00_51c0_1ce0_0001);

/// The 22-character federated id: the UUID's 128 bits in base 62, zero-padded.
pub fn federated_id(id: Uuid) -> String {
    let mut n = id.as_u128();
    let mut out = [b'0'; 22];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    String::from_utf8(out.to_vec()).expect("ascii")
}

/// Decodes a federated id back into the UUID; `None` when it is not one.
pub fn parse_federated_id(s: &str) -> Option<Uuid> {
    if s.len() != 22 {
        return None;
    }
    let mut n: u128 = 0;
    for b in s.bytes() {
        let digit = BASE62.iter().position(|c| *c == b)? as u128;
        n = n.checked_mul(62)?.checked_add(digit)?;
    }
    Some(Uuid::from_u128(n))
}

/// The 20-character IICS-style id: a fixed prefix naming Sluice's "org pod" and object kind, then
/// 14 base-36 characters of a hash of the UUID (about 72 bits: collisions are not a practical
/// concern, and the store's unique index would refuse one).
pub fn short_id(id: Uuid, kind: ShortIdKind) -> String {
    let digest = Sha256::digest(id.as_bytes());
    let mut n = u128::from_be_bytes(digest[..16].try_into().expect("16 bytes"));
    let mut tail = [b'0'; 12];
    for slot in tail.iter_mut().rev() {
        *slot = BASE36[(n % 36) as usize];
        n /= 36;
    }
    format!(
        "{}{}{}",
        "00SLC0",
        kind.code(),
        std::str::from_utf8(&tail).expect("ascii")
    )
}

#[derive(Debug, Clone, Copy)]
pub enum ShortIdKind {
    Task,
    Folder,
    Org,
    User,
    Schedule,
}

impl ShortIdKind {
    /// Two characters in the place where IICS puts the object type.
    fn code(self) -> &'static str {
        match self {
            ShortIdKind::Task => "Z0",
            ShortIdKind::Folder => "F0",
            ShortIdKind::Org => "O0",
            ShortIdKind::User => "U0",
            ShortIdKind::Schedule => "D0",
        }
    }
}

/// The id of a folder: stable for an org and a path.
pub fn folder_id(org_id: Uuid, path: &str) -> Uuid {
    Uuid::new_v5(&SLUICE_NS, format!("folder:{org_id}:{path}").as_bytes())
}

/// The id a task loaded from a file gets the first time it is seen: stable for an org, folder and
/// name, so a fresh data directory loading the same files gives the same ids.
pub fn file_task_id(org_id: Uuid, folder: &str, name: &str) -> Uuid {
    Uuid::new_v5(
        &SLUICE_NS,
        format!("task:{org_id}:{folder}/{name}").as_bytes(),
    )
}

/// Same for connections.
pub fn file_connection_id(org_id: Uuid, name: &str) -> Uuid {
    Uuid::new_v5(&SLUICE_NS, format!("connection:{org_id}:{name}").as_bytes())
}

/// The default org has a fixed id.
pub fn default_org_id() -> Uuid {
    Uuid::new_v5(&SLUICE_NS, b"org:default")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn formats_have_the_documented_lengths() {
        let id = Uuid::now_v7();
        assert_eq!(federated_id(id).len(), 22);
        assert_eq!(short_id(id, ShortIdKind::Task).len(), 20);
        assert!(
            short_id(id, ShortIdKind::Task)
                .bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
        );
    }

    #[test]
    fn rejects_what_is_not_a_federated_id() {
        assert_eq!(parse_federated_id("short"), None);
        assert_eq!(parse_federated_id("!!!!!!!!!!!!!!!!!!!!!!"), None);
        // 22 times the largest digit overflows 128 bits.
        assert_eq!(parse_federated_id("zzzzzzzzzzzzzzzzzzzzzz"), None);
    }

    proptest! {
        #[test]
        fn federated_ids_round_trip(n in any::<u128>()) {
            let id = Uuid::from_u128(n);
            prop_assert_eq!(parse_federated_id(&federated_id(id)), Some(id));
        }
    }
}
