//! Links into the AWS console, whose host depends on the partition (one rule for the digest,
//! the HTML report and the report store's console path).

/// The console's host for pages of `region`.
pub fn host(region: &str) -> String {
    match crate::partition::of(region) {
        "aws-us-gov" => "console.amazonaws-us-gov.com".to_owned(),
        "aws-cn" => "console.amazonaws.cn".to_owned(),
        _ => format!("{region}.console.aws.amazon.com"),
    }
}

/// The S3 console's page of one object, for a reader signed in to the bucket's account.
pub fn s3_object(region: &str, bucket: &str, key: &str) -> String {
    format!(
        "https://{}/s3/object/{bucket}?region={region}&bucketType=general&prefix={}",
        host(region),
        percent_encode(key)
    )
}

/// Percent-encodes everything but unreserved characters and `/` (an S3 key in a query).
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_follow_the_partition() {
        assert_eq!(host("eu-west-1"), "eu-west-1.console.aws.amazon.com");
        assert_eq!(host("us-gov-west-1"), "console.amazonaws-us-gov.com");
        assert_eq!(host("cn-north-1"), "console.amazonaws.cn");
    }

    #[test]
    fn an_object_key_is_encoded_in_the_query() {
        let url = s3_object(
            "eu-west-1",
            "b",
            "scanflow/fleet-watch/rollup-2026-12-01T06:00:00Z.html",
        );
        assert!(
            url.ends_with("prefix=scanflow/fleet-watch/rollup-2026-12-01T06%3A00%3A00Z.html"),
            "{url}"
        );
        let odd = s3_object("eu-west-1", "b", "a&b c");
        assert!(odd.ends_with("prefix=a%26b%20c"), "{odd}");
    }
}
