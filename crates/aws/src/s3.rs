//! The report store in the hub bucket: objects written with SSE-KMS under the report key,
//! read back whole, written only-if-absent for idempotency claims, and listed by prefix
//! (every page); people reach a stored report by a presigned GET or its console page.

use aws_sdk_s3::Client;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;
use scanflow_core::ScanError;
use scanflow_core::ports::{LINK_MAX_HOURS, ObjectLink, ReportStore};

use crate::error::Scope;

/// The AWS implementation of [`ReportStore`].
#[derive(Debug, Clone)]
pub struct S3Store {
    client: Client,
    scope: Scope,
    bucket: String,
    kms_key_arn: String,
    /// The credentials presigned links are signed with, to tell when they end.
    credentials: Option<aws_credential_types::provider::SharedCredentialsProvider>,
}

impl S3Store {
    pub fn new(client: Client, scope: Scope, bucket: String, kms_key_arn: String) -> Self {
        Self {
            client,
            scope,
            bucket,
            kms_key_arn,
            credentials: None,
        }
    }

    /// The store that tells a presigned link's end from `credentials` (the client's own:
    /// the SDK client does not hand its provider back).
    pub fn with_credentials(
        mut self,
        credentials: Option<aws_credential_types::provider::SharedCredentialsProvider>,
    ) -> Self {
        self.credentials = credentials;
        self
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    fn location(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }

    fn put_request(
        &self,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> aws_sdk_s3::operation::put_object::builders::PutObjectFluentBuilder {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .ssekms_key_id(&self.kms_key_arn)
            // One data key per bucket rather than per object: fewer KMS calls, same protection.
            .bucket_key_enabled(true)
            .body(ByteStream::from(body))
    }
}

impl ReportStore for S3Store {
    async fn put(&self, key: &str, body: Vec<u8>, content_type: &str) -> Result<(), ScanError> {
        let call = self.scope.call("s3:PutObject", self.location(key));
        self.put_request(key, body, content_type)
            .send()
            .await
            .map_err(|e| call.error(&e))?;
        Ok(())
    }

    async fn put_if_absent(
        &self,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> Result<bool, ScanError> {
        let call = self.scope.call("s3:PutObject", self.location(key));
        match self
            .put_request(key, body, content_type)
            .if_none_match("*")
            .send()
            .await
        {
            Ok(_) => Ok(true),
            // 412: the key exists. (409 ConditionalRequestConflict, a write racing this one,
            // is left to the classification: Transient, so the step retries and then sees 412.)
            Err(e) if e.code() == Some("PreconditionFailed") => Ok(false),
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 412) => Ok(false),
            Err(e) => Err(call.error(&e)),
        }
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>, ScanError> {
        let call = self.scope.call("s3:GetObject", self.location(key));
        let out = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| call.error(&e))?;
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| call.transient(&format!("reading the object: {e}")))?;
        Ok(bytes.into_bytes().to_vec())
    }

    async fn link(
        &self,
        key: &str,
        valid_for: Option<std::time::Duration>,
    ) -> Result<ObjectLink, ScanError> {
        let region = self
            .client
            .config()
            .region()
            .map(ToString::to_string)
            .unwrap_or_default();
        let Some(valid_for) = valid_for else {
            return Ok(ObjectLink::Console {
                url: scanflow_core::console::s3_object(&region, &self.bucket, key),
            });
        };
        let call = self.scope.call("s3:GetObject", self.location(key));
        if valid_for > std::time::Duration::from_secs(u64::from(LINK_MAX_HOURS) * 3600) {
            return Err(ScanError::invalid(
                "ReportLinkHours",
                format!("at most {LINK_MAX_HOURS} hours (7 days, SigV4's limit)"),
                format!("asks for {} s", valid_for.as_secs()),
            ));
        }
        let signed_at = std::time::SystemTime::now();
        let config = aws_sdk_s3::presigning::PresigningConfig::builder()
            .start_time(signed_at)
            .expires_in(valid_for)
            .build()
            .map_err(|e| call.transient(&format!("presigning: {e}")))?;
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .presigned(config)
            .await
            .map_err(|e| call.error(&e))?;
        // Signed with temporary credentials the URL dies with them, whatever X-Amz-Expires
        // says; when the credentials tell their expiry (not Lambda's environment ones), the
        // earlier of the two is what the reader is told.
        let mut expires = signed_at + valid_for;
        if let Some(provider) = &self.credentials {
            use aws_credential_types::provider::ProvideCredentials;
            if let Ok(credentials) = provider.provide_credentials().await
                && let Some(end) = credentials.expiry()
            {
                expires = expires.min(end);
            }
        }
        Ok(ObjectLink::Presigned {
            url: request.uri().to_owned(),
            expires_at: scanflow_core::time::format(expires.into()),
        })
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, ScanError> {
        // ListObjectsV2 is authorised by s3:ListBucket on the bucket.
        let call = self.scope.call("s3:ListBucket", self.location(prefix));
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(prefix)
                .set_continuation_token(token.clone())
                .send()
                .await
                .map_err(|e| call.error(&e))?;
            keys.extend(
                out.contents()
                    .iter()
                    .filter_map(|o| o.key())
                    .map(str::to_owned),
            );
            let next = crate::next_page(out.next_continuation_token());
            match next {
                // A token that does not move on would loop for ever: report it instead.
                Some(next) if token.as_deref() == Some(next.as_str()) => {
                    return Err(call.transient("S3 returned the same continuation token twice"));
                }
                Some(next) => token = Some(next),
                None if out.is_truncated() == Some(true) => {
                    return Err(call
                        .transient("the listing is truncated but S3 gave no continuation token"));
                }
                None => break,
            }
        }
        keys.sort();
        Ok(keys)
    }
}
