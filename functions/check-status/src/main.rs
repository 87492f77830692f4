//! The check-status Lambda: the AWS platform around the check-status handler.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    scanflow_aws::lambda::run("check-status", check_status::invoke).await
}
