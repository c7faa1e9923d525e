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
//! list is replaced). Fields may be quoted with `"` (a quote inside doubled).

use crate::model::Role;

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

/// A roster line that cannot be imported.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("roster line {line}: {problem}")]
pub struct RosterError {
    pub line: usize,
    pub problem: String,
}

fn split_csv_line(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(ch) = chars.next() {
        match (ch, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut cur)),
            (c, _) => cur.push(c),
        }
    }
    out.push(cur);
    out.into_iter().map(|s| s.trim().to_string()).collect()
}

impl Roster {
    /// Parses and checks a roster file's text.
    pub fn parse(text: &str) -> Result<Roster, RosterError> {
        let mut roster = Roster::default();
        let mut kinds = std::collections::HashMap::new();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let raw = raw.trim_start_matches('\u{feff}');
            if raw.trim().is_empty() || raw.starts_with('#') {
                continue;
            }
            let cols = split_csv_line(raw);
            if line == 1 && cols.first().map(String::as_str) == Some("kind") {
                continue;
            }
            let err = |problem: String| RosterError { line, problem };
            if cols.len() != 4 {
                return Err(err(format!("expected 4 columns, found {}", cols.len())));
            }
            let (kind, code, name, parent) = (&cols[0], &cols[1], &cols[2], &cols[3]);
            if code.is_empty() || code.len() > 40 || code.contains(';') {
                return Err(err("code/login must be 1-40 characters without ';'".into()));
            }
            if name.is_empty() || name.chars().count() > 100 {
                return Err(err("name must be 1-100 characters".into()));
            }
            let place_kind = match kind.as_str() {
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
                        if kinds.get(parent.as_str()) != Some(&want) {
                            return Err(err(format!(
                                "parent {parent:?} must be a {} listed above",
                                want.as_str()
                            )));
                        }
                        Some(parent.clone())
                    }
                };
                if let Some(k) = kinds.get(code.as_str()) {
                    if *k != pk {
                        return Err(err(format!(
                            "code {code} already used for a {}",
                            k.as_str()
                        )));
                    }
                }
                kinds.insert(code.clone(), pk);
                roster.places.push(Place {
                    kind: pk,
                    code: code.clone(),
                    name: name.clone(),
                    parent,
                });
                continue;
            }
            let role = Role::parse(kind).ok_or_else(|| err(format!("unknown kind {kind:?}")))?;
            let want = match role {
                Role::Director => PlaceKind::Village,
                Role::Supervisor => PlaceKind::Township,
                Role::CountyAdmin => PlaceKind::County,
                Role::CityAdmin => PlaceKind::City,
            };
            let places: Vec<String> = parent
                .split(';')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect();
            if places.is_empty() || (role != Role::Director && places.len() != 1) {
                return Err(err(format!(
                    "a {} names exactly {} {}",
                    role.as_str(),
                    if role == Role::Director {
                        "one or more"
                    } else {
                        "one"
                    },
                    want.as_str()
                )));
            }
            for p in &places {
                if kinds.get(p.as_str()) != Some(&want) {
                    return Err(err(format!(
                        "{p:?} must be a {} listed above",
                        want.as_str()
                    )));
                }
            }
            roster.accounts.push(RosterAccount {
                login: code.clone(),
                name: name.clone(),
                role,
                places,
            });
        }
        Ok(roster)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
}
