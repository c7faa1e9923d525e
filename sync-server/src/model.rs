//! The server's own vocabulary, on a ground floor of its own: roles, accounts, the
//! authenticated principal every read and write is checked against, and the clock.
//!
//! Everything else stands on this module and it stands on nothing of the server's:
//! storage, ingest, the sync handlers and the console all speak these types, so no
//! layer has to import another layer to learn what a "supervisor" is.

use uuid::Uuid;

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
}

impl Role {
    /// Every role, in roster order.
    pub const ALL: [Role; 4] = [
        Role::Director,
        Role::Supervisor,
        Role::CountyAdmin,
        Role::CityAdmin,
    ];

    /// The stable code (roster CSV, storage, the wire).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Director => "director",
            Role::Supervisor => "supervisor",
            Role::CountyAdmin => "county_admin",
            Role::CityAdmin => "city_admin",
        }
    }

    /// The role from its code.
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Whether people of this role log in to the console (directors use their phones).
    pub fn uses_console(self) -> bool {
        self != Role::Director
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
        }
    }

    /// The role as the people in it say it.
    pub fn label_zh(self) -> &'static str {
        match self {
            Role::Director => "儿童主任",
            Role::Supervisor => "儿童督导员",
            Role::CountyAdmin => "区市民政管理员",
            Role::CityAdmin => "市民政管理员",
        }
    }
}

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

    /// China Standard Time (UTC+8, no daylight saving).
    pub fn china() -> chrono::FixedOffset {
        chrono::FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| chrono::Utc.fix())
    }

    /// The calendar day in China at `ms` since the epoch.
    pub fn day_at(ms: i64) -> NaiveDate {
        chrono::DateTime::from_timestamp_millis(ms)
            .unwrap_or_default()
            .with_timezone(&china())
            .date_naive()
    }

    /// Today in China.
    pub fn today() -> NaiveDate {
        day_at(now_ms() as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
