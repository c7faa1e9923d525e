//! The server's own vocabulary, on a ground floor of its own: roles, accounts, the
//! authenticated principal every read and write is checked against, and the clock.
//!
//! Everything else stands on this module and it stands on nothing of the server's:
//! storage, ingest, the sync handlers and the console all speak these types, so no
//! layer has to import another layer to learn what a "supervisor" is.

use uuid::Uuid;

/// Most characters of a place code or a login (so of every village code, the scope of
/// every record): the roster refuses longer ones.
pub const MAX_CODE_CHARS: usize = 40;

/// What an account may do.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash, PartialOrd, Ord)]
pub enum Role {
    /// 儿童主任: reads and writes their villages.
    Director,
    /// 儿童督导员: reads the villages of their township, writes nothing.
    Supervisor,
    /// County (区市) civil-affairs admin: reads the villages of their county, writes
    /// nothing; administers the county's accounts and devices in the console.
    CountyAdmin,
    /// City civil-affairs admin: reads every village of the city, writes nothing;
    /// administers the city's accounts and devices in the console.
    CityAdmin,
    /// The server's own replica (active discovery's tasks, the county's decisions):
    /// not a person, never in a roster, never logs in, holds no token anyone knows.
    /// Its writes go through the same ingest as a phone's, with the villages of the
    /// admin who asked for them; it alone may write the schema's server-only fields.
    Server,
}

impl Role {
    /// Every role, in roster order.
    pub const ALL: [Role; 5] = [
        Role::Director,
        Role::Supervisor,
        Role::CountyAdmin,
        Role::CityAdmin,
        Role::Server,
    ];

    /// The stable code (roster CSV, storage, the wire).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Director => "director",
            Role::Supervisor => "supervisor",
            Role::CountyAdmin => "county_admin",
            Role::CityAdmin => "city_admin",
            Role::Server => "server",
        }
    }

    /// The role from its code.
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Whether people of this role log in to the console (directors use their phones).
    pub fn uses_console(self) -> bool {
        matches!(self, Role::Supervisor | Role::CountyAdmin | Role::CityAdmin)
    }

    /// Whether accounts of this role come from the roster (all but the server's own).
    pub fn in_roster(self) -> bool {
        self != Role::Server
    }

    /// The villages an account of this role reads, from what the roster gives it: a
    /// director the villages assigned to it; a supervisor, county or city admin every
    /// village under its place (township, county, city). The one statement of this
    /// rule: device tokens, console sessions and the admin pages' "in my area" all
    /// come through it. The server's replica reads nothing through a stored account:
    /// it is given the villages of the admin who asked, per write
    /// ([`Principal::server_replica`]).
    pub fn reads(self, assigned: Vec<String>, under_place: Vec<String>) -> Vec<String> {
        match self {
            Role::Director => assigned,
            Role::Supervisor | Role::CountyAdmin | Role::CityAdmin => under_place,
            Role::Server => Vec::new(),
        }
    }

    /// Whether this role administers accounts and devices of its area in the console.
    pub fn administers(self) -> bool {
        matches!(self, Role::CountyAdmin | Role::CityAdmin)
    }

    /// The role in English.
    pub fn label_en(self) -> &'static str {
        match self {
            Role::Director => "child director",
            Role::Supervisor => "township supervisor",
            Role::CountyAdmin => "county admin",
            Role::CityAdmin => "city admin",
            Role::Server => "server (active discovery)",
        }
    }

    /// The role as the people in it say it.
    pub fn label_zh(self) -> &'static str {
        match self {
            Role::Director => "儿童主任",
            Role::Supervisor => "儿童督导员",
            Role::CountyAdmin => "区市民政管理员",
            Role::CityAdmin => "市民政管理员",
            Role::Server => "服务器（主动发现）",
        }
    }
}

/// The login of the account of the server's own replica, the writer of active
/// discovery's tasks and the county's decisions (`crate::discovery`).
pub const SERVER_LOGIN: &str = "tonghu-server";
/// Its display name (what the audit trail shows).
pub const SERVER_NAME: &str = "童护服务器（主动发现）";

/// An account as the admin CLI and the console see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    pub id: i64,
    pub login: String,
    pub role: Role,
}

/// Who is asking, and what they may read and write: the one check every request of a
/// device or a person goes through. Scopes are village codes, sorted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub account_id: i64,
    pub role: Role,
    /// Village codes this principal may write (a director's villages; empty otherwise).
    pub write_scopes: Vec<String>,
    /// Village codes this principal may read.
    pub read_scopes: Vec<String>,
}

impl Principal {
    /// A principal of `role` with `villages` (its read scopes; also its write scopes
    /// for a director).
    pub fn new(account_id: i64, role: Role, mut villages: Vec<String>) -> Principal {
        villages.sort();
        villages.dedup();
        let write_scopes = if role == Role::Director {
            villages.clone()
        } else {
            Vec::new()
        };
        Principal {
            account_id,
            role,
            write_scopes,
            read_scopes: villages,
        }
    }

    /// The server's own replica writing `villages` (those of the admin who asked): see
    /// [`Role::Server`].
    pub fn server_replica(account_id: i64, mut villages: Vec<String>) -> Principal {
        villages.sort();
        villages.dedup();
        Principal {
            account_id,
            role: Role::Server,
            write_scopes: villages.clone(),
            read_scopes: villages,
        }
    }

    /// Whether this principal may write records of `village`.
    pub fn can_write(&self, village: &str) -> bool {
        self.write_scopes
            .binary_search_by(|s| s.as_str().cmp(village))
            .is_ok()
    }

    /// Whether this principal may read records of `village`.
    pub fn can_read(&self, village: &str) -> bool {
        self.read_scopes
            .binary_search_by(|s| s.as_str().cmp(village))
            .is_ok()
    }
}

/// An authenticated device: its id, whether it was revoked, and its account's
/// [`Principal`] (reachable through `Deref`: `device.can_read(v)`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceAuth {
    pub device_id: Uuid,
    pub revoked: bool,
    pub principal: Principal,
}

impl std::ops::Deref for DeviceAuth {
    type Target = Principal;
    fn deref(&self) -> &Principal {
        &self.principal
    }
}

/// The server's clock. One place reads the wall clock, so handlers, storage and the
/// console agree on "now" and "today".
pub mod clock {
    use chrono::{NaiveDate, Offset};

    /// Milliseconds since the epoch on the server clock.
    pub fn now_ms() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    }

    /// The deployment's time zone as seconds east of UTC: China Standard Time (UTC+8,
    /// no daylight saving) unless the server was started with another
    /// (`--time-zone` / `TONGHU_TIME_ZONE`). Every date and time the console, the
    /// exports and the due rules show or compute is in this zone.
    static ZONE_SECS: std::sync::atomic::AtomicI32 =
        std::sync::atomic::AtomicI32::new(DEFAULT_ZONE_SECS);

    /// China Standard Time, UTC+8.
    pub const DEFAULT_ZONE_SECS: i32 = 8 * 3600;

    /// Sets the deployment's time zone (once, at start).
    pub fn set_zone(offset: chrono::FixedOffset) {
        ZONE_SECS.store(
            offset.local_minus_utc(),
            std::sync::atomic::Ordering::Relaxed,
        );
    }

    /// The deployment's time zone.
    pub fn zone() -> chrono::FixedOffset {
        chrono::FixedOffset::east_opt(ZONE_SECS.load(std::sync::atomic::Ordering::Relaxed))
            .unwrap_or_else(|| chrono::Utc.fix())
    }

    /// Reads a zone as people write it: `+08:00`, `+8`, `UTC+8`, `-05:30`, `Z`.
    pub fn parse_zone(s: &str) -> Option<chrono::FixedOffset> {
        let t = s.trim();
        let t = t
            .strip_prefix("UTC")
            .or_else(|| t.strip_prefix("GMT"))
            .unwrap_or(t);
        if t.is_empty() || t == "Z" {
            return chrono::FixedOffset::east_opt(0);
        }
        let (sign, rest) = match t.as_bytes()[0] {
            b'+' => (1, &t[1..]),
            b'-' => (-1, &t[1..]),
            _ => return None,
        };
        let (h, m) = match rest.split_once(':') {
            Some((h, m)) => (h, m),
            None if rest.len() == 4 => (&rest[..2], &rest[2..]),
            None => (rest, "0"),
        };
        let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
        if !(0..=14).contains(&h) || !(0..60).contains(&m) {
            return None;
        }
        chrono::FixedOffset::east_opt(sign * (h * 3600 + m * 60))
    }

    /// The calendar day in the deployment's zone at `ms` since the epoch.
    pub fn day_at(ms: i64) -> NaiveDate {
        chrono::DateTime::from_timestamp_millis(ms)
            .unwrap_or_default()
            .with_timezone(&zone())
            .date_naive()
    }

    /// Today in the deployment's zone.
    pub fn today() -> NaiveDate {
        day_at(now_ms() as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deployment_zone_is_read_as_people_write_it() {
        use clock::parse_zone;
        for (text, secs) in [
            ("+08:00", 28800),
            ("+8", 28800),
            ("UTC+8", 28800),
            ("-05:30", -19800),
            ("Z", 0),
            ("+0545", 20700),
        ] {
            assert_eq!(
                parse_zone(text).map(|z| z.local_minus_utc()),
                Some(secs),
                "{text}"
            );
        }
        for bad in ["8", "+15", "+08:60", "CST", "Asia/Shanghai", ""] {
            if bad.is_empty() {
                continue;
            }
            assert_eq!(parse_zone(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_principal_reads_its_villages_and_a_director_writes_them() {
        let d = Principal::new(1, Role::Director, vec!["B".into(), "A".into(), "A".into()]);
        assert!(d.can_read("A") && d.can_write("B") && !d.can_read("C"));
        let s = Principal::new(2, Role::Supervisor, vec!["A".into()]);
        assert!(s.can_read("A") && !s.can_write("A"));
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
    }

    #[test]
    fn a_director_reads_its_assigned_villages_and_everyone_else_those_under_their_place() {
        let (assigned, under) = (
            vec!["A".to_string()],
            vec!["B".to_string(), "C".to_string()],
        );
        assert_eq!(
            Role::Director.reads(assigned.clone(), under.clone()),
            assigned
        );
        for r in [Role::Supervisor, Role::CountyAdmin, Role::CityAdmin] {
            assert_eq!(r.reads(assigned.clone(), under.clone()), under);
        }
    }
}
