//! The web page in a real browser: headless Chromium driven over WebDriver (chromedriver),
//! against a real `tympan-serve` serving a model trained on FSDD just before.
//!
//! Needs `chromium` and `chromedriver` on the PATH (Debian: `apt-get install chromium
//! chromium-driver`); `TYMPAN_CHROMIUM` / `TYMPAN_CHROMEDRIVER` name other binaries. Without
//! them the test fails, unless `TYMPAN_SKIP_BROWSER=1`, which skips it with a visible message.
//! FSDD is found through `TYMPAN_FSDD`, `<repo>/../shared/datasets/fsdd/recordings` or
//! `<repo>/datasets/fsdd/recordings`.
//!
//! One server, one chromedriver and two browser sessions (the second with a fake microphone),
//! run one after the other, all within [`BUDGET`]. Screenshots go to `target/browser/`.

use std::fs;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, ensure, Context, Result};
use serde_json::Value;
use thirtyfour::error::WebDriverErrorInner;
use thirtyfour::prelude::*;

/// The whole test, from server start to the last browser quit.
const BUDGET: Duration = Duration::from_secs(60);
/// Longest wait for one thing on the page.
const STEP: Duration = Duration::from_secs(10);

/// FSDD clips for the upload test, one per speaker and a spread of digits; most must come back
/// with their own digit.
const CLIPS: [&str; 6] = [
    "0_george_5.wav",
    "3_jackson_12.wav",
    "7_nicolas_20.wav",
    "5_theo_33.wav",
    "9_yweweler_41.wav",
    "2_lucas_8.wav",
];

/// The flags every browser session gets.
const CHROMIUM_FLAGS: [&str; 8] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1024,1400",
];

/// Labels that would run script if the page ever put them into HTML.
const HOSTILE_LABELS: [&str; 2] = ["<script>alert(1)</script>", "<img src=x onerror=alert(2)>"];

#[tokio::test(flavor = "current_thread")]
async fn page_in_a_real_browser() {
    if std::env::var("TYMPAN_SKIP_BROWSER").as_deref() == Ok("1") {
        eprintln!("\n*** SKIPPED browser test: TYMPAN_SKIP_BROWSER=1 ***\n");
        return;
    }
    let tools = match Tools::find() {
        Ok(t) => t,
        Err(e) => panic!(
            "{e:#}\nThe browser test needs Chromium and chromedriver (Debian: `apt-get install -y \
             chromium chromium-driver`); set TYMPAN_SKIP_BROWSER=1 to skip it."
        ),
    };
    let start = Instant::now();
    match tokio::time::timeout(BUDGET, run(&tools)).await {
        Ok(Ok(())) => eprintln!("browser test took {:.1} s", start.elapsed().as_secs_f64()),
        Ok(Err(e)) => panic!("browser test failed: {e:#}"),
        Err(_) => panic!("browser test exceeded its budget of {BUDGET:?}"),
    }
}

async fn run(tools: &Tools) -> Result<()> {
    let server = &Server::start(&tools.fsdd)?;
    let driver = Chromedriver::start(&tools.chromedriver)?;
    let shots = &screenshot_dir()?;

    // Session 1: upload, predict, feedback, hostile labels, API error.
    let profile = tempfile::tempdir()?;
    let browser = driver.session(&tools.chromium, profile.path(), &[]).await?;
    let correct = browser
        .run_and_quit(|b| async move {
            let correct = upload_predict_feedback(&b, server, &tools.fsdd, shots).await?;
            hostile_labels(&b, server).await?;
            api_error_shown(&b, server, shots).await?;
            Ok::<_, anyhow::Error>(correct)
        })
        .await
        .map_err(|e| anyhow!("{e:#}"))?;

    // Session 2: the microphone, fed a real FSDD clip the model got right above.
    let clip = correct.first().context("no clip predicted correctly")?;
    let fake = tempfile::tempdir()?;
    let wav = fake.path().join("mic.wav");
    fs::write(
        &wav,
        fake_microphone_wav(&fs::read(tools.fsdd.join(clip))?)?,
    )?;
    let flags = [
        "--use-fake-ui-for-media-stream".to_string(),
        "--use-fake-device-for-media-stream".to_string(),
        // %noloop: the clip plays once, then silence (a loop would put several digits in one
        // recording).
        format!("--use-file-for-fake-audio-capture={}%noloop", wav.display()),
    ];
    let profile = tempfile::tempdir()?;
    let browser = driver
        .session(&tools.chromium, profile.path(), &flags)
        .await?;
    browser
        .run_and_quit(|b| async move { microphone(&b, server, clip).await })
        .await
        .map_err(|e| anyhow!("{e:#}"))?;
    Ok(())
}

/// Test 1: real FSDD files through the file input, Predict, screenshots, then Feedback.
/// Returns the clips predicted correctly.
async fn upload_predict_feedback(
    b: &WebDriver,
    server: &Server,
    fsdd: &Path,
    shots: &Path,
) -> Result<Vec<&'static str>> {
    b.goto(server.url("/")).await?;
    ensure!(b.title().await? == "Tympan", "page title");
    let classes = js(b, "document.querySelectorAll('#classes option').length").await?;
    ensure!(
        classes == 10,
        "datalist has {classes} classes, not the 10 digits"
    );

    let mut correct = Vec::new();
    let mut last_digit = "";
    for clip in CLIPS {
        let digit = &clip[..1];
        let label = predict_file(b, &fsdd.join(clip)).await?;
        let bars = js(b, "document.querySelectorAll('#bars .bar').length").await?;
        ensure!(bars == 10, "{clip}: {bars} probability bars, not 10");
        let top = js(b, "document.querySelector('#bars .bar.top .l').textContent").await?;
        ensure!(
            top == label.as_str(),
            "{clip}: highlighted bar {top}, label {label}"
        );
        eprintln!("browser: {clip} -> {label}");
        if label == digit {
            correct.push(clip);
        }
        last_digit = digit;
    }
    ensure!(
        correct.len() + 1 >= CLIPS.len(),
        "only {} of {} clips predicted right: {correct:?}",
        correct.len(),
        CLIPS.len()
    );

    b.screenshot(&shots.join("predict.png")).await?;
    b.set_window_rect(0, 0, 390, 1400).await?;
    let wide = js(b, "document.documentElement.scrollWidth").await?;
    ensure!(
        wide.as_u64() <= Some(390),
        "page is {wide} px wide on a 390 px phone"
    );
    b.screenshot(&shots.join("predict-mobile.png")).await?;
    b.set_window_rect(0, 0, 1024, 1400).await?;

    // Feedback with the true label of the clip on the page: by the prediction's id.
    let id = js(b, "lastPredictionId").await?;
    let id = id
        .as_str()
        .context("no prediction id on the page")?
        .to_string();
    let before = server.prod_targets()?;
    let confirm = send_feedback(b, last_digit).await?;
    let keys = fs::read_to_string(server.dir.path().join("data/prod_data.keys.csv"))?;
    ensure!(
        keys.lines().last() == Some(format!("{id},{}", before.len() + 1).as_str()),
        "the feedback was not stored under the prediction's id {id}: {keys}"
    );
    let after = server.prod_targets()?;
    ensure!(
        after.len() == before.len() + 1,
        "prod_data.csv went from {} to {} rows",
        before.len(),
        after.len()
    );
    ensure!(
        after.last().map(String::as_str) == Some(last_digit),
        "stored {after:?}"
    );
    ensure!(
        confirm.contains(&format!("{} feedback rows", after.len())),
        "confirmation {confirm:?}"
    );
    ensure!(
        text(b, "rows").await? == after.len().to_string(),
        "#rows not updated"
    );
    Ok(correct)
}

/// Test 3: labels made of markup are stored and echoed as text, never run.
async fn hostile_labels(b: &WebDriver, server: &Server) -> Result<()> {
    let before = server.prod_targets()?;
    for label in HOSTILE_LABELS {
        let confirm = send_feedback(b, label).await?;
        // Give an injected <img onerror> time to fail loading and fire.
        tokio::time::sleep(Duration::from_millis(500)).await;
        no_alert(b).await?;
        ensure!(
            confirm.contains(label),
            "label not echoed literally: {confirm:?}"
        );
        let elements = js(
            b,
            "document.querySelectorAll('#confirm *, #error *').length",
        )
        .await?;
        ensure!(elements == 0, "markup became elements in the messages");
    }
    let after = server.prod_targets()?;
    ensure!(
        after[before.len()..] == HOSTILE_LABELS,
        "stored targets {:?}",
        &after[before.len()..]
    );

    // After a reload the server-rendered page is intact and counts the rows.
    b.refresh().await?;
    wait_js(b, "document.readyState === 'complete'", "reload").await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    no_alert(b).await?;
    ensure!(
        text(b, "rows").await? == after.len().to_string(),
        "#rows after reload"
    );
    ensure!(
        js(b, "document.scripts.length").await? == 1,
        "a script element appeared"
    );

    // Defence in depth: the page's Content-Security-Policy blocks inline handlers, so even
    // markup that got into the DOM (here put there on purpose) runs nothing.
    js(
        b,
        "document.body.insertAdjacentHTML('beforeend', \
         '<img src=\"/nothing-here\" onerror=\"window.injected = 1\">')",
    )
    .await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    ensure!(
        js(b, "window.injected === undefined").await? == true,
        "an injected inline handler ran: the Content-Security-Policy is missing"
    );
    Ok(())
}

/// Test 4: an API error (a text file sent as audio) is shown as a message with its status.
async fn api_error_shown(b: &WebDriver, server: &Server, shots: &Path) -> Result<()> {
    let bogus = server.dir.path().join("notes.txt");
    fs::write(&bogus, "not audio at all\n")?;
    b.find(By::Id("file"))
        .await?
        .send_keys(path_str(&bogus)?)
        .await?;
    wait_js(
        b,
        "!document.getElementById('predict').disabled",
        "Predict enabled",
    )
    .await?;
    b.find(By::Id("predict")).await?.click().await?;
    let error = wait_js(b, "document.getElementById('error').textContent", "#error").await?;
    let error = error.as_str().unwrap_or_default();
    ensure!(
        error.contains("422") && error.contains("unsupported_audio"),
        "#error says {error:?}"
    );
    ensure!(
        js(b, "document.getElementById('result').hidden").await? == true,
        "a stale prediction is still shown next to the error"
    );
    // The message must be in view on a phone, where #error is far below the Predict button.
    b.set_window_rect(0, 0, 390, 800).await?;
    let visible = "(() => { const r = document.getElementById('error').getBoundingClientRect(); \
                   return r.height > 0 && r.bottom <= window.innerHeight; })()";
    ensure!(
        js(b, visible).await? == true,
        "#error is out of view on a phone"
    );
    b.screenshot(&shots.join("error-mobile.png")).await?;
    b.set_window_rect(0, 0, 1024, 1400).await?;
    Ok(())
}

/// Test 2: Record with Chromium's fake microphone playing a real FSDD clip, Stop, Predict.
async fn microphone(b: &WebDriver, server: &Server, clip: &str) -> Result<()> {
    b.goto(server.url("/")).await?;
    b.find(By::Id("record")).await?.click().await?;
    wait_js(
        b,
        "document.getElementById('recstate').textContent.includes('recording') \
         || document.getElementById('error').textContent",
        "recording to start",
    )
    .await?;
    let error = text(b, "error").await?;
    ensure!(error.is_empty(), "recording failed: {error}");
    // The fake file is 0.3 s of silence, the clip (< 1 s), then silence.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    b.find(By::Id("record")).await?.click().await?;
    wait_js(
        b,
        "document.getElementById('recstate').textContent.includes('recorded')",
        "recording to stop",
    )
    .await?;
    b.find(By::Id("predict")).await?.click().await?;
    let label = wait_label(b).await?;
    let bars = js(b, "document.querySelectorAll('#bars .bar').length").await?;
    ensure!(bars == 10, "{bars} probability bars, not 10");
    let seconds = js(b, "document.getElementById('player').duration").await?;
    eprintln!("browser: microphone {clip} -> {label} ({seconds} s recorded)");
    let seconds = seconds.as_f64().unwrap_or_default();
    ensure!(
        (1.0..4.0).contains(&seconds),
        "recorded {seconds} s for a 1.5 s recording"
    );
    ensure!(
        label == clip[..1],
        "the microphone recording of {clip} was predicted {label}"
    );
    Ok(())
}

// ---------------------------------------------------------------- page helpers

async fn predict_file(b: &WebDriver, file: &Path) -> Result<String> {
    b.find(By::Id("file"))
        .await?
        .send_keys(path_str(file)?)
        .await?;
    wait_js(
        b,
        "!document.getElementById('predict').disabled",
        "Predict enabled",
    )
    .await?;
    b.find(By::Id("predict")).await?.click().await?;
    wait_label(b)
        .await
        .with_context(|| format!("predicting {}", file.display()))
}

/// Waits for the prediction of the current clip; an error message fails at once.
async fn wait_label(b: &WebDriver) -> Result<String> {
    let v = wait_js(
        b,
        "(document.getElementById('error').textContent && \
           'ERROR ' + document.getElementById('error').textContent) \
         || (!document.getElementById('result').hidden && \
           document.getElementById('label').textContent)",
        "#label",
    )
    .await?;
    let v = v.as_str().unwrap_or_default().to_string();
    if v.starts_with("ERROR ") {
        bail!("the page shows {v}");
    }
    Ok(v)
}

/// Types `label` as the true label, clicks Feedback, returns the confirmation.
async fn send_feedback(b: &WebDriver, label: &str) -> Result<String> {
    let target = b.find(By::Id("target")).await?;
    target.clear().await?;
    target.send_keys(label).await?;
    b.find(By::Id("feedback")).await?.click().await?;
    let v = wait_js(
        b,
        "(document.getElementById('error').textContent && \
           'ERROR ' + document.getElementById('error').textContent) \
         || document.getElementById('confirm').textContent",
        "#confirm",
    )
    .await?;
    let v = v.as_str().unwrap_or_default().to_string();
    if v.starts_with("ERROR ") {
        bail!("feedback {label:?}: the page shows {v}");
    }
    Ok(v)
}

async fn no_alert(b: &WebDriver) -> Result<()> {
    match b.get_alert_text().await {
        Ok(text) => bail!("an alert opened: {text:?} (markup from a label was executed)"),
        Err(e) if matches!(e.as_inner(), WebDriverErrorInner::NoSuchAlert(_)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

async fn js(b: &WebDriver, expr: &str) -> Result<Value> {
    let ret = b.execute(format!("return ({expr});"), Vec::new()).await?;
    Ok(ret.json().clone())
}

async fn text(b: &WebDriver, id: &str) -> Result<String> {
    Ok(b.find(By::Id(id)).await?.text().await?)
}

/// Polls a JavaScript expression until it is truthy, for at most [`STEP`].
async fn wait_js(b: &WebDriver, expr: &str, what: &str) -> Result<Value> {
    let deadline = Instant::now() + STEP;
    loop {
        let v = js(b, expr).await?;
        let truthy = match &v {
            Value::Null => false,
            Value::Bool(x) => *x,
            Value::String(s) => !s.is_empty(),
            Value::Number(n) => n.as_f64() != Some(0.0),
            _ => true,
        };
        if truthy {
            return Ok(v);
        }
        if Instant::now() > deadline {
            let error = text(b, "error").await.unwrap_or_default();
            bail!("timed out after {STEP:?} waiting for {what} (#error: {error:?})");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn path_str(p: &Path) -> Result<&str> {
    p.to_str().context("non-UTF-8 path")
}

fn screenshot_dir() -> Result<PathBuf> {
    // CARGO_TARGET_TMPDIR is <target>/tmp.
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .context("target dir")?;
    let dir = target.join("browser");
    fs::create_dir_all(&dir)?;
    Ok(dir)
}

// ---------------------------------------------------------------- fake microphone input

/// The FSDD clip as the fake capture device plays it: 48 kHz 16-bit mono (linear
/// interpolation from 8 kHz), after 0.3 s of silence and followed by silence up to 4 s.
fn fake_microphone_wav(wav: &[u8]) -> Result<Vec<u8>> {
    let (rate, samples) = read_pcm16_mono(wav)?;
    const OUT: u32 = 48_000;
    let step = f64::from(rate) / f64::from(OUT);
    let n = ((samples.len() as f64) / step) as usize;
    let lead = (OUT as usize * 3) / 10;
    let total = (OUT as usize * 4).max(lead + n);
    let mut out = vec![0i16; total];
    for (i, o) in out[lead..lead + n].iter_mut().enumerate() {
        let x = i as f64 * step;
        let j = x as usize;
        let f = x - j as f64;
        let a = f64::from(samples[j]);
        let b = f64::from(*samples.get(j + 1).unwrap_or(&samples[j]));
        *o = (a + (b - a) * f).round() as i16;
    }
    Ok(write_wav(OUT, &out))
}

fn read_pcm16_mono(wav: &[u8]) -> Result<(u32, Vec<i16>)> {
    ensure!(
        wav.len() >= 12 && &wav[..4] == b"RIFF" && &wav[8..12] == b"WAVE",
        "not a WAV"
    );
    let (mut rate, mut fmt_ok, mut pos) = (0, false, 12);
    while pos + 8 <= wav.len() {
        let id = &wav[pos..pos + 4];
        let len = u32::from_le_bytes(wav[pos + 4..pos + 8].try_into()?) as usize;
        let body = &wav[pos + 8..(pos + 8 + len).min(wav.len())];
        if id == b"fmt " && body.len() >= 16 {
            let format = u16::from_le_bytes([body[0], body[1]]);
            let channels = u16::from_le_bytes([body[2], body[3]]);
            let bits = u16::from_le_bytes([body[14], body[15]]);
            fmt_ok = format == 1 && channels == 1 && bits == 16;
            rate = u32::from_le_bytes(body[4..8].try_into()?);
        } else if id == b"data" {
            ensure!(fmt_ok, "only 16-bit PCM mono WAV");
            let s = body
                .chunks_exact(2)
                .map(|c| i16::from_le_bytes([c[0], c[1]]))
                .collect::<Vec<_>>();
            ensure!(!s.is_empty(), "empty WAV");
            return Ok((rate, s));
        }
        pos += 8 + len + (len & 1);
    }
    bail!("WAV without data")
}

fn write_wav(rate: u32, samples: &[i16]) -> Vec<u8> {
    let data = (samples.len() * 2) as u32;
    let mut w = Vec::with_capacity(44 + data as usize);
    w.extend_from_slice(b"RIFF");
    w.extend_from_slice(&(36 + data).to_le_bytes());
    w.extend_from_slice(b"WAVEfmt ");
    w.extend_from_slice(&16u32.to_le_bytes());
    w.extend_from_slice(&1u16.to_le_bytes()); // PCM
    w.extend_from_slice(&1u16.to_le_bytes()); // mono
    w.extend_from_slice(&rate.to_le_bytes());
    w.extend_from_slice(&(rate * 2).to_le_bytes());
    w.extend_from_slice(&2u16.to_le_bytes());
    w.extend_from_slice(&16u16.to_le_bytes());
    w.extend_from_slice(b"data");
    w.extend_from_slice(&data.to_le_bytes());
    for s in samples {
        w.extend_from_slice(&s.to_le_bytes());
    }
    w
}

// ---------------------------------------------------------------- processes

struct Tools {
    chromium: PathBuf,
    chromedriver: PathBuf,
    fsdd: PathBuf,
}

impl Tools {
    fn find() -> Result<Self> {
        let chromium = from_env_or_path(
            "TYMPAN_CHROMIUM",
            &["chromium", "chromium-browser", "google-chrome"],
        )
        .context("Chromium not found (TYMPAN_CHROMIUM, else chromium on the PATH)")?;
        let chromedriver = from_env_or_path("TYMPAN_CHROMEDRIVER", &["chromedriver"])
            .context("chromedriver not found (TYMPAN_CHROMEDRIVER, else on the PATH)")?;
        Ok(Self {
            chromium,
            chromedriver,
            fsdd: fsdd()?,
        })
    }
}

fn from_env_or_path(var: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(var) {
        return Some(PathBuf::from(p)).filter(|p| p.is_file());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .find(|p| p.is_file())
}

fn fsdd() -> Result<PathBuf> {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let candidates = std::env::var_os("TYMPAN_FSDD")
        .map(PathBuf::from)
        .into_iter()
        .chain([
            repo.join("../shared/datasets/fsdd/recordings"),
            repo.join("datasets/fsdd/recordings"),
        ]);
    for c in candidates {
        if c.join(CLIPS[0]).is_file() {
            // chromedriver takes only canonical paths for file inputs.
            return Ok(c.canonicalize()?);
        }
    }
    bail!("FSDD recordings not found (set TYMPAN_FSDD)")
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

/// A blocking GET on loopback; the status code, or None while nothing answers.
fn http_status(port: u16, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut head = [0u8; 12];
    s.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

/// Polls `GET path` until 200, while `child` lives.
fn wait_until_up(child: &mut Child, port: u16, path: &str, what: &str, log: &Path) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if http_status(port, path) == Some(200) {
            return Ok(());
        }
        if let Some(status) = child.try_wait()? {
            bail!("{what} exited with {status}:\n{}", tail(log));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("{what} not up after 30 s:\n{}", tail(log))
}

fn tail(log: &Path) -> String {
    let s = fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// `tympan-serve` in a fresh folder; killed on drop.
struct Server {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Server {
    fn start(fsdd: &Path) -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let port = free_port()?;
        let log = dir.path().join("server.log");
        let out = fs::File::create(&log)?;
        // What `tympan bootstrap` does before a first `tympan-serve`.
        tympan_embed::bootstrap::ensure_model(&tympan_embed::bootstrap::BootstrapPlan {
            dataset: Some(fsdd.to_path_buf()),
            ref_path: dir.path().join("data/ref_data.csv"),
            artifacts: dir.path().join("artifacts"),
            limits: Default::default(),
        })?;
        let mut child = Command::new(env!("CARGO_BIN_EXE_tympan-serve"))
            .current_dir(dir.path())
            .env("TYMPAN_PORT", port.to_string())
            .env("TYMPAN_ADDRESS", "127.0.0.1")
            .env("TYMPAN_RETRAIN_EVERY", "0")
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .context("starting tympan-serve")?;
        let up = wait_until_up(&mut child, port, "/ready", "tympan-serve", &log);
        let server = Self { child, port, dir };
        up.map(|()| server)
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The `target` column of `data/prod_data.csv` (empty before the first feedback).
    fn prod_targets(&self) -> Result<Vec<String>> {
        let path = self.dir.path().join("data/prod_data.csv");
        let Ok(csv) = fs::read_to_string(&path) else {
            return Ok(Vec::new());
        };
        let mut lines = csv.lines();
        let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
        let col = header
            .iter()
            .position(|h| *h == "target")
            .context("prod_data.csv has no target column")?;
        // The test's labels hold no commas or quotes, so a plain split is exact here.
        Ok(lines
            .map(|l| l.split(',').nth(col).unwrap_or_default().to_string())
            .collect())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// chromedriver in its own process group, so that dropping it also ends any browser it left.
struct Chromedriver {
    child: Child,
    port: u16,
    _logs: tempfile::TempDir,
}

impl Chromedriver {
    fn start(binary: &Path) -> Result<Self> {
        let logs = tempfile::tempdir()?;
        let log = logs.path().join("chromedriver.log");
        let port = free_port()?;
        let mut child = Command::new(binary)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(fs::File::create(&log)?)
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let up = wait_until_up(&mut child, port, "/status", "chromedriver", &log);
        let driver = Self {
            child,
            port,
            _logs: logs,
        };
        up.map(|()| driver)
    }

    async fn session(
        &self,
        chromium: &Path,
        profile: &Path,
        extra: &[String],
    ) -> Result<WebDriver> {
        let mut caps = DesiredCapabilities::chrome();
        caps.set_binary(path_str(chromium)?)?;
        for flag in CHROMIUM_FLAGS {
            caps.add_arg(flag)?;
        }
        caps.add_arg(&format!("--user-data-dir={}", path_str(profile)?))?;
        for flag in extra {
            caps.add_arg(flag)?;
        }
        // Leave any alert open, so that the test sees it instead of chromedriver dismissing it.
        caps.set("unhandledPromptBehavior", "ignore")?;
        let browser = WebDriver::builder(format!("http://127.0.0.1:{}", self.port), caps)
            .request_timeout(Duration::from_secs(20))
            .await
            .context("starting a Chromium session")?;
        Ok(browser)
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        // The whole group: chromedriver and any Chromium a failed session left behind.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
