//! The token service of bearer mode: `GET /token` (Docker token spec: basic credentials or
//! anonymous) and `POST /token` (OAuth2 form: `grant_type=password` or `refresh_token`).

use hyper::body::Incoming;
use hyper::{Method, Request, Response};
use serde_json::json;

use crate::auth::{Issued, SERVICE, TOKEN_LIFETIME, TokenRefusal, basic_credentials, scope_list};
use crate::context::Context;
use crate::error::{ErrorCode, OciError};
use crate::http::{Body, header, json as json_response, last_value, parse_pairs, read_body};

/// The user a token was issued to, attached to the response for the request log (the
/// OAuth2 form carries the user name in the body, where the log cannot see it).
#[derive(Debug, Clone)]
pub struct TokenUser(pub String);

fn refused(refusal: TokenRefusal) -> OciError {
    match refusal {
        TokenRefusal::BadCredentials => OciError::new(
            401,
            ErrorCode::Unauthorized,
            "incorrect username or password",
        ),
        TokenRefusal::NotBearerMode => OciError::new(
            404,
            ErrorCode::Unsupported,
            "this registry issues no tokens",
        ),
    }
}

fn check_service(pairs: &[(String, String)]) -> Result<(), OciError> {
    match last_value(pairs, "service") {
        Some(s) if !s.is_empty() && s != SERVICE => Err(OciError::new(
            400,
            ErrorCode::Denied,
            format!("unknown service {s:?}; this token service serves {SERVICE:?}"),
        )),
        _ => Ok(()),
    }
}

fn answer(issued: Issued) -> Response<Body> {
    let mut body = json!({
        "token": issued.token,
        "access_token": issued.token,
        "expires_in": TOKEN_LIFETIME.as_secs(),
        "issued_at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "scope": scope_list(&issued.accesses),
    });
    if let Some(refresh) = issued.refresh_token {
        body["refresh_token"] = json!(refresh);
    }
    let mut response = json_response(200, &body);
    if let Some(user) = issued.user {
        response.extensions_mut().insert(TokenUser(user));
    }
    response
}

/// Answers `/token`.
pub async fn handle(ctx: &Context, request: Request<Incoming>) -> Result<Response<Body>, OciError> {
    if !ctx.auth.is_bearer() {
        return Err(refused(TokenRefusal::NotBearerMode));
    }
    match *request.method() {
        Method::GET => {
            let pairs = parse_pairs(request.uri().query().unwrap_or(""));
            check_service(&pairs)?;
            let scopes: Vec<String> = pairs
                .iter()
                .filter(|(k, _)| k == "scope")
                .map(|(_, v)| v.clone())
                .collect();
            let offline = last_value(&pairs, "offline_token") == Some("true");
            let authorization = header(&request, "authorization");
            let credentials = match authorization {
                Some(_) => Some(basic_credentials(authorization).ok_or_else(|| {
                    OciError::new(
                        401,
                        ErrorCode::Unauthorized,
                        "the token service takes basic credentials",
                    )
                })?),
                None => None,
            };
            let credentials = credentials.as_ref().map(|(u, p)| (u.as_str(), p.as_str()));
            ctx.auth
                .issue(credentials, None, &scopes, offline)
                .map(answer)
                .map_err(refused)
        }
        Method::POST => {
            let body = read_body(request.into_body()).await?;
            let pairs = parse_pairs(&String::from_utf8_lossy(&body));
            check_service(&pairs)?;
            let scopes: Vec<String> = last_value(&pairs, "scope")
                .map(str::to_string)
                .into_iter()
                .collect();
            let offline = last_value(&pairs, "access_type") == Some("offline");
            let missing = |field: &str| {
                OciError::new(400, ErrorCode::Unsupported, format!("{field} is required"))
            };
            match last_value(&pairs, "grant_type") {
                Some("password") => {
                    let user = last_value(&pairs, "username").ok_or_else(|| missing("username"))?;
                    let password =
                        last_value(&pairs, "password").ok_or_else(|| missing("password"))?;
                    ctx.auth
                        .issue(Some((user, password)), None, &scopes, offline)
                        .map(answer)
                        .map_err(refused)
                }
                Some("refresh_token") => {
                    let refresh = last_value(&pairs, "refresh_token")
                        .ok_or_else(|| missing("refresh_token"))?;
                    ctx.auth
                        .issue(None, Some(refresh), &scopes, offline)
                        .map(answer)
                        .map_err(refused)
                }
                other => Err(OciError::new(
                    400,
                    ErrorCode::Unsupported,
                    format!("unsupported grant_type {:?}", other.unwrap_or("")),
                )),
            }
        }
        ref other => Err(OciError::unsupported_method(other.as_str(), "GET, POST")),
    }
}
