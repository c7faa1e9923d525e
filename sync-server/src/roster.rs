//! The roster file an admin imports: the place hierarchy (city → county → township →
//! village) and the accounts (directors with their villages, supervisors with their
//! township, county admins with their county).
//!
//! CSV, UTF-8, one header line `kind,code,name,parent`, then one line per entry:
//!
//! | kind | code | name | parent |
//! |---|---|---|---|
//! | `city` | city code | name | (empty) |
//! | `county` | county code | name | city code |
//! | `township` | township code | name | county code |
//! | `village` | village code | name | township code |
//! | `director` | login | person's name | village codes separated by `;` |
//! | `supervisor` | login | person's name | township code |
//! | `county_admin` | login | person's name | county code |
//! | `city_admin` | login | person's name | city code |
//!
//! Places must appear before the entries that name them. Re-importing the same file
//! changes nothing; a changed line updates the place or account (a director's village
//! list is replaced).
//!
//! Read with the `csv` crate, as spreadsheets write it: fields quoted with `"` (a
//! quote inside doubled) may hold commas and line breaks; a UTF-8 byte-order mark and
//! CRLF line ends (Excel's) are fine; spaces around a field are dropped; empty lines
//! and lines starting with `#` are skipped. Every error names the line (where its
//! record starts) in Chinese and English.

use crate::model::{Role, MAX_CODE_CHARS};

/// A place in the hierarchy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Place {
    pub kind: PlaceKind,
    pub code: String,
    pub name: String,
    pub parent: Option<String>,
}

/// Level of a place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlaceKind {
    City,
    County,
    Township,
    Village,
}

impl PlaceKind {
    /// The kind from its code.
    pub fn parse(s: &str) -> Option<PlaceKind> {
        [
            PlaceKind::City,
            PlaceKind::County,
            PlaceKind::Township,
            PlaceKind::Village,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
    pub fn as_str(self) -> &'static str {
        match self {
            PlaceKind::City => "city",
            PlaceKind::County => "county",
            PlaceKind::Township => "township",
            PlaceKind::Village => "village",
        }
    }
    /// The level's name in Chinese.
    pub fn zh(self) -> &'static str {
        match self {
            PlaceKind::City => "市",
            PlaceKind::County => "区县",
            PlaceKind::Township => "乡镇",
            PlaceKind::Village => "村居",
        }
    }
    fn parent_kind(self) -> Option<PlaceKind> {
        match self {
            PlaceKind::City => None,
            PlaceKind::County => Some(PlaceKind::City),
            PlaceKind::Township => Some(PlaceKind::County),
            PlaceKind::Village => Some(PlaceKind::Township),
        }
    }
}

/// An account line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RosterAccount {
    pub login: String,
    pub name: String,
    pub role: Role,
    /// Villages for a director, the township for a supervisor, the county (city) for a
    /// county (city) admin.
    pub places: Vec<String>,
}

/// A parsed, checked roster.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Roster {
    pub places: Vec<Place>,
    pub accounts: Vec<RosterAccount>,
}

/// A roster line that cannot be imported: the line its record starts on, what is
/// wrong in Chinese and in English.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("名册第 {line} 行：{zh} · roster line {line}: {problem}")]
pub struct RosterError {
    pub line: usize,
    /// 哪里不对（中文）。
    pub zh: String,
    /// What is wrong (English).
    pub problem: String,
}

impl Roster {
    /// Parses and checks a roster file's text.
    pub fn parse(text: &str) -> Result<Roster, RosterError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .trim(csv::Trim::All)
            .comment(Some(b'#'))
            .from_reader(text.as_bytes());
        let mut roster = Roster::default();
        let mut kinds = std::collections::HashMap::new();
        let mut first = true;
        for record in reader.records() {
            let record = match record {
                Ok(r) => r,
                Err(e) => {
                    let line = e.position().map_or(0, |p| p.line() as usize);
                    return Err(RosterError {
                        line,
                        zh: "无法读取这一行（引号没有成对，或不是 UTF-8 文本）".into(),
                        problem: format!(
                            "cannot read this line (unbalanced quotes, or not UTF-8 text): {}",
                            csv_problem(&e)
                        ),
                    });
                }
            };
            let line = record.position().map_or(0, |p| p.line() as usize);
            let cols: Vec<&str> = record.iter().collect();
            if cols.iter().all(|c| c.is_empty()) {
                continue;
            }
            if std::mem::take(&mut first) && cols.first() == Some(&"kind") {
                continue;
            }
            roster.add(line, &cols, &mut kinds)?;
        }
        Ok(roster)
    }

    fn add(
        &mut self,
        line: usize,
        cols: &[&str],
        kinds: &mut std::collections::HashMap<String, PlaceKind>,
    ) -> Result<(), RosterError> {
        let err = |zh: String, problem: String| RosterError { line, zh, problem };
        if cols.len() != 4 {
            return Err(err(
                format!(
                    "应有 4 列（kind,code,name,parent），这一行有 {} 列",
                    cols.len()
                ),
                format!(
                    "expected 4 columns (kind,code,name,parent), found {}",
                    cols.len()
                ),
            ));
        }
        let (kind, code, name, parent) = (cols[0], cols[1], cols[2], cols[3]);
        if code.is_empty() || code.chars().count() > MAX_CODE_CHARS || code.contains(';') {
            return Err(err(
                "代码或登录名须为 1 到 40 个字符，且不含分号".into(),
                "code/login must be 1-40 characters without ';'".into(),
            ));
        }
        if name.is_empty() || name.chars().count() > 100 {
            return Err(err(
                "名称须为 1 到 100 个字符".into(),
                "name must be 1-100 characters".into(),
            ));
        }
        let place_kind = match kind {
            "city" => Some(PlaceKind::City),
            "county" => Some(PlaceKind::County),
            "township" => Some(PlaceKind::Township),
            "village" => Some(PlaceKind::Village),
            _ => None,
        };
        if let Some(pk) = place_kind {
            let parent = match pk.parent_kind() {
                None => None,
                Some(want) => {
                    if kinds.get(parent) != Some(&want) {
                        return Err(err(
                            format!("上级“{parent}”须是前面已列出的{}", want.zh()),
                            format!("parent {parent:?} must be a {} listed above", want.as_str()),
                        ));
                    }
                    Some(parent.to_string())
                }
            };
            if let Some(k) = kinds.get(code) {
                if *k != pk {
                    return Err(err(
                        format!("代码 {code} 已用作{}", k.zh()),
                        format!("code {code} already used for a {}", k.as_str()),
                    ));
                }
            }
            kinds.insert(code.to_string(), pk);
            self.places.push(Place {
                kind: pk,
                code: code.to_string(),
                name: name.to_string(),
                parent,
            });
            return Ok(());
        }
        let role = Role::parse(kind).filter(|r| r.in_roster()).ok_or_else(|| {
            err(
                format!(
                    "不认识的类别“{}”",
                    kind.chars().take(40).collect::<String>()
                ),
                format!(
                    "unknown kind {:?}",
                    kind.chars().take(40).collect::<String>()
                ),
            )
        })?;
        let want = match role {
            Role::Director => PlaceKind::Village,
            Role::Supervisor => PlaceKind::Township,
            Role::CountyAdmin => PlaceKind::County,
            // The server's replica is never in a roster (refused above).
            Role::CityAdmin | Role::Server => PlaceKind::City,
        };
        let places: Vec<String> = parent
            .split(';')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        if places.is_empty() || (role != Role::Director && places.len() != 1) {
            let (zh, en) = if role == Role::Director {
                ("一个或多个", "one or more")
            } else {
                ("一个", "one")
            };
            return Err(err(
                format!(
                    "{}（{}）须对应{zh}{}",
                    role.label_zh(),
                    role.as_str(),
                    want.zh()
                ),
                format!("a {} names exactly {en} {}", role.as_str(), want.as_str()),
            ));
        }
        for p in &places {
            if kinds.get(p.as_str()) != Some(&want) {
                return Err(err(
                    format!("“{p}”须是前面已列出的{}", want.zh()),
                    format!("{p:?} must be a {} listed above", want.as_str()),
                ));
            }
        }
        self.accounts.push(RosterAccount {
            login: code.to_string(),
            name: name.to_string(),
            role,
            places,
        });
        Ok(())
    }
}

/// The csv crate's reason, without the text it read.
fn csv_problem(e: &csv::Error) -> &'static str {
    match e.kind() {
        csv::ErrorKind::Utf8 { .. } => "invalid UTF-8",
        csv::ErrorKind::UnequalLengths { .. } => "unequal lengths",
        _ => "malformed CSV",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn the_server_s_own_account_cannot_come_from_a_roster() {
        let e = Roster::parse("kind,code,name,parent\ncity,37,市,\nserver,tonghu-server,x,37\n")
            .unwrap_err();
        assert_eq!(e.line, 3);
        assert!(e.zh.contains("不认识的类别"), "{}", e.zh);
    }

    #[test]
    fn a_roster_names_places_before_people() {
        let r = Roster::parse(
            "kind,code,name,parent\ncity,37,市,\ncounty,3701,县,37\ntownship,370101,镇,3701\nvillage,37010101,\"村,一\",370101\ndirector,d1,张三,37010101\nsupervisor,s1,李四,370101\n",
        )
        .unwrap();
        assert_eq!(r.places.len(), 4);
        assert_eq!(r.places[3].name, "村,一");
        assert_eq!(r.accounts[0].places, vec!["37010101"]);
        let bad = Roster::parse("director,d1,张三,999\n").unwrap_err();
        assert_eq!(bad.line, 1);
    }

    #[test]
    fn a_roster_saved_by_excel_is_read_whole() {
        // BOM, CRLF, a quoted name with a comma, a quoted name with a line break, a
        // quoted field with a doubled quote, spaces around fields, an empty line.
        let text = "\u{feff}kind,code,name,parent\r\ncity,37,市,\r\ncounty,3701,县,37\r\n\r\ntownship,370101,\"镇,东\",3701\r\nvillage,37010101,\"村\r\n一组\",370101\r\nvillage, 37010102 ,\"他说\"\"好\"\"\",370101\r\ndirector,d1,张三,\"37010101;37010102\"\r\n";
        let r = Roster::parse(text).unwrap();
        assert_eq!(r.places.len(), 5);
        assert_eq!(
            r.places[0].code, "37",
            "the BOM is not part of the first field"
        );
        assert_eq!(r.places[2].name, "镇,东");
        assert_eq!(r.places[3].name, "村\r\n一组");
        assert_eq!(r.places[4].code, "37010102");
        assert_eq!(r.places[4].name, "他说\"好\"");
        assert_eq!(r.accounts[0].places, vec!["37010101", "37010102"]);
        assert!(r.places.iter().all(|p| !p.code.ends_with('\r')));
    }

    #[test]
    fn errors_name_the_line_in_chinese_and_english() {
        // The bad line comes after a record spanning two lines: its own line is named.
        let text = "kind,code,name,parent\ncity,37,\"市\n中心\",\ncounty,3701,县,99\n";
        let e = Roster::parse(text).unwrap_err();
        assert_eq!(e.line, 4);
        let shown = e.to_string();
        assert!(
            shown.contains("第 4 行") && shown.contains("line 4"),
            "{shown}"
        );
        assert!(
            e.zh.contains("上级") && e.problem.contains("parent"),
            "{e:?}"
        );
        let e = Roster::parse("city,37,\"市,\n").unwrap_err();
        assert!(e.line >= 1 && !e.zh.is_empty(), "{e:?}");
        let e = Roster::parse("city,37,市\n").unwrap_err();
        assert!(e.zh.contains("4 列"), "{e:?}");
    }
}
