//! Authentication modes: none, HTTP basic, and the Docker registry token flow (bearer tokens
//! issued by `/token`, remembered server-side with the scopes they grant).

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::error::{ErrorCode, OciError};

/// The `service` named in bearer challenges and expected by `/token`.
pub const SERVICE: &str = "oci-test-registry";
/// The realm of basic challenges.
pub const BASIC_REALM: &str = "oci-registry-test-server";
/// How long an issued access token is valid.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(300);

/// How clients authenticate.
#[derive(Clone, Default, PartialEq, Eq)]
pub enum Auth {
    /// Everything is open.
    #[default]
    None,
    /// HTTP basic credentials on every `/v2/` request.
    Basic { username: String, password: String },
    /// The Docker token flow: `/v2/` answers 401 with a `Bearer` challenge pointing at
    /// `<base>/token`, which trades basic credentials (or none, for anonymous pull when
    /// `anonymous_pull`) for an opaque token scoped to `repository:<name>:<actions>`.
    Bearer {
        username: String,
        password: String,
        anonymous_pull: bool,
    },
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::None => f.write_str("None"),
            Auth::Basic { username, .. } => f
                .debug_struct("Basic")
                .field("username", username)
                .field("password", &"<redacted>")
                .finish(),
            Auth::Bearer {
                username,
                anonymous_pull,
                ..
            } => f
                .debug_struct("Bearer")
                .field("username", username)
                .field("password", &"<redacted>")
                .field("anonymous_pull", anonymous_pull)
                .finish(),
        }
    }
}

/// How a request presented itself (for the request log).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthKind {
    None,
    Basic,
    Bearer,
}

impl AuthKind {
    /// `"none"`, `"basic"` or `"bearer"`.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthKind::None => "none",
            AuthKind::Basic => "basic",
            AuthKind::Bearer => "bearer",
        }
    }

    /// The scheme of an `Authorization` header.
    pub fn of_header(header: Option<&str>) -> AuthKind {
        match header.and_then(|h| h.split_whitespace().next()) {
            Some(s) if s.eq_ignore_ascii_case("basic") => AuthKind::Basic,
            Some(s) if s.eq_ignore_ascii_case("bearer") => AuthKind::Bearer,
            _ => AuthKind::None,
        }
    }
}

impl std::fmt::Display for AuthKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Access to one resource: `repository:charts/x:pull,push` or `registry:catalog:*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    pub kind: String,
    pub name: String,
    pub actions: BTreeSet<String>,
}

impl Access {
    /// Parses `type:name:action[,action]` (the name may contain `:`, e.g. a port).
    pub fn parse(scope: &str) -> Option<Access> {
        let (kind, rest) = scope.split_once(':')?;
        let (name, actions) = rest.rsplit_once(':')?;
        if kind.is_empty() || name.is_empty() {
            return None;
        }
        Some(Access {
            kind: kind.to_string(),
            name: name.to_string(),
            actions: actions
                .split(',')
                .filter(|a| !a.is_empty())
                .map(str::to_string)
                .collect(),
        })
    }

    fn allows(&self, kind: &str, name: &str, action: &str) -> bool {
        self.kind == kind
            && self.name == name
            && (self.actions.contains(action) || self.actions.contains("*"))
    }

    fn scope_string(&self) -> String {
        let actions: Vec<&str> = self.actions.iter().map(String::as_str).collect();
        format!("{}:{}:{}", self.kind, self.name, actions.join(","))
    }
}

/// What a request needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    /// Any authenticated caller (`GET /v2/`).
    Authenticated,
    /// The actions on one repository (`pull`; `pull,push`; `delete`).
    Repository {
        name: String,
        actions: &'static [&'static str],
    },
    /// `registry:catalog:*`.
    Catalog,
}

impl Requirement {
    fn accesses(&self) -> Vec<(&str, &str, &str)> {
        match self {
            Requirement::Authenticated => Vec::new(),
            Requirement::Repository { name, actions } => actions
                .iter()
                .map(|a| ("repository", name.as_str(), *a))
                .collect(),
            Requirement::Catalog => vec![("registry", "catalog", "*")],
        }
    }

    fn scope(&self) -> Option<String> {
        match self {
            Requirement::Authenticated => None,
            Requirement::Repository { name, actions } => {
                Some(format!("repository:{name}:{}", actions.join(",")))
            }
            Requirement::Catalog => Some("registry:catalog:*".into()),
        }
    }
}

/// Who is calling and what they may do.
#[derive(Debug, Clone)]
pub struct Caller {
    /// `None`: unrestricted (auth off, or basic credentials).
    grant: Option<Vec<Access>>,
}

impl Caller {
    fn unrestricted() -> Caller {
        Caller { grant: None }
    }

    /// Whether the caller may perform `action` on repository `name`.
    pub fn can(&self, name: &str, action: &str) -> bool {
        match &self.grant {
            None => true,
            Some(accesses) => accesses
                .iter()
                .any(|a| a.allows("repository", name, action)),
        }
    }

    fn meets(&self, requirement: &Requirement) -> bool {
        match &self.grant {
            None => true,
            Some(accesses) => requirement
                .accesses()
                .iter()
                .all(|(k, n, a)| accesses.iter().any(|x| x.allows(k, n, a))),
        }
    }
}

struct IssuedToken {
    user: Option<String>,
    accesses: Vec<Access>,
    expires: Instant,
}

/// A token handed out by `/token`.
pub struct Issued {
    /// The user the token speaks for (`None`: anonymous).
    pub user: Option<String>,
    pub token: String,
    pub refresh_token: Option<String>,
    pub accesses: Vec<Access>,
}

/// Checks requests against the configured mode and keeps the issued tokens.
pub struct Authenticator {
    auth: Auth,
    token_realm: String,
    tokens: Mutex<HashMap<String, IssuedToken>>,
    refresh_tokens: Mutex<HashMap<String, String>>,
}

/// Compares secrets without early exit on the first differing byte.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn random_secret() -> String {
    use rand::Rng;
    let bytes: [u8; 32] = rand::rng().random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The user and password of a `Basic` header.
pub fn basic_credentials(header: Option<&str>) -> Option<(String, String)> {
    let header = header?.trim();
    let (scheme, encoded) = header.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

fn bearer_token(header: Option<&str>) -> Option<&str> {
    let (scheme, token) = header?.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// Why the token endpoint refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRefusal {
    /// Wrong user name or password, or an unknown refresh token.
    BadCredentials,
    /// The server is not in bearer mode.
    NotBearerMode,
}

impl Authenticator {
    pub fn new(auth: Auth, base_url: &str) -> Authenticator {
        Authenticator {
            auth,
            token_realm: format!("{base_url}/token"),
            tokens: Mutex::new(HashMap::new()),
            refresh_tokens: Mutex::new(HashMap::new()),
        }
    }

    pub fn is_bearer(&self) -> bool {
        matches!(self.auth, Auth::Bearer { .. })
    }

    fn credentials_match(&self, user: &str, password: &str) -> bool {
        match &self.auth {
            Auth::None => false,
            Auth::Basic {
                username,
                password: expected,
            }
            | Auth::Bearer {
                username,
                password: expected,
                ..
            } => {
                constant_time_eq(username.as_bytes(), user.as_bytes())
                    & constant_time_eq(expected.as_bytes(), password.as_bytes())
            }
        }
    }

    /// The user a request's `Authorization` header names, without checking it (for the log).
    pub fn claimed_user(&self, header: Option<&str>) -> Option<String> {
        if let Some((user, _)) = basic_credentials(header) {
            return Some(user);
        }
        let token = bearer_token(header)?;
        let tokens = self.tokens.lock().ok()?;
        tokens.get(token).and_then(|t| t.user.clone())
    }

    /// Checks a registry request; the error is the 401 to send.
    pub fn check(
        &self,
        header: Option<&str>,
        requirement: &Requirement,
    ) -> Result<Caller, OciError> {
        match &self.auth {
            Auth::None => Ok(Caller::unrestricted()),
            Auth::Basic { .. } => match basic_credentials(header) {
                Some((user, password)) if self.credentials_match(&user, &password) => {
                    Ok(Caller::unrestricted())
                }
                _ => Err(
                    OciError::new(401, ErrorCode::Unauthorized, "authentication required")
                        .with_header("www-authenticate", format!("Basic realm=\"{BASIC_REALM}\"")),
                ),
            },
            Auth::Bearer { .. } => self.check_bearer(header, requirement),
        }
    }

    fn check_bearer(
        &self,
        header: Option<&str>,
        requirement: &Requirement,
    ) -> Result<Caller, OciError> {
        let mut challenge = format!(
            "Bearer realm=\"{}\",service=\"{SERVICE}\"",
            self.token_realm
        );
        if let Some(scope) = requirement.scope() {
            challenge.push_str(&format!(",scope=\"{scope}\""));
        }
        let denied = |error: Option<&str>| {
            let mut value = challenge.clone();
            if let Some(error) = error {
                value.push_str(&format!(",error=\"{error}\""));
            }
            let detail: Vec<serde_json::Value> = requirement
                .accesses()
                .iter()
                .map(|(k, n, a)| serde_json::json!({"Type": k, "Name": n, "Action": a}))
                .collect();
            OciError::new(401, ErrorCode::Unauthorized, "authentication required")
                .with_detail(serde_json::Value::from(detail))
                .with_header("www-authenticate", value)
        };
        let Some(token) = bearer_token(header) else {
            return Err(denied(None));
        };
        let mut tokens = self
            .tokens
            .lock()
            .map_err(|_| OciError::new(500, ErrorCode::Unknown, "token store poisoned"))?;
        let now = Instant::now();
        tokens.retain(|_, t| t.expires > now);
        let Some(issued) = tokens.get(token) else {
            return Err(denied(Some("invalid_token")));
        };
        let caller = Caller {
            grant: Some(issued.accesses.clone()),
        };
        if caller.meets(requirement) {
            Ok(caller)
        } else {
            Err(denied(Some("insufficient_scope")))
        }
    }

    /// Issues a token for `scopes` to the holder of `credentials` (`None`: anonymous), or to
    /// the holder of a refresh token. Anonymous callers get `pull` only, and only with
    /// `anonymous_pull`; authenticated callers get every action they ask for.
    pub fn issue(
        &self,
        credentials: Option<(&str, &str)>,
        refresh_token: Option<&str>,
        scopes: &[String],
        offline: bool,
    ) -> Result<Issued, TokenRefusal> {
        let Auth::Bearer { anonymous_pull, .. } = &self.auth else {
            return Err(TokenRefusal::NotBearerMode);
        };
        let user = match (credentials, refresh_token) {
            (Some((user, password)), _) => {
                if !self.credentials_match(user, password) {
                    return Err(TokenRefusal::BadCredentials);
                }
                Some(user.to_string())
            }
            (None, Some(refresh)) => {
                let known = self
                    .refresh_tokens
                    .lock()
                    .map_err(|_| TokenRefusal::BadCredentials)?
                    .iter()
                    .find(|(k, _)| constant_time_eq(k.as_bytes(), refresh.as_bytes()))
                    .map(|(_, user)| user.clone());
                Some(known.ok_or(TokenRefusal::BadCredentials)?)
            }
            (None, None) => None,
        };
        let accesses: Vec<Access> = scopes
            .iter()
            .flat_map(|s| s.split_whitespace())
            .filter_map(Access::parse)
            .map(|mut access| {
                access
                    .actions
                    .retain(|action| match (&user, access.kind.as_str()) {
                        (Some(_), "repository") => {
                            ["pull", "push", "delete", "*"].contains(&action.as_str())
                        }
                        (Some(_), "registry") => access.name == "catalog" && action == "*",
                        (None, "repository") => *anonymous_pull && action == "pull",
                        _ => false,
                    });
                access
            })
            .collect();
        let token = random_secret();
        if let Ok(mut tokens) = self.tokens.lock() {
            tokens.insert(
                token.clone(),
                IssuedToken {
                    user: user.clone(),
                    accesses: accesses.clone(),
                    expires: Instant::now() + TOKEN_LIFETIME,
                },
            );
        }
        let refresh_token = match (&user, offline || refresh_token.is_some()) {
            (Some(user), true) => {
                let refresh = refresh_token.map_or_else(random_secret, str::to_string);
                if let Ok(mut known) = self.refresh_tokens.lock() {
                    known.insert(refresh.clone(), user.clone());
                }
                Some(refresh)
            }
            _ => None,
        };
        Ok(Issued {
            user,
            token,
            refresh_token,
            accesses,
        })
    }
}

/// The granted scopes as a space-separated string (the OAuth2 `scope` response field).
pub fn scope_list(accesses: &[Access]) -> String {
    accesses
        .iter()
        .filter(|a| !a.actions.is_empty())
        .map(Access::scope_string)
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bearer(anonymous_pull: bool) -> Authenticator {
        Authenticator::new(
            Auth::Bearer {
                username: "u".into(),
                password: "p".into(),
                anonymous_pull,
            },
            "http://127.0.0.1:1",
        )
    }

    fn pull(name: &str) -> Requirement {
        Requirement::Repository {
            name: name.into(),
            actions: &["pull"],
        }
    }

    #[test]
    fn scopes_parse() {
        let a = Access::parse("repository:charts/x:pull,push").unwrap();
        assert_eq!(
            (a.kind.as_str(), a.name.as_str()),
            ("repository", "charts/x")
        );
        assert_eq!(a.actions.len(), 2);
        assert_eq!(
            Access::parse("repository:h:5000/x:pull").unwrap().name,
            "h:5000/x"
        );
        assert!(Access::parse("nonsense").is_none());
    }

    #[test]
    fn tokens_carry_their_scopes() {
        let auth = bearer(false);
        let issued = auth
            .issue(Some(("u", "p")), None, &["repository:a:pull".into()], false)
            .ok()
            .unwrap();
        let header = format!("Bearer {}", issued.token);
        assert!(auth.check(Some(&header), &pull("a")).is_ok());
        let push = Requirement::Repository {
            name: "a".into(),
            actions: &["pull", "push"],
        };
        let err = auth.check(Some(&header), &push).unwrap_err();
        let challenge = &err.headers[0].1;
        assert!(
            challenge.contains("error=\"insufficient_scope\""),
            "{challenge}"
        );
        assert!(
            challenge.contains("scope=\"repository:a:pull,push\""),
            "{challenge}"
        );
        assert!(auth.check(Some(&header), &pull("b")).is_err());
        assert!(auth.check(Some("Bearer nope"), &pull("a")).is_err());
        assert_eq!(
            auth.issue(Some(("u", "bad")), None, &[], false).err(),
            Some(TokenRefusal::BadCredentials)
        );
    }

    #[test]
    fn anonymous_callers_get_pull_only_when_allowed() {
        let scopes = ["repository:a:pull,push".to_string()];
        let open = bearer(true).issue(None, None, &scopes, false).ok().unwrap();
        assert_eq!(scope_list(&open.accesses), "repository:a:pull");
        let closed = bearer(false)
            .issue(None, None, &scopes, false)
            .ok()
            .unwrap();
        assert_eq!(scope_list(&closed.accesses), "");
    }

    #[test]
    fn refresh_tokens_trade_for_access_tokens() {
        let auth = bearer(false);
        let first = auth.issue(Some(("u", "p")), None, &[], true).ok().unwrap();
        let refresh = first.refresh_token.unwrap();
        let second = auth
            .issue(None, Some(&refresh), &["repository:a:push".into()], false)
            .ok()
            .unwrap();
        assert_eq!(scope_list(&second.accesses), "repository:a:push");
        assert!(auth.issue(None, Some("unknown"), &[], false).is_err());
    }

    #[test]
    fn basic_mode_and_debug_redaction() {
        let auth = Authenticator::new(
            Auth::Basic {
                username: "u".into(),
                password: "secret-pw".into(),
            },
            "http://x",
        );
        let good = format!("Basic {}", STANDARD.encode("u:secret-pw"));
        let bad = format!("Basic {}", STANDARD.encode("u:nope"));
        assert!(auth.check(Some(&good), &Requirement::Authenticated).is_ok());
        let err = auth
            .check(Some(&bad), &Requirement::Authenticated)
            .unwrap_err();
        assert_eq!(err.status, 401);
        assert_eq!(err.headers[0].1, "Basic realm=\"oci-registry-test-server\"");
        let text = format!(
            "{:?}",
            Auth::Bearer {
                username: "u".into(),
                password: "secret-pw".into(),
                anonymous_pull: true
            }
        );
        assert!(!text.contains("secret-pw"), "{text}");
    }
}
