//! The SQL both backends run word for word, written once.
//!
//! Parameters are PostgreSQL's `$1, $2, …`. SQLite reads `$1` as a *named* parameter
//! and numbers named parameters in the order they first appear, so every statement
//! here names its parameters first in increasing order (`$1` before `$2` …): then
//! `$N` is parameter N on both engines (checked by a test below). Only what the
//! engines share is here; what differs (arrays and `unnest` on PostgreSQL, multi-row
//! `VALUES` and `json_each` on SQLite, the feed's sequence) stays in the backend.
//! Booleans are written `true`/`false` (SQLite ≥ 3.23 reads them as 1/0).

// ── Ingest (`ingest::IngestTx`) ─────────────────────────────────────────────────────

/// A device's contiguous held maximum.
pub const DEVICE_MAX_SEQ: &str = "SELECT max_device_seq FROM devices WHERE device_id=$1";
/// The seqs older servers held above a device's maximum.
pub const HELD_AHEAD: &str = "SELECT device_seq FROM held_ahead WHERE device_id=$1";
/// A device's parked changes, in sequence.
pub const PARKED: &str = "SELECT change FROM parked WHERE device_id=$1 ORDER BY device_seq";
/// The head of an insert into the change log (11 columns).
pub const INSERT_CHANGES: &str = "INSERT INTO changes (op_id, device_id, device_seq, account_id, table_name, row_id, field, value, hlc, scope, received_ms)";
/// The head of an insert of field winners (7 columns).
pub const INSERT_FIELDS: &str =
    "INSERT INTO fields (table_name, row_id, field, hlc, device_id, value, op_id)";
/// What makes [`INSERT_FIELDS`] replace a stored winner.
pub const UPSERT_FIELDS_TAIL: &str = "ON CONFLICT (table_name, row_id, field) DO UPDATE SET hlc=excluded.hlc, device_id=excluded.device_id, value=excluded.value, op_id=excluded.op_id";
/// The head of an insert of row states (6 columns).
pub const INSERT_ROWS: &str =
    "INSERT INTO rows (table_name, row_id, scope, child_id, created_hlc, created_device)";
/// What makes [`INSERT_ROWS`] update a stored row. The creation stamp is written once,
/// with the row.
pub const UPSERT_ROWS_TAIL: &str =
    "ON CONFLICT (table_name, row_id) DO UPDATE SET scope=excluded.scope, child_id=excluded.child_id";
/// A blob named by a row.
pub const INSERT_BLOB_REF: &str =
    "INSERT INTO blob_refs (sha256, table_name, row_id) VALUES ($1,$2,$3) ON CONFLICT DO NOTHING";
/// The head of an insert of kept refusals (device_id, op_id, device_seq, code, message,
/// change, at_ms).
pub const INSERT_REJECTIONS: &str =
    "INSERT INTO rejections (device_id, op_id, device_seq, code, message, change, at_ms)";
/// What makes [`INSERT_REJECTIONS`] replace the kept refusal of the same op id.
pub const UPSERT_REJECTIONS_TAIL: &str = "ON CONFLICT (device_id, op_id) DO UPDATE SET device_seq=excluded.device_seq, code=excluded.code, message=excluded.message, change=excluded.change, at_ms=excluded.at_ms";
/// One kept refusal.
pub const KEEP_REJECTION: &str = "INSERT INTO rejections (device_id, op_id, device_seq, code, message, change, at_ms) VALUES ($1,$2,$3,$4,$5,$6,$7)
     ON CONFLICT (device_id, op_id) DO UPDATE SET device_seq=excluded.device_seq, code=excluded.code, message=excluded.message, change=excluded.change, at_ms=excluded.at_ms";
/// The head of an insert of parked changes (device_id, device_seq, op_id, change).
pub const INSERT_PARKED: &str = "INSERT INTO parked (device_id, device_seq, op_id, change)";
/// What makes [`INSERT_PARKED`] replace the change parked at the same seq.
pub const UPSERT_PARKED_TAIL: &str =
    "ON CONFLICT (device_id, device_seq) DO UPDATE SET op_id=excluded.op_id, change=excluded.change";
/// One parked change.
pub const PARK: &str = "INSERT INTO parked (device_id, device_seq, op_id, change) VALUES ($1,$2,$3,$4)
     ON CONFLICT (device_id, device_seq) DO UPDATE SET op_id=excluded.op_id, change=excluded.change";
/// A parked change taken.
pub const UNPARK_ONE: &str = "DELETE FROM parked WHERE device_id=$1 AND device_seq=$2";
/// Forgets the seqs older servers held above the maximum, up to `$2`.
pub const CLEAR_HELD_AHEAD: &str = "DELETE FROM held_ahead WHERE device_id=$1 AND device_seq<=$2";
/// The device row after a push.
/// The device row after a push: its maximum, last contact, heartbeat and the maximum
/// that heartbeat was taken at (`$4`, before the push's changes were held; the console's
/// pending counts), its blobs since reset.
pub const UPDATE_DEVICE_AFTER_PUSH: &str = "UPDATE devices SET max_device_seq=$1, last_seen_ms=$2, heartbeat=$3, heartbeat_seq=$4, blobs_since_heartbeat=0 WHERE device_id=$5";
/// A moved row's new scope.
pub const MOVE_ROW: &str = "UPDATE rows SET scope=$1 WHERE table_name=$2 AND row_id=$3";
/// The rows following a moved child.
pub const MOVE_CHILDS_ROWS: &str = "UPDATE rows SET scope=$1 WHERE child_id=$2";

// ── Quarantine (`ingest::QuarantineTx`) ─────────────────────────────────────────────

/// How many changes and bytes a device has in quarantine.
pub const QUARANTINE_HELD: &str =
    "SELECT count(*), CAST(COALESCE(sum(bytes), 0) AS BIGINT) FROM quarantine WHERE device_id=$1";
/// One quarantined change (kept once per op id).
pub const QUARANTINE_ADD: &str = "INSERT INTO quarantine (device_id, op_id, device_seq, change, received_ms, bytes) VALUES ($1,$2,$3,$4,$5,$6)
     ON CONFLICT DO NOTHING";

// ── Accounts, enrollment, devices (`AccountStore`) ──────────────────────────────────

/// A place of a roster, created or updated.
pub const IMPORT_PLACE: &str = "INSERT INTO places (code, kind, name, parent) VALUES ($1,$2,$3,$4) ON CONFLICT (code) DO UPDATE SET kind=excluded.kind, name=excluded.name, parent=excluded.parent";
/// An account of a roster, created or updated; returns its id.
pub const IMPORT_ACCOUNT: &str = "INSERT INTO accounts (login, name, role, place) VALUES ($1,$2,$3,$4) ON CONFLICT (login) DO UPDATE SET name=excluded.name, role=excluded.role, place=excluded.place RETURNING id";
/// Forgets an account's assigned villages (a roster import assigns them again).
pub const CLEAR_ACCOUNT_VILLAGES: &str = "DELETE FROM account_villages WHERE account_id=$1";
/// Assigns a village to an account.
pub const ASSIGN_VILLAGE: &str =
    "INSERT INTO account_villages (account_id, village) VALUES ($1,$2) ON CONFLICT DO NOTHING";
/// An account by login.
pub const ACCOUNT_BY_LOGIN: &str = "SELECT id, login, role FROM accounts WHERE login=$1";
/// A new enrollment code.
pub const ADD_ENROLL_CODE: &str = "INSERT INTO enroll_codes (code_id, account_id, secret_hash, created_ms, expires_ms) VALUES ($1,$2,$3,$4,$5)";
/// An enrollment code.
pub const ENROLL_CODE: &str = "SELECT code_id, account_id, secret_hash, expires_ms, used_ms IS NOT NULL, device_id FROM enroll_codes WHERE code_id=$1";
/// A device row as enrollment reads it.
pub const ENROLLED_DEVICE: &str = "SELECT account_id, revoked_ms IS NOT NULL, token_used_ms IS NOT NULL, token_hash FROM devices WHERE device_id=$1";
/// Marks a code used by a device — if it is still unused; returns its account.
pub const MARK_CODE_USED: &str = "UPDATE enroll_codes SET used_ms=$1, device_id=$2 WHERE code_id=$3 AND used_ms IS NULL RETURNING account_id";
/// A new device row (nothing if the id is taken).
pub const INSERT_DEVICE: &str = "INSERT INTO devices (device_id, account_id, name, app_version, token_hash, enrolled_ms) VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT (device_id) DO NOTHING";
/// A device's new token — if its row is still as read (the old token, never
/// presented, not revoked).
pub const REPLACE_TOKEN: &str = "UPDATE devices SET token_hash=$1 WHERE device_id=$2 AND token_hash=$3 AND token_used_ms IS NULL AND revoked_ms IS NULL";
/// An account's role.
pub const ACCOUNT_ROLE: &str = "SELECT role, place FROM accounts WHERE id=$1";
/// The villages assigned to an account.
pub const ASSIGNED_VILLAGES: &str =
    "SELECT village FROM account_villages WHERE account_id=$1 ORDER BY village";
/// Every village under a place (none under a NULL place).
pub const VILLAGES_UNDER: &str = "WITH RECURSIVE under(code, kind) AS (
        SELECT code, kind FROM places WHERE parent=$1
        UNION SELECT p.code, p.kind FROM places p JOIN under u ON p.parent=u.code)
    SELECT code FROM under WHERE kind='village' ORDER BY code";
/// The device holding a token, with its account.
pub const AUTHENTICATE: &str = "SELECT d.device_id, d.account_id, a.role, a.place, d.revoked_ms IS NOT NULL, d.token_used_ms IS NULL FROM devices d JOIN accounts a ON a.id=d.account_id WHERE d.token_hash=$1";
/// The first presentation of a token.
pub const MARK_TOKEN_USED: &str =
    "UPDATE devices SET token_used_ms=$1 WHERE token_hash=$2 AND token_used_ms IS NULL";
/// A device by id, with its account.
pub const DEVICE_BY_ID: &str = "SELECT d.account_id, a.role, a.place, d.revoked_ms IS NOT NULL FROM devices d JOIN accounts a ON a.id=d.account_id WHERE d.device_id=$1";
/// Devices, of one login or all (`$1` NULL).
pub const DEVICES: &str = "SELECT d.device_id, a.login, d.name, d.app_version, d.enrolled_ms, d.revoked_ms, d.last_seen_ms, d.max_device_seq, d.heartbeat, d.heartbeat_seq, d.blobs_since_heartbeat
     FROM devices d JOIN accounts a ON a.id=d.account_id WHERE CAST($1 AS TEXT) IS NULL OR a.login=$1 ORDER BY a.login, d.enrolled_ms";
/// One device.
pub const DEVICE_INFO: &str = "SELECT d.device_id, a.login, d.name, d.app_version, d.enrolled_ms, d.revoked_ms, d.last_seen_ms, d.max_device_seq, d.heartbeat, d.heartbeat_seq, d.blobs_since_heartbeat
     FROM devices d JOIN accounts a ON a.id=d.account_id WHERE d.device_id=$1";
/// Revokes a device (the first revocation's time stays).
pub const REVOKE_DEVICE: &str =
    "UPDATE devices SET revoked_ms=COALESCE(revoked_ms, $1) WHERE device_id=$2";
/// Whether the roster is empty.
pub const ANY_PLACE: &str = "SELECT 1 FROM places LIMIT 1";
/// Every village code.
pub const VILLAGES: &str = "SELECT code FROM places WHERE kind='village' ORDER BY code";
/// One access-log line of a device pull.
pub const LOG_PULL: &str = "INSERT INTO access_log (account_id, device_id, scope, record_count, at_ms) VALUES ($1,$2,$3,$4,$5)";

// ── Sync (`SyncStore`) ──────────────────────────────────────────────────────────────

/// Who changed which field of a row, when.
pub const AUDIT_ROW: &str = "SELECT c.received_ms, a.login, c.device_id, c.table_name, c.field, c.hlc, c.op_id
     FROM changes c JOIN accounts a ON a.id=c.account_id WHERE c.row_id=$1 ORDER BY c.hlc, c.device_id";
/// Every child's winning ID number (field `$2`), village and tombstone (field `$1`).
pub const CHILD_ID_NUMBERS: &str = "SELECT r.row_id, r.scope, f.value, d.value FROM fields f
     JOIN rows r ON r.table_name=f.table_name AND r.row_id=f.row_id
     LEFT JOIN fields d ON d.table_name='child' AND d.row_id=f.row_id AND d.field=$1
     WHERE f.table_name='child' AND f.field=$2";

// ── Blobs (`BlobUploads`) ───────────────────────────────────────────────────────────

/// A complete blob's size.
pub const BLOB_SIZE: &str = "SELECT size FROM blobs WHERE sha256=$1";
/// What a device holds of an upload: bytes and the announced total.
pub const UPLOAD_HELD: &str = "SELECT CAST(COALESCE(SUM(length(data)), 0) AS BIGINT), MAX(total) FROM blob_chunks WHERE sha256=$1 AND device_id=$2";
/// A chunk of a device's upload.
pub const ADD_CHUNK: &str =
    "INSERT INTO blob_chunks (sha256, device_id, \"offset\", total, data) VALUES ($1,$2,$3,$4,$5)";
/// A device's chunks of an upload, in order.
pub const CHUNKS: &str =
    "SELECT data FROM blob_chunks WHERE sha256=$1 AND device_id=$2 ORDER BY \"offset\"";
/// A blob complete.
pub const ADD_BLOB: &str =
    "INSERT INTO blobs (sha256, size, completed_ms) VALUES ($1,$2,$3) ON CONFLICT DO NOTHING";
/// A device's chunks of an upload, dropped.
pub const DROP_CHUNKS: &str = "DELETE FROM blob_chunks WHERE sha256=$1 AND device_id=$2";

// ── Console (`ConsoleStore`) ────────────────────────────────────────────────────────

/// A person by login.
pub const PERSON_BY_LOGIN: &str = "SELECT a.id, a.login, a.name, a.role, a.place, p.password_hash, p.login_code_hash, p.login_code_expires_ms, p.failed_logins, p.locked_until_ms
     FROM accounts a LEFT JOIN people p ON p.account_id=a.id WHERE a.login=$1";
/// A person by account id.
pub const PERSON_BY_ID: &str = "SELECT a.id, a.login, a.name, a.role, a.place, p.password_hash, p.login_code_hash, p.login_code_expires_ms, p.failed_logins, p.locked_until_ms
     FROM accounts a LEFT JOIN people p ON p.account_id=a.id WHERE a.id=$1";
/// A one-time login code (failures reset).
pub const SET_LOGIN_CODE: &str = "INSERT INTO people (account_id, login_code_hash, login_code_expires_ms, failed_logins, locked_until_ms) VALUES ($1,$2,$3,0,NULL)
     ON CONFLICT (account_id) DO UPDATE SET login_code_hash=$2, login_code_expires_ms=$3, failed_logins=0, locked_until_ms=NULL";
/// A password (the one-time code used up, failures reset).
pub const SET_PASSWORD: &str = "INSERT INTO people (account_id, password_hash) VALUES ($1,$2)
     ON CONFLICT (account_id) DO UPDATE SET password_hash=$2, login_code_hash=NULL, login_code_expires_ms=NULL, failed_logins=0, locked_until_ms=NULL";
/// One more failed login; returns the count.
pub const COUNT_FAILED_LOGIN: &str = "INSERT INTO people (account_id, failed_logins) VALUES ($1, 1)
     ON CONFLICT (account_id) DO UPDATE SET failed_logins=people.failed_logins+1 RETURNING failed_logins";
/// A login locked until a time.
pub const LOCK_LOGIN: &str = "UPDATE people SET locked_until_ms=$1 WHERE account_id=$2";
/// One more failed login under a name that is no account; returns the count.
pub const COUNT_FAILED_UNKNOWN_LOGIN: &str = "INSERT INTO unknown_logins (key, failed_logins) VALUES ($1, 1)
     ON CONFLICT (key) DO UPDATE SET failed_logins=unknown_logins.failed_logins+1 RETURNING failed_logins";
/// A name that is no account locked until a time.
pub const LOCK_UNKNOWN_LOGIN: &str = "UPDATE unknown_logins SET locked_until_ms=$1 WHERE key=$2";
/// Until when a name that is no account is locked.
pub const UNKNOWN_LOGIN_LOCKED: &str = "SELECT locked_until_ms FROM unknown_logins WHERE key=$1";
/// The deployment's console secret, made at first use.
pub const MAKE_CONSOLE_SECRET: &str =
    "INSERT INTO console_secret (id, key) VALUES (1, $1) ON CONFLICT (id) DO NOTHING";
/// The deployment's console secret.
pub const CONSOLE_SECRET: &str = "SELECT key FROM console_secret WHERE id=1";
/// An account's display name.
pub const RENAME_ACCOUNT: &str = "UPDATE accounts SET name=$1 WHERE login=$2";
/// Changes in quarantine, per device.
pub const QUARANTINE_COUNTS: &str = "SELECT device_id, count(*) FROM quarantine GROUP BY device_id";
/// One file fewer waiting on the phone (the console's pending count).
pub const BLOB_RECEIVED: &str =
    "UPDATE devices SET blobs_since_heartbeat = blobs_since_heartbeat + 1 WHERE device_id=$1";
/// A good login: failures cleared.
pub const LOGIN_SUCCEEDED: &str =
    "UPDATE people SET failed_logins=0, locked_until_ms=NULL WHERE account_id=$1";
/// Expired sessions dropped.
pub const DROP_EXPIRED_SESSIONS: &str = "DELETE FROM sessions WHERE expires_ms < $1";
/// A new session.
pub const ADD_SESSION: &str = "INSERT INTO sessions (token_hash, account_id, csrf, created_ms, expires_ms) VALUES ($1,$2,$3,$4,$5)";
/// A session not expired.
pub const SESSION: &str = "SELECT account_id, csrf, created_ms, expires_ms FROM sessions WHERE token_hash=$1 AND expires_ms > $2";
/// A session ended.
pub const END_SESSION: &str = "DELETE FROM sessions WHERE token_hash=$1";
/// One line of the console's access log.
pub const LOG_CONSOLE: &str =
    "INSERT INTO console_log (account_id, action, subject, at_ms) VALUES ($1,$2,$3,$4)";
/// Every place.
pub const PLACES: &str = "SELECT code, kind, name, parent FROM places ORDER BY code";
/// Whether a place is the top of the tree.
pub const IS_ROOT: &str = "SELECT parent IS NULL FROM places WHERE code = $1";
/// Every place (`$1` unused but bound, like [`PLACES_AROUND`]'s).
pub const PLACES_ALL_OF: &str =
    "SELECT code, kind, name, parent FROM places WHERE CAST($1 AS TEXT) IS NOT NULL ORDER BY code";
/// A place, the places under it and the places above it.
pub const PLACES_AROUND: &str = "WITH RECURSIVE down(code) AS (SELECT CAST($1 AS TEXT) UNION SELECT p.code FROM places p JOIN down d ON p.parent = d.code),
    up(code, parent) AS (SELECT code, parent FROM places WHERE code = $1 UNION SELECT p.code, p.parent FROM places p JOIN up u ON p.code = u.parent)
    SELECT code, kind, name, parent FROM places WHERE code IN (SELECT code FROM down) OR code IN (SELECT code FROM up) ORDER BY code";
/// How many villages there are.
pub const VILLAGE_COUNT: &str = "SELECT count(*) FROM places WHERE kind = 'village'";
/// Every assigned village, by account.
pub const ALL_ASSIGNED_VILLAGES: &str =
    "SELECT account_id, village FROM account_villages ORDER BY account_id, village";
/// Every account.
pub const ACCOUNTS: &str = "SELECT id, login, name, role, place FROM accounts ORDER BY login";
/// Kept refusals per device.
pub const REJECTION_COUNTS: &str = "SELECT device_id, count(*) FROM rejections GROUP BY device_id";
/// The read model's cursor.
pub const CONSOLE_CURSOR: &str = "SELECT seq FROM console_cursor WHERE id=1";
/// The last feed position of at most `$2` entries after `$1`.
pub const FEED_WINDOW_END: &str = "SELECT max(server_seq) FROM (SELECT server_seq FROM feed WHERE server_seq > $1 ORDER BY server_seq LIMIT $2) s";
/// The children whose records have feed entries in `($1, $2]`.
pub const TOUCHED_CHILDREN: &str =
    "SELECT DISTINCT CASE WHEN c.table_name='child' THEN c.row_id ELSE r.child_id END
     FROM feed f JOIN changes c ON c.op_id=f.op_id
     LEFT JOIN rows r ON r.table_name=c.table_name AND r.row_id=c.row_id
     WHERE f.server_seq > $1 AND f.server_seq <= $2";
/// Whether the feed goes on after `$1`.
pub const FEED_AFTER: &str = "SELECT 1 FROM feed WHERE server_seq > $1 LIMIT 1";
/// The read model's cursor moved.
pub const SET_CONSOLE_CURSOR: &str = "UPDATE console_cursor SET seq=$1 WHERE id=1";

/// A township's summary (`console_area_counts`) if it is up to date for the day `$2`.
pub const AREA_COUNTS: &str = "SELECT township, children, red, yellow, blue, overdue, agreements_missing, agreements_expiring, referrals_late, reports_late
    FROM console_area_counts WHERE township = $1 AND as_of = $2";
/// Whether township `$1` has a summary (fresh or stale).
pub const AREA_KNOWN: &str = "SELECT 1 FROM console_area_counts WHERE township = $1";
/// Township `$1`'s summary for the day `$2` (agreements ending by `$3` are expiring),
/// counted from the read model: the same rules the township view applies child by
/// child (active children; late referrals of active children).
pub const REFRESH_AREA_COUNTS: &str = "INSERT INTO console_area_counts (township, as_of, children, red, yellow, blue, overdue, agreements_missing, agreements_expiring, referrals_late, reports_late)
    SELECT $1, $2, count(*),
        count(*) FILTER (WHERE c.risk_colour = 'red'),
        count(*) FILTER (WHERE c.risk_colour = 'yellow'),
        count(*) FILTER (WHERE c.risk_colour = 'blue'),
        count(*) FILTER (WHERE c.due_on < $2),
        count(*) FILTER (WHERE c.left_behind AND (c.agreement_until IS NULL OR c.agreement_until < $2)),
        count(*) FILTER (WHERE c.left_behind AND c.agreement_until >= $2 AND c.agreement_until <= $3),
        (SELECT count(*) FROM console_referrals r JOIN console_children rc ON rc.child_id = r.child_id AND rc.active
            JOIN places rp ON rp.code = r.village
            WHERE rp.parent = $1 AND r.open AND NOT r.report AND r.feedback_due_on < $2),
        (SELECT count(*) FROM console_referrals r JOIN console_children rc ON rc.child_id = r.child_id AND rc.active
            JOIN places rp ON rp.code = r.village
            WHERE rp.parent = $1 AND r.open AND r.report AND r.feedback_due_on < $2)
    FROM console_children c JOIN places p ON p.code = c.village
    WHERE p.parent = $1 AND c.active
    ON CONFLICT (township) DO UPDATE SET as_of = excluded.as_of, children = excluded.children,
        red = excluded.red, yellow = excluded.yellow, blue = excluded.blue, overdue = excluded.overdue,
        agreements_missing = excluded.agreements_missing, agreements_expiring = excluded.agreements_expiring,
        referrals_late = excluded.referrals_late, reports_late = excluded.reports_late";
/// Township `$1`'s visits per day, forgotten before they are counted again.
pub const FORGET_AREA_VISITS: &str = "DELETE FROM console_area_visits WHERE township = $1";
/// Township `$1`'s visits per day, counted from the read model.
pub const COUNT_AREA_VISITS: &str = "INSERT INTO console_area_visits (township, visited_on, n)
    SELECT $1, v.visited_on, count(*) FROM console_visits v JOIN places p ON p.code = v.village
    WHERE p.parent = $1 GROUP BY v.visited_on";
/// Before a roster import moves village `$1` under township `$2`: the summaries of its
/// old and new townships are forgotten (made again at their next view).
pub const FORGET_MOVED_AREA_COUNTS: &str = "DELETE FROM console_area_counts
    WHERE township IN (SELECT parent FROM places WHERE code = $1 AND kind = 'village' AND parent <> $2)
       OR (township = $2 AND EXISTS (SELECT 1 FROM places WHERE code = $1 AND kind = 'village' AND parent <> $2))";
/// The same for their visits per day.
pub const FORGET_MOVED_AREA_VISITS: &str = "DELETE FROM console_area_visits
    WHERE township IN (SELECT parent FROM places WHERE code = $1 AND kind = 'village' AND parent <> $2)
       OR (township = $2 AND EXISTS (SELECT 1 FROM places WHERE code = $1 AND kind = 'village' AND parent <> $2))";

#[cfg(test)]
mod tests {
    /// Every statement of this module, for the parameter-order check.
    const ALL: &[&str] = &[
        super::DEVICE_MAX_SEQ,
        super::HELD_AHEAD,
        super::PARKED,
        super::INSERT_BLOB_REF,
        super::KEEP_REJECTION,
        super::PARK,
        super::UNPARK_ONE,
        super::CLEAR_HELD_AHEAD,
        super::UPDATE_DEVICE_AFTER_PUSH,
        super::MOVE_ROW,
        super::MOVE_CHILDS_ROWS,
        super::QUARANTINE_HELD,
        super::QUARANTINE_ADD,
        super::IMPORT_PLACE,
        super::IMPORT_ACCOUNT,
        super::CLEAR_ACCOUNT_VILLAGES,
        super::ASSIGN_VILLAGE,
        super::ACCOUNT_BY_LOGIN,
        super::ADD_ENROLL_CODE,
        super::ENROLL_CODE,
        super::ENROLLED_DEVICE,
        super::MARK_CODE_USED,
        super::INSERT_DEVICE,
        super::REPLACE_TOKEN,
        super::ACCOUNT_ROLE,
        super::ASSIGNED_VILLAGES,
        super::VILLAGES_UNDER,
        super::AUTHENTICATE,
        super::MARK_TOKEN_USED,
        super::DEVICE_BY_ID,
        super::DEVICES,
        super::REVOKE_DEVICE,
        super::ANY_PLACE,
        super::VILLAGES,
        super::LOG_PULL,
        super::AUDIT_ROW,
        super::CHILD_ID_NUMBERS,
        super::BLOB_SIZE,
        super::UPLOAD_HELD,
        super::ADD_CHUNK,
        super::CHUNKS,
        super::ADD_BLOB,
        super::DROP_CHUNKS,
        super::PERSON_BY_LOGIN,
        super::PERSON_BY_ID,
        super::SET_LOGIN_CODE,
        super::SET_PASSWORD,
        super::COUNT_FAILED_LOGIN,
        super::LOCK_LOGIN,
        super::LOGIN_SUCCEEDED,
        super::DROP_EXPIRED_SESSIONS,
        super::ADD_SESSION,
        super::SESSION,
        super::END_SESSION,
        super::LOG_CONSOLE,
        super::PLACES,
        super::IS_ROOT,
        super::PLACES_ALL_OF,
        super::PLACES_AROUND,
        super::VILLAGE_COUNT,
        super::ALL_ASSIGNED_VILLAGES,
        super::ACCOUNTS,
        super::REJECTION_COUNTS,
        super::CONSOLE_CURSOR,
        super::FEED_WINDOW_END,
        super::TOUCHED_CHILDREN,
        super::FEED_AFTER,
        super::SET_CONSOLE_CURSOR,
        super::COUNT_FAILED_UNKNOWN_LOGIN,
        super::LOCK_UNKNOWN_LOGIN,
        super::UNKNOWN_LOGIN_LOCKED,
        super::MAKE_CONSOLE_SECRET,
        super::CONSOLE_SECRET,
        super::RENAME_ACCOUNT,
        super::QUARANTINE_COUNTS,
        super::BLOB_RECEIVED,
        super::DEVICE_INFO,
        super::AREA_COUNTS,
        super::AREA_KNOWN,
        super::REFRESH_AREA_COUNTS,
        super::FORGET_AREA_VISITS,
        super::COUNT_AREA_VISITS,
        super::FORGET_MOVED_AREA_COUNTS,
        super::FORGET_MOVED_AREA_VISITS,
    ];

    /// The `$N` parameters of a statement in order of first appearance.
    fn first_appearances(sql: &str) -> Vec<usize> {
        let b = sql.as_bytes();
        let mut seen = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'$' {
                let digits: String = sql[i + 1..]
                    .chars()
                    .take_while(|c| c.is_ascii_digit())
                    .collect();
                if let Ok(n) = digits.parse::<usize>() {
                    if !seen.contains(&n) {
                        seen.push(n);
                    }
                }
                i += 1 + digits.len();
            } else {
                i += 1;
            }
        }
        seen
    }

    #[test]
    fn parameters_first_appear_in_order_so_sqlite_numbers_them_as_postgresql_does() {
        for sql in ALL {
            let seen = first_appearances(sql);
            let expected: Vec<usize> = (1..=seen.len()).collect();
            assert_eq!(seen, expected, "{sql}");
        }
    }

    #[test]
    fn sqlite_binds_dollar_parameters_by_first_appearance() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let (a, b): (i64, i64) = conn
            .query_row("SELECT $1 - $2, $2", rusqlite::params![10, 3], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!((a, b), (7, 3));
    }
}
