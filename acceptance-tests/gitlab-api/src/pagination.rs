//! GitLab's offset pagination: `page` / `per_page` parameters and the `x-*` and `Link`
//! response headers.

use axum::http::{HeaderMap, HeaderName, HeaderValue};

use crate::errors::ApiError;
use crate::params::Params;

/// Items per page when the client does not say.
pub(crate) const DEFAULT_PER_PAGE: u64 = 20;
/// The most items GitLab returns per page.
pub(crate) const MAX_PER_PAGE: u64 = 100;

/// A requested page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PageRequest {
    pub page: u64,
    pub per_page: u64,
}

impl PageRequest {
    /// Reads `page` and `per_page` (page below 1 means 1; per_page 0 means the default,
    /// above 100 means 100).
    pub fn from_params(params: &Params) -> Result<Self, ApiError> {
        let page = params.integer("page")?.unwrap_or(1).max(1);
        let per_page = match params.integer("per_page")? {
            None | Some(0) => DEFAULT_PER_PAGE,
            Some(value) => value.min(MAX_PER_PAGE),
        };
        Ok(Self { page, per_page })
    }
}

/// One page of items and the headers describing it.
pub(crate) struct Page<T> {
    pub items: Vec<T>,
    pub headers: HeaderMap,
}

/// Cuts `items` to the requested page and builds GitLab's pagination headers.
///
/// `url` is the absolute URL of the request without its query; `query` the request's other
/// parameters, kept in the `Link` URLs.
pub(crate) fn paginate<T>(
    items: Vec<T>,
    request: PageRequest,
    url: &str,
    query: &[(String, String)],
) -> Page<T> {
    let total = items.len() as u64;
    let total_pages = total.div_ceil(request.per_page).max(1);
    let start = (request.page - 1).saturating_mul(request.per_page);
    let items: Vec<T> = items
        .into_iter()
        .skip(usize::try_from(start).unwrap_or(usize::MAX))
        .take(usize::try_from(request.per_page).unwrap_or(usize::MAX))
        .collect();
    let next_page = (request.page < total_pages).then_some(request.page + 1);
    let prev_page = (request.page > 1).then(|| (request.page - 1).min(total_pages));

    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    };
    set("x-page", request.page.to_string());
    set("x-per-page", request.per_page.to_string());
    set(
        "x-next-page",
        next_page.map(|p| p.to_string()).unwrap_or_default(),
    );
    set(
        "x-prev-page",
        prev_page.map(|p| p.to_string()).unwrap_or_default(),
    );
    set("x-total", total.to_string());
    set("x-total-pages", total_pages.to_string());

    let link_to = |page: u64, rel: &str| {
        let mut pairs = form_urlencoded::Serializer::new(String::new());
        for (key, value) in query {
            if key != "page" && key != "per_page" {
                pairs.append_pair(key, value);
            }
        }
        pairs.append_pair("page", &page.to_string());
        pairs.append_pair("per_page", &request.per_page.to_string());
        format!("<{url}?{}>; rel=\"{rel}\"", pairs.finish())
    };
    let mut links = Vec::new();
    if let Some(prev) = prev_page {
        links.push(link_to(prev, "prev"));
    }
    if let Some(next) = next_page {
        links.push(link_to(next, "next"));
    }
    links.push(link_to(1, "first"));
    links.push(link_to(total_pages, "last"));
    set("link", links.join(", "));

    Page { items, headers }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(page: &Page<u32>, name: &str) -> String {
        page.headers
            .get(name)
            .map(|value| value.to_str().unwrap().to_owned())
            .unwrap_or_else(|| panic!("missing header {name}"))
    }

    #[test]
    fn middle_page_has_both_neighbours() {
        let query = vec![("status".to_string(), "running".to_string())];
        let page = paginate(
            (1..=5).collect(),
            PageRequest {
                page: 2,
                per_page: 2,
            },
            "http://h/api/v4/runners/1/jobs",
            &query,
        );
        assert_eq!(page.items, vec![3, 4]);
        assert_eq!(header(&page, "x-page"), "2");
        assert_eq!(header(&page, "x-per-page"), "2");
        assert_eq!(header(&page, "x-next-page"), "3");
        assert_eq!(header(&page, "x-prev-page"), "1");
        assert_eq!(header(&page, "x-total"), "5");
        assert_eq!(header(&page, "x-total-pages"), "3");
        assert_eq!(
            header(&page, "link"),
            "<http://h/api/v4/runners/1/jobs?status=running&page=1&per_page=2>; rel=\"prev\", \
             <http://h/api/v4/runners/1/jobs?status=running&page=3&per_page=2>; rel=\"next\", \
             <http://h/api/v4/runners/1/jobs?status=running&page=1&per_page=2>; rel=\"first\", \
             <http://h/api/v4/runners/1/jobs?status=running&page=3&per_page=2>; rel=\"last\""
        );
    }

    #[test]
    fn empty_list_is_one_empty_page_without_next() {
        let page = paginate(
            Vec::<u32>::new(),
            PageRequest {
                page: 1,
                per_page: 20,
            },
            "http://h/x",
            &[],
        );
        assert!(page.items.is_empty());
        assert_eq!(header(&page, "x-next-page"), "");
        assert_eq!(header(&page, "x-prev-page"), "");
        assert_eq!(header(&page, "x-total"), "0");
        assert_eq!(header(&page, "x-total-pages"), "1");
    }

    #[test]
    fn page_past_the_end_is_empty_and_points_back() {
        let page = paginate(
            vec![1_u32, 2, 3],
            PageRequest {
                page: 9,
                per_page: 2,
            },
            "http://h/x",
            &[],
        );
        assert!(page.items.is_empty());
        assert_eq!(header(&page, "x-next-page"), "");
        assert_eq!(header(&page, "x-prev-page"), "2");
    }

    #[test]
    fn per_page_is_clamped_like_gitlab() {
        let params = Params::parse(Some("per_page=500&page=0"), None, b"").unwrap();
        assert_eq!(
            PageRequest::from_params(&params).unwrap(),
            PageRequest {
                page: 1,
                per_page: MAX_PER_PAGE
            }
        );
        let defaults = Params::parse(None, None, b"").unwrap();
        assert_eq!(
            PageRequest::from_params(&defaults).unwrap().per_page,
            DEFAULT_PER_PAGE
        );
    }
}
