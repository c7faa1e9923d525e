//! The console's pages as a person meets them, over real HTTP on SQLite and PostgreSQL:
//! every page and export carries its security headers and a request from another site
//! changes nothing; a login form's token is one the server signed; a wrong password
//! for a login that does not exist answers like one for a login that does; a phone's
//! pending counts are its latest; revoking says before the click what becomes of the
//! unsent records, and the quarantine reads in names and values; exports keep numbers
//! and dates typed (read back with calamine); pages speak one language at a time; the
//! access log and the admin's lists speak in names.

mod common;

use common::{Backend, TestServer};
use serde_json::{json, Value};
use sync_core::wire::PROTOCOL_VERSION;
use uuid::Uuid;

const PASSWORD: &str = "correct-horse-battery";

/// A browser-like client of the console: keeps its cookies, follows no redirects.
struct Person {
    http: reqwest::Client,
    base: String,
    cookies: std::collections::BTreeMap<String, String>,
}

struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl Person {
    fn new(s: &TestServer) -> Person {
        Person {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: s.base.clone(),
            cookies: Default::default(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn send(&mut self, rb: reqwest::RequestBuilder) -> Answer {
        let res = rb
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        for c in res.headers().get_all("set-cookie") {
            let c = c.to_str().unwrap();
            let (kv, _) = c.split_once(';').unwrap_or((c, ""));
            let (k, v) = kv.split_once('=').unwrap();
            if v.is_empty() {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_string(), v.to_string());
            }
        }
        Answer {
            status: res.status().as_u16(),
            headers: res.headers().clone(),
            body: res.text().await.unwrap_or_default(),
        }
    }

    async fn get(&mut self, path: &str) -> Answer {
        let rb = self.http.get(format!("{}{path}", self.base));
        self.send(rb).await
    }

    /// A form post from the console's own page (the browser's Origin).
    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Answer {
        let rb = self
            .http
            .post(format!("{}{path}", self.base))
            .header("origin", self.base.clone())
            .form(form);
        self.send(rb).await
    }

    /// The first login with a one-time code; the person lands on the overview.
    async fn first_login(&mut self, s: &TestServer, login: &str) {
        let code = sync_server::console::people::issue_login_code(
            s.state.db.as_ref(),
            login,
            common::now_ms() as i64,
        )
        .await
        .unwrap()
        .unwrap();
        let page = self.get("/console/first-login").await;
        let csrf = hidden(&page.body, "csrf");
        let r = self
            .post(
                "/console/first-login",
                &[
                    ("csrf", &csrf),
                    ("login", login),
                    ("code", &code),
                    ("new_password", PASSWORD),
                    ("repeat", PASSWORD),
                ],
            )
            .await;
        assert_eq!(r.status, 303, "{}", r.body);
        assert!(self.cookies.contains_key("tonghu_session"));
    }

    /// The session's CSRF token, from any page's forms.
    async fn csrf(&mut self) -> String {
        let page = self.get("/console/overview").await;
        hidden(&page.body, "csrf")
    }
}

/// The value of the first hidden input `name` of a page.
fn hidden(html: &str, name: &str) -> String {
    let at = html
        .find(&format!("name=\"{name}\" value=\""))
        .unwrap_or_else(|| panic!("no {name} in {html}"));
    let rest = &html[at + name.len() + 15..];
    rest[..rest.find('"').unwrap()].to_string()
}

fn has_cjk(s: &str) -> bool {
    s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
}

/// The texts of every `<th>` of a page.
fn headers_of(html: &str) -> Vec<String> {
    html.split("<th")
        .skip(1)
        .filter_map(|p| {
            let p = &p[p.find('>')? + 1..];
            Some(p[..p.find("</th>")?].to_string())
        })
        .collect()
}

fn assert_security_headers(a: &Answer, what: &str) {
    let h = |n: &str| {
        a.headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let csp = h("content-security-policy");
    assert!(
        csp.contains("frame-ancestors 'none'") && csp.contains("default-src 'none'"),
        "{what}: CSP {csp:?}"
    );
    assert!(!csp.contains("unsafe-inline"), "{what}: {csp}");
    assert_eq!(h("x-frame-options"), "DENY", "{what}");
    assert_eq!(h("x-content-type-options"), "nosniff", "{what}");
}

fn uuid_in(text: &str) -> Option<String> {
    text.split(|c: char| !(c.is_ascii_hexdigit() || c == '-'))
        .find(|w| w.len() == 36 && Uuid::parse_str(w).is_ok())
        .map(str::to_string)
}

/// Visible text of a page: tags, attributes and the header's switch left out.
fn visible(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

async fn pages_carry_security_headers_and_other_sites_change_nothing(b: Backend) {
    let s = TestServer::start(b).await;
    let dir = s.device("dir-a").await;
    let mut admin = Person::new(&s);
    admin.first_login(&s, "admin").await;
    let csrf = admin.csrf().await;
    for path in [
        "/console/overview",
        "/console/overview?place=990101",
        "/console/admin",
        "/console/export/overdue.xlsx?place=990101",
        "/console/export/overview.csv?place=990101",
        "/console/login",
        "/console/children/not-a-child",
    ] {
        let a = admin.get(path).await;
        assert!(a.status == 200 || a.status == 404, "{path}: {}", a.status);
        assert_security_headers(&a, path);
    }
    let revoke = format!("/console/admin/devices/{}/revoke", dir.device_id);
    // A page on another site posts the admin's own form, token and all: refused.
    for (name, value) in [
        ("origin", "http://evil.example"),
        ("origin", "null"),
        ("sec-fetch-site", "cross-site"),
    ] {
        let rb = admin
            .http
            .post(format!("{}{revoke}", s.base))
            .header(name, value)
            .form(&[("csrf", csrf.as_str())]);
        let a = admin.send(rb).await;
        assert_eq!(a.status, 403, "{name}: {value}");
        assert!(a.body.contains("data-code=\"cross_site\""), "{}", a.body);
        assert_security_headers(&a, "the refusal");
    }
    let devices = s.state.db.devices(Some("dir-a")).await.unwrap();
    assert!(devices[0].revoked_ms.is_none(), "nothing was revoked");
    // From the console's own page it works.
    let a = admin.post(&revoke, &[("csrf", &csrf)]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let devices = s.state.db.devices(Some("dir-a")).await.unwrap();
    assert!(devices[0].revoked_ms.is_some());

    // A login token the server did not sign is refused even when cookie and form agree
    // (a token planted in the cookie by someone else is worth nothing).
    let mut stranger = Person::new(&s);
    let forged = "0".repeat(64);
    stranger
        .cookies
        .insert("tonghu_login_csrf".into(), forged.clone());
    let a = stranger
        .post(
            "/console/login",
            &[
                ("csrf", &forged),
                ("login", "admin"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(a.status, 403);
    assert!(a.body.contains("csrf_mismatch"));
    // The server's own token works.
    let mut again = Person::new(&s);
    let page = again.get("/console/login").await;
    let token = hidden(&page.body, "csrf");
    let a = again
        .post(
            "/console/login",
            &[("csrf", &token), ("login", "admin"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(a.status, 303, "{}", a.body);
}

async fn a_wrong_password_for_an_unknown_login_answers_like_a_known_one(b: Backend) {
    let s = TestServer::start(b).await;
    let mut admin = Person::new(&s);
    admin.first_login(&s, "admin").await;
    // sup-1 exists (no password yet), no-such-person does not, dir-a is a director.
    let mut answers = Vec::new();
    for login in ["sup-1", "nobody-here", "dir-a", "admin"] {
        let mut p = Person::new(&s);
        let token = hidden(&p.get("/console/login").await.body, "csrf");
        let mut seen = Vec::new();
        let mut times = Vec::new();
        for _ in 0..6 {
            let t = std::time::Instant::now();
            let a = p
                .post(
                    "/console/login",
                    &[
                        ("csrf", &token),
                        ("login", login),
                        ("password", "wrong-password"),
                    ],
                )
                .await;
            times.push(t.elapsed());
            let body = a.body.replace(login, "LOGIN");
            let body = body.replace(&hidden(&a.body, "csrf"), "TOKEN");
            seen.push((a.status, body));
        }
        times.sort();
        answers.push((login, seen, times[2]));
    }
    let (_, first, _) = &answers[0];
    assert_eq!(first[0].0, 401);
    assert_eq!(first[5].0, 429, "locked after five failures");
    for (login, seen, _) in &answers[1..] {
        assert_eq!(seen, first, "{login} answers like an existing login");
    }
    // Comparable time: an unknown login runs Argon2 on a dummy hash (generous bounds:
    // without it the answer would take a small fraction of the time).
    let known = answers[3].2.as_secs_f64();
    let unknown = answers[1].2.as_secs_f64();
    assert!(
        unknown > known * 0.3,
        "unknown login {unknown:.3}s vs known {known:.3}s"
    );
}

/// A director's phone with a child and a visit, its last heartbeat saying 12 records
/// and 3 files were waiting before a push that sent 2 of the records.
async fn phone_with_unsent(s: &TestServer) -> (common::Device, Uuid) {
    let dir = s.device("dir-a").await;
    let (child, changes) = dir.new_child("A", "王小明");
    assert!(dir.push(&changes).await.rejected.is_empty());
    let last = dir.change("child", child, "risk_colour", json!("yellow"), "A");
    let last2 = dir.change("child", child, "notes", json!("奶奶在家"), "A");
    let body = json!({"protocol": PROTOCOL_VERSION, "device_id": dir.device_id,
        "changes": [last, last2],
        "heartbeat": {"pending_changes": 12, "pending_blobs": 3, "oldest_pending_secs": 7200,
            "app_version": "0.1.0", "device_clock_ms": common::now_ms(), "free_storage_bytes": 4_000_000_000u64,
            "unsent_visit_children": []}});
    let (status, r) = dir.post("/v1/push", &body).await;
    assert_eq!(status, 200, "{r}");
    (dir, child)
}

async fn revoking_says_what_becomes_of_the_unsent_and_the_quarantine_reads_in_names(b: Backend) {
    let s = TestServer::start(b).await;
    let (dir, child) = phone_with_unsent(&s).await;
    // The device list (and the supervisor's) shows the phone's latest: 10 and 3.
    let sup = {
        let p = sync_server::enrollment::provision_device(
            s.state.db.as_ref(),
            "sup-1",
            "t",
            common::now_ms() as i64,
        )
        .await
        .unwrap();
        p.enrollment.token
    };
    let r = s
        .http
        .get(s.url("/api/v1/console/directors/dir-a"))
        .bearer_auth(&sup)
        .send()
        .await
        .unwrap();
    let f: Value = r.json().await.unwrap();
    let phone = &f["director"]["devices"][0];
    assert_eq!(
        (
            phone["pending_changes"].as_u64(),
            phone["pending_blobs"].as_u64()
        ),
        (Some(10), Some(3)),
        "the phone's latest, not the heartbeat's count before its push: {f}"
    );

    let mut admin = Person::new(&s);
    admin.first_login(&s, "admin").await;
    let accounts = admin.get("/console/admin").await;
    let row = &accounts.body[accounts.body.find("data-login=\"dir-a\"").unwrap()..];
    let row = &row[..row.find("</tr>\n</table>").unwrap_or(row.len())];
    assert!(
        row.contains("10 条记录") && row.contains("3 个照片或签名文件"),
        "{row}"
    );
    // Before the click: the page says the counts and what happens to them.
    let revoke = format!("/console/admin/devices/{}/revoke", dir.device_id);
    let page = admin.get(&revoke).await;
    assert_eq!(page.status, 200);
    let text = visible(&page.body);
    assert!(
        text.contains("10 条未上传的记录、3 个未上传的照片或签名文件"),
        "{text}"
    );
    assert!(text.contains("隔离区") && text.contains("清除"), "{text}");
    assert!(
        text.contains("3 个未上传的照片或签名文件无法交出"),
        "{text}"
    );
    assert!(uuid_in(&text).is_none(), "no ids on the page: {text}");
    let csrf = hidden(&page.body, "csrf");
    assert_eq!(admin.post(&revoke, &[("csrf", &csrf)]).await.status, 200);

    // The lost phone hands over a visit it never sent, and is refused.
    let (_, visit) = dir.new_visit("A", child);
    let visit: Vec<_> = visit
        .into_iter()
        .map(|mut c| {
            if c.field == "risk_colour" {
                c.value = json!("red");
            }
            if c.field == "visited_at" {
                c.value = json!("2026-03-01T02:30:00+00:00");
            }
            c
        })
        .collect();
    let (status, _) = dir.push_raw(&visit).await;
    assert_eq!(status, 401);

    // The supervisor is told on their overview.
    let mut supervisor = Person::new(&s);
    supervisor.first_login(&s, "sup-1").await;
    let o = supervisor.get("/console/overview").await;
    assert!(
        o.body.contains("id=\"quarantine-note\""),
        "the supervisor is told"
    );
    assert!(
        visible(&o.body).contains(&format!("交出了 {} 条未上传的记录", visit.len())),
        "{}",
        visible(&o.body)
    );

    // The quarantine: the child's name, the record's kind, the values readable.
    let q = admin
        .get(&format!(
            "/console/admin/devices/{}/quarantine",
            dir.device_id
        ))
        .await;
    assert_eq!(q.status, 200);
    let text = visible(&q.body);
    for want in [
        "王小明",
        "走访记录",
        "红色（立即干预）",
        "2026-03-01 10:30",
        "入户走访",
        "走访时间",
    ] {
        assert!(text.contains(want), "{want} in {text}");
    }
    for never in ["risk_colour", "visited_at", "child_id", "red", "home"] {
        assert!(!text.contains(never), "{never} in {text}");
    }
    assert!(uuid_in(&text).is_none(), "{text}");
    // In English, the same in English and no Chinese label.
    admin.cookies.insert("tonghu_lang".into(), "en".into());
    let q = admin
        .get(&format!(
            "/console/admin/devices/{}/quarantine",
            dir.device_id
        ))
        .await;
    let text = visible(&q.body);
    assert!(
        text.contains("red (intervene now)") && text.contains("Visited at"),
        "{text}"
    );
    assert!(q.body.contains("<html lang=\"en\">"));
    for th in headers_of(&q.body) {
        assert!(!has_cjk(&th), "English page, Chinese header {th}");
    }
}

async fn exports_keep_numbers_and_dates_and_are_named_by_township_and_day(b: Backend) {
    use calamine::{Data, Reader, Xlsx};
    let s = TestServer::start(b).await;
    let dir = s.device("dir-a").await;
    let (child, mut c) = dir.new_child("A", "王小明"); // never visited: overdue
    let (other, c2) = dir.new_child("A", "李小红");
    c.extend(c2);
    c.push(dir.change("child", other, "added_on", json!("2024-01-01"), "A"));
    assert!(dir.push(&c).await.rejected.is_empty());
    let mut sup = Person::new(&s);
    sup.first_login(&s, "sup-1").await;
    let today = sync_server::model::clock::today().to_string();
    for (file, zh_name) in [("overdue.xlsx", "逾期名单"), ("overview.xlsx", "概况")] {
        let a = sup
            .get(&format!("/console/export/{file}?place=990101"))
            .await;
        assert_eq!(a.status, 200);
        let cd = a.headers["content-disposition"].to_str().unwrap();
        let want: String = format!("{zh_name}-一镇-{today}.xlsx")
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        assert!(cd.contains(&format!("filename*=UTF-8''{want}")), "{cd}");
    }
    let bytes = {
        let rb = sup.http.get(format!(
            "{}/console/export/overdue.xlsx?place=990101",
            s.base
        ));
        let res = rb
            .header("cookie", sup.cookie_header())
            .send()
            .await
            .unwrap();
        res.bytes().await.unwrap().to_vec()
    };
    let mut wb: Xlsx<_> = Xlsx::new(std::io::Cursor::new(bytes)).unwrap();
    let sheet = wb.worksheet_range_at(0).unwrap().unwrap();
    let rows: Vec<&[Data]> = sheet.rows().collect();
    let head: Vec<String> = rows[0].iter().map(|c| c.to_string()).collect();
    let col = |name: &str| {
        head.iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("{name} in {head:?}"))
    };
    assert_eq!(rows.len(), 3, "two overdue children");
    for r in &rows[1..] {
        assert!(
            matches!(r[col("逾期天数")], Data::Float(d) if d >= 1.0),
            "{:?}",
            r
        );
        assert!(matches!(r[col("应访日期")], Data::DateTime(_)), "{:?}", r);
        assert_eq!(r[col("儿童主任")].to_string(), "甲主任");
    }
    let days: Vec<f64> = rows[1..]
        .iter()
        .map(|r| match r[col("逾期天数")] {
            Data::Float(d) => d,
            _ => 0.0,
        })
        .collect();
    assert!(days.iter().all(|d| *d > 0.0));
    let _ = child;
    // The overview: the director's counts are numbers, the state a word, and a director
    // whose children are all overdue is not "ok".
    let rb = sup.http.get(format!(
        "{}/console/export/overview.xlsx?place=990101",
        s.base
    ));
    let bytes = rb
        .header("cookie", sup.cookie_header())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .to_vec();
    let mut wb: Xlsx<_> = Xlsx::new(std::io::Cursor::new(bytes)).unwrap();
    let sheet = wb.worksheet_range_at(0).unwrap().unwrap();
    let rows: Vec<&[Data]> = sheet.rows().collect();
    let head: Vec<String> = rows[0].iter().map(|c| c.to_string()).collect();
    let col = |name: &str| head.iter().position(|h| h == name).unwrap();
    let a = rows
        .iter()
        .find(|r| r[0] == Data::String("甲主任".into()))
        .expect("甲主任's row");
    assert_eq!(a[col("儿童")], Data::Float(2.0));
    assert_eq!(a[col("逾期未走访")], Data::Float(2.0));
    assert!(matches!(a[col("最近同步")], Data::DateTime(_)), "{:?}", a);
    assert_eq!(a[col("状态")].to_string(), "多数逾期");
}

async fn pages_speak_one_language_and_name_people_and_children(b: Backend) {
    let s = TestServer::start(b).await;
    let dir = s.device("dir-a").await;
    let (child, changes) = dir.new_child("A", "王小明");
    assert!(dir.push(&changes).await.rejected.is_empty());
    let mut admin = Person::new(&s);
    admin.first_login(&s, "admin").await;
    // The admin renames the director in the console; a bad name changes nothing.
    let csrf = admin.csrf().await;
    let a = admin
        .post(
            "/console/admin/accounts/name",
            &[("csrf", &csrf), ("login", "dir-a"), ("name", "  王  主任 ")],
        )
        .await;
    assert_eq!(a.status, 200);
    let a = admin
        .post(
            "/console/admin/accounts/name",
            &[("csrf", &csrf), ("login", "dir-a"), ("name", "   ")],
        )
        .await;
    assert_eq!(a.status, 400);
    assert!(visible(&a.body).contains("姓名不能为空"));
    // Pages in Chinese: no English in the table headers; the director by the new name.
    for path in [
        "/console/overview?place=990101".to_string(),
        format!("/console/children/{child}"),
        "/console/directors/dir-a".to_string(),
        "/console/admin".to_string(),
        "/console/admin/access-log".to_string(),
    ] {
        let a = admin.get(&path).await;
        assert_eq!(a.status, 200, "{path}");
        assert!(a.body.contains("<html lang=\"zh-CN\">"));
        for th in headers_of(&a.body) {
            assert!(
                !th.chars().any(|c| c.is_ascii_alphabetic()),
                "{path}: Chinese page, English header {th:?}"
            );
        }
        assert!(
            uuid_in(&visible(&a.body)).is_none(),
            "{path}: {}",
            visible(&a.body)
        );
    }
    let d = admin.get("/console/directors/dir-a").await;
    assert!(visible(&d.body).contains("王 主任"));
    let c = visible(&admin.get(&format!("/console/children/{child}")).await.body);
    for never in ["birth_date", "village_code", "risk_colour", "left_behind"] {
        assert!(!c.contains(never), "{never} on the child's page: {c}");
    }
    assert!(
        c.contains("出生日期") && c.contains("甲村") && c.contains("农村留守儿童"),
        "{c}"
    );
    // The access log names who, what and whom.
    let log = visible(&admin.get("/console/admin/access-log").await.body);
    assert!(
        log.contains("县管理员") && log.contains("查看儿童档案") && log.contains("王小明"),
        "{log}"
    );
    assert!(log.contains("修改姓名") && log.contains("王 主任"), "{log}");
    for code in ["view_child", "rename_account", "dir-a"] {
        assert!(!log.contains(code), "{code} in the access log page");
    }
    // The switch: English everywhere, no Chinese label.
    let a = admin.post("/console/lang", &[("lang", "en")]).await;
    assert_eq!(a.status, 303);
    assert_eq!(
        admin.cookies.get("tonghu_lang").map(String::as_str),
        Some("en")
    );
    for path in [
        "/console/overview?place=990101".to_string(),
        format!("/console/children/{child}"),
        "/console/admin".to_string(),
        "/console/admin/access-log".to_string(),
    ] {
        let a = admin.get(&path).await;
        assert!(a.body.contains("<html lang=\"en\">"), "{path}");
        for th in headers_of(&a.body) {
            assert!(!has_cjk(&th), "{path}: English page, Chinese header {th:?}");
        }
    }
    let c = visible(&admin.get(&format!("/console/children/{child}")).await.body);
    assert!(
        c.contains("Birth date") && c.contains("left-behind child"),
        "{c}"
    );
    // Error pages and exports too.
    let e = admin
        .get("/console/children/00000000-0000-7000-8000-000000000000")
        .await;
    assert_eq!(e.status, 404);
    assert!(
        visible(&e.body).contains("No such page or record.")
            && !has_cjk(&visible(&e.body).replace("中文", ""))
    );
    let csv = admin
        .get("/console/export/overdue.csv?place=990101")
        .await
        .body;
    let head = csv.lines().next().unwrap();
    assert!(!has_cjk(head) && head.contains("Days overdue"), "{head}");
}

backend_tests!(
    pages_carry_security_headers_and_other_sites_change_nothing,
    a_wrong_password_for_an_unknown_login_answers_like_a_known_one,
    revoking_says_what_becomes_of_the_unsent_and_the_quarantine_reads_in_names,
    exports_keep_numbers_and_dates_and_are_named_by_township_and_day,
    pages_speak_one_language_and_name_people_and_children,
);
