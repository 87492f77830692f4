//! The start-run Lambda: the AWS platform around the start-run handler.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    scanflow_aws::lambda::run("start-run", start_run::invoke).await
}
