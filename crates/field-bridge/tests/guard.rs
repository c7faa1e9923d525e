//! The real bridge on loopback, asked with real HTTP requests: only its own page may
//! use it — another site's page (its `Origin`, its `Sec-Fetch-Site`), a name pointed
//! at 127.0.0.1 (DNS rebinding: its `Host`), another local port — and no answer may
//! be framed or sniffed.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

struct Bridge {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Bridge {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(extra: &[&str]) -> Bridge {
    let dir = tempfile::tempdir().unwrap();
    let ui = dir.path().join("ui");
    std::fs::create_dir_all(&ui).unwrap();
    std::fs::write(ui.join("index.html"), "<!doctype html><title>童护</title>").unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_field-bridge"))
        .arg("--data")
        .arg(dir.path().join("device"))
        .args(["--listen", "127.0.0.1:0", "--insecure-fast-kdf", "--ui"])
        .arg(&ui)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start field-bridge");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line
        .trim()
        .trim_end_matches('/')
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    Bridge {
        child,
        port,
        _dir: dir,
    }
}

struct Answer {
    status: u16,
    head: String,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }
}

/// One request as a browser (or a script) would send it, headers as given.
fn send(port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Answer {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    Answer {
        status,
        head: head.to_string(),
        body: body.to_string(),
    }
}

fn command(b: &Bridge, headers: &[(&str, &str)]) -> Answer {
    let own = format!("127.0.0.1:{}", b.port);
    let mut all = vec![("Host", own.as_str()), ("Content-Type", "application/json")];
    all.extend_from_slice(headers);
    send(b.port, "POST", "/api/app_state", &all, "{}")
}

#[test]
fn the_bridge_s_own_page_is_answered_and_every_answer_refuses_framing() {
    let b = start(&[]);
    let origin = format!("http://127.0.0.1:{}", b.port);
    let ok = command(
        &b,
        &[("Origin", &origin), ("Sec-Fetch-Site", "same-origin")],
    );
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert!(ok.body.contains("\"phase\""), "{}", ok.body);
    // A script without a browser's headers (fieldctl's peers, curl) is fine too.
    assert_eq!(command(&b, &[]).status, 200);
    let localhost = format!("localhost:{}", b.port);
    let page = send(
        b.port,
        "GET",
        "/",
        &[("Host", &localhost), ("Sec-Fetch-Site", "none")],
        "",
    );
    assert_eq!(page.status, 200);
    for a in [&ok, &page] {
        assert_eq!(a.header("x-frame-options").as_deref(), Some("DENY"));
        assert!(
            a.header("content-security-policy")
                .is_some_and(|c| c.contains("frame-ancestors 'none'")),
            "{}",
            a.head
        );
        assert_eq!(
            a.header("x-content-type-options").as_deref(),
            Some("nosniff")
        );
        assert_eq!(
            a.header("cross-origin-resource-policy").as_deref(),
            Some("same-origin")
        );
    }
}

#[test]
fn another_site_s_page_and_a_rebound_name_are_refused_in_chinese() {
    let b = start(&[]);
    let refused = [
        command(&b, &[("Origin", "https://evil.example")]),
        command(&b, &[("Origin", "http://localhost:5173")]),
        command(&b, &[("Origin", "null")]),
        command(&b, &[("Sec-Fetch-Site", "cross-site")]),
        command(&b, &[("Sec-Fetch-Site", "same-site")]),
        // DNS rebinding: a name the attacker points at 127.0.0.1.
        send(
            b.port,
            "POST",
            "/api/app_state",
            &[
                ("Host", &format!("rebind.evil.example:{}", b.port)),
                ("Content-Type", "application/json"),
            ],
            "{}",
        ),
        // The right name, another port: another site.
        send(
            b.port,
            "POST",
            "/api/app_state",
            &[
                ("Host", "127.0.0.1:1"),
                ("Content-Type", "application/json"),
            ],
            "{}",
        ),
        // No Host at all.
        send(b.port, "GET", "/api/events", &[], ""),
        // Another site's <img src> of a child's photo.
        send(
            b.port,
            "GET",
            &format!("/api/image/{}", "ab".repeat(32)),
            &[
                ("Host", &format!("127.0.0.1:{}", b.port)),
                ("Sec-Fetch-Site", "cross-site"),
            ],
            "",
        ),
        // A form post of another page (no JSON, no marker).
        send(
            b.port,
            "POST",
            "/api/lock",
            &[
                ("Host", &format!("127.0.0.1:{}", b.port)),
                ("Content-Type", "text/plain"),
            ],
            "{}",
        ),
    ];
    for (i, a) in refused.iter().enumerate() {
        assert_eq!(a.status, 403, "request {i}: {}\n{}", a.head, a.body);
        let e: serde_json::Value = serde_json::from_str(&a.body).unwrap();
        assert_eq!(e["code"], "forbidden", "request {i}");
        assert!(
            e["zh"].as_str().is_some_and(|z| z.contains("本机")),
            "request {i}: {}",
            a.body
        );
        assert_eq!(
            a.header("x-frame-options").as_deref(),
            Some("DENY"),
            "request {i}"
        );
    }
}

#[test]
fn an_origin_allowed_for_development_is_answered() {
    let b = start(&["--allow-origin", "http://127.0.0.1:5173"]);
    let a = send(
        b.port,
        "POST",
        "/api/app_state",
        &[
            ("Host", "127.0.0.1:5173"),
            ("Origin", "http://127.0.0.1:5173"),
            ("Content-Type", "application/json"),
        ],
        "{}",
    );
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        command(&b, &[("Origin", "http://127.0.0.1:5174")]).status,
        403
    );
}
