//! The object store: every object as JSON, one cluster-wide resourceVersion counter,
//! a bounded event history for watches, and a broadcast of new events.
//!
//! All state sits behind one mutex that is only held for in-memory work (never across I/O).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::broadcast;

use crate::resources::ResourceType;

/// How many past events are kept for watches that resume from a resourceVersion.
const HISTORY_LIMIT: usize = 50_000;

/// Timing knobs of the built-in controllers.
#[derive(Debug, Clone, Copy)]
pub struct Behaviour {
    /// How long a new pod stays Pending before it is Running and Ready.
    pub ready_delay: Duration,
    /// How long a deleted pod lingers with a deletionTimestamp before it vanishes.
    pub pod_termination_grace: Duration,
}

/// A watch event as stored and broadcast.
#[derive(Debug)]
pub struct WatchEvent {
    pub rv: u64,
    pub resource: &'static ResourceType,
    pub namespace: String,
    pub event_type: &'static str,
    pub object: Value,
    /// The state before a MODIFIED event (lets filtered watches see objects enter or leave).
    pub previous: Option<Value>,
}

/// Delayed work the controllers schedule.
#[derive(Debug, Clone)]
pub enum Timer {
    PodReady {
        namespace: String,
        name: String,
        uid: String,
    },
    PodGone {
        namespace: String,
        name: String,
        uid: String,
    },
}

/// Everything the API operates on.
pub struct State {
    rv: u64,
    objects: HashMap<String, BTreeMap<(String, String), Value>>,
    history: VecDeque<Arc<WatchEvent>>,
    events: broadcast::Sender<Arc<WatchEvent>>,
    pub(crate) timers: Vec<(Duration, Timer)>,
    pub behaviour: Behaviour,
}

/// RFC 3339 timestamp with second precision, as Kubernetes writes them.
pub fn now_timestamp() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

impl State {
    fn new(behaviour: Behaviour) -> Self {
        let (events, _) = broadcast::channel(8192);
        State {
            rv: 0,
            objects: HashMap::new(),
            history: VecDeque::new(),
            events,
            timers: Vec::new(),
            behaviour,
        }
    }

    /// The current (latest) resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.rv
    }

    pub fn get(&self, rt: &ResourceType, namespace: &str, name: &str) -> Option<&Value> {
        self.objects
            .get(&rt.id())
            .and_then(|m| m.get(&(namespace.to_string(), name.to_string())))
    }

    /// Objects of a type, sorted by namespace and name; `None` namespace means all.
    pub fn list(&self, rt: &ResourceType, namespace: Option<&str>) -> Vec<&Value> {
        let Some(map) = self.objects.get(&rt.id()) else {
            return Vec::new();
        };
        match namespace {
            Some(ns) => map
                .range((ns.to_string(), String::new())..)
                .take_while(|((n, _), _)| n == ns)
                .map(|(_, v)| v)
                .collect(),
            None => map.values().collect(),
        }
    }

    fn emit(
        &mut self,
        rt: &'static ResourceType,
        namespace: &str,
        event_type: &'static str,
        object: Value,
        previous: Option<Value>,
    ) {
        let event = Arc::new(WatchEvent {
            rv: self.rv,
            resource: rt,
            namespace: namespace.to_string(),
            event_type,
            object,
            previous,
        });
        if self.history.len() >= HISTORY_LIMIT {
            self.history.pop_front();
        }
        self.history.push_back(event.clone());
        let _ = self.events.send(event);
    }

    /// Stores an object under a new resourceVersion and emits ADDED or MODIFIED.
    pub fn put(
        &mut self,
        rt: &'static ResourceType,
        namespace: &str,
        name: &str,
        mut object: Value,
    ) -> Value {
        self.rv += 1;
        object["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        let key = (namespace.to_string(), name.to_string());
        let previous = self
            .objects
            .entry(rt.id())
            .or_default()
            .insert(key, object.clone());
        let event_type = if previous.is_some() {
            "MODIFIED"
        } else {
            "ADDED"
        };
        self.emit(rt, namespace, event_type, object.clone(), previous);
        object
    }

    /// Removes an object, emitting DELETED with a fresh resourceVersion.
    pub fn remove(
        &mut self,
        rt: &'static ResourceType,
        namespace: &str,
        name: &str,
    ) -> Option<Value> {
        let mut object = self
            .objects
            .get_mut(&rt.id())?
            .remove(&(namespace.to_string(), name.to_string()))?;
        self.rv += 1;
        object["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        self.emit(rt, namespace, "DELETED", object.clone(), None);
        Some(object)
    }

    /// Schedules delayed controller work.
    pub fn schedule(&mut self, delay: Duration, timer: Timer) {
        self.timers.push((delay, timer));
    }

    /// Subscribes to new events (events are broadcast while the lock is held, so a
    /// subscription taken under the lock sees exactly the events after `resource_version()`).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<WatchEvent>> {
        self.events.subscribe()
    }

    /// Past events newer than `rv`, or `None` if the history no longer reaches back that far.
    pub fn events_since(&self, rv: u64) -> Option<Vec<Arc<WatchEvent>>> {
        if let Some(first) = self.history.front()
            && first.rv > rv + 1
            && self.history.len() >= HISTORY_LIMIT
        {
            return None;
        }
        Some(self.history.iter().filter(|e| e.rv > rv).cloned().collect())
    }

    /// Every stored object (for state dumps).
    pub fn all_objects(&self) -> Vec<Value> {
        let mut out: Vec<Value> = self
            .objects
            .values()
            .flat_map(|m| m.values().cloned())
            .collect();
        out.sort_by_key(|o| {
            (
                o["kind"].as_str().unwrap_or("").to_string(),
                o["metadata"]["namespace"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
                o["metadata"]["name"].as_str().unwrap_or("").to_string(),
            )
        });
        out
    }
}

/// The shared store; controllers' timers run on the given runtime.
pub struct Store {
    state: Mutex<State>,
    runtime: tokio::runtime::Handle,
}

impl Store {
    pub fn new(behaviour: Behaviour, runtime: tokio::runtime::Handle) -> Arc<Self> {
        Arc::new(Store {
            state: Mutex::new(State::new(behaviour)),
            runtime,
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        match self.state.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Runs `f` with the state locked, then starts any timers it scheduled.
    pub fn with<R>(self: &Arc<Self>, f: impl FnOnce(&mut State) -> R) -> R {
        let (result, timers) = {
            let mut state = self.lock();
            let result = f(&mut state);
            (result, std::mem::take(&mut state.timers))
        };
        self.spawn_timers(timers);
        result
    }

    fn spawn_timers(self: &Arc<Self>, timers: Vec<(Duration, Timer)>) {
        for (delay, timer) in timers {
            let store = Arc::clone(self);
            self.runtime.spawn(async move {
                tokio::time::sleep(delay).await;
                store.fire(&timer);
            });
        }
    }

    fn fire(self: &Arc<Self>, timer: &Timer) {
        let timers = {
            let mut state = self.lock();
            crate::controller::fire(&mut state, timer);
            std::mem::take(&mut state.timers)
        };
        self.spawn_timers(timers);
    }
}
