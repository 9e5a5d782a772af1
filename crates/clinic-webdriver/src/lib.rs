//! Drives the real `clinic-desktop` window, for the end-to-end tests and the
//! desktop benchmark: a private X server (`Xvfb`), `tauri-driver` in front of
//! `WebKitWebDriver`, and a minimal synchronous W3C WebDriver client in
//! which every call has a timeout, so a stalled driver fails instead of
//! hanging.
//!
//! The [`Window`] helpers panic on failure (with a screenshot and the app's
//! log): they are meant for tests and benchmarks, where a failure must stop
//! the run with everything needed to see why.

use clinic_core::{ClinicError, ClinicResult, ErrorCode};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long the helpers wait for an element to appear.
pub const WAIT: Duration = Duration::from_secs(30);

/// A child process in its own process group; when dropped, even after a
/// panic, its group and every process below it (also any in groups of their
/// own) are killed. Before, `kill -KILL -<group>` without `--` killed
/// nothing but the driver: WebKitWebDriver, the app and WebKit's processes
/// outlived every test.
#[derive(Debug)]
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let root = self.0.id();
        let mut targets = vec![format!("-{root}")];
        for pid in descendants(root) {
            targets.push(pid.to_string());
            if let Some(group) = stat_field(pid, 2) {
                if group != root {
                    targets.push(format!("-{group}"));
                }
            }
        }
        // "--": without it procps' kill takes "-<group>" for an option.
        let _ = Command::new("kill")
            .args(["-KILL", "--"])
            .args(&targets)
            .stderr(Stdio::null())
            .status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A numeric field of `/proc/<pid>/stat` after the command name
/// (0: state, 1: parent pid, 2: process group).
fn stat_field(pid: u32, n: usize) -> Option<u32> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    s.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(n)?
        .parse()
        .ok()
}

/// WebDriver key codes for [`Window::press`].
pub const KEY_ENTER: &str = "\u{E007}";
pub const KEY_CONTROL: &str = "\u{E009}";
pub const KEY_ALT: &str = "\u{E00A}";
pub const KEY_ARROW_DOWN: &str = "\u{E015}";
pub const KEY_TAB: &str = "\u{E004}";

/// Every process below `root`, found through their parents.
pub fn descendants(root: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return vec![];
    };
    let procs: Vec<(u32, u32)> = dir
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| Some((pid, stat_field(pid, 1)?)))
        .collect();
    let mut out = Vec::new();
    let mut frontier = vec![root];
    while let Some(parent) = frontier.pop() {
        for &(pid, _) in procs.iter().filter(|(_, pp)| *pp == parent) {
            out.push(pid);
            frontier.push(pid);
        }
    }
    out
}

fn own_group(c: &mut Command) -> &mut Command {
    use std::os::unix::process::CommandExt;
    c.process_group(0)
}

fn missing(what: &str, e: std::io::Error) -> ClinicError {
    ClinicError::new(ErrorCode::Unreachable, format!("{what}: {e}"))
}

/// A private X server; its display number is chosen by Xvfb itself.
#[derive(Debug)]
pub struct Display {
    _x: Proc,
    name: String,
}

impl Display {
    pub fn start() -> ClinicResult<Display> {
        Self::start_sized(1400, 900)
    }

    /// A private X server whose screen is `width` x `height` (a smaller
    /// monitor: the app's window is sized to fill it).
    pub fn start_sized(width: u32, height: u32) -> ClinicResult<Display> {
        use std::io::BufRead;
        let screen = format!("{width}x{height}x24");
        let mut child = own_group(&mut Command::new("Xvfb"))
            .args([
                "-displayfd",
                "1",
                "-screen",
                "0",
                &screen,
                "-nolisten",
                "tcp",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                missing(
                    "Xvfb (Debian package xvfb; scripts/setup.sh installs it)",
                    e,
                )
            })?;
        let mut line = String::new();
        let out = child.stdout.take();
        let x = Proc(child);
        out.map(|o| std::io::BufReader::new(o).read_line(&mut line))
            .transpose()
            .map_err(|e| missing("Xvfb did not say its display", e))?;
        if line.trim().is_empty() {
            return Err(ClinicError::new(
                ErrorCode::Unreachable,
                "Xvfb did not start",
            ));
        }
        Ok(Display {
            _x: x,
            name: format!(":{}", line.trim()),
        })
    }

    /// The `DISPLAY` value, e.g. ":7".
    pub fn name(&self) -> &str {
        &self.name
    }
}

fn free_port() -> ClinicResult<u16> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(ClinicError::internal)
}

/// `tauri-driver` as `cargo install` puts it.
pub fn tauri_driver() -> ClinicResult<PathBuf> {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .unwrap_or_default();
    let p = home.join("bin/tauri-driver");
    if p.exists() {
        Ok(p)
    } else {
        Err(ClinicError::new(
            ErrorCode::Unreachable,
            format!(
                "tauri-driver is not installed ({}); scripts/setup.sh installs it",
                p.display()
            ),
        ))
    }
}

/// What the W3C protocol calls an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// W3C WebDriver calls over HTTP on loopback, each with a timeout.
#[derive(Debug, Clone)]
struct WebDriver {
    http: reqwest::blocking::Client,
    base: String,
}

impl WebDriver {
    fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> ClinicResult<Value> {
        let unreachable =
            |e: reqwest::Error| ClinicError::new(ErrorCode::Unreachable, format!("WebDriver: {e}"));
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let v: Value = req.send().and_then(|r| r.json()).map_err(unreachable)?;
        if v["value"].get("error").is_some() {
            return Err(ClinicError::new(
                ErrorCode::Conflict,
                format!("{}: {}", v["value"]["error"], v["value"]["message"]),
            ));
        }
        Ok(v["value"].clone())
    }
}

/// `tauri-driver` on one display, for apps on one data folder.
#[derive(Debug)]
pub struct Driver {
    wd: WebDriver,
    data_dir: PathBuf,
    display: String,
    // Declared last: killed after the windows opened through it.
    _proc: Proc,
}

impl Driver {
    /// Starts `tauri-driver` for apps on `data_dir` (no OS keychain, software
    /// rendering) and waits until it takes sessions.
    pub fn start(display: &Display, data_dir: &Path) -> ClinicResult<Driver> {
        let (port, native) = (free_port()?, free_port()?);
        let proc = own_group(&mut Command::new(tauri_driver()?))
            .args([
                "--port",
                &port.to_string(),
                "--native-port",
                &native.to_string(),
            ])
            .env("DISPLAY", display.name())
            .env("CLINIC_DATA_DIR", data_dir)
            .env("CLINIC_KEYCHAIN", "off")
            // Printed documents are saved, not opened in a viewer.
            .env("CLINIC_NO_OPEN", "1")
            .env("WEBKIT_DISABLE_COMPOSITING_MODE", "1")
            .env("LIBGL_ALWAYS_SOFTWARE", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| missing("tauri-driver", e))?;
        let driver = Driver {
            wd: WebDriver {
                http: reqwest::blocking::Client::builder()
                    .timeout(Duration::from_secs(60))
                    .build()
                    .map_err(ClinicError::internal)?,
                base: format!("http://127.0.0.1:{port}"),
            },
            data_dir: data_dir.to_path_buf(),
            display: display.name().to_string(),
            _proc: Proc(proc),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match driver.wd.call(reqwest::Method::GET, "/status", None) {
                Ok(_) => return Ok(driver),
                Err(e) if Instant::now() > deadline => return Err(e),
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    /// Launches the app binary `app` in a new session; returns once the
    /// driver holds its window (the page may still be loading).
    pub fn open(&self, app: &Path, name: &str, shots: &Path) -> ClinicResult<Window> {
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "wry",
            "tauri:options": {"application": app}
        }}});
        let v = self
            .wd
            .call(reqwest::Method::POST, "/session", Some(caps))?;
        let session = v["sessionId"]
            .as_str()
            .ok_or_else(|| ClinicError::internal("WebDriver answered a session without an id"))?;
        std::fs::create_dir_all(shots).map_err(ClinicError::internal)?;
        Ok(Window {
            wd: WebDriver {
                http: self.wd.http.clone(),
                base: format!("{}/session/{session}", self.wd.base),
            },
            display: self.display.clone(),
            shots: shots.to_path_buf(),
            log: self.data_dir.join("logs/desktop.log"),
            name: name.to_string(),
            _driver: None,
            _x: None,
        })
    }
}

/// One app window in a WebDriver session; the session (and so the app) is
/// closed when dropped.
#[derive(Debug)]
pub struct Window {
    wd: WebDriver,
    display: String,
    shots: PathBuf,
    log: PathBuf,
    name: String,
    // Dropped after the session is closed, in this order.
    _driver: Option<Driver>,
    _x: Option<Display>,
}

impl Window {
    /// The app on `data_dir` with its own display and driver (so several
    /// apps can run side by side); screenshots go to `shots`.
    pub fn launch(app: &Path, data_dir: &Path, name: &str, shots: &Path) -> Window {
        Self::launch_sized(app, data_dir, name, shots, (1400, 900))
    }

    /// The app on a screen of `size` (width, height), its window filling
    /// the screen, as on a smaller monitor.
    pub fn launch_sized(
        app: &Path,
        data_dir: &Path,
        name: &str,
        shots: &Path,
        size: (u32, u32),
    ) -> Window {
        let x = Display::start_sized(size.0, size.1).unwrap_or_else(|e| panic!("{name}: {e}"));
        let driver = Driver::start(&x, data_dir).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut w = driver
            .open(app, name, shots)
            .unwrap_or_else(|e| panic!("{name}: the app did not start under WebDriver: {e}"));
        w._driver = Some(driver);
        w._x = Some(x);
        w.resize(size.0, size.1);
        w
    }

    /// Presses keys together on whatever has the focus, as a person does
    /// (W3C actions: each key down in order, then up in reverse), e.g.
    /// `[KEY_CONTROL, KEY_ENTER]`.
    pub fn press(&self, keys: &[&str]) {
        let mut actions: Vec<Value> = keys
            .iter()
            .map(|k| json!({"type": "keyDown", "value": k}))
            .collect();
        actions.extend(
            keys.iter()
                .rev()
                .map(|k| json!({"type": "keyUp", "value": k})),
        );
        let body = json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]});
        if let Err(e) = self.wd.call(reqwest::Method::POST, "/actions", Some(body)) {
            self.fail(&format!("pressing {keys:?}: {}", e.message));
        }
    }

    /// A real mouse click at (`x`, `y`) in the page's viewport, as quick as
    /// a person's (W3C pointer actions: move, press, release with no pause
    /// between them), for what reacts to pointer events rather than to a
    /// synthetic `click()` (the calendar's time slots).
    pub fn click_at(&self, x: f64, y: f64) {
        let body = json!({"actions": [{"type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"}, "actions": [
            {"type": "pointerMove", "x": x.round() as i64, "y": y.round() as i64, "origin": "viewport", "duration": 0},
            {"type": "pointerDown", "button": 0},
            {"type": "pointerUp", "button": 0}
        ]}]});
        if let Err(e) = self.wd.call(reqwest::Method::POST, "/actions", Some(body)) {
            self.fail(&format!("clicking at ({x}, {y}): {}", e.message));
        }
    }

    /// Kills the app itself with SIGKILL (a crash or a power cut, as far as
    /// the app can tell); the driver and display stay.
    pub fn kill_app(&self, binary_name: &str) {
        let Some(root) = self._driver.as_ref().map(|d| d._proc.0.id()) else {
            self.fail("no driver of its own to find the app under");
        };
        let apps: Vec<u32> = descendants(root)
            .into_iter()
            .filter(|pid| {
                std::fs::read_to_string(format!("/proc/{pid}/comm"))
                    .is_ok_and(|c| binary_name.starts_with(c.trim()))
            })
            .collect();
        if apps.is_empty() {
            self.fail("the app's process was not found");
        }
        for pid in apps {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        }
    }

    pub fn css(id: &str) -> String {
        format!("[data-testid='{id}']")
    }

    /// Stops the run with a screenshot and the app's log.
    pub fn fail(&self, what: &str) -> ! {
        // A file name the file system takes (at most 255 bytes).
        let name: String = what.replace([' ', '/'], "-").chars().take(120).collect();
        self.shot(&format!("FAILED-{name}"));
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        panic!("{}: {what}\napp log:\n{log}", self.name);
    }

    /// Runs a script in the page and returns its value.
    pub fn try_js(&self, script: &str, args: Vec<Value>) -> ClinicResult<Value> {
        self.wd.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
    }

    /// Milliseconds from a click on the first element matching `click_css`
    /// until an element matching `until_css` whose text contains `text` is in
    /// the page and the frame after it has been drawn: what a person waits
    /// between clicking and seeing the result. Timed inside the page
    /// (`performance.now()`), so the WebDriver round trips are not counted.
    pub fn time_click(&self, click_css: &str, until_css: &str, text: &str) -> f64 {
        self.time_click_until(click_css, &[(until_css, text)])[0]
    }

    /// Like [`Window::time_click`], for several moments after one click
    /// (each `(css, text)`: e.g. a booking shown, then committed): the
    /// milliseconds until each was first on screen.
    pub fn time_click_until(&self, click_css: &str, until: &[(&str, &str)]) -> Vec<f64> {
        let v = self.wd.call(
            reqwest::Method::POST,
            "/execute/async",
            Some(json!({"script": "
                const [clickCss, until, done] = arguments;
                const el = document.querySelector(clickCss);
                if (!el) { done('no element ' + clickCss); return; }
                const seen = ([css, text]) => [...document.querySelectorAll(css)].some(e => e.innerText.includes(text));
                const at = until.map(() => null);
                const t0 = performance.now();
                el.click();
                const poll = () => {
                  const now = performance.now();
                  until.forEach((u, i) => { if (at[i] === null && seen(u)) at[i] = now; });
                  if (at.every(t => t !== null)) {
                    requestAnimationFrame(() => {
                      const drawn = performance.now();
                      // Each moment counts once drawn: the frame after it was in the page.
                      done(at.map(t => (t === now ? drawn : t) - t0));
                    });
                  } else if (now - t0 > 20000) {
                    done('not seen within 20 s: ' + JSON.stringify(until.filter((_, i) => at[i] === null)));
                  } else {
                    requestAnimationFrame(poll);
                  }
                };
                poll();",
                "args": [click_css, until]})),
        );
        match v {
            Ok(Value::Array(a)) if a.len() == until.len() => {
                a.iter().map(|x| x.as_f64().unwrap_or(f64::NAN)).collect()
            }
            Ok(other) => self.fail(&format!("timing {click_css}: {other}")),
            Err(e) => self.fail(&format!("timing {click_css}: {}", e.message)),
        }
    }

    /// Resizes the app's window (the screen is 1400x900), to see a screen
    /// as a smaller monitor shows it.
    pub fn resize(&self, width: u32, height: u32) {
        if let Err(e) = self.wd.call(
            reqwest::Method::POST,
            "/window/rect",
            Some(json!({"width": width, "height": height, "x": 0, "y": 0})),
        ) {
            self.fail(&format!("resize to {width}x{height}: {}", e.message));
        }
    }

    pub fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.try_js(script, args)
            .unwrap_or_else(|e| self.fail(&format!("script failed: {e}")))
    }

    /// Whether an element matching `css` is on the page now (one call).
    pub fn exists(&self, css: &str) -> bool {
        self.try_js(
            "return document.querySelector(arguments[0]) !== null;",
            vec![json!(css)],
        )
        .map(|v| v.as_bool() == Some(true))
        .unwrap_or(false)
    }

    /// The first element matching `css` whose text contains `text`, waiting
    /// up to [`WAIT`] for it.
    pub fn find_where(&self, css: &str, text: &str) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let v = self.js(
                "return [...document.querySelectorAll(arguments[0])].find(e => e.innerText.includes(arguments[1])) || null;",
                vec![json!(css), json!(text)],
            );
            if !v.is_null() {
                return v;
            }
            if Instant::now() > deadline {
                self.fail(&format!("no {css} with text {text:?}"));
            }
            std::thread::sleep(Duration::from_millis(150));
        }
    }

    pub fn find(&self, id: &str) -> Value {
        self.find_where(&Self::css(id), "")
    }

    /// Clicks the first element matching `css` whose text contains `text`
    /// (found again if the page re-rendered it in between).
    pub fn click_where(&self, css: &str, text: &str) {
        let mut last = String::new();
        for _ in 0..5 {
            let el = self.find_where(css, text);
            let id = el[ELEMENT].as_str().unwrap_or_default();
            match self.wd.call(
                reqwest::Method::POST,
                &format!("/element/{id}/click"),
                Some(json!({})),
            ) {
                Ok(_) => return,
                Err(e) => last = e.message,
            }
            std::thread::sleep(Duration::from_millis(150));
        }
        self.fail(&format!("click on {css} {text:?}: {last}"));
    }

    pub fn click(&self, id: &str) {
        self.click_where(&Self::css(id), "");
    }

    /// Types into an input like a person (key by key).
    pub fn type_in(&self, id: &str, text: &str) {
        let mut last = String::new();
        for _ in 0..5 {
            let el = self.find(id);
            let eid = el[ELEMENT].as_str().unwrap_or_default();
            let cleared = self.wd.call(
                reqwest::Method::POST,
                &format!("/element/{eid}/clear"),
                Some(json!({})),
            );
            let typed = cleared.and_then(|_| {
                self.wd.call(
                    reqwest::Method::POST,
                    &format!("/element/{eid}/value"),
                    Some(json!({"text": text})),
                )
            });
            match typed {
                Ok(_) => return,
                Err(e) => last = e.message,
            }
            std::thread::sleep(Duration::from_millis(150));
        }
        self.fail(&format!("typing into {id}: {last}"));
    }

    /// Sets an input's value and fires input/change (date and time pickers,
    /// whose typing rules differ between engines).
    pub fn set(&self, id: &str, value: &str) {
        self.find(id);
        self.js(
            "const e = document.querySelector(arguments[0]);
             const proto = e instanceof HTMLSelectElement ? HTMLSelectElement.prototype
               : e instanceof HTMLTextAreaElement ? HTMLTextAreaElement.prototype : HTMLInputElement.prototype;
             Object.getOwnPropertyDescriptor(proto, 'value').set.call(e, arguments[1]);
             e.dispatchEvent(new Event('input', { bubbles: true }));
             e.dispatchEvent(new Event('change', { bubbles: true }));",
            vec![json!(Self::css(id)), json!(value)],
        );
    }

    /// An attribute of the first element matching `css` whose text contains
    /// `text`, waiting up to [`WAIT`] for one (read in one script, so a
    /// re-render in between cannot leave a stale reference).
    pub fn attr_where(&self, css: &str, text: &str, name: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let v = self.js(
                "const e = [...document.querySelectorAll(arguments[0])].find(e => e.innerText.includes(arguments[1]));
                 return e ? e.getAttribute(arguments[2]) : null;",
                vec![json!(css), json!(text), json!(name)],
            );
            if let Some(v) = v.as_str() {
                return v.to_string();
            }
            if Instant::now() > deadline {
                self.fail(&format!("no {css} with text {text:?} and {name}"));
            }
            std::thread::sleep(Duration::from_millis(150));
        }
    }

    pub fn text(&self, id: &str) -> String {
        self.find(id);
        self.js(
            "const e = document.querySelector(arguments[0]); return e ? e.innerText : '';",
            vec![json!(Self::css(id))],
        )
        .as_str()
        .unwrap_or_default()
        .to_string()
    }

    /// Waits until `check` holds for the element's attribute.
    pub fn wait_attr(&self, id: &str, attr: &str, check: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let v = self.attr_where(&Self::css(id), "", attr);
            if check(&v) {
                return v;
            }
            if Instant::now() > deadline {
                self.fail(&format!("{id}[{attr}] stayed {v:?}"));
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// Waits until an element with `id` contains `text`.
    pub fn wait_text(&self, id: &str, text: &str) -> Value {
        self.find_where(&Self::css(id), text)
    }

    /// Waits until no element with test id `id` is on the page.
    pub fn wait_gone(&self, id: &str) {
        let deadline = Instant::now() + WAIT;
        while self.exists(&Self::css(id)) {
            if Instant::now() > deadline {
                self.fail(&format!("{id} is still there"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn count(&self, id: &str) -> usize {
        self.js(
            "return document.querySelectorAll(arguments[0]).length;",
            vec![json!(Self::css(id))],
        )
        .as_u64()
        .unwrap_or(0) as usize
    }

    /// Saves a screenshot of the app's X display, as a person would see it:
    /// window, menu bar and all. (WebKitWebDriver's own screenshot command
    /// stalled on some screens.)
    pub fn shot(&self, name: &str) {
        let out = Command::new("xwd")
            .args(["-root", "-silent", "-display", &self.display])
            .output();
        let path = self.shots.join(format!("{}-{name}.png", self.name));
        let saved = out
            .map_err(|e| missing("xwd (Debian package x11-apps)", e))
            .and_then(|o| xwd_to_png(&o.stdout, &path));
        if let Err(e) = saved {
            eprintln!("{}: screenshot {name} failed: {e}", self.name);
        }
    }
}

impl Drop for Window {
    fn drop(&mut self) {
        let _ = self.wd.call(reqwest::Method::DELETE, "", None);
    }
}

/// Converts an X window dump (32-bit TrueColor, as Xvfb makes it) to PNG.
pub fn xwd_to_png(xwd: &[u8], path: &Path) -> ClinicResult<()> {
    let bad = |what: &str| ClinicError::new(ErrorCode::Internal, format!("window dump: {what}"));
    let word = |i: usize| -> ClinicResult<usize> {
        xwd.get(i * 4..i * 4 + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
            .ok_or_else(|| bad("short dump"))
    };
    let (header, width, height) = (word(0)?, word(4)?, word(5)?);
    let (bytes_per_line, colours) = (word(12)?, word(19)?);
    // Xvfb's 24-bit TrueColor stores each pixel in 4 bytes (B, G, R, unused).
    let step = bytes_per_line / width.max(1);
    if step != 4 {
        return Err(bad(&format!("{step} bytes per pixel")));
    }
    let pixels = xwd
        .get(header + colours * 12..)
        .ok_or_else(|| bad("no pixels"))?;
    let mut rgb = Vec::with_capacity(width * height * 3);
    for y in 0..height {
        let row = pixels
            .get(y * bytes_per_line..y * bytes_per_line + width * step)
            .ok_or_else(|| bad("short row"))?;
        for px in row.chunks(step) {
            rgb.extend_from_slice(&[px[2], px[1], px[0]]);
        }
    }
    let file = std::fs::File::create(path).map_err(ClinicError::internal)?;
    let mut enc = png::Encoder::new(std::io::BufWriter::new(file), width as u32, height as u32);
    enc.set_color(png::ColorType::Rgb);
    enc.write_header()
        .and_then(|mut w| w.write_image_data(&rgb))
        .map_err(ClinicError::internal)
}
