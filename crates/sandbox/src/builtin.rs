//! The built-in scenario `scanflow run` uses when given none: four accounts in four regions,
//! both engines, a few hundred findings of every severity, instances the scans cannot reach,
//! and one account whose scan role is missing.

use std::collections::BTreeMap;

use scanflow_core::model::{Engine, Severity};

use crate::scenario::{
    AccountSpec, AgentHealth, ClassicOutcome, ClassicSpec, FindingSpec, FindingsSpec,
    GeneratorSpec, HubConfigOverrides, HubSpec, Inspector2Spec, InstanceSpec, ReportOutcome,
    Scenario, ScheduleSpec, SettingsSpec, TagSpec,
};

fn instance(id: &str, tags: &[(&str, &str)], agent: AgentHealth, managed: bool) -> InstanceSpec {
    InstanceSpec {
        id: id.into(),
        tags: tags
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<BTreeMap<_, _>>(),
        agent,
        managed,
    }
}

#[allow(clippy::too_many_arguments)]
fn listed(
    instance_id: &str,
    cve: &str,
    severity: Severity,
    package: &str,
    version: &str,
    fixed: &str,
    score: f64,
    description: &str,
) -> FindingSpec {
    FindingSpec {
        instance_id: instance_id.into(),
        vulnerability_id: cve.into(),
        severity,
        package_name: package.into(),
        package_version: version.into(),
        fixed_in_version: Some(fixed.into()),
        score: Some(score),
        title: None,
        description: Some(description.into()),
    }
}

fn template(region: &str, account: &str, target: &str, template: &str) -> Option<String> {
    Some(format!(
        "arn:aws:inspector:{region}:{account}:target/0-{target}/template/0-{template}"
    ))
}

fn tag(key: &str, value: &str) -> Option<TagSpec> {
    Some(TagSpec {
        key: key.into(),
        value: value.into(),
    })
}

impl Scenario {
    /// The deterministic demo organisation.
    pub fn default_scenario() -> Scenario {
        use AgentHealth::{Healthy, None as NoAgent, Unhealthy};
        let web = "111122223333";
        let data = "444455556666";
        let apac = "777788889999";
        let new = "123456789012";
        Scenario {
            hub: HubSpec {
                account_id: "999988887777".into(),
                region: "eu-west-1".into(),
                member_role_name: "scanflow-scan".into(),
                function_role_name: "scanflow-hub-functions".into(),
                config: HubConfigOverrides::default(),
            },
            accounts: vec![
                AccountSpec {
                    account_id: web.into(),
                    region: "eu-west-1".into(),
                    role_deployed: true,
                    schedule: ScheduleSpec::default(),
                    scope_change: None,
                    inspector_enabled: true,
                    settings: SettingsSpec {
                        engine: Engine::Inspector2,
                        tag: tag("Scan", "true"),
                        duration_seconds: 3600,
                        assessment_template_arn: template("eu-west-1", web, "Wb5kQ2rT", "Lp9xR4mZ"),
                    },
                    instances: vec![
                        instance(
                            "i-0a1b2c3d4e5f60001",
                            &[("Name", "web-1"), ("Scan", "true"), ("Environment", "prod")],
                            Healthy,
                            true,
                        ),
                        instance(
                            "i-0a1b2c3d4e5f60002",
                            &[("Name", "web-2"), ("Scan", "true"), ("Environment", "prod")],
                            Healthy,
                            true,
                        ),
                        instance(
                            "i-0a1b2c3d4e5f60003",
                            &[("Name", "api-1"), ("Scan", "true"), ("Environment", "prod")],
                            Healthy,
                            true,
                        ),
                        instance(
                            "i-0a1b2c3d4e5f60004",
                            &[
                                ("Name", "batch-1"),
                                ("Scan", "true"),
                                ("Environment", "prod"),
                            ],
                            NoAgent,
                            false,
                        ),
                        instance(
                            "i-0a1b2c3d4e5f60005",
                            &[("Name", "bastion"), ("Environment", "prod")],
                            Healthy,
                            true,
                        ),
                    ],
                    findings: FindingsSpec {
                        generate: Some(GeneratorSpec {
                            count: 160,
                            seed: 11,
                        }),
                        list: vec![
                            listed(
                                "i-0a1b2c3d4e5f60001",
                                "CVE-2024-6387",
                                Severity::High,
                                "openssh-server",
                                "8.7p1-8.amzn2023.0.10",
                                "8.7p1-8.amzn2023.0.11",
                                8.1,
                                "A signal handler race condition was found in OpenSSH's server (sshd), where a client does not authenticate within LoginGraceTime seconds (120 by default), then sshd's SIGALRM handler is called asynchronously and calls various functions that are not async-signal-safe. An unauthenticated remote attacker may exploit it to execute arbitrary code as root on glibc-based Linux systems.",
                            ),
                            listed(
                                "i-0a1b2c3d4e5f60003",
                                "CVE-2023-38545",
                                Severity::Critical,
                                "libcurl",
                                "8.2.1-1.amzn2023.0.1",
                                "8.4.0-1.amzn2023.0.1",
                                9.8,
                                "This flaw makes curl overflow a heap based buffer in the SOCKS5 proxy handshake. When curl is asked to pass along the host name to the SOCKS5 proxy to allow that to resolve the address instead of it getting done by curl itself, the maximum length that host name can be is 255 bytes. If the host name is detected to be longer, curl switches to local name resolving and instead passes on the resolved address only; due to this bug, the local variable that means \"let the host resolve the name\" could get the wrong value during a slow SOCKS5 handshake, and contrary to the intention, copy the too long host name to the target buffer instead of copying just the resolved address there.",
                            ),
                        ],
                    },
                    classic: ClassicSpec::default(),
                    inspector2: Inspector2Spec {
                        report_seconds: 20,
                        outcome: ReportOutcome::Succeeds,
                    },
                },
                AccountSpec {
                    account_id: data.into(),
                    region: "us-east-1".into(),
                    role_deployed: true,
                    schedule: ScheduleSpec::default(),
                    scope_change: None,
                    inspector_enabled: true,
                    settings: SettingsSpec {
                        engine: Engine::Classic,
                        tag: tag("Patch", "weekly"),
                        duration_seconds: 900,
                        assessment_template_arn: template(
                            "us-east-1",
                            data,
                            "Dt7hN3kP",
                            "Ty2bV8cQ",
                        ),
                    },
                    instances: vec![
                        instance(
                            "i-04d5e6f7a8b9c0001",
                            &[("Name", "db-1"), ("Patch", "weekly")],
                            Healthy,
                            true,
                        ),
                        instance(
                            "i-04d5e6f7a8b9c0002",
                            &[("Name", "db-2"), ("Patch", "weekly")],
                            Healthy,
                            true,
                        ),
                        instance(
                            "i-04d5e6f7a8b9c0003",
                            &[("Name", "cache-1"), ("Patch", "weekly")],
                            Unhealthy,
                            true,
                        ),
                        instance(
                            "i-04d5e6f7a8b9c0004",
                            &[("Name", "legacy-etl"), ("Patch", "weekly")],
                            NoAgent,
                            false,
                        ),
                        instance("i-04d5e6f7a8b9c0005", &[("Name", "build-1")], Healthy, true),
                    ],
                    findings: FindingsSpec {
                        generate: Some(GeneratorSpec {
                            count: 140,
                            seed: 22,
                        }),
                        list: Vec::new(),
                    },
                    classic: ClassicSpec {
                        outcome: ClassicOutcome::Completes,
                        evaluation_seconds: 240,
                    },
                    inspector2: Inspector2Spec::default(),
                },
                AccountSpec {
                    account_id: apac.into(),
                    region: "ap-southeast-2".into(),
                    role_deployed: true,
                    schedule: ScheduleSpec::default(),
                    scope_change: None,
                    inspector_enabled: true,
                    settings: SettingsSpec {
                        engine: Engine::Inspector2,
                        tag: None,
                        duration_seconds: 3600,
                        assessment_template_arn: None,
                    },
                    instances: vec![
                        instance(
                            "i-07a8b9c0d1e2f0001",
                            &[("Name", "shop-1"), ("Team", "retail")],
                            Healthy,
                            true,
                        ),
                        instance(
                            "i-07a8b9c0d1e2f0002",
                            &[("Name", "shop-2"), ("Team", "retail")],
                            Healthy,
                            true,
                        ),
                        instance(
                            "i-07a8b9c0d1e2f0003",
                            &[("Name", "reports"), ("Team", "finance")],
                            Healthy,
                            true,
                        ),
                    ],
                    findings: FindingsSpec {
                        generate: Some(GeneratorSpec {
                            count: 90,
                            seed: 33,
                        }),
                        list: vec![listed(
                            "i-07a8b9c0d1e2f0003",
                            "CVE-2024-3094",
                            Severity::Critical,
                            "xz-libs",
                            "5.6.0-1",
                            "5.6.2-1",
                            10.0,
                            "Malicious code was discovered in the upstream tarballs of xz, starting with version 5.6.0. Through a series of complex obfuscations, the liblzma build process extracts a prebuilt object file from a disguised test file existing in the source code, which is then used to modify specific functions in the liblzma code. This results in a modified liblzma library that can be used by any software linked against this library, intercepting and modifying the data interaction with this library.",
                        )],
                    },
                    classic: ClassicSpec::default(),
                    inspector2: Inspector2Spec {
                        report_seconds: 45,
                        outcome: ReportOutcome::Succeeds,
                    },
                },
                AccountSpec {
                    account_id: new.into(),
                    region: "eu-central-1".into(),
                    role_deployed: false,
                    schedule: ScheduleSpec::default(),
                    scope_change: None,
                    inspector_enabled: true,
                    settings: SettingsSpec {
                        engine: Engine::Inspector2,
                        tag: tag("Scan", "true"),
                        duration_seconds: 3600,
                        assessment_template_arn: None,
                    },
                    instances: vec![instance(
                        "i-0c1d2e3f4a5b60001",
                        &[("Name", "pilot-1"), ("Scan", "true")],
                        Healthy,
                        true,
                    )],
                    findings: FindingsSpec {
                        generate: Some(GeneratorSpec {
                            count: 12,
                            seed: 44,
                        }),
                        list: Vec::new(),
                    },
                    classic: ClassicSpec::default(),
                    inspector2: Inspector2Spec::default(),
                },
            ],
        }
    }
}
