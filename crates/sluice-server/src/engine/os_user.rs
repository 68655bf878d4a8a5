//! OS accounts by name (for runtime environments that run programs as another user): the user's
//! uid, primary gid and home directory, from the system's user database.

use std::ffi::{CStr, CString};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub uid: u32,
    pub gid: u32,
    pub home: String,
}

/// The account named `name`, or why there is none.
pub fn lookup(name: &str) -> Result<Account, String> {
    let c_name = CString::new(name).map_err(|_| format!("user `{name}` is not a valid name"))?;
    let mut buf = vec![0u8; 16 * 1024];
    // SAFETY: getpwnam_r writes only into `pwd` and `buf` (whose length we pass) and sets
    // `result` to `&pwd` or null; the strings it points to live in `buf`, read before it drops.
    unsafe {
        let mut pwd: libc::passwd = std::mem::zeroed();
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        let rc = libc::getpwnam_r(
            c_name.as_ptr(),
            &mut pwd,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut result,
        );
        if rc != 0 || result.is_null() {
            return Err(format!("user `{name}` does not exist on this node"));
        }
        let home = if pwd.pw_dir.is_null() {
            "/".to_string()
        } else {
            CStr::from_ptr(pwd.pw_dir).to_string_lossy().into_owned()
        };
        Ok(Account {
            uid: pwd.pw_uid,
            gid: pwd.pw_gid,
            home,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_exists_and_nonsense_does_not() {
        let root = lookup("root").unwrap();
        assert_eq!((root.uid, root.gid), (0, 0));
        assert!(lookup("no-such-user-sluice").is_err());
        assert!(lookup("a\0b").is_err());
    }
}
