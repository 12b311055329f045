//! Debian's real nginx on 127.0.0.1, serving one folder over HTTPS, with or without asking
//! for client certificates (`ssl_verify_client on`). It runs as the test's user, in the
//! foreground as one process (`daemon off; master_process off;`), with its own prefix,
//! config, pid, logs and temporary folders in a temporary folder, and is killed on drop.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// The nginx binary: on `PATH`, else where Debian puts it. Panics (never skips) without one.
fn nginx_binary() -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("nginx"))
        .find(|p| p.is_file());
    let found = on_path.or_else(|| Some(PathBuf::from("/usr/sbin/nginx")).filter(|p| p.is_file()));
    found.expect("nginx is not installed: run scripts/install-deps.sh (Debian's nginx package)")
}

/// A free port of 127.0.0.1 (free when asked; nginx takes it right after).
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local address").port()
}

/// Who nginx asks for a client certificate.
pub enum ClientAuth<'a> {
    /// Nobody: a plain HTTPS mirror.
    None,
    /// Every client, verified against this CA file (`ssl_verify_client on`).
    Required(&'a Path),
}

/// nginx serving a folder over HTTPS on 127.0.0.1, stopped on drop.
pub struct Nginx {
    child: Child,
    pub port: u16,
    /// Its prefix: config, pid, logs, temporary folders.
    dir: TempDir,
}

impl Nginx {
    /// Serves `root` over HTTPS with `cert` and `key` (PEM), asking clients as `auth` says.
    pub fn start_https(root: &Path, cert: &Path, key: &Path, auth: ClientAuth) -> Nginx {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let client_auth = match auth {
            ClientAuth::None => String::new(),
            ClientAuth::Required(ca) => format!(
                "ssl_verify_client on;\n    ssl_client_certificate {};\n",
                ca.display()
            ),
        };
        let prefix = dir.path().display();
        let temp: String = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]
            .iter()
            .map(|t| format!("  {t}_temp_path {prefix}/{t};\n"))
            .collect();
        let conf = format!(
            "daemon off;\nmaster_process off;\nworker_processes 1;\npid {prefix}/nginx.pid;\n\
             error_log {prefix}/error.log info;\nevents {{ worker_connections 64; }}\n\
             http {{\n  access_log {prefix}/access.log;\n{temp}  default_type application/octet-stream;\n\
             \x20 server {{\n    listen 127.0.0.1:{port} ssl;\n    ssl_certificate {};\n    \
             ssl_certificate_key {};\n    {client_auth}    root {};\n  }}\n}}\n",
            cert.display(),
            key.display(),
            root.display()
        );
        let conf_path = dir.path().join("nginx.conf");
        std::fs::write(&conf_path, conf).expect("write nginx.conf");
        let child = Command::new(nginx_binary())
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&conf_path)
            .arg("-e")
            .arg(dir.path().join("error.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nginx");
        let mut nginx = Nginx { child, port, dir };
        nginx.wait_for_port();
        nginx
    }

    /// Bounded wait until nginx accepts connections; panics with its error log if it exits
    /// or does not listen within 10 s.
    fn wait_for_port(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            let exited = self.child.try_wait().expect("nginx status");
            if exited.is_some() || Instant::now() >= deadline {
                let log = std::fs::read_to_string(self.dir.path().join("error.log"));
                panic!("nginx did not start ({exited:?}): {log:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `https://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// nginx's error log so far (why it refused a client, at level info).
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
