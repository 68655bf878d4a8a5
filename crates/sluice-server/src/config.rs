//! Server configuration: defaults, then a TOML file, then `SLUICE_*` environment variables, then
//! command-line flags, each overriding the one before.

use crate::domain::org_grants::OrgGrants;
use crate::domain::runtime_env::RuntimeEnvironment;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Config {
    /// Address the HTTP server listens on.
    pub listen: String,
    /// Where the embedded store and run outputs live.
    pub data_dir: PathBuf,
    /// Directory of task and connection definition files; the bundled `examples/` when unset.
    pub definitions: Option<PathBuf>,
    /// The store's URL: `postgres://user:password@host/database` for a store several nodes
    /// share; unset = the embedded SQLite store, `<data_dir>/sluice.db`.
    #[serde(default)]
    pub store: Option<String>,
    /// This node's name in run leases, unique among the nodes of one store. A restarted node
    /// resolves the runs its earlier life held.
    pub node_name: String,
    /// First admin (of the default org); when both are unset a password is generated.
    pub admin_user: Option<String>,
    pub admin_password: Option<String>,
    /// Hours a login token stays valid.
    pub session_hours: u64,
    /// The largest request body any route accepts, in bytes (413 above it).
    pub max_body_bytes: usize,
    pub worker: WorkerConfig,
    pub iics: IicsConfig,
    pub notify: NotifyConfig,
    pub spark: SparkConfig,
    /// Sign-in throttling and the client address (`[signin]`).
    #[serde(default)]
    pub signin: SigninConfig,
    /// Where code tasks may run, by name (`[runtime_environments.<name>]`); see
    /// `domain::runtime_env`. Tasks defined through an API may only use one granted to their org.
    #[serde(default)]
    pub runtime_environments: BTreeMap<String, RuntimeEnvironment>,
    /// What each org's API-defined connections may reach on this server, by org name
    /// (`[orgs.<name>]`: `file_roots`, `env`); see `domain::org_grants`. Nothing by default.
    #[serde(default)]
    pub orgs: BTreeMap<String, OrgGrants>,
    /// What `GET /metrics` labels (`[metrics]`).
    #[serde(default)]
    pub metrics: crate::telemetry::MetricsConfig,
    /// The web monitor (`[ui]`).
    #[serde(default)]
    pub ui: UiConfig,
}

/// `[ui]`: the web monitor at `/ui`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct UiConfig {
    /// Marks the session cookie `Secure` (sent over HTTPS only): set it when browsers reach the
    /// node through HTTPS (a proxy that terminates TLS in front of it).
    #[serde(default)]
    pub secure_cookie: bool,
}

/// Where Spark is, for `spark` code tasks.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SparkConfig {
    /// The spark-submit program: a path, or a name looked up in `PATH`; unset = `spark-submit` in
    /// `$SPARK_HOME/bin` when `SPARK_HOME` is set, else in `PATH`.
    pub submit: Option<String>,
    /// The master applications go to unless a task names one.
    pub master: String,
    /// The host name in the links to a running application's driver UI (the driver runs on this
    /// node); unset = this node's host name.
    #[serde(default)]
    pub ui_host: Option<String>,
    /// How often a running application's driver is asked for its progress through its
    /// monitoring API, in milliseconds; 0 = never (its log alone tells the progress). Each
    /// answer costs the driver some CPU (see BENCHMARKS.md).
    #[serde(default = "default_monitor_interval_ms")]
    pub monitor_interval_ms: u64,
}

fn default_monitor_interval_ms() -> u64 {
    1000
}

impl Default for SparkConfig {
    fn default() -> Self {
        SparkConfig {
            submit: None,
            master: "local[*]".into(),
            ui_host: None,
            monitor_interval_ms: default_monitor_interval_ms(),
        }
    }
}

impl SparkConfig {
    /// The host in links to driver UIs: the configured one, else this node's host name.
    pub fn ui_host(&self) -> String {
        self.ui_host.clone().unwrap_or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|h| h.trim().to_string())
                .ok()
                .filter(|h| !h.is_empty())
                .unwrap_or_else(|| "localhost".into())
        })
    }

    pub fn submit_program(&self) -> String {
        if let Some(s) = &self.submit {
            return s.clone();
        }
        match std::env::var_os("SPARK_HOME") {
            Some(home) => Path::new(&home)
                .join("bin/spark-submit")
                .display()
                .to_string(),
            None => "spark-submit".into(),
        }
    }
}

/// Callback delivery: the retry schedule (IICS's by default), which receivers are allowed, and
/// signing.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NotifyConfig {
    /// Attempts made back to back before backing off (IICS: 3).
    pub immediate_attempts: u32,
    /// The first interval after them, doubling up to `max_interval_ms` (IICS: 30 s to 3 min).
    pub first_interval_ms: u64,
    pub max_interval_ms: u64,
    /// No attempt starts later than this after the run ended (IICS: 30 minutes).
    pub give_up_after_secs: u64,
    /// A receiver that has not answered within this is a failed attempt (IICS: 30 s).
    pub attempt_timeout_ms: u64,
    /// Receivers allowed: host names (`hooks.example.com`, `*.example.com`) and networks
    /// (`10.0.0.0/8`, `127.0.0.1`). Empty = any http(s) URL, loopback and private networks
    /// included, but the inside of a host (link-local and cloud metadata, `0.0.0.0/8`, `::`,
    /// multicast, broadcast), which only an allow network within it opens.
    pub allow: Vec<String>,
    /// Receivers refused, in the same forms; a deny wins over an allow. Networks are matched
    /// on the addresses actually connected to.
    pub deny: Vec<String>,
    /// Signing secrets by org name (`whsec_` + base64, as Standard Webhooks writes them): an
    /// org with one signs its deliveries (`webhook-id`, `webhook-timestamp`,
    /// `webhook-signature`).
    pub signing_secrets: std::collections::BTreeMap<String, String>,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        NotifyConfig {
            immediate_attempts: 3,
            first_interval_ms: 30_000,
            max_interval_ms: 180_000,
            give_up_after_secs: 30 * 60,
            attempt_timeout_ms: 30_000,
            allow: Vec::new(),
            deny: Vec::new(),
            signing_secrets: Default::default(),
        }
    }
}

/// Sign-in throttling on every surface that takes a password (see `service::throttle`), the
/// audit log's bound on failed sign-ins, and whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct SigninConfig {
    /// Failed sign-ins of one user name that lock it; 0 = no limit per user name.
    pub user_failures: u32,
    /// Failed sign-ins from one client address (an IPv6 client: its /64) that lock it; 0 = no
    /// limit per address.
    pub address_failures: u32,
    /// Failures are forgotten this many seconds after the last one (or after the lockout).
    pub window_secs: u64,
    /// The first lockout, in seconds; each failure after it doubles the next one.
    pub lockout_secs: u64,
    /// The longest lockout, in seconds.
    pub max_lockout_secs: u64,
    /// User names (and, apart, addresses) tracked at once; the least useful are evicted.
    pub max_tracked: usize,
    /// Failed sign-ins the audit log keeps one row each for per minute; the rest of the minute's
    /// are counted into one row, so a flood of guesses cannot fill the disk.
    pub audit_failures_per_minute: u32,
    /// Proxies (addresses or networks, `10.0.0.0/8`) whose `X-Forwarded-For` names the client.
    /// Empty: the connection's peer is the client, whatever the header says.
    pub trusted_proxies: Vec<String>,
}

impl Default for SigninConfig {
    fn default() -> Self {
        SigninConfig {
            user_failures: 5,
            address_failures: 20,
            window_secs: 15 * 60,
            lockout_secs: 60,
            max_lockout_secs: 15 * 60,
            max_tracked: 10_000,
            audit_failures_per_minute: 60,
            trusted_proxies: Vec::new(),
        }
    }
}

impl SigninConfig {
    /// The trusted proxies as networks; [`Config::load`] refuses entries that are neither.
    pub fn proxy_networks(&self) -> Vec<ipnet::IpNet> {
        self.trusted_proxies
            .iter()
            .filter_map(|s| parse_network(s).ok())
            .collect()
    }
}

/// `10.0.0.0/8`, or one address as its own network.
fn parse_network(s: &str) -> Result<ipnet::IpNet, String> {
    let s = s.trim();
    s.parse::<ipnet::IpNet>()
        .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("signin.trusted_proxies: `{s}` is not an address or network"))
}

/// The Informatica Cloud compatibility surface.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IicsConfig {
    /// An IICS session ends after this many minutes without use (IICS: 30).
    pub session_idle_minutes: u64,
    /// The URL clients reach this server at (`https://etl.example.com`), for `serverUrl` and
    /// `baseApiUrl`; unset = the scheme and Host of each request.
    pub public_url: Option<String>,
    /// Where `parameterFileName` files are looked up (with `parameterFileDir` under it);
    /// `<data_dir>/parameters` when unset.
    pub parameter_dir: Option<PathBuf>,
}

impl Default for IicsConfig {
    fn default() -> Self {
        IicsConfig {
            session_idle_minutes: 30,
            public_url: None,
            parameter_dir: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkerConfig {
    /// Runs this node executes at once.
    pub concurrency: usize,
    /// Seconds a claim stays valid without a heartbeat.
    pub lease_secs: u64,
    /// Milliseconds between heartbeats (renewing the lease, saving counters, picking up stops).
    pub heartbeat_ms: u64,
    /// Milliseconds between looks for queued runs when nothing wakes the worker.
    pub poll_ms: u64,
    /// Seconds running jobs get to reach a safe point when the server shuts down.
    pub shutdown_grace_secs: u64,
    /// Rows the engine moves per batch (a graceful stop waits for at most one batch).
    pub batch_size: usize,
    /// Runs that ended more than this many days ago are removed with their logs, children,
    /// callbacks and reject files; unset = kept for ever.
    #[serde(default)]
    pub retention_days: Option<u32>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("sluice-data"),
            definitions: None,
            store: None,
            node_name: "local".into(),
            admin_user: None,
            admin_password: None,
            session_hours: 24,
            max_body_bytes: 10 << 20,
            worker: WorkerConfig::default(),
            iics: IicsConfig::default(),
            notify: NotifyConfig::default(),
            spark: SparkConfig::default(),
            signin: SigninConfig::default(),
            runtime_environments: BTreeMap::new(),
            orgs: BTreeMap::new(),
            metrics: Default::default(),
            ui: Default::default(),
        }
    }
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            concurrency: 4,
            // A lost node's runs end within lease_secs + lease_secs / 2 (the sweep's period):
            // 30 s. The lease outlives twenty missed heartbeats.
            lease_secs: 20,
            heartbeat_ms: 1000,
            poll_ms: 1000,
            shutdown_grace_secs: 20,
            batch_size: 8192,
            retention_days: None,
        }
    }
}

impl Config {
    /// The store's URL: the configured one, else the embedded store in the data directory.
    pub fn store_url(&self) -> String {
        match &self.store {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", self.data_dir.join("sluice.db").display()),
        }
    }
}

impl WorkerConfig {
    pub fn lease(&self) -> Duration {
        Duration::from_secs(self.lease_secs.max(1))
    }
    pub fn heartbeat(&self) -> Duration {
        Duration::from_millis(self.heartbeat_ms.max(10))
    }
    pub fn poll(&self) -> Duration {
        Duration::from_millis(self.poll_ms.max(10))
    }
}

/// Values given on the command line.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub definitions: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_name: Option<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(String);

impl Config {
    pub fn load(file: Option<&Path>, overrides: Overrides) -> Result<Config, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            if !file.is_file() {
                return Err(ConfigError(format!("{}: file not found", file.display())));
            }
            figment = figment.merge(Toml::file(file));
        }
        figment
            // `SLUICE_WORKER__CONCURRENCY=8` sets worker.concurrency. The CLI's own variables
            // (SLUICE_URL, SLUICE_TOKEN, ...) are not config keys and are ignored here.
            .merge(Env::prefixed("SLUICE_").split("__"))
            .merge(Serialized::defaults(overrides))
            .extract::<Config>()
            .map_err(|e| ConfigError(e.to_string()))?
            .checked()
    }

    /// The configuration, or every problem of it in one error.
    fn checked(self) -> Result<Config, ConfigError> {
        let mut problems: Vec<String> = self
            .runtime_environments
            .iter()
            .flat_map(|(name, env)| env.problems(name))
            .collect();
        problems.extend(
            self.signin
                .trusted_proxies
                .iter()
                .filter_map(|s| parse_network(s).err()),
        );
        if problems.is_empty() {
            Ok(self)
        } else {
            Err(ConfigError(problems.join("; ")))
        }
    }

    /// The definitions directory to load: the configured one, else the bundled examples.
    pub fn definitions_dir(&self) -> Option<PathBuf> {
        if let Some(dir) = &self.definitions {
            return Some(dir.clone());
        }
        let local = PathBuf::from("examples");
        if local.is_dir() {
            return Some(local);
        }
        // Running from elsewhere in a checkout: the examples next to the sources.
        let bundled = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
        bundled.is_dir().then_some(bundled)
    }
}
