//! The Lambda glue shared by the five functions: logging set up from Lambda's controls,
//! configuration checked once at cold start (a failure reported to the Runtime API's init-error
//! endpoint), each invocation's deadline made known to the handler, and handler errors reported
//! with the stable `errorType` names the state machine retries and catches on.
//!
//! Duplicate keys: the execution input's duplicate-key refusal lives on the CLI's text path
//! (`scanflow_core::input`) only. A Lambda's event cannot carry duplicate keys: Step Functions
//! parses the execution input when the execution starts (a duplicate key is refused, or one of
//! the two kept, there) and builds every Task's `Payload` by serialising its own parsed state
//! through the state's `Parameters` (statemachine/scan.asl.json), and a JSON object it
//! serialises holds each key once.

use std::future::Future;
use std::io::{Read, Write};
use std::pin::Pin;
use std::time::{Duration, SystemTime};

use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use scanflow_core::ScanError;
use serde_json::Value;
use tracing::Instrument;

use crate::config::Config;
use crate::platform::AwsPlatform;

/// A handler's error as Lambda reports it: `errorType` = [`ScanError::error_type`],
/// `errorMessage` = its text. A newtype because `Diagnostic` and `ScanError` are both foreign.
#[derive(Debug)]
pub struct HandlerError(pub ScanError);

impl From<HandlerError> for Diagnostic {
    fn from(err: HandlerError) -> Self {
        Diagnostic {
            error_type: err.0.error_type().to_owned(),
            error_message: err.0.to_string(),
        }
    }
}

/// A handler with its future boxed, so the runtime's deep future types are laid out here,
/// once, rather than in every function's `main`.
type BoxedHandler = Box<
    dyn Fn(&'static AwsPlatform, Value) -> Pin<Box<dyn Future<Output = Result<Value, ScanError>>>>,
>;

/// Runs `handler` as the Lambda function `function` until the runtime stops.
///
/// Fails before serving any event when the configuration is incomplete (the error names the
/// environment variable) so a bad deployment shows up at once, not as failed scans.
pub async fn run<F, Fut>(function: &'static str, handler: F) -> Result<(), lambda_runtime::Error>
where
    F: Fn(&'static AwsPlatform, Value) -> Fut + 'static,
    Fut: Future<Output = Result<Value, ScanError>> + 'static,
{
    Box::pin(serve(
        function,
        Box::new(move |platform, event| Box::pin(handler(platform, event))),
    ))
    .await
}

async fn serve(function: &'static str, handler: BoxedHandler) -> Result<(), lambda_runtime::Error> {
    init_tracing(|name| std::env::var(name).ok());
    let config = match Config::from_env(function) {
        Ok(config) => config,
        Err(e) => {
            tracing::error!(function, error = %e, "configuration is incomplete");
            report_init_error(&e.to_string());
            return Err(e.into());
        }
    };
    // A hung connection becomes a `Transient` error the state machine retries, instead of a
    // Lambda timeout. Streaming reads (report objects) are outside the attempt timeout.
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(5))
        .operation_attempt_timeout(Duration::from_secs(60))
        .build();
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .timeout_config(timeouts)
        .load()
        .await;
    let platform = match AwsPlatform::new(sdk, config) {
        Ok(platform) => platform,
        Err(e) => {
            tracing::error!(function, error = %e, "cannot start");
            report_init_error(&e.to_string());
            return Err(e.into());
        }
    };
    // One platform for the life of the process: clients and their connection pools are reused
    // across invocations of a warm function.
    let platform: &'static AwsPlatform = Box::leak(Box::new(platform));
    tracing::info!(function, "ready");
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let span =
            tracing::info_span!("invocation", function, request_id = %event.context.request_id);
        let deadline = SystemTime::UNIX_EPOCH + Duration::from_millis(event.context.deadline);
        let work = crate::platform::within_deadline(deadline, handler(platform, event.payload));
        async move {
            let result = work.await;
            if let Err(e) = &result {
                tracing::warn!(error_type = e.error_type(), error = %e, "step failed");
            }
            result.map_err(HandlerError)
        }
        .instrument(span)
    }))
    .await
}

/// Tells Lambda why this environment cannot start (`POST /runtime/init/error`), so the
/// function's error names the missing variable instead of a bare `Runtime.ExitError`. Best
/// effort: the process exits with the error either way. Blocking I/O is fine here: nothing
/// else runs before the first event.
fn report_init_error(message: &str) {
    let Ok(api) = std::env::var("AWS_LAMBDA_RUNTIME_API") else {
        return;
    };
    let body =
        serde_json::json!({"errorType": INIT_ERROR_TYPE, "errorMessage": message}).to_string();
    let request = format!(
        "POST /2018-06-01/runtime/init/error HTTP/1.1\r\nHost: {api}\r\n\
         Lambda-Runtime-Function-Error-Type: Runtime.{INIT_ERROR_TYPE}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let sent = std::net::TcpStream::connect(&api).and_then(|mut stream| {
        stream.set_read_timeout(Some(Duration::from_secs(2)))?;
        stream.write_all(request.as_bytes())?;
        let mut status = [0u8; 12];
        stream.read_exact(&mut status)?;
        Ok(String::from_utf8_lossy(&status[9..]).into_owned())
    });
    match sent {
        Ok(status) if status.starts_with('2') => {}
        Ok(status) => tracing::warn!(status, "the runtime API refused the init error"),
        Err(e) => tracing::warn!(error = %e, "could not report the init error to the runtime API"),
    }
}

/// The `errorType` of a configuration that stops a function from starting.
pub const INIT_ERROR_TYPE: &str = "ConfigurationError";

/// How to log, from Lambda's advanced logging controls: JSON when `AWS_LAMBDA_LOG_FORMAT` is
/// `JSON`; the filter from `AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG`, else `info`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSettings {
    pub json: bool,
    pub filter: String,
}

impl LogSettings {
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let json = lookup("AWS_LAMBDA_LOG_FORMAT").is_some_and(|f| f.eq_ignore_ascii_case("json"));
        let filter = match lookup("AWS_LAMBDA_LOG_LEVEL").filter(|l| !l.trim().is_empty()) {
            // Lambda's levels are TRACE..FATAL; tracing has no FATAL.
            Some(level) if level.eq_ignore_ascii_case("fatal") => "error".to_owned(),
            Some(level) => level.trim().to_ascii_lowercase(),
            None => lookup("RUST_LOG")
                .filter(|l| !l.trim().is_empty())
                .unwrap_or_else(|| "info".to_owned()),
        };
        Self { json, filter }
    }
}

fn init_tracing(lookup: impl Fn(&str) -> Option<String>) {
    let settings = LogSettings::from_lookup(lookup);
    let filter = tracing_subscriber::EnvFilter::try_new(&settings.filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(false);
    // A second initialisation (tests) keeps the first subscriber: ignoring that is correct.
    let _ = if settings.json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init()
    } else {
        builder.without_time().try_init()
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(name, _)| *name == k)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn diagnostics_carry_the_stable_error_type_and_the_message() {
        let err = ScanError::NoInstancesMatched {
            account_id: "111122223333".into(),
            region: "eu-west-1".into(),
            target: "tag Patch=Scan".into(),
        };
        let text = err.to_string();
        let d: Diagnostic = HandlerError(err).into();
        assert_eq!(d.error_type, "NoInstancesMatched");
        assert_eq!(d.error_message, text);
    }

    #[test]
    fn log_settings_follow_lambda_controls_first() {
        assert_eq!(
            LogSettings::from_lookup(lookup(&[])),
            LogSettings {
                json: false,
                filter: "info".into()
            }
        );
        let s = LogSettings::from_lookup(lookup(&[
            ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
            ("AWS_LAMBDA_LOG_LEVEL", "DEBUG"),
            ("RUST_LOG", "trace"),
        ]));
        assert_eq!((s.json, s.filter.as_str()), (true, "debug"));
        let s = LogSettings::from_lookup(lookup(&[
            ("AWS_LAMBDA_LOG_FORMAT", "Text"),
            ("RUST_LOG", "scanflow_aws=debug"),
        ]));
        assert_eq!((s.json, s.filter.as_str()), (false, "scanflow_aws=debug"));
        let s = LogSettings::from_lookup(lookup(&[("AWS_LAMBDA_LOG_LEVEL", "FATAL")]));
        assert_eq!(s.filter, "error");
    }
}
