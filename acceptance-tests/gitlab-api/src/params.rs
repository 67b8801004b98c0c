//! Request parameters as GitLab's API layer reads them: from the query string merged with a
//! form-encoded or JSON body, with lists given as arrays, `key[]` repeats or comma-separated
//! text, and booleans given as JSON booleans or the usual words.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::errors::ApiError;

#[derive(Debug, Clone, PartialEq)]
enum ParamValue {
    Text(String),
    List(Vec<String>),
    Json(Value),
}

/// The parameters of one request.
#[derive(Debug, Default, Clone)]
pub(crate) struct Params {
    values: BTreeMap<String, ParamValue>,
}

impl Params {
    /// Reads the query string, then the body (whose values win).
    pub fn parse(
        query: Option<&str>,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<Self, ApiError> {
        let mut params = Self::default();
        if let Some(query) = query {
            params.add_form(query.as_bytes());
        }
        let is_json = content_type.is_some_and(|value| {
            value
                .split(';')
                .next()
                .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
        });
        let body_is_blank = body.iter().all(u8::is_ascii_whitespace);
        if is_json && !body_is_blank {
            let parsed: Value = serde_json::from_slice(body).map_err(|_| {
                ApiError::BadRequest(Value::String(
                    "400 Bad request - the request body is not valid JSON".into(),
                ))
            })?;
            let Value::Object(object) = parsed else {
                return Err(ApiError::BadRequest(Value::String(
                    "400 Bad request - the request body must be a JSON object".into(),
                )));
            };
            for (key, value) in object {
                params.values.insert(key, ParamValue::Json(value));
            }
        } else if !body_is_blank {
            params.add_form(body);
        }
        Ok(params)
    }

    fn add_form(&mut self, encoded: &[u8]) {
        for (key, value) in form_urlencoded::parse(encoded) {
            if let Some(list_key) = key.strip_suffix("[]") {
                let entry = self
                    .values
                    .entry(list_key.to_owned())
                    .or_insert_with(|| ParamValue::List(Vec::new()));
                match entry {
                    ParamValue::List(items) => items.push(value.into_owned()),
                    other => *other = ParamValue::List(vec![value.into_owned()]),
                }
            } else {
                self.values
                    .insert(key.into_owned(), ParamValue::Text(value.into_owned()));
            }
        }
    }

    /// Whether the parameter was given (even as null).
    pub fn has(&self, key: &str) -> bool {
        self.values.contains_key(key)
    }

    /// A text parameter.
    pub fn text(&self, key: &str) -> Result<Option<String>, ApiError> {
        match self.values.get(key) {
            None | Some(ParamValue::Json(Value::Null)) => Ok(None),
            Some(ParamValue::Text(text)) => Ok(Some(text.clone())),
            Some(ParamValue::Json(Value::String(text))) => Ok(Some(text.clone())),
            Some(ParamValue::Json(Value::Number(number))) => Ok(Some(number.to_string())),
            Some(_) => Err(invalid(key)),
        }
    }

    /// A boolean parameter (`true`/`false`, `1`/`0`, `t`/`f`, `yes`/`no`, `on`/`off`).
    pub fn boolean(&self, key: &str) -> Result<Option<bool>, ApiError> {
        match self.values.get(key) {
            None | Some(ParamValue::Json(Value::Null)) => Ok(None),
            Some(ParamValue::Json(Value::Bool(value))) => Ok(Some(*value)),
            Some(ParamValue::Json(Value::Number(number))) => match number.as_u64() {
                Some(1) => Ok(Some(true)),
                Some(0) => Ok(Some(false)),
                _ => Err(invalid(key)),
            },
            Some(ParamValue::Text(text)) | Some(ParamValue::Json(Value::String(text))) => {
                parse_bool(text).map(Some).ok_or_else(|| invalid(key))
            }
            Some(_) => Err(invalid(key)),
        }
    }

    /// A non-negative integer parameter.
    pub fn integer(&self, key: &str) -> Result<Option<u64>, ApiError> {
        match self.values.get(key) {
            None | Some(ParamValue::Json(Value::Null)) => Ok(None),
            Some(ParamValue::Json(Value::Number(number))) => {
                number.as_u64().map(Some).ok_or_else(|| invalid(key))
            }
            Some(ParamValue::Text(text)) | Some(ParamValue::Json(Value::String(text))) => {
                text.trim().parse().map(Some).map_err(|_| invalid(key))
            }
            Some(_) => Err(invalid(key)),
        }
    }

    /// A list of strings: an array, repeated `key[]`, or comma-separated text.
    pub fn list(&self, key: &str) -> Result<Option<Vec<String>>, ApiError> {
        match self.values.get(key) {
            None | Some(ParamValue::Json(Value::Null)) => Ok(None),
            Some(ParamValue::List(items)) => Ok(Some(clean_list(items.iter().map(String::as_str)))),
            Some(ParamValue::Text(text)) | Some(ParamValue::Json(Value::String(text))) => {
                Ok(Some(clean_list(text.split(','))))
            }
            Some(ParamValue::Json(Value::Array(items))) => {
                let texts: Option<Vec<&str>> = items.iter().map(Value::as_str).collect();
                texts
                    .map(|texts| clean_list(texts.into_iter()))
                    .map(Some)
                    .ok_or_else(|| invalid(key))
            }
            Some(_) => Err(invalid(key)),
        }
    }
}

fn clean_list<'a>(items: impl Iterator<Item = &'a str>) -> Vec<String> {
    items
        .flat_map(|item| item.split(','))
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "t" | "yes" | "y" | "on" => Some(true),
        "false" | "0" | "f" | "no" | "n" | "off" => Some(false),
        _ => None,
    }
}

fn invalid(key: &str) -> ApiError {
    ApiError::InvalidParam(format!("{key} is invalid"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_body_overrides_query_and_reads_lists_both_ways() {
        let params = Params::parse(
            Some("paused=false&description=old"),
            Some("application/x-www-form-urlencoded"),
            b"paused=true&tag_list=a,%20b&other[]=x&other[]=y",
        )
        .unwrap();
        assert_eq!(params.boolean("paused").unwrap(), Some(true));
        assert_eq!(params.text("description").unwrap(), Some("old".into()));
        assert_eq!(
            params.list("tag_list").unwrap(),
            Some(vec!["a".to_string(), "b".to_string()])
        );
        assert_eq!(
            params.list("other").unwrap(),
            Some(vec!["x".to_string(), "y".to_string()])
        );
    }

    #[test]
    fn json_body_accepts_typed_and_text_values() {
        let params = Params::parse(
            None,
            Some("application/json; charset=utf-8"),
            br#"{"paused": "yes", "maximum_timeout": 3600, "tag_list": ["k8s"], "locked": null}"#,
        )
        .unwrap();
        assert_eq!(params.boolean("paused").unwrap(), Some(true));
        assert_eq!(params.integer("maximum_timeout").unwrap(), Some(3600));
        assert_eq!(
            params.list("tag_list").unwrap(),
            Some(vec!["k8s".to_string()])
        );
        assert_eq!(params.boolean("locked").unwrap(), None);
        assert!(params.has("locked"));
    }

    #[test]
    fn malformed_values_are_named_in_the_error() {
        let params = Params::parse(Some("paused=maybe&maximum_timeout=-1"), None, b"").unwrap();
        assert_eq!(
            params.boolean("paused"),
            Err(ApiError::InvalidParam("paused is invalid".into()))
        );
        assert_eq!(
            params.integer("maximum_timeout"),
            Err(ApiError::InvalidParam("maximum_timeout is invalid".into()))
        );
    }

    #[test]
    fn a_json_body_that_is_not_an_object_is_refused() {
        let refused = Params::parse(None, Some("application/json"), b"[1]");
        assert!(matches!(refused, Err(ApiError::BadRequest(_))));
        let broken = Params::parse(None, Some("application/json"), b"{");
        assert!(matches!(broken, Err(ApiError::BadRequest(_))));
    }
}
