//! The device's configuration file (TOML): who it is, what it runs, where it looks.
//!
//! ```toml
//! [device]
//! id = "auto"                  # or an explicit id; "auto": the primary interface's MAC,
//!                              # else /etc/machine-id
//! platform = "armv7"
//! channel = "stable"
//! groups = ["lab"]
//! identity = "/var/lib/updater/identity.txt"  # decrypts encrypted artifacts; default:
//!                              # beside [paths] metadata; `updater keygen` makes it
//!
//! [repository]
//! metadata = ["https://updates.example.com/metadata", "/mnt/usb/repo/metadata"]
//! targets = ["https://updates.example.com/targets", "/mnt/usb/repo/targets"]
//! ca_file = "/etc/updater/intranet-ca.pem"    # optional
//! client_cert = "/etc/updater/device.pem"     # optional, for mirrors that ask for one
//! client_key = "/etc/updater/device-key.pem"  #   (mutual TLS); both or neither
//!
//! [paths]
//! metadata = "/var/lib/updater/metadata"
//! downloads = "/var/lib/updater/downloads"
//! install = "/opt/app"        # holds releases/<release>/ and the `current` link
//!
//! [install]                    # optional
//! health_check = ["/opt/app/current/bin/health"]
//! post_rollback = ["logger", "-t", "updater", "rolled back"]
//! installer = ["/usr/sbin/flash-image"]   # given each `file` artifact's path
//! timeout = "5m"
//!
//! [report]                     # optional; without it the device records no reports
//! urls = ["https://fleet.example.com/reports"]   # posted in order after each check
//! key = "/var/lib/updater/device.key"            # default: beside [paths] metadata
//! outbox = "/var/lib/updater/outbox"             # default: beside [paths] metadata
//! max_events = 2000                              # oldest dropped (and counted) past it
//! max_bytes = 8388608                            # disk the waiting events take (blocks)
//! client_cert = "/etc/updater/client.pem"        # if the collector asks for one
//! client_key = "/etc/updater/client.key"
//! ```

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::rollout::policy::Release;

/// The whole file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub device: DeviceConfig,
    pub repository: RepositoryConfig,
    pub paths: PathsConfig,
    #[serde(default)]
    pub install: InstallConfig,
    /// `[report]`: absent, the device records and sends no reports.
    pub report: Option<ReportConfig>,
}

/// Whether reports may go to `url`: https, or plain http to this machine only.
fn report_url_allowed(url: &str) -> bool {
    if url.starts_with("https://") {
        return true;
    }
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host.split(':').next().unwrap_or_default(),
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// `[report]`: where the device's signed reports go and where they wait.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportConfig {
    /// Collectors, tried in order; none: reports wait for `updater report --export`.
    #[serde(default)]
    pub urls: Vec<String>,
    /// The device's private key (default: `device.key` beside the metadata folder).
    pub key: Option<PathBuf>,
    /// The outbox folder (default: `outbox` beside the metadata folder).
    pub outbox: Option<PathBuf>,
    /// Most events kept waiting; past it the oldest are dropped (and counted).
    #[serde(default = "default_max_events")]
    pub max_events: usize,
    /// Most disk the waiting events take, counted in allocated blocks; past it the oldest
    /// are dropped (and counted).
    #[serde(default = "default_max_bytes")]
    pub max_bytes: u64,
    /// A client certificate chain (PEM, leaf first) and its key, for collectors that ask
    /// for one (`fleet serve --client-ca`); both or neither.
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
}

fn default_max_events() -> usize {
    2_000
}

/// 8 MiB: 2,048 events of one 4 KiB block each (a typical event is a few hundred bytes).
fn default_max_bytes() -> u64 {
    8 * 1024 * 1024
}

/// `[install]`: commands run around an install (each an argv list), and their time limit.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstallConfig {
    /// Run after the switch, in the install folder; failure or timeout rolls back.
    pub health_check: Option<Vec<String>>,
    /// Run after a rollback, with UPDATER_FAILED_RELEASE set.
    pub post_rollback: Option<Vec<String>>,
    /// Given each verified `file` artifact's path, for payloads that are not folders.
    pub installer: Option<Vec<String>>,
    /// Longest time a hook or a release's script may run.
    #[serde(default = "default_timeout")]
    pub timeout: crate::rollout::period::Period,
}

impl Default for InstallConfig {
    fn default() -> Self {
        InstallConfig {
            health_check: None,
            post_rollback: None,
            installer: None,
            timeout: default_timeout(),
        }
    }
}

fn default_timeout() -> crate::rollout::period::Period {
    crate::rollout::period::Period::minutes(5)
}

/// `[device]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceConfig {
    #[serde(default = "auto")]
    pub id: String,
    pub platform: String,
    pub channel: String,
    #[serde(default)]
    pub groups: BTreeSet<String>,
    /// The device's decryption identity, an age identity file (`updater keygen` makes it;
    /// default: `identity.txt` beside the metadata folder).
    pub identity: Option<PathBuf>,
}

fn auto() -> String {
    "auto".into()
}

/// `[repository]`: mirrors in order of preference.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepositoryConfig {
    pub metadata: Vec<String>,
    pub targets: Vec<String>,
    pub ca_file: Option<PathBuf>,
    /// A client certificate chain (PEM, leaf first) and its key, presented to HTTPS
    /// mirrors that ask for one (nginx's `ssl_verify_client on`); both or neither.
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
}

/// `[paths]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathsConfig {
    pub metadata: PathBuf,
    pub downloads: PathBuf,
    pub install: PathBuf,
}

impl Config {
    /// Reads and checks `path`.
    pub fn load(path: &Path) -> Result<Self, String> {
        let bytes = crate::fs::read_bounded(path, crate::limits::MAX_CONFIG_BYTES)
            .map_err(|e| e.to_string())?;
        let text = std::str::from_utf8(&bytes)
            .map_err(|e| format!("{}: not UTF-8: {e}", path.display()))?;
        let mut config: Config =
            toml::from_str(text).map_err(|e| format!("{}: {e}", path.display()))?;
        // Groups are compared with the policy's `<early group>` in one form on both sides.
        config.device.groups = config
            .device
            .groups
            .iter()
            .map(|g| crate::conventions::matching_form(g))
            .collect();
        if config.repository.metadata.is_empty() || config.repository.targets.is_empty() {
            return Err(format!(
                "{}: [repository] needs at least one metadata and one targets mirror",
                path.display()
            ));
        }
        let repository = &config.repository;
        if repository.client_cert.is_some() != repository.client_key.is_some() {
            return Err(format!(
                "{}: [repository] client_cert and client_key go together",
                path.display()
            ));
        }
        if let Some(report) = &config.report {
            if report.client_cert.is_some() != report.client_key.is_some() {
                return Err(format!(
                    "{}: [report] client_cert and client_key go together",
                    path.display()
                ));
            }
        }
        let urls = config.report.iter().flat_map(|r| &r.urls);
        if let Some(url) = urls.into_iter().find(|u| !report_url_allowed(u)) {
            return Err(format!(
                "{}: [report] url {}: reports go over https (plain http only to this \
                 machine: 127.0.0.1, [::1], localhost): a collector's answer decides which \
                 events leave the outbox, and they name the device",
                path.display(),
                crate::report::send::without_userinfo(url)
            ));
        }
        Ok(config)
    }

    /// The device id: as configured (in its matching form, the one a policy's `<early
    /// device>` is read in), or found on this machine for "auto".
    pub fn device_id(&self) -> Result<String, String> {
        let id = self.device.id.trim();
        if id.is_empty() {
            return Err("[device] id is empty".into());
        }
        if id != "auto" {
            return Ok(crate::conventions::matching_form(id));
        }
        primary_mac(Path::new("/sys/class/net"))
            .or_else(|| machine_id(Path::new("/etc/machine-id")))
            .ok_or_else(|| {
                "[device] id = \"auto\" found no network interface MAC and no /etc/machine-id; set an id"
                    .into()
            })
    }

    /// `[report]` as configured, or its defaults when the section is absent.
    pub fn report(&self) -> ReportConfig {
        self.report.clone().unwrap_or(ReportConfig {
            max_events: default_max_events(),
            max_bytes: default_max_bytes(),
            ..ReportConfig::default()
        })
    }

    /// What the outbox keeps, as `[report]` bounds it.
    pub fn report_bounds(&self) -> crate::report::Bounds {
        let report = self.report();
        crate::report::Bounds {
            max_events: report.max_events,
            max_bytes: report.max_bytes,
        }
    }

    /// The device key's file: `[report] key`, else `device.key` beside the metadata folder.
    pub fn report_key_path(&self) -> PathBuf {
        self.report()
            .key
            .unwrap_or_else(|| self.beside_metadata("device.key"))
    }

    /// The decryption identity's file: `[device] identity`, else `identity.txt` beside the
    /// metadata folder.
    pub fn identity_path(&self) -> PathBuf {
        self.device
            .identity
            .clone()
            .unwrap_or_else(|| self.beside_metadata("identity.txt"))
    }

    /// The outbox folder: `[report] outbox`, else `outbox` beside the metadata folder.
    pub fn report_outbox_path(&self) -> PathBuf {
        self.report()
            .outbox
            .unwrap_or_else(|| self.beside_metadata("outbox"))
    }

    /// `name` in the folder that holds the metadata folder (the device's state folder).
    fn beside_metadata(&self, name: &str) -> PathBuf {
        match self.paths.metadata.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.join(name),
            _ => PathBuf::from(name),
        }
    }

    /// The release the device runs: the folder `install/current` points to, if any.
    pub fn running_release(&self) -> Result<Option<Release>, String> {
        let link = self.paths.install.join("current");
        match std::fs::read_link(&link) {
            Ok(target) => {
                let name = target
                    .file_name()
                    .and_then(|n| n.to_str())
                    .ok_or_else(|| format!("{} points nowhere usable", link.display()))?;
                Release::new(name)
                    .map(Some)
                    .map_err(|e| format!("{}: {e}", link.display()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("{}: {e}", link.display())),
        }
    }
}

/// The MAC of the first interface (by name) that is not loopback and has a non-zero address.
fn primary_mac(net: &Path) -> Option<String> {
    let mut names: Vec<_> = std::fs::read_dir(net)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.file_name()))
        .collect();
    names.sort();
    names.into_iter().find_map(|name| {
        if name == "lo" {
            return None;
        }
        let mac = std::fs::read_to_string(net.join(&name).join("address")).ok()?;
        let mac = mac.trim().to_ascii_lowercase();
        let valid = mac.len() == 17 && mac != "00:00:00:00:00:00";
        valid.then_some(mac)
    })
}

fn machine_id(path: &Path) -> Option<String> {
    let id = std::fs::read_to_string(path).ok()?;
    let id = id.trim().to_ascii_lowercase();
    (!id.is_empty()).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_of_the_first_real_interface() {
        let dir = tempfile::tempdir().unwrap();
        for (name, mac) in [
            ("lo", "00:00:00:00:00:00"),
            ("eth0", "AA:BB:CC:DD:EE:FF"),
            ("wlan0", "11:22:33:44:55:66"),
        ] {
            std::fs::create_dir(dir.path().join(name)).unwrap();
            std::fs::write(dir.path().join(name).join("address"), format!("{mac}\n")).unwrap();
        }
        assert_eq!(
            primary_mac(dir.path()).as_deref(),
            Some("aa:bb:cc:dd:ee:ff")
        );
    }

    #[test]
    fn unknown_keys_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("updater.toml");
        let good = "[device]\nid = \"X1\"\nplatform = \"armv7\"\nchannel = \"stable\"\n[repository]\nmetadata = [\"m\"]\ntargets = [\"t\"]\n[paths]\nmetadata = \"a\"\ndownloads = \"b\"\ninstall = \"c\"\n";
        std::fs::write(&path, good).unwrap();
        let config = Config::load(&path).unwrap();
        assert_eq!(config.device_id().unwrap(), "x1");
        std::fs::write(&path, good.replace("channel", "chanel")).unwrap();
        assert!(Config::load(&path).unwrap_err().contains("chanel"));
        std::fs::write(&path, format!("{good}[report]\nmax_event = 5\n")).unwrap();
        assert!(Config::load(&path).unwrap_err().contains("max_event"));
    }

    #[test]
    fn reports_go_over_https_or_to_this_machine() {
        for ok in [
            "https://fleet.example.com/reports",
            "http://127.0.0.1:8080/reports",
            "http://localhost/r",
            "http://[::1]:9/r",
        ] {
            assert!(report_url_allowed(ok), "{ok}");
        }
        for refused in [
            "http://fleet.example.com/reports",
            "http://127.0.0.1.example.com/r",
            "http://localhost.example.com/r",
            "http://10.0.0.1/r",
            "ftp://127.0.0.1/r",
            "http://user@evil.example/r",
        ] {
            assert!(!report_url_allowed(refused), "{refused}");
        }
    }

    #[test]
    fn report_files_default_beside_the_metadata() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("updater.toml");
        let text = "[device]\nplatform = \"armv7\"\nchannel = \"stable\"\n[repository]\nmetadata = [\"m\"]\ntargets = [\"t\"]\n[paths]\nmetadata = \"/var/lib/updater/metadata\"\ndownloads = \"b\"\ninstall = \"c\"\n[report]\n";
        std::fs::write(&path, text).unwrap();
        let config = Config::load(&path).unwrap();
        assert_eq!(
            config.report_key_path(),
            Path::new("/var/lib/updater/device.key")
        );
        assert_eq!(
            config.report_outbox_path(),
            Path::new("/var/lib/updater/outbox")
        );
        assert_eq!(config.report().max_events, 2_000);
        assert_eq!(config.report().max_bytes, 8 * 1024 * 1024);
        assert!(config.report().urls.is_empty());
    }

    #[test]
    fn a_client_certificate_needs_its_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("device.toml");
        let base = "[device]\nplatform = \"armv7\"\nchannel = \"stable\"\n[repository]\nmetadata = [\"m\"]\ntargets = [\"t\"]\n[paths]\nmetadata = \"a\"\ndownloads = \"b\"\ninstall = \"c\"\n[report]\n";
        std::fs::write(&path, format!("{base}client_cert = \"c.pem\"\n")).unwrap();
        let refused = Config::load(&path).unwrap_err();
        assert!(
            refused.ends_with("[report] client_cert and client_key go together"),
            "{refused}"
        );
        let both = format!("{base}client_cert = \"c.pem\"\nclient_key = \"c.key\"\n");
        std::fs::write(&path, both).unwrap();
        let report = Config::load(&path).unwrap().report();
        assert_eq!(report.client_key.as_deref(), Some(Path::new("c.key")));
    }

    #[test]
    fn a_mirror_client_certificate_needs_its_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("device.toml");
        let head = "[device]\nplatform = \"armv7\"\nchannel = \"stable\"\n[repository]\nmetadata = [\"m\"]\ntargets = [\"t\"]\n";
        let tail = "[paths]\nmetadata = \"a\"\ndownloads = \"b\"\ninstall = \"c\"\n";
        for half in ["client_cert = \"d.pem\"\n", "client_key = \"d.key\"\n"] {
            std::fs::write(&path, format!("{head}{half}{tail}")).unwrap();
            let refused = Config::load(&path).unwrap_err();
            assert_eq!(
                refused,
                format!(
                    "{}: [repository] client_cert and client_key go together",
                    path.display()
                )
            );
        }
        let both = "client_cert = \"d.pem\"\nclient_key = \"d.key\"\n";
        std::fs::write(&path, format!("{head}{both}{tail}")).unwrap();
        let repository = Config::load(&path).unwrap().repository;
        assert_eq!(repository.client_cert.as_deref(), Some(Path::new("d.pem")));
        assert_eq!(repository.client_key.as_deref(), Some(Path::new("d.key")));
    }
}
