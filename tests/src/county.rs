//! The county office's side, for end-to-end tests of what reaches the phones: a
//! month's list imported with the server's own CLI (`sync-server admin import-list`),
//! and a county admin deciding in the console over HTTP like a browser (one-time
//! login code, first login, CSRF token, form posts from the console's own origin).

use crate::TestServer;
use std::collections::BTreeMap;
use uuid::Uuid;

/// A valid 身份证号 of someone born on `birth` (`YYYYMMDD`), `seq` telling people
/// apart.
pub fn id_number(birth: &str, seq: u32) -> String {
    let first17 = format!("370602{birth}{seq:03}");
    let c = domain::id_number::check_digit(&first17).expect("17 digits");
    format!("{first17}{c}")
}

/// Imports `csv` (UTF-8) as `kind`'s list of `month` for the county admin `account`;
/// returns the CLI's report.
pub fn import_list(
    server: &TestServer,
    account: &str,
    kind: &str,
    month: &str,
    csv: &str,
) -> String {
    let file = server.data.join(format!(
        "list-{kind}-{month}-{}.csv",
        Uuid::now_v7().simple()
    ));
    std::fs::write(&file, csv).expect("write the list");
    let out = server.admin(&[
        "import-list",
        "--account",
        account,
        "--kind",
        kind,
        "--month",
        month,
        "--file",
        file.to_str().expect("utf-8 path"),
    ]);
    // The file is the county's; the server keeps nothing of it.
    let _ = std::fs::remove_file(&file);
    out
}

const PASSWORD: &str = "county-admin-password-1";

/// A county admin in the console, like a browser: keeps its cookies, posts forms from
/// the console's own origin.
pub struct CountyConsole {
    http: reqwest::blocking::Client,
    base: String,
    cookies: BTreeMap<String, String>,
}

/// The value of the first hidden input `name` of a page.
fn hidden(html: &str, name: &str) -> String {
    let key = format!("name=\"{name}\" value=\"");
    let at = html
        .find(&key)
        .unwrap_or_else(|| panic!("no hidden {name} in the page"));
    let rest = &html[at + key.len()..];
    rest[..rest.find('"').expect("closing quote")].to_string()
}

impl CountyConsole {
    /// Logs in `account` (a county admin) for the first time with a one-time code.
    pub fn first_login(server: &TestServer, account: &str) -> CountyConsole {
        let code = server.admin(&["login-code", "--account", account]);
        let code = code.trim().to_string();
        let mut c = CountyConsole {
            http: reqwest::blocking::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("http client"),
            base: server.url.clone(),
            cookies: BTreeMap::new(),
        };
        let page = c.get("/console/first-login");
        let csrf = hidden(&page.1, "csrf");
        let (status, body) = c.post(
            "/console/first-login",
            &[
                ("csrf", csrf.as_str()),
                ("login", account),
                ("code", code.as_str()),
                ("new_password", PASSWORD),
                ("repeat", PASSWORD),
            ],
        );
        assert_eq!(status, 303, "first login: {body}");
        c
    }

    fn send(&mut self, rb: reqwest::blocking::RequestBuilder) -> (u16, String) {
        let cookie = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let res = rb.header("cookie", cookie).send().expect("console request");
        for c in res.headers().get_all("set-cookie") {
            let c = c.to_str().unwrap_or("");
            let (kv, _) = c.split_once(';').unwrap_or((c, ""));
            if let Some((k, v)) = kv.split_once('=') {
                if v.is_empty() {
                    self.cookies.remove(k);
                } else {
                    self.cookies.insert(k.to_string(), v.to_string());
                }
            }
        }
        let status = res.status().as_u16();
        (status, res.text().unwrap_or_default())
    }

    /// A page.
    pub fn get(&mut self, path: &str) -> (u16, String) {
        let rb = self.http.get(format!("{}{path}", self.base));
        self.send(rb)
    }

    /// A form posted from the console's own page.
    pub fn post(&mut self, path: &str, form: &[(&str, &str)]) -> (u16, String) {
        let rb = self
            .http
            .post(format!("{}{path}", self.base))
            .header("origin", self.base.clone())
            .form(form);
        self.send(rb)
    }

    /// Confirms the child into care (增员 / 变更 / 减员) on `in_care_since` (`None`:
    /// today); the confirmation page's answer.
    pub fn confirm(&mut self, child: Uuid, in_care_since: Option<&str>) -> String {
        self.decide(
            child,
            &[
                ("action", "confirm"),
                ("in_care_since", in_care_since.unwrap_or("")),
            ],
        )
    }

    /// Sends the child's addition, change or exit back with `reason`.
    pub fn send_back(&mut self, child: Uuid, reason: &str) -> String {
        self.decide(child, &[("action", "send_back"), ("reason", reason)])
    }

    fn decide(&mut self, child: Uuid, fields: &[(&str, &str)]) -> String {
        let page = self.get("/console/discovery/confirmations");
        assert_eq!(page.0, 200, "confirmation queue: {}", page.1);
        let csrf = hidden(&page.1, "csrf");
        let mut form = vec![("csrf", csrf.as_str())];
        form.extend_from_slice(fields);
        let (status, body) = self.post(&format!("/console/discovery/confirmations/{child}"), &form);
        assert_eq!(status, 200, "decision: {body}");
        body
    }
}
