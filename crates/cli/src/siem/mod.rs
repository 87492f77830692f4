//! `scanflow siem receive`: the reference receiver for SIEM integrators. It takes SNS's HTTP
//! deliveries of scanflow's SIEM documents, keeps only what SNS really signed ([`verify`]),
//! answers as SNS expects ([`server`]) and writes each complete run as NDJSON ([`assemble`]).

pub mod assemble;
pub mod server;
pub mod verify;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use assemble::Store;
use server::{Confirm, Receiver};
use verify::{Freshness, Trust, Verifier};

/// The environment variable that holds `user:password` when the subscription's endpoint URL
/// carries basic-auth credentials. An environment variable, not a flag, so it is never in the
/// process list or shell history; it is never printed.
pub const BASIC_AUTH_ENV: &str = "SCANFLOW_SIEM_BASIC_AUTH";

/// What `scanflow siem receive` was asked to do.
pub struct ReceiveOptions {
    pub listen: String,
    pub out_dir: PathBuf,
    /// A certificate to trust for every message instead of downloading SNS's.
    pub trust_cert: Option<PathBuf>,
    pub freshness: Freshness,
    pub basic_auth: Option<String>,
}

/// Why the receiver cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ReceiveError {
    #[error("--trust-cert {path}: {problem}")]
    TrustCert { path: String, problem: String },
    #[error("--listen {addr}: {error}; give a free host:port such as 127.0.0.1:8080")]
    Listen { addr: String, error: std::io::Error },
    #[error("--out {0}")]
    Out(#[from] assemble::AssembleError),
    #[error("{BASIC_AUTH_ENV} must be user:password (it has no ':')")]
    BasicAuth,
}

/// Binds, then serves until the process is stopped.
pub fn receive(options: ReceiveOptions) -> Result<(), ReceiveError> {
    let (listener, receiver) = bind(options)?;
    let addr = listener
        .local_addr()
        .map_or_else(|_| "?".to_owned(), |a| a.to_string());
    eprintln!("scanflow siem receive: listening on http://{addr}/");
    server::serve(listener, Arc::new(receiver))
        .map_err(|error| ReceiveError::Listen { addr, error })
}

/// The listener and the receiver behind it, ready to serve (tests serve them on a thread).
pub fn bind(options: ReceiveOptions) -> Result<(TcpListener, Receiver), ReceiveError> {
    if options
        .basic_auth
        .as_deref()
        .is_some_and(|c| !c.contains(':'))
    {
        return Err(ReceiveError::BasicAuth);
    }
    let trust = match &options.trust_cert {
        Some(path) => Trust::Pinned(pinned(path)?),
        None => Trust::Download(Box::new(https_get)),
    };
    let store = Store::new(&options.out_dir)?;
    let listener = TcpListener::bind(&options.listen).map_err(|error| ReceiveError::Listen {
        addr: options.listen.clone(),
        error,
    })?;
    let confirm: Confirm = Box::new(|url| https_get(url).map(drop));
    let receiver = Receiver::new(
        Verifier::new(trust, options.freshness),
        store,
        options.basic_auth.as_deref(),
        confirm,
    );
    Ok((listener, receiver))
}

fn pinned(path: &Path) -> Result<rsa::RsaPublicKey, ReceiveError> {
    let problem = |problem: String| ReceiveError::TrustCert {
        path: path.display().to_string(),
        problem,
    };
    let pem = std::fs::read_to_string(path).map_err(|e| problem(e.to_string()))?;
    verify::public_key_of(&pem).map_err(problem)
}

/// GETs an SNS URL (already checked to be on SNS's host) over HTTPS.
#[cfg(feature = "aws")]
fn https_get(url: &str) -> Result<String, String> {
    let config = ureq::Agent::config_builder()
        .timeout_global(Some(std::time::Duration::from_secs(10)))
        .max_redirects(0)
        .https_only(true)
        .build();
    let agent = ureq::Agent::new_with_config(config);
    agent
        .get(url)
        .call()
        .map_err(|e| format!("GET {url} failed ({e})"))?
        .body_mut()
        .with_config()
        .limit(64 * 1024)
        .read_to_string()
        .map_err(|e| format!("GET {url}: the answer cannot be read ({e})"))
}

/// Without the `aws` feature this build has no TLS client: certificates must be given.
#[cfg(not(feature = "aws"))]
fn https_get(url: &str) -> Result<String, String> {
    Err(format!(
        "this scanflow was built without HTTPS (feature `aws`), so it cannot fetch {url}; \
         rebuild with --features aws, or give the certificate with --trust-cert"
    ))
}

/// A poisoned lock still guards consistent data here (each critical section is a single
/// insert or file write), so a panicked request thread must not stop the others.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
