//! Whether an SNS HTTP message really comes from SNS: its signing certificate's URL is on SNS's
//! own host, its signature (SignatureVersion 1: SHA1withRSA, 2: SHA256withRSA) verifies with
//! that certificate's key, and it is fresh. Follows "Verifying the signatures of Amazon SNS
//! messages" (<https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html>).

use std::collections::HashMap;
use std::sync::Mutex;

use base64::Engine as _;
use rsa::RsaPublicKey;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::sha2::Sha256;
use rsa::signature::Verifier as _;
use scanflow_core::error::quote;
use scanflow_documents::sns_http::HttpMessage;
use sha1::Sha1;
use time::OffsetDateTime;
use x509_cert::Certificate;
use x509_cert::der::{DecodePem, Encode};

/// Why a message is refused. Each says what was wrong so the log line can be acted on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("unsigned: Signature is empty")]
    Unsigned,
    #[error("SignatureVersion {0} is not 1 or 2")]
    SignatureVersion(String),
    #[error("SigningCertURL {0} is not an https://sns.<region>.amazonaws.com[.cn]/....pem URL")]
    CertUrl(String),
    #[error("SubscribeURL {0} is not an https://sns.<region>.amazonaws.com[.cn]/ URL")]
    SubscribeUrl(String),
    #[error("the signing certificate cannot be used: {0}")]
    Certificate(String),
    #[error("the signature does not verify: the message was changed or not signed by SNS")]
    BadSignature,
    #[error(transparent)]
    Envelope(#[from] scanflow_documents::sns_http::EnvelopeError),
    #[error("Timestamp {0} is not an RFC 3339 time")]
    Timestamp(String),
    #[error("stale: sent at {sent}, more than {max_age_seconds} s ago (a replay?)")]
    Stale { sent: String, max_age_seconds: i64 },
    #[error("sent at {0}, later than this host's clock allows (check the clock)")]
    Future(String),
}

/// Fetches a certificate's PEM text from its (checked) URL over HTTPS.
pub type Download = Box<dyn Fn(&str) -> Result<String, String> + Send + Sync>;

/// Where signing certificates come from.
pub enum Trust {
    /// Downloaded from the `SigningCertURL`, and kept per URL.
    Download(Download),
    /// One certificate for every message, whatever its URL says (still checked): the sandbox's
    /// test certificate, or a copy of SNS's kept locally.
    Pinned(RsaPublicKey),
}

/// How fresh a message must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// At most `max_age_seconds` old and `max_ahead_seconds` ahead of this host's clock.
    Window {
        max_age_seconds: i64,
        max_ahead_seconds: i64,
    },
    /// Not checked: for `scanflow run`, whose clock is virtual. Repeats are still dropped by
    /// message id and part.
    Off,
}

impl Freshness {
    /// One hour: SNS's longest HTTP/S retry window (a delivery policy's retries end within
    /// 3,600 s), so a genuine retry is never refused, and five minutes of clock skew.
    pub const DEFAULT: Freshness = Freshness::Window {
        max_age_seconds: 3_600,
        max_ahead_seconds: 300,
    };
}

/// Checks messages; certificates are parsed once per URL.
pub struct Verifier {
    trust: Trust,
    freshness: Freshness,
    keys: Mutex<HashMap<String, RsaPublicKey>>,
}

impl Verifier {
    pub fn new(trust: Trust, freshness: Freshness) -> Self {
        Self {
            trust,
            freshness,
            keys: Mutex::new(HashMap::new()),
        }
    }

    /// Accepts `message` only when every check passes; the first failed check is the refusal.
    pub fn verify(&self, message: &HttpMessage, now: OffsetDateTime) -> Result<(), Refusal> {
        if message.signature.is_empty() {
            return Err(Refusal::Unsigned);
        }
        if !is_sns_url(&message.signing_cert_url, true) {
            return Err(Refusal::CertUrl(quote(&message.signing_cert_url)));
        }
        if let Some(url) = message
            .subscribe_url
            .as_ref()
            .filter(|u| !is_sns_url(u, false))
        {
            return Err(Refusal::SubscribeUrl(quote(url)));
        }
        let signature = base64::engine::general_purpose::STANDARD
            .decode(message.signature.as_bytes())
            .ok()
            .and_then(|bytes| Signature::try_from(bytes.as_slice()).ok())
            .ok_or(Refusal::BadSignature)?;
        let text = message.string_to_sign()?;
        let key = self.key_for(&message.signing_cert_url)?;
        let verified = match message.signature_version.as_str() {
            "1" => VerifyingKey::<Sha1>::new(key).verify(text.as_bytes(), &signature),
            "2" => VerifyingKey::<Sha256>::new(key).verify(text.as_bytes(), &signature),
            other => return Err(Refusal::SignatureVersion(quote(other))),
        };
        verified.map_err(|_| Refusal::BadSignature)?;
        self.check_fresh(&message.timestamp, now)
    }

    fn key_for(&self, url: &str) -> Result<RsaPublicKey, Refusal> {
        let download = match &self.trust {
            Trust::Pinned(key) => return Ok(key.clone()),
            Trust::Download(download) => download,
        };
        if let Some(key) = crate::siem::lock(&self.keys).get(url) {
            return Ok(key.clone());
        }
        let pem = download(url).map_err(Refusal::Certificate)?;
        let key = public_key_of(&pem).map_err(Refusal::Certificate)?;
        crate::siem::lock(&self.keys).insert(url.to_owned(), key.clone());
        Ok(key)
    }

    fn check_fresh(&self, timestamp: &str, now: OffsetDateTime) -> Result<(), Refusal> {
        let Freshness::Window {
            max_age_seconds,
            max_ahead_seconds,
        } = self.freshness
        else {
            return Ok(());
        };
        let sent = OffsetDateTime::parse(timestamp, &time::format_description::well_known::Rfc3339)
            .map_err(|_| Refusal::Timestamp(quote(timestamp)))?;
        let age = (now - sent).whole_seconds();
        if age > max_age_seconds {
            return Err(Refusal::Stale {
                sent: timestamp.to_owned(),
                max_age_seconds,
            });
        }
        if -age > max_ahead_seconds {
            return Err(Refusal::Future(timestamp.to_owned()));
        }
        Ok(())
    }
}

/// The RSA public key of a PEM certificate, refusing anything but RSA.
pub fn public_key_of(pem: &str) -> Result<RsaPublicKey, String> {
    let cert = Certificate::from_pem(pem.as_bytes())
        .map_err(|e| format!("not a PEM X.509 certificate ({e})"))?;
    let spki = cert
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|e| format!("its public key cannot be read ({e})"))?;
    rsa::pkcs8::DecodePublicKey::from_public_key_der(&spki)
        .map_err(|e| format!("its public key is not RSA ({e})"))
}

/// `https://sns.<region>.amazonaws.com[.cn]/...`, nothing else: no user, no port, no other
/// host (a look-alike such as `sns.us-east-1.amazonaws.com.evil.example` is refused). A
/// certificate URL's path must end in `.pem`.
pub fn is_sns_url(url: &str, certificate: bool) -> bool {
    let Some((host, path)) = url.strip_prefix("https://").and_then(|r| r.split_once('/')) else {
        return false;
    };
    let Some(region) = host.strip_prefix("sns.").and_then(|h| {
        h.strip_suffix(".amazonaws.com")
            .or_else(|| h.strip_suffix(".amazonaws.com.cn"))
    }) else {
        return false;
    };
    let region_ok = !region.is_empty()
        && region.len() <= 32
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    let file_ok = !certificate
        || (path.ends_with(".pem")
            && !path.contains(['?', '#', '\\'])
            && !path.split('/').any(|s| s == ".."));
    region_ok && file_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sns_hosts_over_https_are_accepted() {
        for good in [
            "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem",
            "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-abc.pem",
        ] {
            assert!(is_sns_url(good, true), "{good}");
        }
        for bad in [
            "http://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem",
            "https://sns.us-east-1.amazonaws.com.evil.example/x.pem",
            "https://evil.example/sns.us-east-1.amazonaws.com/x.pem",
            "https://user@sns.us-east-1.amazonaws.com/x.pem",
            "https://sns.us-east-1.amazonaws.com:8443/x.pem",
            "https://sns..amazonaws.com/x.pem",
            "https://sns.US-EAST-1.amazonaws.com/x.pem",
            "https://sns.us-east-1.amazonaws.com/x.txt",
            "https://sns.us-east-1.amazonaws.com/x.pem?y",
            "https://sns.us-east-1.amazonaws.com/../x.pem",
            "https://sns.us-east-1.amazonaws.com",
        ] {
            assert!(!is_sns_url(bad, true), "{bad}");
        }
        assert!(is_sns_url(
            "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&Token=t",
            false
        ));
    }
}
