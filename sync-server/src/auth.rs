//! Secrets: one-time enrollment codes (argon2-hashed) and device bearer tokens (random
//! 32 bytes, stored as SHA-256 — a high-entropy token needs no slow hash).
//!
//! An enrollment code reads `XXXXXX-XXXXXXXXXX` in an unambiguous base-32 alphabet: the
//! first six characters are a public id used to find the code, the other ten (50 bits)
//! are the secret, verified against its argon2 hash. Codes are single-use and expire.

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use rand::RngCore;
use sha2::{Digest, Sha256};

const ALPHABET: &[u8] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";

fn random_code_chars(n: usize) -> String {
    let mut rng = rand::rng();
    (0..n)
        .map(|_| ALPHABET[(rng.next_u32() % ALPHABET.len() as u32) as usize] as char)
        .collect()
}

/// A freshly minted enrollment code: show `code` once to the admin, store the rest.
pub struct MintedCode {
    pub code: String,
    pub code_id: String,
    pub secret_hash: String,
}

impl std::fmt::Debug for MintedCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MintedCode")
            .field("code_id", &self.code_id)
            .field("code", &"<redacted>")
            .finish()
    }
}

/// Mints a one-time enrollment code.
pub fn mint_code() -> MintedCode {
    let code_id = random_code_chars(6);
    let secret = random_code_chars(10);
    let salt = SaltString::generate(&mut OsRng);
    let secret_hash = Argon2::default()
        .hash_password(secret.as_bytes(), &salt)
        .expect("argon2 with default parameters")
        .to_string();
    MintedCode {
        code: format!("{code_id}-{secret}"),
        code_id,
        secret_hash,
    }
}

/// Splits a typed code into (id, secret), tolerating lowercase, spaces and dashes.
pub fn split_code(code: &str) -> Option<(String, String)> {
    let clean: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if clean.len() != 16 || !clean.bytes().all(|b| ALPHABET.contains(&b)) {
        return None;
    }
    Some((clean[..6].to_string(), clean[6..].to_string()))
}

/// Whether `secret` matches a stored argon2 hash.
pub fn verify_secret(secret: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| {
        Argon2::default()
            .verify_password(secret.as_bytes(), &h)
            .is_ok()
    })
}

/// A new device token (hex) and the hash to store.
pub fn mint_token() -> (String, [u8; 32]) {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = hex::encode(bytes);
    let hash = token_hash(&token);
    (token, hash)
}

/// The stored form of a token.
pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn a_code_verifies_only_with_its_secret() {
        let m = mint_code();
        let (id, secret) = split_code(&m.code.to_lowercase()).unwrap();
        assert_eq!(id, m.code_id);
        assert!(verify_secret(&secret, &m.secret_hash));
        assert!(!verify_secret("2222222222", &m.secret_hash));
        assert!(split_code("../../etc").is_none());
    }
}
