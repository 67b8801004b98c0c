//! Logs as hclog JSON lines on stderr, which Terraform reads and shows with `TF_LOG` /
//! `TF_LOG_PROVIDER`; and a panic hook that writes Terraform's `panic: ` crash-report prefix.
//!
//! A line looks like
//! `{"@level":"debug","@message":"…","@timestamp":"2026-01-02T15:04:05.000000Z","target":"…","key":"value"}`.

use std::fmt::Write as _;
use std::io::Write as _;

use serde_json::{Map, Value as Json};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::{Layer, Registry};

/// Installs the JSON logger (level from `TF_LOG_PROVIDER`, else `TF_LOG`, else warn) and the
/// panic hook. Safe to call more than once.
pub fn init() {
    let level = level_from(
        std::env::var("TF_LOG_PROVIDER").ok().as_deref(),
        std::env::var("TF_LOG").ok().as_deref(),
    );
    let subscriber = Registry::default().with(HclogLayer.with_filter(targets(level)));
    let _ = tracing::subscriber::set_global_default(subscriber);
    install_panic_hook();
}

/// Our own events at `level`; the transport crates' chatter (HTTP/2 frames, TLS) only from warn.
fn targets(level: LevelFilter) -> Targets {
    let quiet = level.min(LevelFilter::WARN);
    Targets::new()
        .with_default(level)
        .with_target("h2", quiet)
        .with_target("hyper", quiet)
        .with_target("hyper_util", quiet)
        .with_target("tower", quiet)
        .with_target("tonic", quiet)
        .with_target("rustls", quiet)
        .with_target("tokio_rustls", quiet)
}

/// The level Terraform asks for. `JSON` means trace; unknown words mean trace too, as in
/// Terraform.
pub fn level_from(provider_level: Option<&str>, global_level: Option<&str>) -> LevelFilter {
    let chosen = provider_level
        .filter(|s| !s.trim().is_empty())
        .or(global_level.filter(|s| !s.trim().is_empty()));
    match chosen.map(|s| s.trim().to_ascii_uppercase()) {
        None => LevelFilter::WARN,
        Some(s) => match s.as_str() {
            "OFF" => LevelFilter::OFF,
            "ERROR" => LevelFilter::ERROR,
            "WARN" => LevelFilter::WARN,
            "INFO" => LevelFilter::INFO,
            "DEBUG" => LevelFilter::DEBUG,
            _ => LevelFilter::TRACE,
        },
    }
}

/// Writes each event as one hclog JSON line.
pub struct HclogLayer;

impl<S: Subscriber> Layer<S> for HclogLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let line = format_event(event, time::OffsetDateTime::now_utc());
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{line}");
    }
}

fn format_event(event: &Event<'_>, now: time::OffsetDateTime) -> String {
    let mut visitor = JsonFields(Map::new());
    event.record(&mut visitor);
    let mut fields = visitor.0;
    let message = fields
        .remove("message")
        .map(|m| match m {
            Json::String(s) => s,
            other => other.to_string(),
        })
        .unwrap_or_default();
    let mut line = Map::new();
    line.insert(
        "@level".into(),
        Json::String(level_name(*event.metadata().level()).into()),
    );
    line.insert("@message".into(), Json::String(message));
    line.insert("@timestamp".into(), Json::String(timestamp(now)));
    line.insert(
        "target".into(),
        Json::String(event.metadata().target().into()),
    );
    for (k, v) in fields {
        line.entry(k).or_insert(v);
    }
    Json::Object(line).to_string()
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::TRACE => "trace",
        Level::DEBUG => "debug",
        Level::INFO => "info",
        Level::WARN => "warn",
        Level::ERROR => "error",
    }
}

/// Go's `2006-01-02T15:04:05.000000Z07:00` for a UTC time.
pub fn timestamp(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    let mut s = String::with_capacity(27);
    let _ = write!(
        s,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    );
    s
}

struct JsonFields(Map<String, Json>);

impl Visit for JsonFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0
            .insert(field.name().into(), Json::String(value.into()));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), Json::Bool(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), Json::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), Json::from(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), Json::from(value));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .insert(field.name().into(), Json::String(format!("{value:?}")));
    }
}

fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let payload = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_owned());
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let backtrace = std::backtrace::Backtrace::force_capture();
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "panic: {payload}\n\nat {location}\n\n{backtrace}");
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_has_go_layout_with_microseconds() {
        let t = time::OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_123_456_789).unwrap();
        assert_eq!(timestamp(t), "2023-11-14T22:13:20.123456Z");
    }

    #[test]
    fn provider_level_wins_over_global_and_unset_is_warn() {
        assert_eq!(level_from(Some("debug"), Some("ERROR")), LevelFilter::DEBUG);
        assert_eq!(level_from(None, Some("json")), LevelFilter::TRACE);
        assert_eq!(level_from(Some(""), Some("off")), LevelFilter::OFF);
        assert_eq!(level_from(None, None), LevelFilter::WARN);
    }

    #[test]
    fn events_become_hclog_json_lines() {
        use std::sync::{Arc, Mutex};
        struct Capture(Arc<Mutex<Vec<String>>>);
        impl<S: Subscriber> Layer<S> for Capture {
            fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
                let now = time::OffsetDateTime::from_unix_timestamp(0).unwrap();
                self.0.lock().unwrap().push(format_event(event, now));
            }
        }
        let lines = Arc::new(Mutex::new(Vec::new()));
        let subscriber = Registry::default().with(Capture(lines.clone()));
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(release = "runner", attempt = 2, "installing chart");
        });
        let line = lines.lock().unwrap()[0].clone();
        let v: Json = serde_json::from_str(&line).unwrap();
        assert_eq!(v["@level"], "info");
        assert_eq!(v["@message"], "installing chart");
        assert_eq!(v["@timestamp"], "1970-01-01T00:00:00.000000Z");
        assert_eq!(v["release"], "runner");
        assert_eq!(v["attempt"], 2);
    }
}
