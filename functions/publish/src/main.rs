//! The publish Lambda: the AWS platform around the publish handler.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    scanflow_aws::lambda::run("publish", publish::invoke).await
}
