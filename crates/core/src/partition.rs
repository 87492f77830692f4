//! Which AWS partition a Region is in: the one rule every ARN, console link and SDK partition
//! setting follows (the AWS adapters and the sandbox alike).

/// The partition of `region`: `aws-cn` for China, `aws-us-gov` for GovCloud, the ISO
/// partitions, else `aws`.
pub fn of(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else if region.starts_with("us-isob-") {
        "aws-iso-b"
    } else if region.starts_with("us-iso-") {
        "aws-iso"
    } else {
        "aws"
    }
}

#[cfg(test)]
mod tests {
    use super::of;

    #[test]
    fn partitions_follow_the_region() {
        assert_eq!(of("eu-west-1"), "aws");
        assert_eq!(of("cn-north-1"), "aws-cn");
        assert_eq!(of("us-gov-west-1"), "aws-us-gov");
        assert_eq!(of("us-iso-east-1"), "aws-iso");
        assert_eq!(of("us-isob-east-1"), "aws-iso-b");
    }
}
