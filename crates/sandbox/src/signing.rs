//! Signs the sandbox's HTTP deliveries the way SNS signs them (SignatureVersion 2,
//! SHA256withRSA over [`HttpMessage::string_to_sign`]), with a committed test key, so a receiver
//! that verifies signatures can be run against `scanflow run --http-endpoint` unchanged, told to
//! trust the sandbox's certificate ([`CERT_PATH`]) instead of fetching SNS's.
//!
//! The key is published in this repository and signs nothing but simulated messages: trusting
//! its certificate anywhere but a local test is a mistake the receiver's README warns about.

use base64::Engine as _;
use rsa::RsaPrivateKey;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::sha2::Sha256;
use rsa::signature::{SignatureEncoding, Signer as _};
use scanflow_core::ScanError;
use scanflow_documents::sns_http::HttpMessage;

/// The sandbox certificate's PEM text: what `scanflow siem receive --trust-cert` is given.
pub const CERT_PEM: &str = include_str!("../signing/cert.pem");
/// Where the certificate is in the repository, for people and README.
pub const CERT_PATH: &str = "crates/sandbox/signing/cert.pem";
/// The last path segment of the `SigningCertURL` the sandbox puts in its envelopes (on SNS's
/// own host for the hub's Region, as a receiver checks).
pub const CERT_FILE_NAME: &str = "SimpleNotificationService-scanflow-sandbox.pem";
const KEY_PEM: &str = include_str!("../signing/key.pk8.pem");

/// The sandbox's SNS signer.
pub struct Signer {
    key: SigningKey<Sha256>,
}

impl Signer {
    pub fn new() -> Result<Self, ScanError> {
        let key = RsaPrivateKey::from_pkcs8_pem(KEY_PEM).map_err(|e| {
            ScanError::internal(format!("the sandbox's signing key does not load ({e})"))
        })?;
        Ok(Self {
            key: SigningKey::new(key),
        })
    }

    /// `message` with `SignatureVersion` 2 and its `Signature` set.
    pub fn sign(&self, message: &mut HttpMessage) -> Result<(), ScanError> {
        message.signature_version = "2".into();
        let text = message
            .string_to_sign()
            .map_err(|e| ScanError::internal(format!("cannot sign the delivery: {e}")))?;
        let signature = self.key.sign(text.as_bytes());
        message.signature = base64::engine::general_purpose::STANDARD.encode(signature.to_bytes());
        Ok(())
    }
}

/// The `SigningCertURL` for the hub's Region.
pub fn cert_url(region: &str) -> String {
    format!("https://sns.{region}.amazonaws.com/{CERT_FILE_NAME}")
}
