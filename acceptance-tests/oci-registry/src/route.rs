//! Maps a request path to a registry endpoint. Repository names contain slashes, so endpoints are
//! recognised by their trailing segments.

/// A registry endpoint with its raw (percent-decoded, unvalidated) path parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
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
    /// `/token` (the token service, bearer mode only)
    Token,
    /// Anything else.
    Unknown,
}

impl Route {
    /// The repository the endpoint acts on, if any.
    pub fn repository(&self) -> Option<&str> {
        match self {
            Route::Tags { name }
            | Route::Manifest { name, .. }
            | Route::Blob { name, .. }
            | Route::UploadStart { name }
            | Route::Upload { name, .. }
            | Route::Referrers { name, .. } => Some(name),
            Route::Base | Route::Catalog | Route::Token | Route::Unknown => None,
        }
    }

    /// The methods the endpoint answers (for 405 and `Allow`).
    pub fn allowed_methods(&self) -> &'static str {
        match self {
            Route::Base | Route::Catalog | Route::Tags { .. } | Route::Referrers { .. } => {
                "GET, HEAD"
            }
            Route::Manifest { .. } => "GET, HEAD, PUT, DELETE",
            Route::Blob { .. } => "GET, HEAD, DELETE",
            Route::UploadStart { .. } => "POST",
            Route::Upload { .. } => "GET, PATCH, PUT, DELETE",
            Route::Token => "GET, POST",
            Route::Unknown => "",
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
    if path == "/v2" || path == "/v2/" {
        return Route::Base;
    }
    let Some(rest) = path.strip_prefix("/v2/") else {
        return Route::Unknown;
    };
    if rest == "_catalog" {
        return Route::Catalog;
    }
    let segments: Vec<&str> = rest.split('/').collect();
    let n = segments.len();
    let name = |count: usize| segments[..n - count].join("/");
    if n >= 3 && segments[n - 2] == "tags" && segments[n - 1] == "list" {
        return Route::Tags { name: name(2) };
    }
    if n >= 4 && segments[n - 3] == "blobs" && segments[n - 2] == "uploads" {
        let id = segments[n - 1];
        return if id.is_empty() {
            Route::UploadStart { name: name(3) }
        } else {
            Route::Upload {
                name: name(3),
                id: decode(id),
            }
        };
    }
    if n >= 3 && segments[n - 2] == "blobs" && segments[n - 1] == "uploads" {
        return Route::UploadStart { name: name(2) };
    }
    if n >= 3 && !segments[n - 1].is_empty() {
        let last = decode(segments[n - 1]);
        match segments[n - 2] {
            "manifests" => {
                return Route::Manifest {
                    name: name(2),
                    reference: last,
                };
            }
            "blobs" => {
                return Route::Blob {
                    name: name(2),
                    digest: last,
                };
            }
            "referrers" => {
                return Route::Referrers {
                    name: name(2),
                    digest: last,
                };
            }
            _ => {}
        }
    }
    Route::Unknown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_recognised_by_their_tail() {
        let s = |v: &str| v.to_string();
        assert_eq!(parse("/v2/"), Route::Base);
        assert_eq!(parse("/v2/_catalog"), Route::Catalog);
        assert_eq!(parse("/token"), Route::Token);
        assert_eq!(
            parse("/v2/charts/gitlab-runner/tags/list"),
            Route::Tags {
                name: s("charts/gitlab-runner")
            }
        );
        assert_eq!(
            parse("/v2/a/b/manifests/sha256%3Aab"),
            Route::Manifest {
                name: s("a/b"),
                reference: s("sha256:ab")
            }
        );
        assert_eq!(
            parse("/v2/a/blobs/sha256:ab"),
            Route::Blob {
                name: s("a"),
                digest: s("sha256:ab")
            }
        );
        assert_eq!(
            parse("/v2/a/b/blobs/uploads/"),
            Route::UploadStart { name: s("a/b") }
        );
        assert_eq!(
            parse("/v2/a/blobs/uploads"),
            Route::UploadStart { name: s("a") }
        );
        assert_eq!(
            parse("/v2/a/blobs/uploads/123"),
            Route::Upload {
                name: s("a"),
                id: s("123")
            }
        );
        assert_eq!(
            parse("/v2/a/referrers/sha256:ab"),
            Route::Referrers {
                name: s("a"),
                digest: s("sha256:ab")
            }
        );
        assert_eq!(parse("/v2/manifests/x"), Route::Unknown);
        assert_eq!(parse("/v3/a/manifests/x"), Route::Unknown);
        assert_eq!(parse("/v2/a/manifests/"), Route::Unknown);
    }
}
