//! Login for people (supervisors and admins), separate from device tokens: the first
//! login with a one-time code an admin issued, then a password of their own (both
//! Argon2id); sessions as an HttpOnly, SameSite=Strict cookie holding a random token
//! (stored as its SHA-256) with an absolute expiry; a CSRF token per session that
//! every form carries; failed logins counted per account and the login locked for a
//! while after too many.

use crate::error::StoreError;
use crate::model::{Principal, Role};
use crate::store::{ConsoleStore, LoginKey, PersonRecord, SessionRecord};
use argon2::password_hash::{rand_core::OsRng, PasswordHasher, SaltString};
use argon2::Argon2;

/// How long a session lasts (absolute, from login).
pub const SESSION_MS: i64 = 8 * 3_600_000;
/// How long a one-time login code is valid.
pub const LOGIN_CODE_MS: i64 = 72 * 3_600_000;
/// Failed logins after which the login is locked…
pub const LOCK_AFTER: i64 = 5;
/// …for this long.
pub const LOCK_MS: i64 = 15 * 60_000;
/// Shortest password a person may choose.
pub const MIN_PASSWORD_CHARS: usize = 10;

/// A logged-in person and what they may read.
#[derive(Clone, Debug)]
pub struct Viewer {
    pub account_id: i64,
    pub login: String,
    pub name: String,
    pub role: Role,
    /// Their township (supervisor), county or city (admins).
    pub place: Option<String>,
    pub principal: Principal,
    /// The session's CSRF token (forms carry it).
    pub csrf: String,
    pub session_hash: [u8; 32],
}

impl Viewer {
    /// Whether this person may read records of `village`.
    pub fn can_read(&self, village: &str) -> bool {
        self.principal.can_read(village)
    }
}

/// Why a login did not succeed. Every variant has a sentence in Chinese and English.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginRefusal {
    /// Unknown login, wrong password or wrong code (never says which).
    Wrong,
    /// Too many failures: locked until then.
    Locked { until_ms: i64 },
    /// The one-time code expired.
    CodeExpired,
    /// The new password is too short or the two entries differ.
    BadNewPassword,
}

impl LoginRefusal {
    pub fn code(&self) -> &'static str {
        match self {
            LoginRefusal::Wrong => "login_failed",
            LoginRefusal::Locked { .. } => "login_locked",
            LoginRefusal::CodeExpired => "login_code_expired",
            LoginRefusal::BadNewPassword => "bad_new_password",
        }
    }
    pub fn zh(&self) -> String {
        match self {
            LoginRefusal::Wrong => {
                "账号或密码不正确。还没有密码的，请点“首次登录”，输入管理员给您的一次性登录码。"
                    .into()
            }
            LoginRefusal::Locked { .. } => "登录失败次数过多，请 15 分钟后再试。".into(),
            LoginRefusal::CodeExpired => "一次性登录码已过期，请向管理员索取新码。".into(),
            LoginRefusal::BadNewPassword => {
                format!("新密码至少 {MIN_PASSWORD_CHARS} 个字符，且两次输入须一致。")
            }
        }
    }
    pub fn en(&self) -> String {
        match self {
            LoginRefusal::Wrong => "Wrong login or password. If you have no password yet, use \"First login\" with the one-time code from your admin.".into(),
            LoginRefusal::Locked { .. } => "Too many failed logins; try again in 15 minutes.".into(),
            LoginRefusal::CodeExpired => "The one-time login code has expired; ask your admin for a new one.".into(),
            LoginRefusal::BadNewPassword => format!("The new password needs at least {MIN_PASSWORD_CHARS} characters, typed the same twice."),
        }
    }
}

/// An Argon2id hash of a secret (PHC string).
pub fn hash_secret(secret: &str) -> Result<String, StoreError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(secret.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| StoreError::Invalid(format!("argon2: {e}")))
}

async fn verify(secret: String, hash: Option<String>) -> bool {
    // An unknown login still costs one verification, so timing does not tell logins apart.
    static DUMMY: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| hash_secret("no such login").unwrap_or_default());
    let hash = hash.unwrap_or_else(|| DUMMY.clone());
    tokio::task::spawn_blocking(move || crate::auth::verify_secret(&secret, &hash))
        .await
        .unwrap_or(false)
}

/// A fresh session for a person, to set as the cookie (`token`, shown once).
pub struct NewSession {
    pub token: String,
    pub record: SessionRecord,
}

async fn start_session(
    db: &dyn ConsoleStore,
    account_id: i64,
    now_ms: i64,
) -> Result<NewSession, StoreError> {
    let (token, token_hash) = crate::auth::mint_token();
    let (csrf, _) = crate::auth::mint_token();
    let record = SessionRecord {
        token_hash,
        account_id,
        csrf,
        created_ms: now_ms,
        expires_ms: now_ms + SESSION_MS,
    };
    db.add_session(record.clone()).await?;
    Ok(NewSession { token, record })
}

async fn console_person(
    db: &dyn ConsoleStore,
    login: &str,
) -> Result<Option<PersonRecord>, StoreError> {
    Ok(db
        .person(login.trim())
        .await?
        .filter(|p| p.role.uses_console()))
}

/// The lock-out rule, once, for accounts and for names that are none alike: from the
/// [`LOCK_AFTER`]-th failure in a row on, each failure locks the login for [`LOCK_MS`]
/// (a good login or a new code clears an account's count).
async fn refuse(
    db: &dyn ConsoleStore,
    who: LoginKey,
    now_ms: i64,
) -> Result<LoginRefusal, StoreError> {
    let n = db.count_failed_login(who).await?;
    if n < LOCK_AFTER {
        return Ok(LoginRefusal::Wrong);
    }
    let until_ms = now_ms + LOCK_MS;
    db.lock_login(who, until_ms).await?;
    Ok(LoginRefusal::Locked { until_ms })
}

/// A refusal for a login that does not exist (or is a director's): counted like a real
/// account's failures under the login's name, so that after [`LOCK_AFTER`] tries it is
/// "locked" too and nothing in the answers tells the two apart.
async fn unknown_login_refused(
    db: &dyn ConsoleStore,
    login: &str,
    now_ms: i64,
) -> Result<LoginRefusal, StoreError> {
    refuse(db, LoginKey::Unknown(unknown_key(login)), now_ms).await
}

/// The key a name that is no account is counted under: never the name itself.
fn unknown_key(login: &str) -> [u8; 32] {
    crate::auth::token_hash(&login.trim().to_lowercase())
}

/// Logs in with a password.
pub async fn login(
    db: &dyn ConsoleStore,
    login: &str,
    password: &str,
    now_ms: i64,
) -> Result<Result<NewSession, LoginRefusal>, StoreError> {
    let person = console_person(db, login).await?;
    let locked = match &person {
        Some(p) => p.locked_until_ms,
        None => db.unknown_login_locked(unknown_key(login)).await?,
    };
    if let Some(until) = locked.filter(|u| *u > now_ms) {
        return Ok(Err(LoginRefusal::Locked { until_ms: until }));
    }
    let ok = verify(
        password.to_string(),
        person.as_ref().and_then(|p| p.password_hash.clone()),
    )
    .await;
    let Some(p) = person else {
        return Ok(Err(unknown_login_refused(db, login, now_ms).await?));
    };
    if !ok {
        // The same answer whether or not the account has a password yet: a wrong
        // password never tells whether a login exists.
        return Ok(Err(
            refuse(db, LoginKey::Account(p.account_id), now_ms).await?
        ));
    }
    db.login_succeeded(p.account_id).await?;
    Ok(Ok(start_session(db, p.account_id, now_ms).await?))
}

/// First login: the one-time code and a new password (typed twice).
pub async fn first_login(
    db: &dyn ConsoleStore,
    login: &str,
    code: &str,
    new_password: &str,
    repeat: &str,
    now_ms: i64,
) -> Result<Result<NewSession, LoginRefusal>, StoreError> {
    let person = console_person(db, login).await?;
    let locked = match &person {
        Some(p) => p.locked_until_ms,
        None => db.unknown_login_locked(unknown_key(login)).await?,
    };
    if let Some(until) = locked.filter(|u| *u > now_ms) {
        return Ok(Err(LoginRefusal::Locked { until_ms: until }));
    }
    let typed = normalize_code(code);
    let ok = verify(
        typed,
        person.as_ref().and_then(|p| p.login_code_hash.clone()),
    )
    .await;
    let Some(p) = person else {
        return Ok(Err(unknown_login_refused(db, login, now_ms).await?));
    };
    if !ok {
        return Ok(Err(
            refuse(db, LoginKey::Account(p.account_id), now_ms).await?
        ));
    }
    if p.login_code_expires_ms.is_some_and(|e| e <= now_ms) {
        return Ok(Err(LoginRefusal::CodeExpired));
    }
    if new_password.chars().count() < MIN_PASSWORD_CHARS
        || new_password != repeat
        || new_password.len() > 200
    {
        return Ok(Err(LoginRefusal::BadNewPassword));
    }
    db.set_password(p.account_id, hash_secret(new_password)?)
        .await?;
    Ok(Ok(start_session(db, p.account_id, now_ms).await?))
}

fn normalize_code(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// Issues a one-time login code for a person (shown once to the admin, who hands it
/// over): the person's next login sets their password. Resets a lock.
pub async fn issue_login_code(
    db: &dyn ConsoleStore,
    login: &str,
    now_ms: i64,
) -> Result<Option<String>, StoreError> {
    let Some(p) = console_person(db, login).await? else {
        return Ok(None);
    };
    let code = crate::auth::mint_code().code;
    db.set_login_code(
        p.account_id,
        hash_secret(&normalize_code(&code))?,
        now_ms + LOGIN_CODE_MS,
    )
    .await?;
    Ok(Some(code))
}

/// The person behind a session cookie, if the session is alive.
pub async fn viewer(
    db: &dyn crate::store::Database,
    token: &str,
    now_ms: i64,
) -> Result<Option<Viewer>, StoreError> {
    if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    let hash = crate::auth::token_hash(token);
    let Some(s) = db.session(hash, now_ms).await? else {
        return Ok(None);
    };
    let Some(p) = db.person_by_id(s.account_id).await? else {
        return Ok(None);
    };
    if !p.role.uses_console() {
        return Ok(None);
    }
    let Some(principal) = db.principal(s.account_id).await? else {
        return Ok(None);
    };
    Ok(Some(Viewer {
        account_id: p.account_id,
        login: p.login,
        name: p.name,
        role: p.role,
        place: p.place,
        principal,
        csrf: s.csrf,
        session_hash: hash,
    }))
}

/// How long a login form's CSRF token is good for.
pub const LOGIN_TOKEN_MS: i64 = 3_600_000;

/// HMAC-SHA-256 (RFC 2104).
fn hmac(key: &[u8; 32], msg: &[u8]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut k = [0u8; 64];
    k[..32].copy_from_slice(key);
    let pad = |b: u8| k.map(|x| x ^ b);
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(msg)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

/// A login form's CSRF token: a random nonce and the time, signed with the
/// deployment's secret (`ConsoleStore::console_secret`, shared by every server
/// process), so only this server can make one.
pub fn login_token(key: &[u8; 32], now_ms: i64) -> String {
    let nonce: [u8; 16] = rand::random();
    let body = format!("{}.{:x}", hex::encode(nonce), now_ms);
    let sig = hmac(key, body.as_bytes());
    format!("{body}.{}", hex::encode(&sig[..16]))
}

/// Whether `token` is one [`login_token`] made with `key` within the last hour.
pub fn login_token_ok(key: &[u8; 32], token: &str, now_ms: i64) -> bool {
    let Some((body, sig)) = token.rsplit_once('.') else {
        return false;
    };
    let Some(issued) = body
        .split_once('.')
        .and_then(|(_, t)| i64::from_str_radix(t, 16).ok())
    else {
        return false;
    };
    let want = hex::encode(&hmac(key, body.as_bytes())[..16]);
    let same = want.len() == sig.len()
        && want
            .bytes()
            .zip(sig.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0;
    same && issued <= now_ms + 60_000 && now_ms - issued < LOGIN_TOKEN_MS
}

/// Whether a submitted CSRF token is the session's (constant time).
pub fn csrf_ok(viewer: &Viewer, submitted: &str) -> bool {
    let a = viewer.csrf.as_bytes();
    let b = submitted.as_bytes();
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
