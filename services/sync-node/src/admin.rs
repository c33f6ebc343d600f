//! Admin tokens: HS256 JWTs signed with `--jwt-secret`, carrying `role: "admin"` and an expiry.
//! The REST API's admin endpoints ([`crate::api`]) require one; `hypasis-sync token` mints one.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The role admin endpoints require.
pub const ADMIN_ROLE: &str = "admin";
/// Longest lifetime `hypasis-sync token` mints.
pub const MAX_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

/// What a token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Who it was minted for.
    pub sub: String,
    /// What it may do (`admin`).
    pub role: String,
    /// Issued at (UNIX seconds).
    pub iat: u64,
    /// Expires at (UNIX seconds).
    pub exp: u64,
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization: Bearer` header.
    #[error("admin endpoint: send `Authorization: Bearer <token>` (mint one with `hypasis-sync token`)")]
    Missing,
    /// The token is malformed, forged, or signed with another key.
    #[error("admin token rejected: {0}")]
    Invalid(String),
    /// The token has expired.
    #[error("admin token expired; mint a new one with `hypasis-sync token`")]
    Expired,
    /// A valid token without the admin role.
    #[error("admin token has role {0:?}; this endpoint needs role \"admin\"")]
    WrongRole(String),
    /// The node has no `--jwt-secret`.
    #[error("the admin API is off: start the node with --jwt-secret (JWT_SECRET)")]
    Off,
}

impl AuthError {
    /// The HTTP status: 401 when a (valid) token would help, 403 otherwise.
    pub fn status(&self) -> u16 {
        match self {
            Self::Missing | Self::Invalid(_) | Self::Expired => 401,
            Self::WrongRole(_) | Self::Off => 403,
        }
    }

    /// The `result` label of `hypasis_api_admin_auth_total`.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::Invalid(_) => "invalid",
            Self::Expired => "expired",
            Self::WrongRole(_) => "wrong_role",
            Self::Off => "off",
        }
    }
}

/// Signs and checks tokens with one secret.
pub struct TokenKey {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey(***)")
    }
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl TokenKey {
    /// The key of `secret`.
    pub fn new(secret: &str) -> Self {
        Self { encoding: EncodingKey::from_secret(secret.as_bytes()), decoding: DecodingKey::from_secret(secret.as_bytes()) }
    }

    /// A token for `subject` with `role`, valid for `ttl`.
    ///
    /// # Errors
    /// When signing fails (it does not for HMAC keys).
    pub fn mint(&self, subject: &str, role: &str, ttl: Duration) -> Result<String, jsonwebtoken::errors::Error> {
        let iat = now();
        let claims = Claims { sub: subject.to_owned(), role: role.to_owned(), iat, exp: iat + ttl.as_secs() };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
    }

    /// Checks an `Authorization` header value for an admin token.
    ///
    /// # Errors
    /// [`AuthError`] saying why it is refused.
    pub fn check(&self, authorization: Option<&str>) -> Result<Claims, AuthError> {
        let token = authorization.and_then(|v| v.strip_prefix("Bearer ")).map(str::trim).filter(|t| !t.is_empty());
        let token = token.ok_or(AuthError::Missing)?;
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation).map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::ExpiredSignature => AuthError::Expired,
            _ => AuthError::Invalid(e.to_string()),
        })?;
        if data.claims.role != ADMIN_ROLE {
            return Err(AuthError::WrongRole(data.claims.role));
        }
        Ok(data.claims)
    }
}

/// Reads a lifetime like `90s`, `30m`, `1h`, `7d` (a bare number is seconds).
///
/// # Errors
/// A message naming the accepted forms.
pub fn parse_ttl(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (digits, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
    let n: u64 = digits.parse().map_err(|_| format!("{text:?} is not a lifetime; use e.g. 90s, 30m, 1h or 7d"))?;
    let seconds = match unit {
        "" | "s" => n,
        "m" => n.saturating_mul(60),
        "h" => n.saturating_mul(3600),
        "d" => n.saturating_mul(86_400),
        _ => return Err(format!("{text:?} has an unknown unit; use s, m, h or d")),
    };
    let ttl = Duration::from_secs(seconds);
    if ttl.is_zero() || ttl > MAX_TTL {
        return Err(format!("{text:?} is out of range; use from 1s to 30d"));
    }
    Ok(ttl)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn tokens_are_checked_for_signature_expiry_and_role() {
        let key = TokenKey::new(SECRET);
        let token = key.mint("ops", ADMIN_ROLE, Duration::from_secs(60)).unwrap();
        assert_eq!(key.check(Some(&format!("Bearer {token}"))).unwrap().sub, "ops");
        assert_eq!(key.check(None), Err(AuthError::Missing));
        assert_eq!(key.check(Some(&token)), Err(AuthError::Missing), "no Bearer scheme");
        let other = TokenKey::new("another-secret-another-secret-xx");
        assert!(matches!(other.check(Some(&format!("Bearer {token}"))), Err(AuthError::Invalid(_))), "forged");
        let reader = key.mint("ops", "reader", Duration::from_secs(60)).unwrap();
        assert_eq!(key.check(Some(&format!("Bearer {reader}"))), Err(AuthError::WrongRole("reader".into())));
        let claims = Claims { sub: "ops".into(), role: ADMIN_ROLE.into(), iat: 1, exp: 2 };
        let expired = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(SECRET.as_bytes())).unwrap();
        assert_eq!(key.check(Some(&format!("Bearer {expired}"))), Err(AuthError::Expired));
        assert!(matches!(key.check(Some("Bearer not.a.jwt")), Err(AuthError::Invalid(_))));
        let none_alg = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJvcHMiLCJyb2xlIjoiYWRtaW4iLCJleHAiOjk5OTk5OTk5OTl9.";
        assert!(matches!(key.check(Some(&format!("Bearer {none_alg}"))), Err(AuthError::Invalid(_))), "alg none");
    }

    #[test]
    fn lifetimes() {
        assert_eq!(parse_ttl("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_ttl("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_ttl("7d"), Ok(Duration::from_secs(7 * 86_400)));
        for bad in ["", "0s", "1y", "h", "31d", "-1h"] {
            assert!(parse_ttl(bad).is_err(), "{bad}");
        }
    }
}
