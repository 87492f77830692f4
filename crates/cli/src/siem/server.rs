//! The receiver's HTTP side: a small HTTP/1.1 server (one request per connection, as SNS
//! sends) that reads at most what an SNS delivery can be, checks basic authentication, and
//! answers as SNS expects: 2xx when the message is kept or already kept, 4xx when it is refused
//! (SNS does not retry those), 5xx when it could not be kept (SNS retries).

use std::collections::{HashSet, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use scanflow_core::error::quote;
use scanflow_documents::sns_http::{self, HttpMessage, MAX_BODY_BYTES};
use time::OffsetDateTime;

use crate::siem::assemble::{Store, Stored};
use crate::siem::lock;
use crate::siem::verify::Verifier;

/// Longest request head (request line and headers) read.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;
/// Connections served at once; more wait in the listen queue.
pub const MAX_CONNECTIONS: usize = 32;
/// A client that sends nothing for this long is dropped (SNS itself waits 15 s for an answer).
const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Message ids remembered to drop SNS's own retries of a message already kept.
const SEEN_IDS: usize = 100_000;

/// One HTTP request as the receiver needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// An answer: status and a one-line reason (also what the log says).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub text: String,
}

impl Response {
    fn new(status: u16, text: impl Into<String>) -> Self {
        Self {
            status,
            text: text.into(),
        }
    }
}

/// Confirms a subscription by fetching its `SubscribeURL` (already checked to be SNS's).
pub type Confirm = Box<dyn Fn(&str) -> Result<(), String> + Send + Sync>;

/// Everything a request is checked against and stored in.
pub struct Receiver {
    verifier: Verifier,
    store: Store,
    /// `Basic <base64(user:password)>` when the endpoint URL carries credentials.
    authorization: Option<String>,
    confirm: Confirm,
    seen: Mutex<(HashSet<String>, VecDeque<String>)>,
}

impl Receiver {
    /// `basic_auth` is `user:password` as it appears in the subscription's endpoint URL.
    pub fn new(
        verifier: Verifier,
        store: Store,
        basic_auth: Option<&str>,
        confirm: Confirm,
    ) -> Self {
        Self {
            verifier,
            store,
            authorization: basic_auth.map(|credentials| {
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(credentials)
                )
            }),
            confirm,
            seen: Mutex::new((HashSet::new(), VecDeque::new())),
        }
    }

    /// Answers one request.
    pub fn handle(&self, request: &Request, now: OffsetDateTime) -> Response {
        if request.method != "POST" {
            return Response::new(405, "only POST is accepted");
        }
        if let Some(expected) = &self.authorization {
            let given = request.header("authorization").unwrap_or("");
            if !constant_time_eq(given.as_bytes(), expected.as_bytes()) {
                return Response::new(401, "refused: wrong or missing basic authentication");
            }
        }
        let message = match HttpMessage::parse(&request.body) {
            Ok(m) => m,
            Err(e) => return Response::new(400, format!("refused: {e}")),
        };
        if let Some(kind) = request.header("x-amz-sns-message-type")
            && kind != message.kind
        {
            return Response::new(
                400,
                format!(
                    "refused: header x-amz-sns-message-type {} differs from the body's Type {}",
                    quote(kind),
                    quote(&message.kind)
                ),
            );
        }
        if let Err(refusal) = self.verifier.verify(&message, now) {
            return Response::new(
                403,
                format!("refused message {}: {refusal}", quote(&message.message_id)),
            );
        }
        match message.kind.as_str() {
            sns_http::SUBSCRIPTION_CONFIRMATION => self.confirm(&message),
            sns_http::UNSUBSCRIBE_CONFIRMATION => Response::new(
                200,
                format!(
                    "the subscription to {} was deleted; nothing more will arrive from it",
                    message.topic_arn
                ),
            ),
            _ => self.notification(&message),
        }
    }

    fn confirm(&self, message: &HttpMessage) -> Response {
        let url = message.subscribe_url.as_deref().unwrap_or_default();
        match (self.confirm)(url) {
            Ok(()) => Response::new(
                200,
                format!("confirmed the subscription to {}", message.topic_arn),
            ),
            // SNS sends the confirmation again only on a new Subscribe: say what to do.
            Err(e) => Response::new(
                200,
                format!(
                    "could not confirm the subscription to {} ({e}); confirm it in the SNS \
                     console or open its SubscribeURL",
                    message.topic_arn
                ),
            ),
        }
    }

    fn notification(&self, message: &HttpMessage) -> Response {
        if self.seen_before(&message.message_id) {
            return Response::new(
                200,
                format!("duplicate message {} dropped", message.message_id),
            );
        }
        match self.store.store(&message.message) {
            Ok(stored) => {
                self.remember(&message.message_id);
                Response::new(200, describe(&stored, &message.message_id))
            }
            Err(e @ crate::siem::assemble::AssembleError::Io { .. }) => {
                Response::new(500, e.to_string())
            }
            Err(e) => {
                // Signed by SNS but not a document this receiver takes: another publisher on
                // the topic, or a filter policy missing. Kept out, and said so.
                self.remember(&message.message_id);
                Response::new(
                    200,
                    format!(
                        "message {} is not a SIEM document, ignored: {e}",
                        message.message_id
                    ),
                )
            }
        }
    }

    fn seen_before(&self, id: &str) -> bool {
        lock(&self.seen).0.contains(id)
    }

    fn remember(&self, id: &str) {
        let mut seen = lock(&self.seen);
        if seen.0.insert(id.to_owned()) {
            seen.1.push_back(id.to_owned());
            if seen.1.len() > SEEN_IDS
                && let Some(old) = seen.1.pop_front()
            {
                seen.0.remove(&old);
            }
        }
    }
}

fn describe(stored: &Stored, message_id: &str) -> String {
    match stored {
        Stored::Part { index, count } => format!("message {message_id}: part {index}/{count} kept"),
        Stored::Completed {
            findings,
            resolved,
            file,
        } => format!(
            "message {message_id}: run complete, {findings} findings and {resolved} resolved written to {}",
            file.display()
        ),
        Stored::Duplicate => format!("message {message_id}: part already kept, dropped"),
        Stored::Failure => format!("message {message_id}: failure document kept"),
    }
}

/// Compares without stopping at the first difference, so the time taken does not tell an
/// attacker how much of a guessed password was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Reads one request, refusing heads over [`MAX_HEAD_BYTES`], bodies over [`MAX_BODY_BYTES`]
/// and bodies without a `Content-Length` (SNS always sends one).
pub fn read_request(stream: impl Read) -> Result<Request, Response> {
    let mut reader = BufReader::new(stream.take((MAX_HEAD_BYTES + MAX_BODY_BYTES) as u64));
    let mut head_bytes = 0usize;
    let mut line = String::new();
    let mut next_line = |reader: &mut BufReader<_>, line: &mut String| -> Result<(), Response> {
        line.clear();
        let n = reader
            .by_ref()
            .take((MAX_HEAD_BYTES - head_bytes.min(MAX_HEAD_BYTES)) as u64)
            .read_line(line)
            .map_err(|e| Response::new(400, format!("cannot read the request ({e})")))?;
        head_bytes += n;
        if n == 0 || !line.ends_with('\n') {
            return Err(Response::new(
                431,
                format!("the request head is incomplete or over {MAX_HEAD_BYTES} bytes"),
            ));
        }
        Ok(())
    };
    next_line(&mut reader, &mut line)?;
    let method = line.split(' ').next().unwrap_or_default().to_owned();
    let mut headers = Vec::new();
    loop {
        next_line(&mut reader, &mut line)?;
        let trimmed = line.trim_end_matches(['\r', '\n']);
        if trimmed.is_empty() {
            break;
        }
        let (name, value) = trimmed
            .split_once(':')
            .ok_or_else(|| Response::new(400, "a header line has no ':'"))?;
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    let request = Request {
        method,
        headers,
        body: Vec::new(),
    };
    if request.header("transfer-encoding").is_some() {
        return Err(Response::new(
            411,
            "chunked bodies are not accepted; send Content-Length",
        ));
    }
    let length = match request.header("content-length") {
        None if request.method != "POST" => 0,
        None => return Err(Response::new(411, "Content-Length is required")),
        Some(v) => v.parse::<usize>().map_err(|_| {
            Response::new(400, format!("Content-Length {} is not a number", quote(v)))
        })?,
    };
    if length > MAX_BODY_BYTES {
        return Err(Response::new(
            413,
            format!(
                "the body is {length} bytes, more than the {MAX_BODY_BYTES} an SNS delivery can be"
            ),
        ));
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).map_err(|e| {
        Response::new(
            400,
            format!("the body is shorter than Content-Length ({e})"),
        )
    })?;
    Ok(Request { body, ..request })
}

/// Serves until the listener fails. Each connection gets its own thread, at most
/// [`MAX_CONNECTIONS`] at once, and one log line per request on standard error.
pub fn serve(listener: TcpListener, receiver: Arc<Receiver>) -> std::io::Result<()> {
    let active = Arc::new(AtomicUsize::new(0));
    for stream in listener.incoming() {
        let stream = match stream {
            Ok(s) => s,
            Err(e) => {
                eprintln!("scanflow siem receive: accepting a connection failed: {e}");
                continue;
            }
        };
        if active.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
            active.fetch_sub(1, Ordering::SeqCst);
            answer(&stream, &Response::new(503, "busy; retry"));
            continue;
        }
        let receiver = receiver.clone();
        let active = active.clone();
        std::thread::spawn(move || {
            serve_one(&stream, &receiver);
            active.fetch_sub(1, Ordering::SeqCst);
        });
    }
    Ok(())
}

fn serve_one(stream: &TcpStream, receiver: &Receiver) {
    let peer = stream
        .peer_addr()
        .map_or_else(|_| "?".to_owned(), |a| a.to_string());
    let _ = stream.set_read_timeout(Some(READ_TIMEOUT));
    let response = match read_request(stream) {
        Ok(request) => receiver.handle(&request, OffsetDateTime::now_utc()),
        Err(response) => response,
    };
    eprintln!(
        "scanflow siem receive: {peer}: {} {}",
        response.status, response.text
    );
    answer(stream, &response);
}

fn answer(mut stream: &TcpStream, response: &Response) {
    let reason = match response.status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        405 => "Method Not Allowed",
        411 => "Length Required",
        413 => "Content Too Large",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Internal Server Error",
    };
    let body = format!("{}\n", response.text);
    // SNS sends the credentials of its endpoint URL only after a 401 challenge.
    let challenge = if response.status == 401 {
        "WWW-Authenticate: Basic realm=\"scanflow\"\r\n"
    } else {
        ""
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {} {reason}\r\n{challenge}Content-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        response.status,
        body.len()
    );
    let _ = stream.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(head: &str, body: &str) -> Vec<u8> {
        format!("{head}\r\nContent-Length: {}\r\n\r\n{body}", body.len()).into_bytes()
    }

    #[test]
    fn a_request_is_read_with_its_headers_and_exact_body() {
        let bytes = raw(
            "POST / HTTP/1.1\r\nx-amz-sns-message-type: Notification",
            "{}",
        );
        let r = read_request(bytes.as_slice()).expect("request");
        assert_eq!(r.method, "POST");
        assert_eq!(r.header("X-Amz-Sns-Message-Type"), Some("Notification"));
        assert_eq!(r.body, b"{}");
    }

    #[test]
    fn bodies_and_heads_past_their_limits_and_unsized_bodies_are_refused() {
        let at = format!("POST / HTTP/1.1\r\nContent-Length: {MAX_BODY_BYTES}\r\n\r\n");
        let mut bytes = at.into_bytes();
        bytes.resize(bytes.len() + MAX_BODY_BYTES, b' ');
        assert!(read_request(bytes.as_slice()).is_ok_and(|r| r.body.len() == MAX_BODY_BYTES));
        let past = format!(
            "POST / HTTP/1.1\r\nContent-Length: {}\r\n\r\n",
            MAX_BODY_BYTES + 1
        );
        assert_eq!(
            read_request(past.as_bytes()).map_err(|r| r.status),
            Err(413)
        );
        let no_length = "POST / HTTP/1.1\r\nHost: x\r\n\r\n{}";
        assert_eq!(
            read_request(no_length.as_bytes()).map_err(|r| r.status),
            Err(411)
        );
        let chunked = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(
            read_request(chunked.as_bytes()).map_err(|r| r.status),
            Err(411)
        );
        let huge_head = format!(
            "POST / HTTP/1.1\r\nX: {}\r\n\r\n",
            "a".repeat(MAX_HEAD_BYTES)
        );
        assert_eq!(
            read_request(huge_head.as_bytes()).map_err(|r| r.status),
            Err(431)
        );
        let short = "POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n{}";
        assert_eq!(
            read_request(short.as_bytes()).map_err(|r| r.status),
            Err(400)
        );
    }

    #[test]
    fn constant_time_comparison_is_equality() {
        assert!(constant_time_eq(b"Basic abc", b"Basic abc"));
        assert!(!constant_time_eq(b"Basic abc", b"Basic abd"));
        assert!(!constant_time_eq(b"Basic ab", b"Basic abc"));
    }
}
