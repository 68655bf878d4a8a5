//! The test harness: a server per test ([`TestApp`]) and typed clients of its surfaces — the
//! native API over `sluice-types` where the expected status is an argument, IICS, Starfish — one
//! poll helper ([`eventually`]), one receiver for callbacks and webhooks ([`Receiver`]), and the
//! test data and services the tests share.

mod api;
mod app;
mod call;
mod eventually;
mod iics;
mod private_pg;
mod receiver;
mod resources;
mod services;
mod starfish;

pub use api::Api;
pub use app::{TestApp, refused_start};
pub use call::Call;
pub use eventually::{eventually, secs};
pub use iics::{Iics, Taskflows};
pub use private_pg::PrivatePg;
pub use receiver::{Receiver, Reply};
pub use services::*;
pub use starfish::Starfish;

use sluice_types::NewUser;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

pub const ADMIN: &str = "admin";
pub const ADMIN_PASSWORD: &str = "admin-password-for-tests";
/// The password of the users [`TestApp::user_with_role`] creates.
pub const USER_PASSWORD: &str = "password-of-test";

/// The repository's bundled examples.
pub fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .canonicalize()
        .unwrap()
}

impl TestApp {
    /// Creates a user of `org` with `role` (as the admin) and answers their session token.
    pub async fn user_with_role(&self, org: &str, name: &str, role: &str) -> String {
        let user = NewUser {
            username: name.into(),
            password: USER_PASSWORD.into(),
            org: Some(org.into()),
            role: Some(role.into()),
            is_admin: false,
        };
        let created = self.users().create(&user).expect(201).await;
        assert_eq!(created.role, role);
        let login = self.auth().login(name, USER_PASSWORD).expect(200).await;
        login.token
    }
}

/// A definitions directory with `files` (relative path, content) written into a new temp dir.
pub fn defs_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (rel, content) in files {
        let p = dir.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }
    dir
}

/// A large orders CSV (made once per test binary), big enough that a run of it lasts seconds.
pub fn big_csv() -> &'static Path {
    static FILE: OnceLock<PathBuf> = OnceLock::new();
    FILE.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("sluice-it-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("big_orders.csv");
        let mut w = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        writeln!(w, "order_id,country,amount,note").unwrap();
        for i in 0..3_000_000u64 {
            writeln!(
                w,
                "{i},C{},{}.{:02},{}",
                i % 50,
                i % 1000,
                i % 100,
                "x".repeat((i % 20) as usize)
            )
            .unwrap();
        }
        w.flush().unwrap();
        path
    })
}

/// A mapping task over the big CSV, writing `target`.
pub fn slow_task(target: &Path, allow_parallel: bool) -> String {
    format!(
        r#"type = "MTT"
allow_parallel = {allow_parallel}
[[sources]]
name = "orders"
format = "csv"
path = "{}"
[target]
format = "csv"
path = "{}"
"#,
        big_csv().display(),
        target.display()
    )
}
