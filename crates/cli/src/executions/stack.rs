//! Finding the scan state machine of a deployed hub stack from the stack's outputs.

use aws_sdk_cloudformation::Client;

use super::Error;

/// The hub template's output that names the state machine.
pub const OUTPUT_KEY: &str = "StateMachineArn";

/// The state machine ARN in the outputs of `stack` (a stack name or id).
pub async fn state_machine_arn(cfn: &Client, stack: &str) -> Result<String, Error> {
    let region = cfn
        .config()
        .region()
        .map_or_else(|| "the configured region".to_owned(), ToString::to_string);
    let described = match cfn.describe_stacks().stack_name(stack).send().await {
        Ok(out) => out,
        Err(e) => {
            let missing = e.as_service_error().is_some_and(|s| {
                use aws_sdk_cloudformation::error::ProvideErrorMetadata;
                s.code() == Some("ValidationError")
                    && s.message().is_some_and(|m| m.contains("does not exist"))
            });
            return Err(if missing {
                Error::StackNotFound {
                    stack: stack.to_owned(),
                    region,
                }
            } else {
                Error::aws("cloudformation:DescribeStacks", &region, &e)
            });
        }
    };
    let Some(found) = described.stacks().first() else {
        return Err(Error::StackNotFound {
            stack: stack.to_owned(),
            region,
        });
    };
    let outputs = found.outputs();
    outputs
        .iter()
        .find(|o| o.output_key() == Some(OUTPUT_KEY))
        .and_then(|o| o.output_value())
        .map(str::to_owned)
        .ok_or_else(|| {
            let keys: Vec<&str> = outputs.iter().filter_map(|o| o.output_key()).collect();
            Error::NoStateMachineOutput {
                stack: stack.to_owned(),
                outputs: if keys.is_empty() {
                    "none".to_owned()
                } else {
                    keys.join(", ")
                },
            }
        })
}
