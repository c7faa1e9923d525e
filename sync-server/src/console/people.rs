//! Login for people (supervisors and admins), separate from device tokens: the first
//! login with a one-time code an admin issued, then a password of their own (both
//! Argon2id); sessions as an HttpOnly, SameSite=Strict cookie holding a random token
//! (stored as its SHA-256) with an absolute expiry; a CSRF token per session that
//! every form carries; failed logins counted per account and the login locked for a
//! while after too many.

use crate::error::StoreError;
use crate::model::{Principal, Role};
use crate::store::{ConsoleStore, PersonRecord, SessionRecord};
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
    /// The account has no password yet: use the one-time code.
    NeedsCode,
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
            LoginRefusal::NeedsCode => "needs_login_code",
            LoginRefusal::CodeExpired => "login_code_expired",
            LoginRefusal::BadNewPassword => "bad_new_password",
        }
    }
    pub fn zh(&self) -> String {
        match self {
            LoginRefusal::Wrong => "账号或密码不正确。".into(),
            LoginRefusal::Locked { .. } => "登录失败次数过多，请 15 分钟后再试。".into(),
            LoginRefusal::NeedsCode => "首次登录请使用管理员给您的一次性登录码。".into(),
            LoginRefusal::CodeExpired => "一次性登录码已过期，请向管理员索取新码。".into(),
            LoginRefusal::BadNewPassword => {
                format!("新密码至少 {MIN_PASSWORD_CHARS} 个字符，且两次输入须一致。")
            }
        }
    }
    pub fn en(&self) -> String {
        match self {
            LoginRefusal::Wrong => "Wrong login or password.".into(),
            LoginRefusal::Locked { .. } => "Too many failed logins; try again in 15 minutes.".into(),
            LoginRefusal::NeedsCode => "For your first login use the one-time code from your admin.".into(),
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

async fn refuse(
    db: &dyn ConsoleStore,
    p: &PersonRecord,
    now_ms: i64,
) -> Result<LoginRefusal, StoreError> {
    let n = db
        .login_failed(p.account_id, now_ms, LOCK_AFTER, LOCK_MS)
        .await?;
    Ok(if n >= LOCK_AFTER {
        LoginRefusal::Locked {
            until_ms: now_ms + LOCK_MS,
        }
    } else {
        LoginRefusal::Wrong
    })
}

/// Logs in with a password.
pub async fn login(
    db: &dyn ConsoleStore,
    login: &str,
    password: &str,
    now_ms: i64,
) -> Result<Result<NewSession, LoginRefusal>, StoreError> {
    let person = console_person(db, login).await?;
    if let Some(until) = person
        .as_ref()
        .and_then(|p| p.locked_until_ms)
        .filter(|u| *u > now_ms)
    {
        return Ok(Err(LoginRefusal::Locked { until_ms: until }));
    }
    let ok = verify(
        password.to_string(),
        person.as_ref().and_then(|p| p.password_hash.clone()),
    )
    .await;
    let Some(p) = person else {
        return Ok(Err(LoginRefusal::Wrong));
    };
    if !ok {
        if p.password_hash.is_none() && p.login_code_hash.is_some() {
            return Ok(Err(LoginRefusal::NeedsCode));
        }
        return Ok(Err(refuse(db, &p, now_ms).await?));
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
    if let Some(until) = person
        .as_ref()
        .and_then(|p| p.locked_until_ms)
        .filter(|u| *u > now_ms)
    {
        return Ok(Err(LoginRefusal::Locked { until_ms: until }));
    }
    let typed = normalize_code(code);
    let ok = verify(
        typed,
        person.as_ref().and_then(|p| p.login_code_hash.clone()),
    )
    .await;
    let Some(p) = person else {
        return Ok(Err(LoginRefusal::Wrong));
    };
    if !ok {
        return Ok(Err(refuse(db, &p, now_ms).await?));
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
    db: &dyn ConsoleStore,
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

/// Whether a submitted CSRF token is the session's (constant time).
pub fn csrf_ok(viewer: &Viewer, submitted: &str) -> bool {
    let a = viewer.csrf.as_bytes();
    let b = submitted.as_bytes();
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
