//! Maps a request path to a registry endpoint. Repository names contain slashes, so endpoints are
//! recognised by their trailing segments.

/// What a request path addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// A `/v2/` endpoint.
    Registry(Endpoint),
    /// `/token` (the token service, bearer mode only).
    Token,
    /// Anything else.
    Unknown,
}

/// A registry endpoint with its raw (percent-decoded, unvalidated) path parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// `/v2/`
    Base,
    /// `/v2/_catalog`
    Catalog,
    /// `/v2/<name>/tags/list`
    Tags { name: String },
    /// `/v2/<name>/manifests/<reference>`
    Manifest { name: String, reference: String },
    /// `/v2/<name>/blobs/<digest>`
    Blob { name: String, digest: String },
    /// `/v2/<name>/blobs/uploads/`
    UploadStart { name: String },
    /// `/v2/<name>/blobs/uploads/<id>`
    Upload { name: String, id: String },
    /// `/v2/<name>/referrers/<digest>`
    Referrers { name: String, digest: String },
}

impl Endpoint {
    /// The repository the endpoint acts on, if any.
    pub fn repository(&self) -> Option<&str> {
        match self {
            Endpoint::Tags { name }
            | Endpoint::Manifest { name, .. }
            | Endpoint::Blob { name, .. }
            | Endpoint::UploadStart { name }
            | Endpoint::Upload { name, .. }
            | Endpoint::Referrers { name, .. } => Some(name),
            Endpoint::Base | Endpoint::Catalog => None,
        }
    }

    /// The methods the endpoint answers (for 405 and `Allow`).
    pub fn allowed_methods(&self) -> &'static str {
        match self {
            Endpoint::Base
            | Endpoint::Catalog
            | Endpoint::Tags { .. }
            | Endpoint::Referrers { .. } => "GET, HEAD",
            Endpoint::Manifest { .. } => "GET, HEAD, PUT, DELETE",
            Endpoint::Blob { .. } => "GET, HEAD, DELETE",
            Endpoint::UploadStart { .. } => "POST",
            Endpoint::Upload { .. } => "GET, PATCH, PUT, DELETE",
        }
    }
}

fn decode(segment: &str) -> String {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8_lossy()
        .into_owned()
}

/// Parses a request path.
pub fn parse(path: &str) -> Route {
    if path == "/token" {
        return Route::Token;
    }
    endpoint(path).map_or(Route::Unknown, Route::Registry)
}

fn endpoint(path: &str) -> Option<Endpoint> {
    if path == "/v2" || path == "/v2/" {
        return Some(Endpoint::Base);
    }
    let rest = path.strip_prefix("/v2/")?;
    if rest == "_catalog" {
        return Some(Endpoint::Catalog);
    }
    let segments: Vec<&str> = rest.split('/').collect();
    let n = segments.len();
    let name = |count: usize| segments[..n - count].join("/");
    if n >= 3 && segments[n - 2] == "tags" && segments[n - 1] == "list" {
        return Some(Endpoint::Tags { name: name(2) });
    }
    if n >= 4 && segments[n - 3] == "blobs" && segments[n - 2] == "uploads" {
        let id = segments[n - 1];
        return Some(if id.is_empty() {
            Endpoint::UploadStart { name: name(3) }
        } else {
            Endpoint::Upload {
                name: name(3),
                id: decode(id),
            }
        });
    }
    if n >= 3 && segments[n - 2] == "blobs" && segments[n - 1] == "uploads" {
        return Some(Endpoint::UploadStart { name: name(2) });
    }
    if n >= 3 && !segments[n - 1].is_empty() {
        let last = decode(segments[n - 1]);
        match segments[n - 2] {
            "manifests" => {
                return Some(Endpoint::Manifest {
                    name: name(2),
                    reference: last,
                });
            }
            "blobs" => {
                return Some(Endpoint::Blob {
                    name: name(2),
                    digest: last,
                });
            }
            "referrers" => {
                return Some(Endpoint::Referrers {
                    name: name(2),
                    digest: last,
                });
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry(endpoint: Endpoint) -> Route {
        Route::Registry(endpoint)
    }

    #[test]
    fn endpoints_are_recognised_by_their_tail() {
        let s = |v: &str| v.to_string();
        assert_eq!(parse("/v2/"), registry(Endpoint::Base));
        assert_eq!(parse("/v2/_catalog"), registry(Endpoint::Catalog));
        assert_eq!(parse("/token"), Route::Token);
        assert_eq!(
            parse("/v2/charts/gitlab-runner/tags/list"),
            registry(Endpoint::Tags {
                name: s("charts/gitlab-runner")
            })
        );
        assert_eq!(
            parse("/v2/a/b/manifests/sha256%3Aab"),
            registry(Endpoint::Manifest {
                name: s("a/b"),
                reference: s("sha256:ab")
            })
        );
        assert_eq!(
            parse("/v2/a/blobs/sha256:ab"),
            registry(Endpoint::Blob {
                name: s("a"),
                digest: s("sha256:ab")
            })
        );
        assert_eq!(
            parse("/v2/a/b/blobs/uploads/"),
            registry(Endpoint::UploadStart { name: s("a/b") })
        );
        assert_eq!(
            parse("/v2/a/blobs/uploads"),
            registry(Endpoint::UploadStart { name: s("a") })
        );
        assert_eq!(
            parse("/v2/a/blobs/uploads/123"),
            registry(Endpoint::Upload {
                name: s("a"),
                id: s("123")
            })
        );
        assert_eq!(
            parse("/v2/a/referrers/sha256:ab"),
            registry(Endpoint::Referrers {
                name: s("a"),
                digest: s("sha256:ab")
            })
        );
        assert_eq!(parse("/v2/manifests/x"), Route::Unknown);
        assert_eq!(parse("/v3/a/manifests/x"), Route::Unknown);
        assert_eq!(parse("/v2/a/manifests/"), Route::Unknown);
    }
}
