//! Loads the deployed state machine definition and resolves its `${...}` placeholders the way
//! the SAM template's `DefinitionSubstitutions` do, mapping each function ARN to its handler.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use scanflow_asl::StateMachine;
use scanflow_core::ScanError;
use scanflow_core::ports::Platform;
use serde_yaml::Value as Yaml;

/// Account and region the local function ARNs are minted in.
const LOCAL_ARN_PREFIX: &str = "arn:aws:lambda:us-east-1:000000000000:function:";

#[derive(Debug, thiserror::Error)]
pub enum DefinitionError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not valid YAML/JSON: {detail}")]
    Parse { path: PathBuf, detail: String },
    #[error(
        "placeholder ${{{name}}} in {definition} has no value: add it to DefinitionSubstitutions in {template}"
    )]
    Unresolved {
        name: String,
        definition: PathBuf,
        template: String,
    },
    #[error(
        "{template}: DefinitionSubstitutions.{key} names function {logical_id}, whose Metadata.BuildProperties.Binary {binary:?} is not one of scanflow's steps"
    )]
    UnknownFunction {
        template: PathBuf,
        key: String,
        logical_id: String,
        binary: Option<String>,
    },
    #[error("{path} is not a valid state machine:\n{errors}")]
    Invalid { path: PathBuf, errors: String },
}

/// One of the five steps, as the template's `BuildProperties.Binary` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    StartRun,
    CheckStatus,
    CollectFindings,
    Format,
    Publish,
}

impl Step {
    pub const ALL: [Step; 5] = [
        Step::StartRun,
        Step::CheckStatus,
        Step::CollectFindings,
        Step::Format,
        Step::Publish,
    ];

    pub fn binary(self) -> &'static str {
        match self {
            Self::StartRun => "start-run",
            Self::CheckStatus => "check-status",
            Self::CollectFindings => "collect-findings",
            Self::Format => "format",
            Self::Publish => "publish",
        }
    }

    /// The function's logical id when no template says otherwise (`StartRunFunction`).
    fn default_logical_id(self) -> &'static str {
        match self {
            Self::StartRun => "StartRunFunction",
            Self::CheckStatus => "CheckStatusFunction",
            Self::CollectFindings => "CollectFindingsFunction",
            Self::Format => "FormatFunction",
            Self::Publish => "PublishFunction",
        }
    }

    pub async fn invoke<P: Platform>(
        self,
        platform: &P,
        event: serde_json::Value,
    ) -> Result<serde_json::Value, ScanError> {
        match self {
            Self::StartRun => start_run::invoke(platform, event).await,
            Self::CheckStatus => check_status::invoke(platform, event).await,
            Self::CollectFindings => collect_findings::invoke(platform, event).await,
            Self::Format => format::invoke(platform, event).await,
            Self::Publish => publish::invoke(platform, event).await,
        }
    }
}

/// The state machine ready to run, and which step each Task resource dispatches to.
pub struct Workflow {
    pub machine: StateMachine,
    pub steps: BTreeMap<String, Step>,
    pub definition_path: PathBuf,
    pub template_path: Option<PathBuf>,
}

impl Workflow {
    /// Loads `definition`, resolving placeholders through `template` when it exists, else
    /// through the function names the template would use.
    pub fn load(definition: &Path, template: Option<&Path>) -> Result<Self, DefinitionError> {
        let text = read(definition)?;
        let (values, steps) = match template.filter(|t| t.exists()) {
            Some(t) => substitutions_from_template(t)?,
            None => default_substitutions(),
        };
        let resolved = substitute(&text, &values, definition, template)?;
        let json: serde_json::Value =
            serde_json::from_str(&resolved).map_err(|e| DefinitionError::Parse {
                path: definition.to_owned(),
                detail: e.to_string(),
            })?;
        let machine = StateMachine::from_value(&json).map_err(|e| DefinitionError::Invalid {
            path: definition.to_owned(),
            errors: e.to_string(),
        })?;
        Ok(Self {
            machine,
            steps,
            definition_path: definition.to_owned(),
            template_path: template.filter(|t| t.exists()).map(Path::to_owned),
        })
    }

    pub fn step_for(&self, resource: &str) -> Option<Step> {
        self.steps.get(resource).copied()
    }
}

/// Finds `rel` in the current directory or the nearest ancestor holding it, so the command
/// works from anywhere inside the repository.
pub fn find_upwards(rel: &str) -> Option<PathBuf> {
    let mut dir = std::env::current_dir().ok()?;
    loop {
        let candidate = dir.join(rel);
        if candidate.exists() {
            return Some(candidate);
        }
        if !dir.pop() {
            return None;
        }
    }
}

fn read(path: &Path) -> Result<String, DefinitionError> {
    std::fs::read_to_string(path).map_err(|source| DefinitionError::Read {
        path: path.to_owned(),
        source,
    })
}

type Substitutions = (BTreeMap<String, String>, BTreeMap<String, Step>);

fn default_substitutions() -> Substitutions {
    let mut values = BTreeMap::new();
    let mut steps = BTreeMap::new();
    for step in Step::ALL {
        let arn = format!("{LOCAL_ARN_PREFIX}{}", step.default_logical_id());
        values.insert(format!("{}Arn", step.default_logical_id()), arn.clone());
        steps.insert(arn, step);
    }
    (values, steps)
}

fn substitutions_from_template(path: &Path) -> Result<Substitutions, DefinitionError> {
    let doc: Yaml = serde_yaml::from_str(&read(path)?).map_err(|e| DefinitionError::Parse {
        path: path.to_owned(),
        detail: e.to_string(),
    })?;
    let resources = doc
        .get("Resources")
        .and_then(Yaml::as_mapping)
        .cloned()
        .unwrap_or_default();
    let mut values = BTreeMap::new();
    let mut steps = BTreeMap::new();
    for resource in resources.values() {
        if resource.get("Type").and_then(Yaml::as_str) != Some("AWS::Serverless::StateMachine") {
            continue;
        }
        let Some(subs) = resource
            .get("Properties")
            .and_then(|p| p.get("DefinitionSubstitutions"))
            .and_then(Yaml::as_mapping)
        else {
            continue;
        };
        for (key, value) in subs {
            let Some(key) = key.as_str() else { continue };
            match get_att_arn(value) {
                Some(logical_id) => {
                    let binary = resources
                        .get(logical_id.as_str())
                        .and_then(|r| r.get("Metadata"))
                        .and_then(|m| m.get("BuildProperties"))
                        .and_then(|b| b.get("Binary"))
                        .and_then(Yaml::as_str)
                        .map(str::to_owned);
                    let step = binary
                        .as_deref()
                        .and_then(|b| Step::ALL.into_iter().find(|s| s.binary() == b))
                        .ok_or_else(|| DefinitionError::UnknownFunction {
                            template: path.to_owned(),
                            key: key.to_owned(),
                            logical_id: logical_id.clone(),
                            binary,
                        })?;
                    let arn = format!("{LOCAL_ARN_PREFIX}{logical_id}");
                    steps.insert(arn.clone(), step);
                    values.insert(key.to_owned(), arn);
                }
                // Anything else (a bucket name, a topic) gets a readable local stand-in.
                None => {
                    values.insert(key.to_owned(), format!("local-{key}"));
                }
            }
        }
    }
    Ok((values, steps))
}

/// `!GetAtt X.Arn`, `{"Fn::GetAtt": [X, Arn]}` → `X`.
fn get_att_arn(value: &Yaml) -> Option<String> {
    match value {
        Yaml::Tagged(tagged) if tagged.tag == "GetAtt" => match &tagged.value {
            Yaml::String(s) => s.strip_suffix(".Arn").map(str::to_owned),
            Yaml::Sequence(seq) if seq.get(1).and_then(Yaml::as_str) == Some("Arn") => {
                seq.first().and_then(Yaml::as_str).map(str::to_owned)
            }
            _ => None,
        },
        Yaml::Mapping(m) => {
            let seq = m.get("Fn::GetAtt")?.as_sequence()?;
            (seq.get(1)?.as_str()? == "Arn").then(|| seq.first()?.as_str().map(str::to_owned))?
        }
        _ => None,
    }
}

fn substitute(
    text: &str,
    values: &BTreeMap<String, String>,
    definition: &Path,
    template: Option<&Path>,
) -> Result<String, DefinitionError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return Ok(out);
        };
        let name = &after[..end];
        let value = values
            .get(name)
            .ok_or_else(|| DefinitionError::Unresolved {
                name: name.to_owned(),
                definition: definition.to_owned(),
                template: template.map_or_else(
                    || "the SAM template".to_owned(),
                    |t| t.display().to_string(),
                ),
            })?;
        out.push_str(value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substitutes_and_reports_unknown_placeholders() {
        let values = BTreeMap::from([("A".to_owned(), "x".to_owned())]);
        let p = Path::new("d.json");
        assert_eq!(
            substitute("{\"r\": \"${A}\", \"s\": \"${A}\"}", &values, p, None).expect("ok"),
            "{\"r\": \"x\", \"s\": \"x\"}"
        );
        let err = substitute("${B}", &values, p, None).expect_err("unknown");
        assert!(err.to_string().contains("${B}"));
    }

    #[test]
    fn template_get_att_forms_resolve_to_the_built_binary() {
        let dir = std::env::temp_dir().join(format!("scanflow-def-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("tmp");
        let t = dir.join("t.yaml");
        std::fs::write(
            &t,
            "Resources:\n  SM:\n    Type: AWS::Serverless::StateMachine\n    Properties:\n      DefinitionSubstitutions:\n        StartArn: !GetAtt Go.Arn\n        PubArn:\n          Fn::GetAtt: [Pub, Arn]\n        Bucket: !Ref B\n  Go:\n    Type: AWS::Serverless::Function\n    Metadata:\n      BuildProperties:\n        Binary: start-run\n  Pub:\n    Type: AWS::Serverless::Function\n    Metadata:\n      BuildProperties:\n        Binary: publish\n",
        )
        .expect("write");
        let (values, steps) = substitutions_from_template(&t).expect("parses");
        assert_eq!(steps.get(&values["StartArn"]), Some(&Step::StartRun));
        assert_eq!(steps.get(&values["PubArn"]), Some(&Step::Publish));
        assert_eq!(values["Bucket"], "local-Bucket");
        std::fs::write(&t, "Resources:\n  SM:\n    Type: AWS::Serverless::StateMachine\n    Properties:\n      DefinitionSubstitutions:\n        X: !GetAtt Nope.Arn\n").expect("write");
        assert!(matches!(
            substitutions_from_template(&t),
            Err(DefinitionError::UnknownFunction { .. })
        ));
        let _ = std::fs::remove_dir_all(dir);
    }
}
