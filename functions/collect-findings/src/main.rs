//! The collect-findings Lambda: the AWS platform around the collect-findings handler.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    scanflow_aws::lambda::run("collect-findings", collect_findings::invoke).await
}
