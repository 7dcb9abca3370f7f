//! A real `tympan-serve` on a loopback port in a temporary folder, for end-to-end tests.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// FSDD recordings.
pub fn fsdd_dir() -> PathBuf {
    tympan_testkit::fsdd::recordings()
}

/// Bytes of an FSDD file.
pub fn clip(name: &str) -> Vec<u8> {
    std::fs::read(fsdd_dir().join(name)).unwrap()
}

/// Embeds FSDD and trains a first model in `dir` (its `data/` and `artifacts/`), as
/// `tympan bootstrap` does before a first `tympan-serve`.
pub fn bootstrap(dir: &Path) {
    let plan = tympan_embed::bootstrap::BootstrapPlan {
        dataset: Some(fsdd_dir()),
        ref_path: dir.join("data/ref_data.csv"),
        artifacts: dir.join("artifacts"),
        limits: Default::default(),
    };
    tympan_embed::bootstrap::ensure_model(&plan).unwrap();
}

/// A free loopback port.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running server; killed on drop.
pub struct TestServer {
    pub dir: tempfile::TempDir,
    pub port: u16,
    child: Option<Child>,
    env: Vec<(String, String)>,
    /// Run with `--log-format json` and the log in [`TestServer::LOG`] instead of the test's
    /// stderr.
    json_log: bool,
}

impl TestServer {
    /// The JSON log's file name in the server's folder.
    pub const LOG: &'static str = "serve.log";

    /// Starts a server on a fresh folder (FSDD embedded and a first model trained) with extra
    /// env.
    pub fn start(env: &[(&str, &str)]) -> Self {
        Self::start_with(env, false, true)
    }

    /// [`TestServer::start`] with `--log-format json`, the log kept in [`TestServer::LOG`].
    pub fn start_json_logged(env: &[(&str, &str)]) -> Self {
        Self::start_with(env, true, true)
    }

    /// A server on an empty folder, JSON-logged: its deployment is elsewhere (a database named
    /// in `env`).
    pub fn start_replica(env: &[(&str, &str)]) -> Self {
        Self::start_with(env, true, false)
    }

    fn start_with(env: &[(&str, &str)], json_log: bool, bootstrapped: bool) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut s = Self {
            dir,
            port: 0,
            child: None,
            env,
            json_log,
        };
        if bootstrapped {
            bootstrap(s.dir.path());
        }
        s.launch();
        s
    }

    /// (Re)starts the process in the same folder on a new port.
    pub fn launch(&mut self) {
        self.port = free_port();
        let mut command = Command::new(env!("CARGO_BIN_EXE_tympan-serve"));
        if self.json_log {
            let log = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.path(Self::LOG))
                .unwrap();
            command.args(["--log-format", "json"]).stderr(log);
        } else {
            command.stderr(Stdio::inherit());
        }
        let child = command
            .current_dir(self.dir.path())
            .env("TYMPAN_ADDRESS", "127.0.0.1")
            .env("TYMPAN_PORT", self.port.to_string())
            .env("TYMPAN_RETRAIN_EVERY", "0")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(120);
        while Instant::now() < deadline {
            if ureq::get(&self.url("/ready")).call().is_ok() {
                return;
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("tympan-serve exited early: {status}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("tympan-serve did not become ready");
    }

    /// Sets (or with `None` removes) an extra environment variable for the next
    /// [`TestServer::launch`].
    pub fn set_env(&mut self, key: &str, value: Option<&str>) {
        self.env.retain(|(k, _)| k != key);
        if let Some(v) = value {
            self.env.push((key.to_string(), v.to_string()));
        }
    }

    /// Sends SIGTERM and waits; returns the exit code.
    pub fn terminate(&mut self) -> Option<i32> {
        let mut child = self.child.take()?;
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        child.wait().unwrap().code()
    }

    /// SIGKILL: the process dies wherever it is, as in a power cut of the process.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Sum of the `/metrics` samples whose line starts with `prefix` (a name, or a name with
    /// labels).
    pub fn metric(&self, prefix: &str) -> f64 {
        ureq::get(&self.url("/metrics"))
            .call()
            .unwrap()
            .into_string()
            .unwrap()
            .lines()
            .filter(|l| l.starts_with(prefix))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    /// Every line of the JSON log, parsed (panics on a line that is not a JSON object).
    pub fn log_lines(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.path(Self::LOG))
            .unwrap()
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {l}"));
                assert!(v.is_object(), "{l}");
                v
            })
            .collect()
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("the server runs").id()
    }

    /// The server's peak resident memory so far (`VmHWM`), in MB.
    pub fn peak_rss_mb(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        let kb: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .expect("VmHWM in /proc/PID/status");
        kb / 1024.0
    }

    /// Current model version.
    pub fn version(&self) -> String {
        let v: serde_json::Value = ureq::get(&self.url("/model"))
            .call()
            .unwrap()
            .into_json()
            .unwrap();
        v["version"].as_str().unwrap().to_string()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Starts a retraining with the admin `token` and waits (up to 2 minutes) for its job to
/// finish; the finished job (`state`, `outcome`...).
pub fn retrain_and_wait(server: &TestServer, token: &str) -> serde_json::Value {
    let (location, _) = start_retrain(server, token);
    wait_for_job(server, &location, token)
}

/// Starts a retraining with the admin `token`; its job's location and first state.
pub fn start_retrain(server: &TestServer, token: &str) -> (String, serde_json::Value) {
    let resp = ureq::post(&server.url("/admin/retrain"))
        .set("Authorization", &format!("Bearer {token}"))
        .call()
        .unwrap();
    assert_eq!(resp.status(), 202);
    let location = resp.header("Location").unwrap().to_string();
    (location, resp.into_json().unwrap())
}

/// The job at `location`, as the admin `token` sees it.
pub fn job(server: &TestServer, location: &str, token: &str) -> serde_json::Value {
    ureq::get(&server.url(location))
        .set("Authorization", &format!("Bearer {token}"))
        .call()
        .unwrap()
        .into_json()
        .unwrap()
}

/// Polls the job at `location` until it has finished (up to 2 minutes); the finished job.
pub fn wait_for_job(server: &TestServer, location: &str, token: &str) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let job = job(server, location, token);
        if !matches!(job["state"].as_str(), Some("queued" | "running")) {
            return job;
        }
        assert!(
            Instant::now() < deadline,
            "the retraining never finished: {job}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A multipart/form-data body with a `file` field and text fields.
pub fn multipart(file: &[u8], fields: &[(&str, &str)]) -> (String, Vec<u8>) {
    let boundary = "tympantestboundary7d1f";
    let mut body = Vec::new();
    for (k, v) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"clip.wav\"\r\nContent-Type: audio/wav\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// POSTs and returns (status, JSON body), whatever the status.
pub fn post(url: &str, content_type: &str, body: &[u8]) -> (u16, serde_json::Value) {
    let result = ureq::post(url)
        .set("Content-Type", content_type)
        .send_bytes(body);
    let resp = match result {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{url}: {e}"),
    };
    let status = resp.status();
    let json = resp.into_json().unwrap_or(serde_json::Value::Null);
    (status, json)
}

/// Data rows of a CSV file (header excluded).
pub fn csv_rows(path: &Path) -> Vec<csv::StringRecord> {
    let mut r = csv::Reader::from_path(path).unwrap();
    r.records().map(|r| r.unwrap()).collect()
}
