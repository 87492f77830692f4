//! Inspector v2's account status (`BatchGetAccountStatus`), the migration pre-flight of a
//! Classic account: enabled, disabled, the account missing from the answer or failed in it,
//! access denied, throttled then answered, and throttled for good.

use aws_sdk_inspector2::Client;
use aws_smithy_mocks::mock;
use scanflow_aws::account_status::ec2_status;
use scanflow_core::migration::ScanningStatus;
use serde_json::json;

use crate::{ACCOUNT, Seen, client, json, json_error, scope};

/// The answer for one account, EC2 in `ec2` and everything else disabled.
fn answer(account: &str, ec2: &str) -> serde_json::Value {
    let state = |s: &str| json!({"status": s, "errorCode": "ALREADY_ENABLED", "errorMessage": ""});
    json!({
        "accounts": [{
            "accountId": account,
            "state": state(if ec2 == "ENABLED" { "ENABLED" } else { "DISABLED" }),
            "resourceState": {
                "ec2": state(ec2),
                "ecr": state("DISABLED"),
                "lambda": state("DISABLED"),
            }
        }],
        "failedAccounts": []
    })
}

#[tokio::test]
async fn the_ec2_status_is_read_for_the_member_account_only() {
    for status in ScanningStatus::ALL {
        let seen = Seen::new();
        let s = seen.clone();
        let rule = mock!(Client::batch_get_account_status)
            .match_requests(move |r| {
                s.push(r.account_ids().to_vec());
                true
            })
            .then_http_response(move || json(answer(ACCOUNT, status.as_str())));
        let c = client!(aws_sdk_inspector2, [&rule]);
        assert_eq!(ec2_status(&c, &scope()).await, Ok(status));
        assert_eq!(seen.all(), [vec![ACCOUNT.to_owned()]], "asks for itself");
    }
}

#[tokio::test]
async fn an_answer_without_the_account_or_with_it_failed_is_not_a_status() {
    let other = mock!(Client::batch_get_account_status)
        .then_http_response(|| json(answer("444455556666", "ENABLED")));
    let err = ec2_status(&client!(aws_sdk_inspector2, [&other]), &scope())
        .await
        .expect_err("another account's status is not ours");
    assert_eq!(err.error_type(), "NotFound", "{err}");
    assert!(
        err.to_string().contains("never have been activated"),
        "{err}"
    );

    for (code, expected) in [
        ("ACCESS_DENIED", "AccessDenied"),
        ("INTERNAL_ERROR", "NotFound"),
    ] {
        let failed = mock!(Client::batch_get_account_status).then_http_response(move || {
            json(json!({
                "accounts": [],
                "failedAccounts": [{"accountId": ACCOUNT, "errorCode": code,
                                    "errorMessage": "no status for you"}]
            }))
        });
        let err = ec2_status(&client!(aws_sdk_inspector2, [&failed]), &scope())
            .await
            .expect_err(code);
        assert_eq!(err.error_type(), expected, "{err}");
        assert!(err.to_string().contains(code), "{err}");
    }

    let unknown = mock!(Client::batch_get_account_status)
        .then_http_response(|| json(answer(ACCOUNT, "HIBERNATING")));
    let err = ec2_status(&client!(aws_sdk_inspector2, [&unknown]), &scope())
        .await
        .expect_err("a status this version does not know");
    assert!(err.to_string().contains("\"HIBERNATING\""), "{err}");
}

#[tokio::test]
async fn a_role_without_the_grant_is_access_denied_naming_the_action() {
    let denied = mock!(Client::batch_get_account_status).then_http_response(|| {
        json_error(
            403,
            "AccessDeniedException",
            "User is not authorized to perform: inspector2:BatchGetAccountStatus",
        )
    });
    let err = ec2_status(&client!(aws_sdk_inspector2, [&denied]), &scope())
        .await
        .expect_err("denied");
    assert_eq!(err.error_type(), "AccessDenied", "{err}");
    assert!(
        err.to_string()
            .contains("scan role grants inspector2:BatchGetAccountStatus"),
        "{err}"
    );
}

#[tokio::test]
async fn throttling_is_retried_then_transient() {
    let once = mock!(Client::batch_get_account_status)
        .sequence()
        .http_response(|| json_error(429, "ThrottlingException", "slow down"))
        .http_response(|| json(answer(ACCOUNT, "ENABLED")))
        .build();
    let c = client!(aws_sdk_inspector2, [&once]);
    assert_eq!(ec2_status(&c, &scope()).await, Ok(ScanningStatus::Enabled));
    assert_eq!(once.num_calls(), 2);

    let always = mock!(Client::batch_get_account_status)
        .then_http_response(|| json_error(429, "ThrottlingException", "slow down"));
    let err = ec2_status(&client!(aws_sdk_inspector2, [&always]), &scope())
        .await
        .expect_err("still throttled after the retries");
    assert_eq!(err.error_type(), "Transient", "{err}");
    assert_eq!(always.num_calls(), 3, "the SDK's three attempts");
}
