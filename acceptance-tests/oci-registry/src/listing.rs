//! Listings: `GET /v2/<name>/tags/list`, `GET /v2/_catalog` and `GET /v2/<name>/referrers/<digest>`.

use hyper::Response;
use serde_json::{Value, json};

use crate::context::Context;
use crate::error::{ErrorCode, OciError};
use crate::http::{Body, json as json_response, last_value, respond, set_header};
use crate::manifests::OCI_INDEX;
use crate::reference::Digest;

/// One page of a lexically ordered listing.
struct Page {
    items: Vec<String>,
    /// `n` when more items follow the page.
    next: Option<usize>,
}

/// Takes the names after `last`, at most `n` of them.
fn paginate<'a>(
    all: impl Iterator<Item = &'a String>,
    pairs: &[(String, String)],
) -> Result<Page, OciError> {
    let n = match last_value(pairs, "n") {
        None | Some("") => None,
        Some(raw) => Some(raw.parse::<usize>().map_err(|_| {
            OciError::new(
                400,
                ErrorCode::PaginationNumberInvalid,
                "invalid number of results requested",
            )
            .with_detail(json!({ "n": raw }))
        })?),
    };
    let last = last_value(pairs, "last").unwrap_or("");
    let mut rest = all.filter(|name| name.as_str() > last).cloned();
    let items: Vec<String> = match n {
        Some(n) => rest.by_ref().take(n).collect(),
        None => rest.by_ref().collect(),
    };
    let more = n.is_some_and(|n| n > 0) && rest.next().is_some();
    Ok(Page {
        items,
        next: if more { n } else { None },
    })
}

/// Adds `Link: <path?n=N&last=L>; rel="next"` when another page follows.
fn link_next(response: &mut Response<Body>, path: &str, page: &Page) {
    if let (Some(n), Some(last)) = (page.next, page.items.last()) {
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("n", &n.to_string())
            .append_pair("last", last)
            .finish();
        set_header(response, "link", &format!("<{path}?{query}>; rel=\"next\""));
    }
}

pub fn tags(
    ctx: &Context,
    name: &str,
    pairs: &[(String, String)],
) -> Result<Response<Body>, OciError> {
    let store = ctx.store()?;
    let repo = store
        .repositories
        .get(name)
        .ok_or_else(|| OciError::name_unknown(name))?;
    let page = paginate(repo.tags.keys(), pairs)?;
    let mut response = json_response(200, &json!({ "name": name, "tags": page.items }));
    link_next(&mut response, &format!("/v2/{name}/tags/list"), &page);
    Ok(response)
}

pub fn catalog(ctx: &Context, pairs: &[(String, String)]) -> Result<Response<Body>, OciError> {
    let store = ctx.store()?;
    let page = paginate(store.repositories.keys(), pairs)?;
    let mut response = json_response(200, &json!({ "repositories": page.items }));
    link_next(&mut response, "/v2/_catalog", &page);
    Ok(response)
}

pub fn referrers(
    ctx: &Context,
    name: &str,
    digest: &str,
    pairs: &[(String, String)],
) -> Result<Response<Body>, OciError> {
    let digest: Digest = digest.parse()?;
    let digest = digest.to_string();
    let filter = last_value(pairs, "artifactType").filter(|f| !f.is_empty());
    let store = ctx.store()?;
    let mut found: Vec<Value> = Vec::new();
    if let Some(repo) = store.repositories.get(name) {
        let mut referrers: Vec<_> = repo
            .manifests
            .values()
            .filter(|m| m.subject.as_deref() == Some(digest.as_str()))
            .filter(|m| filter.is_none() || m.artifact_type.as_deref() == filter)
            .collect();
        referrers.sort_by(|a, b| a.digest.cmp(&b.digest));
        for m in referrers {
            let mut descriptor = json!({
                "mediaType": m.media_type.split(';').next().unwrap_or("").trim(),
                "digest": m.digest,
                "size": m.bytes.len(),
            });
            if let Some(t) = &m.artifact_type {
                descriptor["artifactType"] = json!(t);
            }
            if let Some(a) = &m.annotations {
                descriptor["annotations"] = a.clone();
            }
            found.push(descriptor);
        }
    }
    let index = json!({ "schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": found });
    let mut response = respond(200, Some(OCI_INDEX), index.to_string());
    if filter.is_some() {
        set_header(&mut response, "oci-filters-applied", "artifactType");
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(q: &str) -> Vec<(String, String)> {
        crate::http::parse_pairs(q)
    }

    #[test]
    fn pages_follow_lexical_order() {
        let all: Vec<String> = ["a", "b", "c", "d"].iter().map(|s| s.to_string()).collect();
        let p = paginate(all.iter(), &pairs("n=2")).ok().unwrap();
        assert_eq!(
            (p.items, p.next),
            (vec!["a".to_string(), "b".into()], Some(2))
        );
        let p = paginate(all.iter(), &pairs("n=2&last=b")).ok().unwrap();
        assert_eq!((p.items, p.next), (vec!["c".to_string(), "d".into()], None));
        let p = paginate(all.iter(), &pairs("n=0")).ok().unwrap();
        assert!(p.items.is_empty() && p.next.is_none());
        assert!(paginate(all.iter(), &pairs("n=x")).is_err());
    }
}
