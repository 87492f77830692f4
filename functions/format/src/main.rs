//! The format Lambda: the AWS platform around the format handler.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    scanflow_aws::lambda::run("format", format::invoke).await
}
