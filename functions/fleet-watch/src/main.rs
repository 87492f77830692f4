//! The fleet-watch Lambda: the AWS platform around the fleet watch and the registry writer.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    scanflow_aws::lambda::run("fleet-watch", fleet_watch::invoke).await
}
