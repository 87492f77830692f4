//! The notify Lambda: the AWS platform around the status-change notifier.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    scanflow_aws::lambda::run("notify", publish::notify::invoke).await
}
