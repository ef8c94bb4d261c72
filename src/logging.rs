//! Logging with `tracing`, written to stderr as hclog JSON lines so Terraform files each line at
//! its own level: `TF_LOG=debug` (or `TF_LOG_PROVIDER`) shows the provider's lines in Terraform's
//! log. stdout is never used: it carries the plugin handshake.
//!
//! Only chartreg's own events pass at the chosen level; other crates are capped at INFO so that a
//! TRACE setting never dumps HTTP internals (headers, tokens) into the log.

use std::io::Write;
use std::sync::Mutex;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{filter, Layer};

/// The level asked for through Terraform's variables (provider-specific first); WARN by default.
pub fn level_from_env(get: impl Fn(&str) -> Option<String>) -> Level {
    let raw = get("TF_LOG_PROVIDER_CHARTREG")
        .or_else(|| get("TF_LOG_PROVIDER"))
        .or_else(|| get("TF_LOG"))
        .unwrap_or_default();
    match raw.trim().to_ascii_lowercase().as_str() {
        "trace" | "json" => Level::TRACE,
        "debug" => Level::DEBUG,
        "info" => Level::INFO,
        "error" => Level::ERROR,
        _ => Level::WARN,
    }
}

struct JsonVisitor(serde_json::Map<String, serde_json::Value>);

impl Visit for JsonVisitor {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let key = if field.name() == "message" {
            "@message"
        } else {
            field.name()
        };
        self.0.insert(key.to_string(), format!("{value:?}").into());
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        let key = if field.name() == "message" {
            "@message"
        } else {
            field.name()
        };
        self.0.insert(key.to_string(), value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_string(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_string(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_string(), value.into());
    }
}

/// Format one event as an hclog JSON line.
pub fn hclog_line(
    level: &Level,
    target: &str,
    fields: serde_json::Map<String, serde_json::Value>,
) -> String {
    let mut m = serde_json::Map::new();
    m.insert(
        "@level".into(),
        match *level {
            Level::TRACE => "trace",
            Level::DEBUG => "debug",
            Level::INFO => "info",
            Level::WARN => "warn",
            Level::ERROR => "error",
        }
        .into(),
    );
    // `chartreg::registry::oci` → `chartreg.registry.oci`, as hclog names sub-loggers.
    let module = target.replace("::", ".");
    let module = if module == "chartreg" || module.starts_with("chartreg.") {
        module
    } else {
        format!("chartreg.{module}")
    };
    m.insert("@module".into(), module.into());
    if let Ok(ts) =
        time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339)
    {
        m.insert("@timestamp".into(), ts.into());
    }
    m.insert("@message".into(), "".into());
    m.extend(fields);
    serde_json::Value::Object(m).to_string()
}

struct HclogLayer<W: Write + Send + 'static> {
    out: Mutex<W>,
}

impl<S: Subscriber, W: Write + Send + 'static> Layer<S> for HclogLayer<W> {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut v = JsonVisitor(serde_json::Map::new());
        event.record(&mut v);
        let line = hclog_line(event.metadata().level(), event.metadata().target(), v.0);
        if let Ok(mut w) = self.out.lock() {
            let _ = writeln!(w, "{line}");
        }
    }
}

/// The AWS SDK's crates, capped at WARN: at DEBUG and TRACE they log canonical requests (with the
/// session token), credentials providers' results and whole responses (ECR tokens).
pub const AWS_TARGETS: &[&str] = &[
    "aws_config",
    "aws_credential_types",
    "aws_runtime",
    "aws_sdk_ecr",
    "aws_sdk_sts",
    "aws_sigv4",
    "aws_smithy_async",
    "aws_smithy_http",
    "aws_smithy_json",
    "aws_smithy_observability",
    "aws_smithy_query",
    "aws_smithy_runtime",
    "aws_smithy_runtime_api",
    "aws_smithy_types",
    "aws_smithy_xml",
    "aws_types",
];

/// Install the global subscriber. `PLUGIN_LOG_FILE` (tf-provider's own switch) is honoured here,
/// at the chosen level rather than TRACE, and removed from the environment so that tf-provider
/// does not install a second subscriber.
pub fn init() {
    init_with(tracing_subscriber::layer::Identity::new());
}

/// [`init`] with one more layer beside the log writer (the plugin adds the one that watches for
/// Terraform's StopProvider, `serve::stop_layer`); it should carry its own filter.
pub fn init_with<L>(extra: L)
where
    L: Layer<tracing_subscriber::Registry> + Send + Sync + 'static,
{
    let level = level_from_env(|k| std::env::var(k).ok());
    let file = std::env::var_os("PLUGIN_LOG_FILE");
    std::env::remove_var("PLUGIN_LOG_FILE");
    let mut targets = filter::Targets::new()
        .with_default(Level::INFO.min(level))
        .with_target("chartreg", level)
        .with_target("terraform_provider_chartreg", level);
    for aws in AWS_TARGETS {
        targets = targets.with_target(*aws, Level::WARN.min(level));
    }
    let writer: Box<dyn Write + Send> = match file.and_then(|f| std::fs::File::create(f).ok()) {
        Some(f) => Box::new(f),
        None => Box::new(std::io::stderr()),
    };
    let _ = tracing_subscriber::registry()
        .with(extra)
        .with(
            HclogLayer {
                out: Mutex::new(writer),
            }
            .with_filter(targets),
        )
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_from_env() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(level_from_env(env(&[])), Level::WARN);
        assert_eq!(level_from_env(env(&[("TF_LOG", "DEBUG")])), Level::DEBUG);
        assert_eq!(
            level_from_env(env(&[("TF_LOG", "trace"), ("TF_LOG_PROVIDER", "info")])),
            Level::INFO
        );
    }

    #[test]
    fn hclog_shape() {
        let mut f = serde_json::Map::new();
        f.insert("@message".into(), "hello".into());
        let line = hclog_line(&Level::DEBUG, "chartreg::x", f);
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["@level"], "debug");
        assert_eq!(v["@message"], "hello");
        assert_eq!(v["@module"], "chartreg.x");
        let line = hclog_line(&Level::INFO, "tf_provider::server", serde_json::Map::new());
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["@module"], "chartreg.tf_provider.server");
    }
}
