//! Moving an account from Inspector Classic to Inspector v2: the pre-flight start-run makes for
//! a Classic account (is v2's EC2 scanning enabled there?) and the plan people are told — what
//! changes when the member stack's Engine parameter becomes `inspector2`. The wording lives
//! here so the digest, the failure notice and DEPLOY.md's example say the same thing.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ScanError;
use crate::model::{AccountSettings, Engine, Tag};
use crate::state::Run;
use crate::text::one_line;

/// When Inspector Classic's support ended: its console and resources are no longer available.
pub const CLASSIC_END: &str = "2026-05-20";

/// The tag that keeps an EC2 instance out of Inspector v2's scans (any value).
pub const EXCLUSION_TAG: &str = "InspectorEc2Exclusion";

/// The longest reason kept when the pre-flight could not be made: it rides in the state.
const REASON_CHARS: usize = 300;
/// A tag as the plan quotes it: key (at most 128) `=` value (at most 256).
const TAG_CHARS: usize = 385;

/// Inspector v2's status for one resource type in an account and Region, as
/// `BatchGetAccountStatus` reports it (`resourceState.ec2.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ScanningStatus {
    Enabling,
    Enabled,
    Disabling,
    Disabled,
    Suspending,
    Suspended,
}

impl ScanningStatus {
    pub const ALL: [ScanningStatus; 6] = [
        Self::Enabling,
        Self::Enabled,
        Self::Disabling,
        Self::Disabled,
        Self::Suspending,
        Self::Suspended,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enabling => "ENABLING",
            Self::Enabled => "ENABLED",
            Self::Disabling => "DISABLING",
            Self::Disabled => "DISABLED",
            Self::Suspending => "SUSPENDING",
            Self::Suspended => "SUSPENDED",
        }
    }

    /// The API's value; `None` for one this version does not know.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

impl fmt::Display for ScanningStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What start-run's pre-flight learnt about Inspector v2 in a Classic account, carried in the
/// run (`run.v2Readiness`) so format and the failure notice can tell people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "camelCase")]
pub enum V2Readiness {
    /// v2 answered: its EC2 scanning status in the account and Region.
    Reported { ec2: ScanningStatus },
    /// The check could not be made (the scan role may predate the grant, or Inspector v2 did
    /// not answer): the scan goes on with Classic, and people are told why.
    Unknown { reason: String },
}

impl V2Readiness {
    /// The pre-flight's outcome from the port's answer. A failed check never fails the scan:
    /// it is advice, and Classic may still work.
    pub fn from_check(answer: Result<ScanningStatus, ScanError>) -> Self {
        match answer {
            Ok(ec2) => Self::Reported { ec2 },
            Err(e) => Self::Unknown {
                reason: one_line(&e.to_string(), REASON_CHARS),
            },
        }
    }

    /// Whether the account can switch now: v2 scans its EC2 instances.
    pub fn ready(&self) -> bool {
        matches!(
            self,
            Self::Reported {
                ec2: ScanningStatus::Enabled
            }
        )
    }
}

/// What changes for one Classic account when it moves to Inspector v2, from its settings and
/// the pre-flight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationPlan {
    pub account_id: String,
    pub region: String,
    pub tag: Option<Tag>,
    pub duration_seconds: u32,
    pub readiness: V2Readiness,
}

impl MigrationPlan {
    /// The plan for an account whose settings name the Classic engine; `None` for any other.
    pub fn for_account(
        account_id: &str,
        region: &str,
        settings: &AccountSettings,
        readiness: &V2Readiness,
    ) -> Option<Self> {
        (settings.engine == Engine::Classic).then(|| Self {
            account_id: account_id.to_owned(),
            region: region.to_owned(),
            tag: settings.tag.clone(),
            duration_seconds: settings.duration_seconds,
            readiness: readiness.clone(),
        })
    }

    /// The plan for a run start-run made for a Classic account (it carries the pre-flight);
    /// `None` for any other run.
    pub fn for_run(run: &Run) -> Option<Self> {
        let readiness = run.v2_readiness.as_ref()?;
        (run.engine == Engine::Classic).then(|| Self {
            account_id: run.account_id.clone(),
            region: run.region.clone(),
            tag: run.tag.clone(),
            duration_seconds: run.duration_seconds,
            readiness: readiness.clone(),
        })
    }

    /// One sentence: v2's status here and the next step.
    pub fn verdict(&self) -> String {
        match &self.readiness {
            V2Readiness::Reported {
                ec2: ScanningStatus::Enabled,
            } => format!(
                "Inspector v2 EC2 scanning is ENABLED in {} ({}): the account is ready. Set \
                 the member stack's Engine parameter to inspector2.",
                self.account_id, self.region
            ),
            V2Readiness::Reported {
                ec2: ScanningStatus::Enabling,
            } => format!(
                "Inspector v2 EC2 scanning is ENABLING in {} ({}): wait until it is ENABLED, \
                 then set the member stack's Engine parameter to inspector2.",
                self.account_id, self.region
            ),
            V2Readiness::Reported { ec2 } => format!(
                "Inspector v2 EC2 scanning is {ec2} in {} ({}): not ready. Enable Inspector \
                 v2 EC2 scanning there first (the Inspector console, or the delegated \
                 administrator's Enable with resource type EC2), then set the member stack's \
                 Engine parameter to inspector2.",
                self.account_id, self.region
            ),
            V2Readiness::Unknown { reason } => format!(
                "Inspector v2's EC2 scanning status in {} ({}) could not be checked: \
                 {}. Check it (BatchGetAccountStatus, resourceState.ec2.status) before \
                 setting the member stack's Engine parameter to inspector2.",
                self.account_id,
                self.region,
                one_line(reason, REASON_CHARS)
            ),
        }
    }

    /// What is different once the account scans with Inspector v2, one paragraph each.
    pub fn changes(&self) -> Vec<String> {
        let target = match &self.tag {
            Some(tag) => {
                // Tags are the member's text: one line, so they cannot add lines of their own.
                let tag = one_line(&format!("{}={}", tag.key, tag.value), TAG_CHARS);
                format!(
                    "Target: Classic assesses only the instances tagged {tag} (its resource \
                     group). Inspector v2 scans every EC2 instance of the account and Region \
                     unless the instance carries the {EXCLUSION_TAG} tag; scanflow then \
                     reports only findings on instances tagged {tag}, so the others are \
                     scanned (and billed) but not reported. Tag instances {EXCLUSION_TAG} to \
                     keep them out."
                )
            }
            None => format!(
                "Target: Classic assesses every instance; Inspector v2 scans every EC2 \
                 instance of the account and Region too, unless the instance carries the \
                 {EXCLUSION_TAG} tag."
            ),
        };
        vec![
            target,
            "Schedule: Inspector v2 scans continuously; the member's schedule then only \
             decides when results are delivered, not when scanning happens."
                .to_owned(),
            format!(
                "Duration: the {} seconds of a Classic assessment mean nothing for Inspector \
                 v2 vulnerability findings. With the member stack's CisLevel set (Classic's \
                 CIS rules package becomes a v2 CIS scan of the tagged instances), they bound \
                 that scan.",
                self.duration_seconds
            ),
            "Agents: Inspector v2 does not use the Classic agent. It scans instances managed \
             by AWS Systems Manager (SSM Agent), or without an agent in hybrid or agentless \
             mode."
                .to_owned(),
            "First delivery: Classic and Inspector v2 finding ids differ, so the first v2 \
             delivery reports every finding as new, and the last Classic scan's findings on \
             the instances v2 scanned as resolved."
                .to_owned(),
        ]
    }

    /// What a failure notice adds when Classic refused the scan (its support has ended): v2's
    /// status and what to change.
    pub fn failure_hint(&self) -> String {
        format!(
            "Inspector Classic ended on {CLASSIC_END}. {}",
            self.verdict()
        )
    }
}

/// Refuses an execution input that asks for Classic (`engine: classic`) in an account whose
/// member stack wrote no Classic template (its Engine parameter is inspector2): there is no
/// assessment template to run, as Classic's DescribeAssessmentTemplates would find. Refused
/// before any call, as bad input that no retry can mend.
pub fn refuse_classic_without_template(
    account_id: &str,
    region: &str,
    stored: &AccountSettings,
    requested: Option<Engine>,
) -> Result<(), ScanError> {
    // member.yaml writes the template's ARN only with Engine classic (and deletes the
    // template when a stack moves to inspector2); settings that still name one (a sandbox
    // scenario's account kept for both engines) let Classic try it, and Classic answers.
    if requested == Some(Engine::Classic)
        && stored.engine != Engine::Classic
        && stored.assessment_template_arn.is_none()
    {
        return Err(ScanError::invalid(
            "engine",
            format!(
                "inspector2 or no engine: the member stack of account {account_id} ({region}) \
                 was deployed with Engine {} and created no Inspector Classic assessment \
                 template, so Classic has nothing to run (and Classic ended on {CLASSIC_END}). \
                 Leave engine out to scan with Inspector v2",
                stored.engine
            ),
            "is \"classic\"",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::WIDTH;

    fn classic(tag: Option<Tag>) -> AccountSettings {
        AccountSettings {
            engine: Engine::Classic,
            tag,
            duration_seconds: 3600,
            assessment_template_arn: Some(
                "arn:aws:inspector:eu-west-1:111122223333:target/0-a/template/0-b".into(),
            ),
            schedule: None,
            sla_days: None,
            cis: None,
        }
    }

    fn tag() -> Tag {
        Tag {
            key: "Scan".into(),
            value: "true".into(),
        }
    }

    fn plan(settings: &AccountSettings, readiness: V2Readiness) -> MigrationPlan {
        MigrationPlan::for_account("111122223333", "eu-west-1", settings, &readiness)
            .expect("a Classic account has a plan")
    }

    #[test]
    fn only_classic_accounts_have_a_plan() {
        let mut v2 = classic(None);
        v2.engine = Engine::Inspector2;
        let r = V2Readiness::Reported {
            ec2: ScanningStatus::Enabled,
        };
        assert_eq!(MigrationPlan::for_account("1", "r", &v2, &r), None);
        assert!(MigrationPlan::for_account("1", "r", &classic(None), &r).is_some());
    }

    #[test]
    fn the_verdict_follows_the_status_and_names_what_to_change() {
        let s = classic(Some(tag()));
        for status in ScanningStatus::ALL {
            let p = plan(&s, V2Readiness::Reported { ec2: status });
            let v = p.verdict();
            assert!(v.contains(status.as_str()), "{v}");
            assert!(v.contains("Engine parameter to inspector2"), "{v}");
            assert_eq!(
                v.contains("ready. Set"),
                status == ScanningStatus::Enabled,
                "{v}"
            );
            assert_eq!(
                v.contains("Enable Inspector v2 EC2 scanning there first"),
                !matches!(status, ScanningStatus::Enabled | ScanningStatus::Enabling),
                "{v}"
            );
            assert_eq!(p.readiness.ready(), status == ScanningStatus::Enabled);
        }
        let unknown = plan(
            &s,
            V2Readiness::from_check(Err(ScanError::AccessDenied {
                account_id: "111122223333".into(),
                region: "eu-west-1".into(),
                action: "inspector2:BatchGetAccountStatus".into(),
                detail: "AccessDeniedException".into(),
            })),
        );
        assert!(!unknown.readiness.ready());
        let v = unknown.verdict();
        assert!(v.contains("could not be checked"), "{v}");
        assert!(v.contains("grants inspector2:BatchGetAccountStatus"), "{v}");
        assert!(
            unknown
                .failure_hint()
                .starts_with("Inspector Classic ended on 2026-05-20.")
        );
    }

    #[test]
    fn a_long_reason_is_cut_to_keep_the_state_small() {
        let r = V2Readiness::from_check(Err(ScanError::internal("x".repeat(5000))));
        let V2Readiness::Unknown { reason } = r else {
            panic!("an error is an unknown status")
        };
        assert!(reason.chars().count() <= REASON_CHARS, "{}", reason.len());
    }

    #[test]
    fn changes_say_what_the_tag_duration_and_schedule_become() {
        let r = V2Readiness::Reported {
            ec2: ScanningStatus::Enabled,
        };
        let tagged = plan(&classic(Some(tag())), r.clone()).changes().join("\n");
        assert!(
            tagged.contains("tagged Scan=true (its resource group)"),
            "{tagged}"
        );
        assert!(
            tagged.contains("scanned (and billed) but not reported"),
            "{tagged}"
        );
        assert!(tagged.contains(EXCLUSION_TAG), "{tagged}");
        assert!(tagged.contains("the 3600 seconds"), "{tagged}");
        assert!(tagged.contains("only decides when results are delivered"));
        assert!(tagged.contains("every finding as new, and the last Classic scan's"));
        let all = plan(&classic(None), r).changes().join("\n");
        assert!(!all.contains("billed"), "{all}");
        assert!(all.contains("Classic assesses every instance"), "{all}");
    }

    #[test]
    fn an_override_to_classic_is_refused_only_without_a_template() {
        let mut v2 = classic(None);
        v2.engine = Engine::Inspector2;
        v2.assessment_template_arn = None;
        let e = refuse_classic_without_template(
            "111122223333",
            "eu-west-1",
            &v2,
            Some(Engine::Classic),
        )
        .expect_err("no template to run");
        let text = e.to_string();
        assert!(
            matches!(&e, ScanError::InvalidInput { field, .. } if field == "engine"),
            "{e:?}"
        );
        assert!(text.contains("deployed with Engine inspector2"), "{text}");
        assert!(text.contains("Leave engine out"), "{text}");
        for ok in [None, Some(Engine::Inspector2)] {
            assert_eq!(refuse_classic_without_template("1", "r", &v2, ok), Ok(()));
        }
        // Settings that name a template leave it to Classic to answer.
        v2.assessment_template_arn = classic(None).assessment_template_arn;
        assert_eq!(
            refuse_classic_without_template("1", "r", &v2, Some(Engine::Classic)),
            Ok(())
        );
        // A Classic stack has its template; asking for Classic there is no override at all.
        assert_eq!(
            refuse_classic_without_template("1", "r", &classic(None), Some(Engine::Classic)),
            Ok(())
        );
    }

    #[test]
    fn readiness_round_trips_through_the_state() {
        for r in [
            V2Readiness::Reported {
                ec2: ScanningStatus::Suspended,
            },
            V2Readiness::Unknown {
                reason: "throttled".into(),
            },
        ] {
            let json = serde_json::to_value(&r).expect("serializes");
            assert_eq!(serde_json::from_value::<V2Readiness>(json).ok(), Some(r));
        }
        assert_eq!(
            serde_json::to_value(V2Readiness::Reported {
                ec2: ScanningStatus::Enabled
            })
            .ok(),
            Some(serde_json::json!({"result": "reported", "ec2": "ENABLED"}))
        );
        for s in ScanningStatus::ALL {
            assert_eq!(ScanningStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(ScanningStatus::parse("enabled"), None);
        // Sentences are wrapped by their reader; none carries a line break of its own.
        let forged = Tag {
            key: "Scan\nFORGED".into(),
            value: "x".into(),
        };
        let p = plan(
            &classic(Some(forged)),
            V2Readiness::Unknown {
                reason: "throttled\nFORGED".into(),
            },
        );
        for text in p.changes().into_iter().chain([p.verdict()]) {
            assert!(!text.contains('\n'), "{text}");
            assert!(
                crate::text::wrap(&text, WIDTH, "", "")
                    .lines()
                    .all(|l| l.chars().count() <= WIDTH)
            );
        }
    }
}
