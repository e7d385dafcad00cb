//! voucherd's configuration: built-in defaults, then a TOML file (`--config`), then `VOUCHER_*`
//! environment variables, then command-line flags, each overriding the one before, key by key.
//!
//! Every key has the same name everywhere: `concurrent_requests_max` in the file is
//! `VOUCHER_CONCURRENT_REQUESTS_MAX` in the environment and `--concurrent-requests-max` on the
//! command line; units and `_max` come last. Keys renamed to follow that still work under
//! their old names ([`RENAMED_KEYS`]), with a warning. The whole result is checked before anything starts; a bad value is refused
//! naming the key and the reason, and nothing of it is used. `deploy/voucherd.example.toml`
//! documents every key.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// Every key of the configuration, with its default.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address of the gRPC listener.
    pub listen: SocketAddr,
    /// Where the ledger keeps its data.
    pub data_dir: PathBuf,
    /// The ledger's store: unset, the sled directory under `data_dir`; or a PostgreSQL
    /// database, `postgres://USER@HOST:PORT/DB` (the bureau token is still written to
    /// `data_dir`).
    pub store: Option<String>,
    /// The gRPC address clients reach this voucherd at (`host:port`), which standbys on the
    /// same database name when they answer a write `NOT_LEADER`; unset, the address the
    /// listener is bound to (useless to clients when that is 0.0.0.0).
    pub advertise_address: Option<String>,
    /// A policy file replacing the compiled-in rules.
    pub policy: Option<PathBuf>,
    /// Pins the date the rules see. Tests and drills only.
    pub today: Option<NaiveDate>,
    /// Requests handled at once across all connections.
    pub concurrent_requests_max: usize,
    /// Requests one connection may have in flight.
    pub concurrent_requests_per_connection_max: usize,
    /// The largest request message.
    pub message_bytes_max: usize,
    /// gRPC connections open at once; a new one beyond is closed at once.
    pub connections_max: usize,
    /// Commands waiting for the writer.
    pub queue_commands_max: usize,
    /// Commands in one durable batch.
    pub batch_commands_max: usize,
    /// The size of a write-ahead log segment, in KiB.
    pub wal_segment_kib: u64,
    /// Milliseconds between checkpoints (sled made durable, older log segments deleted).
    pub checkpoint_interval_ms: u64,
    /// Seconds requests in flight get after SIGTERM.
    pub shutdown_grace_s: u64,
    /// PEM server certificate (chain); with `tls_key`, the listener speaks TLS only.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// PEM CA whose client certificates are accepted; a provider's certificate names it.
    pub tls_client_ca: Option<PathBuf>,
    /// Refuse TLS clients without a certificate from `tls_client_ca`.
    pub tls_require_client_cert: bool,
    /// Address of the Prometheus `/metrics` listener; off unless set.
    pub metrics_listen: Option<SocketAddr>,
    /// Port of the web console (HTTP); off unless set. 0 picks a free port.
    pub web_port: Option<u16>,
    /// Address the web console binds; loopback unless a proxy in front needs otherwise.
    pub web_address: IpAddr,
    /// Minutes a console sign-in lasts.
    pub web_session_minutes: u64,
    /// Mark the session cookie `Secure`: set it when a TLS proxy serves the console.
    pub web_cookie_secure: bool,
    /// Accept a gRPC listener without TLS, or a console, on an address other machines can
    /// reach (tokens then cross the network in the clear); voucherd warns at every start.
    pub allow_plaintext: bool,
    /// `auto` (text on a terminal, JSON otherwise), `text` or `json`.
    pub log_format: LogFormat,
    /// A tracing filter: `info`, `warn`, `voucher_ledger=debug`…
    pub log_level: String,
    /// Keys given under an old name (see [`RENAMED_KEYS`]): voucherd warns of each at start.
    #[serde(skip)]
    pub renamed_keys_used: Vec<(&'static str, &'static str)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    Auto,
    Text,
    Json,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 50051)),
            data_dir: PathBuf::from("./voucher-data"),
            store: None,
            advertise_address: None,
            policy: None,
            today: None,
            concurrent_requests_max: 1024,
            concurrent_requests_per_connection_max: 256,
            message_bytes_max: 64 * 1024,
            connections_max: 4096,
            queue_commands_max: 4096,
            batch_commands_max: 1024,
            wal_segment_kib: 16 * 1024,
            checkpoint_interval_ms: 2000,
            shutdown_grace_s: 5,
            tls_cert: None,
            tls_key: None,
            tls_client_ca: None,
            tls_require_client_cert: false,
            metrics_listen: None,
            web_port: None,
            web_address: IpAddr::from([127, 0, 0, 1]),
            web_session_minutes: 480,
            web_cookie_secure: false,
            allow_plaintext: false,
            log_format: LogFormat::Auto,
            log_level: "info".to_owned(),
            renamed_keys_used: Vec::new(),
        }
    }
}

/// The keys the environment may set, as `VOUCHER_<KEY>`. Other `VOUCHER_*` variables (such as
/// voucherctl's `VOUCHER_TOKEN`) are not ours and are left alone.
const KEYS: &[&str] = &[
    "listen",
    "data_dir",
    "store",
    "advertise_address",
    "policy",
    "today",
    "concurrent_requests_max",
    "concurrent_requests_per_connection_max",
    "message_bytes_max",
    "connections_max",
    "queue_commands_max",
    "batch_commands_max",
    "wal_segment_kib",
    "checkpoint_interval_ms",
    "shutdown_grace_s",
    "tls_cert",
    "tls_key",
    "tls_client_ca",
    "tls_require_client_cert",
    "metrics_listen",
    "web_port",
    "web_address",
    "web_session_minutes",
    "web_cookie_secure",
    "allow_plaintext",
    "log_format",
    "log_level",
    // Renamed keys, still read (see RENAMED_KEYS).
    "max_concurrent_requests",
    "max_concurrent_requests_per_connection",
    "max_message_bytes",
    "max_connections",
    "queue_capacity",
];

/// Keys renamed so that every key puts its unit or `_max` last: (the old name, the new). The
/// old name still works in the file, the environment and as a flag, and voucherd warns.
pub const RENAMED_KEYS: &[(&str, &str)] = &[
    ("max_concurrent_requests", "concurrent_requests_max"),
    (
        "max_concurrent_requests_per_connection",
        "concurrent_requests_per_connection_max",
    ),
    ("max_message_bytes", "message_bytes_max"),
    ("max_connections", "connections_max"),
    ("queue_capacity", "queue_commands_max"),
];

/// What is wrong with the configuration: which key, from where, and why.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

impl Config {
    /// Defaults, then `file`, then the environment, then `overrides` (flags given on the
    /// command line, serialized with only the keys that were given).
    pub fn load(file: Option<&Path>, overrides: impl Serialize) -> Result<Config, ConfigError> {
        let mut renamed_keys_used = Vec::new();
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            let text = std::fs::read_to_string(path)
                .map_err(|error| ConfigError(format!("cannot read {}: {error}", path.display())))?;
            let text = with_current_names(&text, &mut renamed_keys_used)?;
            figment = figment.merge(Toml::string(&text));
        }
        let environment = Env::prefixed("VOUCHER_")
            .filter(|key| {
                KEYS.iter()
                    .any(|known| key.as_str().eq_ignore_ascii_case(known))
            })
            .map(|key| current_name(key.as_str()).into());
        renamed_keys_used.extend(RENAMED_KEYS.iter().filter(|(old, _)| {
            std::env::vars_os().any(|(name, _)| {
                name.to_string_lossy()
                    .eq_ignore_ascii_case(&format!("VOUCHER_{old}"))
            })
        }));
        figment = figment
            .merge(environment)
            .merge(Serialized::defaults(overrides));
        let mut config: Config = figment
            .extract()
            .map_err(|error| ConfigError(describe(error)))?;
        config.renamed_keys_used = renamed_keys_used;
        config.check()?;
        Ok(config)
    }

    /// The checks a type cannot make: ranges, and keys that only make sense together.
    fn check(&self) -> Result<(), ConfigError> {
        self.check_limits()?;
        if let Some(store) = &self.store
            // The same test as `store::postgres::is_postgres_url` (config uses none of ours).
            && !(store.starts_with("postgres://") || store.starts_with("postgresql://"))
        {
            return Err(ConfigError(
                "key `store`: not a PostgreSQL URL such as postgres://voucher@db.example:5432/ledger (leave it unset for the embedded store under `data_dir`)".to_owned(),
            ));
        }
        if tracing_subscriber::EnvFilter::try_new(&self.log_level).is_err() {
            return Err(ConfigError(format!(
                "key `log_level`: {:?} is not a tracing filter such as \"info\"",
                self.log_level
            )));
        }
        self.check_tls()
    }

    /// Every limit within the range voucherd is built to run with.
    fn check_limits(&self) -> Result<(), ConfigError> {
        let in_range = |key: &str, value: usize, low: usize, high: usize| {
            if (low..=high).contains(&value) {
                Ok(())
            } else {
                Err(ConfigError(format!(
                    "key `{key}`: {value} is not between {low} and {high}"
                )))
            }
        };
        in_range(
            "concurrent_requests_max",
            self.concurrent_requests_max,
            1,
            65_536,
        )?;
        in_range(
            "concurrent_requests_per_connection_max",
            self.concurrent_requests_per_connection_max,
            1,
            65_536,
        )?;
        in_range(
            "message_bytes_max",
            self.message_bytes_max,
            1024,
            16 * 1024 * 1024,
        )?;
        in_range("connections_max", self.connections_max, 1, 60_000)?;
        in_range("queue_commands_max", self.queue_commands_max, 1, 1_000_000)?;
        in_range("batch_commands_max", self.batch_commands_max, 1, 100_000)?;
        in_range(
            "wal_segment_kib",
            usize::try_from(self.wal_segment_kib).unwrap_or(usize::MAX),
            64,
            1024 * 1024,
        )?;
        in_range(
            "checkpoint_interval_ms",
            usize::try_from(self.checkpoint_interval_ms).unwrap_or(usize::MAX),
            10,
            600_000,
        )?;
        in_range(
            "shutdown_grace_s",
            usize::try_from(self.shutdown_grace_s).unwrap_or(usize::MAX),
            0,
            3600,
        )?;
        in_range(
            "web_session_minutes",
            usize::try_from(self.web_session_minutes).unwrap_or(usize::MAX),
            1,
            7 * 24 * 60,
        )?;
        Ok(())
    }

    /// The TLS files come in pairs, client certificates need TLS and a CA to check them
    /// against, and a listener other machines reach has TLS unless plaintext is allowed.
    fn check_tls(&self) -> Result<(), ConfigError> {
        match (&self.tls_cert, &self.tls_key) {
            (Some(_), None) => {
                return Err(ConfigError(
                    "key `tls_key`: required when `tls_cert` is set".to_owned(),
                ));
            }
            (None, Some(_)) => {
                return Err(ConfigError(
                    "key `tls_cert`: required when `tls_key` is set".to_owned(),
                ));
            }
            _ => {}
        }
        if self.tls_client_ca.is_some() && self.tls_cert.is_none() {
            return Err(ConfigError(
                "key `tls_client_ca`: client certificates need TLS: set `tls_cert` and `tls_key`"
                    .to_owned(),
            ));
        }
        if !self.allow_plaintext
            && let Some(exposed) = self.plaintext_exposed().first()
        {
            return Err(ConfigError(format!(
                "{exposed}: set `allow_plaintext = true` to accept that (voucherd then warns at every start)"
            )));
        }
        if self.tls_require_client_cert && self.tls_client_ca.is_none() {
            return Err(ConfigError("key `tls_require_client_cert`: needs `tls_client_ca` to check certificates against".to_owned()));
        }
        Ok(())
    }

    /// Each listener that other machines can reach and that would carry tokens in the clear,
    /// said by the key that sets it (see SECURITY.md).
    pub fn plaintext_exposed(&self) -> Vec<String> {
        let mut exposed = Vec::new();
        if !self.listen.ip().is_loopback() && self.tls_cert.is_none() {
            exposed.push(format!(
                "key `listen`: {} can be reached from other machines, and without `tls_cert` and `tls_key` every token crosses the network in the clear",
                self.listen
            ));
        }
        if self.web_port.is_some() && !self.web_address.is_loopback() {
            exposed.push(format!(
                "key `web_address`: {} can be reached from other machines, and the console has no TLS of its own (serve it on loopback behind a TLS proxy)",
                self.web_address
            ));
        }
        exposed
    }

    /// The configuration as TOML, as `voucherd --check-config` prints it.
    pub fn to_toml(&self) -> String {
        let mut shown = self.clone();
        shown.store = self.store.as_deref().map(without_password);
        toml::to_string(&shown)
            .unwrap_or_else(|error| format!("# cannot show the configuration: {error}\n"))
    }
}

/// A store URL with any password replaced, for showing the configuration.
fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rsplit_once('@') {
        Some((user_info, host)) if user_info.contains(':') => {
            let user = user_info.split(':').next().unwrap_or("");
            format!(
                "{scheme}://{user}:REDACTED@{host}{}",
                &rest[authority_end..]
            )
        }
        _ => url.to_owned(),
    }
}

/// The key's name now: its new name if it was renamed, else itself.
fn current_name(key: &str) -> &str {
    RENAMED_KEYS
        .iter()
        .find(|(old, _)| key.eq_ignore_ascii_case(old))
        .map_or(key, |(_, new)| new)
}

/// The file's text with renamed keys under their new names (noted in `used`). Text that is not
/// a TOML table is passed on as it is, for figment to refuse with its own words.
fn with_current_names(
    text: &str,
    used: &mut Vec<(&'static str, &'static str)>,
) -> Result<String, ConfigError> {
    let Ok(mut table) = text.parse::<toml::Table>() else {
        return Ok(text.to_owned());
    };
    let mut changed = false;
    for (old, new) in RENAMED_KEYS {
        let Some(value) = table.remove(*old) else {
            continue;
        };
        if table.contains_key(*new) {
            return Err(ConfigError(format!(
                "key `{old}` is the old name of `{new}`, which is set too: set it once, as `{new}`"
            )));
        }
        table.insert((*new).to_owned(), value);
        used.push((old, new));
        changed = true;
    }
    if !changed {
        return Ok(text.to_owned());
    }
    toml::to_string(&table).map_err(|error| ConfigError(format!("configuration file: {error}")))
}

/// figment's error, with the key and where the value came from.
fn describe(error: figment::Error) -> String {
    error
        .into_iter()
        .map(|error| {
            let key = error.path.join(".");
            let source = error
                .metadata
                .as_ref()
                .map(|metadata| metadata.name.to_string())
                .unwrap_or_default();
            if key.is_empty() {
                format!("{} ({source})", error.kind)
            } else {
                format!("key `{key}`: {} ({source})", error.kind)
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize, Default)]
    struct NoFlags {}

    fn load_text(text: &str) -> Result<Config, ConfigError> {
        let directory = tempfile::tempdir().expect("tempdir");
        let path = directory.path().join("voucherd.toml");
        std::fs::write(&path, text).expect("write");
        Config::load(Some(&path), NoFlags {})
    }

    #[test]
    fn a_shown_store_never_shows_its_password() {
        let config =
            load_text("store = \"postgres://voucher:s3cret@db:5432/ledger\"\n").expect("valid");
        let shown = config.to_toml();
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(
            shown.contains("postgres://voucher:REDACTED@db:5432/ledger"),
            "{shown}"
        );
        assert_eq!(
            without_password("postgres://voucher@db:5432/ledger"),
            "postgres://voucher@db:5432/ledger"
        );
    }

    #[test]
    fn the_example_file_is_the_defaults() {
        let example = include_str!("../deploy/voucherd.example.toml");
        assert_eq!(load_text(example).expect("valid"), Config::default());
    }

    #[test]
    fn a_bad_file_is_refused_naming_the_key() {
        let message = |text: &str| load_text(text).expect_err(text).0;
        assert!(message("concurrent_requests_max = 0").contains("`concurrent_requests_max`"));
        assert!(message("concurrent_requests_max = \"many\"").contains("concurrent_requests_max"));
        assert!(message("max_connections = 1\nconnections_max = 2").contains("set it once"));
        assert!(message("listen = \"nowhere\"").contains("listen"));
        assert!(message("colour = \"red\"").contains("colour"));
        assert!(message("tls_cert = \"a.pem\"").contains("`tls_key`"));
        assert!(message("tls_require_client_cert = true").contains("`tls_require_client_cert`"));
        assert!(message("log_level = \"[\"").contains("`log_level`"));
        assert!(message("today = \"2027-02-30\"").contains("today"));
    }

    #[test]
    fn a_listener_other_machines_reach_needs_tls_or_an_explicit_plaintext() {
        let refused = load_text("listen = \"0.0.0.0:50051\"").expect_err("plaintext");
        assert!(refused.0.contains("`listen`") && refused.0.contains("allow_plaintext"));
        let console = load_text("web_port = 8080\nweb_address = \"0.0.0.0\"").expect_err("console");
        assert!(console.0.contains("`web_address`"), "{}", console.0);
        let accepted =
            load_text("listen = \"0.0.0.0:50051\"\nallow_plaintext = true").expect("opted in");
        assert_eq!(accepted.plaintext_exposed().len(), 1);
        assert!(load_text("listen = \"127.0.0.1:50051\"").is_ok());
        assert!(load_text("listen = \"[::1]:50051\"").is_ok());
    }

    #[test]
    fn flags_override_the_file() {
        #[derive(Serialize)]
        struct Flags {
            queue_commands_max: usize,
        }
        let directory = tempfile::tempdir().expect("tempdir");
        let path = directory.path().join("voucherd.toml");
        std::fs::write(&path, "queue_commands_max = 10\nbatch_commands_max = 7\n").expect("write");
        let flags = Flags {
            queue_commands_max: 20,
        };
        let config = Config::load(Some(&path), flags).expect("valid");
        assert_eq!(
            (config.queue_commands_max, config.batch_commands_max),
            (20, 7)
        );
    }

    #[test]
    fn a_renamed_key_still_works_under_its_old_name_and_is_noted() {
        let config = load_text("max_connections = 12\nqueue_capacity = 34\n").expect("valid");
        assert_eq!(
            (config.connections_max, config.queue_commands_max),
            (12, 34)
        );
        assert_eq!(
            config.renamed_keys_used,
            vec![
                ("max_connections", "connections_max"),
                ("queue_capacity", "queue_commands_max")
            ]
        );
        assert!(
            load_text("connections_max = 12")
                .expect("valid")
                .renamed_keys_used
                .is_empty()
        );
    }
}
