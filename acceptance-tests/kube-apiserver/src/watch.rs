//! Watch streams: plain watches (from a resourceVersion or "now" with synthetic ADDED events)
//! and watch-list (`sendInitialEvents=true`, ended by the `k8s.io/initial-events-end` bookmark).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::{self, Stream};
use hyper::body::Frame;
use serde_json::{Value, json};
use tokio::sync::broadcast::{self, error::RecvError};

use crate::resources::ResourceType;
use crate::selectors::{FieldSelector, LabelSelector};
use crate::status::ApiError;
use crate::store::{Store, WatchEvent};

/// What a watch request asked for.
#[derive(Debug, Clone)]
pub struct WatchRequest {
    pub resource: &'static ResourceType,
    pub namespace: Option<String>,
    pub labels: LabelSelector,
    pub fields: FieldSelector,
    pub resource_version: Option<String>,
    pub send_initial_events: bool,
    pub timeout: Duration,
}

impl WatchRequest {
    fn selects(&self, object: &Value) -> bool {
        self.labels.matches(object) && self.fields.matches(object)
    }

    /// The event type this watch reports for a stored event, if any: a modification that moves an
    /// object into the selection is ADDED, out of it DELETED.
    fn translate(&self, event: &WatchEvent) -> Option<&'static str> {
        if !std::ptr::eq(event.resource, self.resource)
            || self
                .namespace
                .as_ref()
                .is_some_and(|ns| *ns != event.namespace)
        {
            return None;
        }
        let now = self.selects(&event.object);
        match (event.event_type, &event.previous) {
            ("MODIFIED", Some(previous)) => match (self.selects(previous), now) {
                (true, true) => Some("MODIFIED"),
                (false, true) => Some("ADDED"),
                (true, false) => Some("DELETED"),
                (false, false) => None,
            },
            (kind, _) => now.then_some(kind),
        }
    }
}

fn line(event_type: &str, object: &Value) -> Bytes {
    let mut text = json!({"type": event_type, "object": object}).to_string();
    text.push('\n');
    Bytes::from(text)
}

/// Opens a watch: computes the initial events and subscribes under one lock.
pub fn open(
    store: &Arc<Store>,
    request: WatchRequest,
) -> Result<impl Stream<Item = Result<Frame<Bytes>, Infallible>> + Send + 'static, ApiError> {
    let (initial, receiver) = store.with(|st| -> Result<_, ApiError> {
        let mut initial: VecDeque<Bytes> = VecDeque::new();
        let current = st.resource_version();
        let from: Option<u64> =
            match request.resource_version.as_deref() {
                None | Some("") | Some("0") => None,
                Some(rv) => Some(rv.parse().map_err(|_| {
                    ApiError::bad_request(format!("invalid resourceVersion {rv:?}"))
                })?),
            };
        if request.send_initial_events || from.is_none() {
            let ns = if request.resource.namespaced {
                request.namespace.as_deref()
            } else {
                None
            };
            for object in st.list(request.resource, ns) {
                if request.selects(object) {
                    initial.push_back(line("ADDED", object));
                }
            }
            if request.send_initial_events {
                let bookmark = json!({
                    "kind": request.resource.kind,
                    "apiVersion": request.resource.api_version(),
                    "metadata": {"resourceVersion": current.to_string(),
                                 "annotations": {"k8s.io/initial-events-end": "true"}},
                });
                initial.push_back(line("BOOKMARK", &bookmark));
            }
        } else if let Some(rv) = from {
            match st.events_since(rv) {
                Some(events) => {
                    for e in events.iter() {
                        if let Some(kind) = request.translate(e) {
                            initial.push_back(line(kind, &e.object));
                        }
                    }
                }
                None => {
                    let status =
                        ApiError::gone(format!("too old resource version: {rv} ({current})"))
                            .to_status();
                    initial.push_back(line("ERROR", &status));
                    return Ok((initial, None));
                }
            }
        }
        Ok((initial, Some(st.subscribe())))
    })?;
    let deadline = tokio::time::Instant::now() + request.timeout;
    let state = (initial, receiver, request);
    Ok(stream::unfold(
        state,
        move |(mut initial, mut receiver, request)| async move {
            if let Some(chunk) = initial.pop_front() {
                return Some((Ok(Frame::data(chunk)), (initial, receiver, request)));
            }
            let rx: &mut broadcast::Receiver<Arc<WatchEvent>> = receiver.as_mut()?;
            loop {
                let next = tokio::time::timeout_at(deadline, rx.recv()).await;
                match next {
                    Err(_) => return None,
                    Ok(Err(RecvError::Closed)) => return None,
                    Ok(Err(RecvError::Lagged(_))) => {
                        let status =
                            ApiError::gone("watch fell behind; resume with a list").to_status();
                        return Some((
                            Ok(Frame::data(line("ERROR", &status))),
                            (initial, None, request),
                        ));
                    }
                    Ok(Ok(event)) => {
                        if let Some(kind) = request.translate(&event) {
                            let chunk = line(kind, &event.object);
                            return Some((Ok(Frame::data(chunk)), (initial, receiver, request)));
                        }
                    }
                }
            }
        },
    ))
}
