//! A local stand-in for the Lambda Runtime API (the endpoint a bootstrap finds at
//! `AWS_LAMBDA_RUNTIME_API`): it records when the first `GET .../invocation/next` arrives and
//! what a bootstrap posts to `.../init/error`, and never hands out an event, so a bootstrap
//! that got through its cold start waits there. Shared by the cold-start harness
//! (`examples/cold_start.rs`) and the cold-start behaviour test (`tests/cold_start.rs`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// What the bootstrap did at the runtime API.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    /// When the first `/invocation/next` arrived.
    pub first_next: Option<Instant>,
    /// The `Lambda-Runtime-Function-Error-Type` header and body of an `/init/error` post.
    pub init_error: Option<(String, String)>,
}

/// The fake runtime API, listening on a free local port until dropped (its threads end with
/// the process).
pub struct RuntimeApi {
    address: String,
    seen: Arc<(Mutex<Seen>, Condvar)>,
}

impl RuntimeApi {
    pub fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let address = listener.local_addr()?.to_string();
        let seen: Arc<(Mutex<Seen>, Condvar)> = Arc::default();
        let shared = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let shared = shared.clone();
                std::thread::spawn(move || serve(stream, &shared));
            }
        });
        Ok(Self { address, seen })
    }

    /// `host:port`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Forgets what was seen (before the next bootstrap).
    pub fn reset(&self) {
        *self.seen.0.lock().unwrap_or_else(PoisonError::into_inner) = Seen::default();
    }

    /// Waits until `done(seen)` or `timeout`, and returns what was seen by then.
    pub fn wait(&self, timeout: Duration, done: impl Fn(&Seen) -> bool) -> Seen {
        let (lock, changed) = &*self.seen;
        let guard = lock.lock().unwrap_or_else(PoisonError::into_inner);
        let (guard, _) = changed
            .wait_timeout_while(guard, timeout, |s| !done(s))
            .unwrap_or_else(PoisonError::into_inner);
        guard.clone()
    }
}

/// Serves one keep-alive connection.
fn serve(stream: TcpStream, seen: &(Mutex<Seen>, Condvar)) {
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0usize;
        let mut error_type = String::new();
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                let name = name.trim().to_ascii_lowercase();
                if name == "content-length" {
                    length = value.trim().parse().unwrap_or(0);
                } else if name == "lambda-runtime-function-error-type" {
                    error_type = value.trim().to_owned();
                }
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let path = request_line.split_whitespace().nth(1).unwrap_or_default();
        let (lock, changed) = seen;
        if path.ends_with("/runtime/invocation/next") {
            {
                let mut s = lock.lock().unwrap_or_else(PoisonError::into_inner);
                s.first_next.get_or_insert_with(Instant::now);
            }
            changed.notify_all();
            // No event ever comes: the bootstrap waits here until it is stopped.
            std::thread::sleep(Duration::from_secs(3600));
            return;
        }
        if path.ends_with("/runtime/init/error") {
            {
                let mut s = lock.lock().unwrap_or_else(PoisonError::into_inner);
                s.init_error = Some((error_type, String::from_utf8_lossy(&body).into_owned()));
            }
            changed.notify_all();
            let _ = writer.write_all(
                b"HTTP/1.1 202 Accepted\r\ncontent-type: application/json\r\ncontent-length: 15\r\n\r\n{\"status\":\"OK\"}",
            );
            continue;
        }
        let _ = writer.write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n");
    }
}
