//! The publish step against an in-memory platform: what is published, in which order, with
//! which attributes; Security Hub batching and its failures; failure notices per error type.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use scanflow_core::message::{
    ATTR_ACCOUNT, ATTR_KIND, ATTR_PART, ATTR_PARTS, ATTR_REGION, ATTR_RUN, Message,
    SNS_MESSAGE_LIMIT,
};
use scanflow_core::model::{
    AccountSettings, Coverage, Engine, Finding, Severity, SeverityCounts, Tag, Uncovered,
};
use scanflow_core::ports::{
    FindingRef, FindingsPage, HubConfig, MemberAccount, NewFinding, NewFindingsPage, Notice,
    NoticeKind, NoticeResource, Notifier, Platform, ReportStore, RunStatus, SecurityHub, Started,
    Unprocessed,
};
use scanflow_core::state::{
    Collected, FormatInput, Formatted, Manifest, PublishInput, Published, Run,
};
use scanflow_core::{ScanError, keys};
use serde_json::{Value, json};

use super::*;

#[derive(Default)]
struct Store(Mutex<BTreeMap<String, Vec<u8>>>);

impl Store {
    fn insert(&self, key: &str, body: Vec<u8>) {
        self.0.lock().expect("lock").insert(key.to_owned(), body);
    }
    fn object(&self, key: &str) -> Option<Vec<u8>> {
        self.0.lock().expect("lock").get(key).cloned()
    }
}

impl ReportStore for Store {
    async fn put(&self, key: &str, body: Vec<u8>, _content_type: &str) -> Result<(), ScanError> {
        self.insert(key, body);
        Ok(())
    }
    async fn get(&self, key: &str) -> Result<Vec<u8>, ScanError> {
        self.object(key).ok_or_else(|| ScanError::NotFound {
            account_id: "hub".into(),
            region: "hub".into(),
            what: key.to_owned(),
            detail: "no such key".into(),
        })
    }
    async fn put_if_absent(
        &self,
        key: &str,
        body: Vec<u8>,
        _content_type: &str,
    ) -> Result<bool, ScanError> {
        let mut map = self.0.lock().expect("lock");
        if map.contains_key(key) {
            return Ok(false);
        }
        map.insert(key.to_owned(), body);
        Ok(true)
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, ScanError> {
        let map = self.0.lock().expect("lock");
        Ok(map
            .keys()
            .filter(|k| k.starts_with(prefix))
            .cloned()
            .collect())
    }
    /// A presigned-looking link naming the key and the lifetime asked for; `None`: the
    /// console page.
    async fn link(
        &self,
        key: &str,
        valid_for: Option<std::time::Duration>,
    ) -> Result<scanflow_core::ports::ObjectLink, ScanError> {
        use scanflow_core::ports::ObjectLink;
        Ok(match valid_for {
            Some(d) => ObjectLink::Presigned {
                url: format!(
                    "https://hub-reports.s3.amazonaws.com/{key}?X-Amz-Expires={}",
                    d.as_secs()
                ),
                expires_at: "2026-12-02T06:00:00Z".into(),
            },
            None => ObjectLink::Console {
                url: format!("https://console.aws.amazon.com/s3/object/hub-reports?prefix={key}"),
            },
        })
    }
}

/// Records every message; fails the `fail_at`-th publish (0-based) with `error` when set.
#[derive(Default)]
struct Topic {
    sent: Mutex<Vec<Message>>,
    fail_at: Mutex<Option<(usize, ScanError)>>,
}

impl Topic {
    fn sent(&self) -> Vec<Message> {
        self.sent.lock().expect("lock").clone()
    }
}

impl Notifier for Topic {
    async fn publish(&self, message: &Message) -> Result<String, ScanError> {
        let mut sent = self.sent.lock().expect("lock");
        if let Some((at, error)) = self.fail_at.lock().expect("lock").clone()
            && at == sent.len()
        {
            return Err(error);
        }
        sent.push(message.clone());
        Ok(format!("msg-{}", sent.len()))
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Call {
    Mark {
        refs: Vec<FindingRef>,
        fields: BTreeMap<String, String>,
    },
    Import(Vec<Notice>),
}

/// One account's Security Hub: records calls; answers with an error, or leaves the ids in
/// `unprocessed` unprocessed.
#[derive(Default)]
struct Hub {
    calls: Mutex<Vec<Call>>,
    error: Mutex<Option<ScanError>>,
    unprocessed: Mutex<Vec<String>>,
    /// The Inspector findings Security Hub holds as NEW (the rest are triaged).
    new: Mutex<Vec<NewFinding>>,
    /// `new_findings` fails with this.
    new_error: Mutex<Option<ScanError>>,
}

impl Hub {
    fn calls(&self) -> Vec<Call> {
        self.calls.lock().expect("lock").clone()
    }
    fn marks(&self) -> Vec<Vec<FindingRef>> {
        self.calls()
            .into_iter()
            .filter_map(|c| match c {
                Call::Mark { refs, .. } => Some(refs),
                Call::Import(_) => None,
            })
            .collect()
    }
    fn imports(&self) -> Vec<Vec<Notice>> {
        self.calls()
            .into_iter()
            .filter_map(|c| match c {
                Call::Import(n) => Some(n),
                Call::Mark { .. } => None,
            })
            .collect()
    }
    fn answer(&self, ids: Vec<String>) -> Result<Vec<Unprocessed>, ScanError> {
        if let Some(e) = self.error.lock().expect("lock").clone() {
            return Err(e);
        }
        let refused = self.unprocessed.lock().expect("lock");
        Ok(ids
            .into_iter()
            .filter(|id| refused.contains(id))
            .map(|id| Unprocessed {
                id,
                reason: "FindingNotFound".into(),
            })
            .collect())
    }
}

impl SecurityHub for Hub {
    async fn new_findings(&self, cursor: Option<String>) -> Result<NewFindingsPage, ScanError> {
        if let Some(e) = self.new_error.lock().expect("lock").clone() {
            return Err(e);
        }
        let skip: usize = cursor.map_or(0, |c| c.parse().expect("our cursor"));
        let new = self.new.lock().expect("lock");
        let page: Vec<NewFinding> = new.iter().skip(skip).take(100).cloned().collect();
        let next = (skip + page.len() < new.len()).then(|| (skip + page.len()).to_string());
        Ok(NewFindingsPage {
            findings: page,
            next,
        })
    }
    async fn mark_notified(
        &self,
        findings: &[FindingRef],
        fields: &BTreeMap<String, String>,
    ) -> Result<Vec<Unprocessed>, ScanError> {
        assert!(findings.len() <= scanflow_core::ports::SECURITY_HUB_BATCH);
        self.calls.lock().expect("lock").push(Call::Mark {
            refs: findings.to_vec(),
            fields: fields.clone(),
        });
        self.answer(findings.iter().map(|f| f.id.clone()).collect())
    }
    async fn import_notices(&self, notices: &[Notice]) -> Result<Vec<Unprocessed>, ScanError> {
        assert!(notices.len() <= scanflow_core::ports::SECURITY_HUB_BATCH);
        self.calls
            .lock()
            .expect("lock")
            .push(Call::Import(notices.to_vec()));
        self.answer(notices.iter().map(|n| n.id.clone()).collect())
    }
}

struct Member(Arc<Hub>);

fn unused() -> ScanError {
    ScanError::internal("publish must not call this")
}

impl MemberAccount for Member {
    type SecurityHub = Hub;
    async fn settings(&self) -> Result<AccountSettings, ScanError> {
        Err(unused())
    }
    async fn start_scan(&self, _s: &AccountSettings, _name: &str) -> Result<Started, ScanError> {
        Err(unused())
    }
    async fn start_cis_scan(
        &self,
        _s: &AccountSettings,
        _level: scanflow_core::model::CisLevel,
        _name: &str,
    ) -> Result<String, ScanError> {
        Err(unused())
    }
    async fn run_status(&self, _run: &Run) -> Result<RunStatus, ScanError> {
        Err(unused())
    }
    async fn findings_page(
        &self,
        _run: &Run,
        _cursor: Option<String>,
    ) -> Result<FindingsPage, ScanError> {
        Err(unused())
    }
    async fn coverage(&self, _run: &Run) -> Result<Coverage, ScanError> {
        Err(unused())
    }
    async fn v2_ec2_status(&self) -> Result<scanflow_core::migration::ScanningStatus, ScanError> {
        Err(unused())
    }
    fn security_hub(&self) -> &Hub {
        &self.0
    }
}

struct Fake {
    config: HubConfig,
    store: Store,
    topic: Topic,
    member_hub: Arc<Hub>,
    hub: Hub,
    member_error: Option<ScanError>,
    entered: Mutex<Vec<(String, String, String)>>,
}

impl Fake {
    fn new() -> Self {
        Self {
            config: HubConfig {
                hub_account_id: "999999999999".into(),
                ..HubConfig::default()
            },
            store: Store::default(),
            topic: Topic::default(),
            member_hub: Arc::new(Hub::default()),
            hub: Hub::default(),
            member_error: None,
            entered: Mutex::new(Vec::new()),
        }
    }
}

impl Platform for Fake {
    type Member = Member;
    type Store = Store;
    type Notifier = Topic;
    type SecurityHub = Hub;
    fn config(&self) -> &HubConfig {
        &self.config
    }
    async fn member(
        &self,
        account: &str,
        region: &str,
        session: &str,
    ) -> Result<Member, ScanError> {
        self.entered
            .lock()
            .expect("lock")
            .push((account.into(), region.into(), session.into()));
        match &self.member_error {
            Some(e) => Err(e.clone()),
            None => Ok(Member(self.member_hub.clone())),
        }
    }
    fn store(&self) -> &Store {
        &self.store
    }
    fn notifier(&self) -> &Topic {
        &self.topic
    }
    fn hub_security_hub(&self) -> &Hub {
        &self.hub
    }
}

fn run() -> Run {
    Run {
        account_id: "111122223333".into(),
        region: "eu-west-1".into(),
        engine: Engine::Inspector2,
        run_id: "0b9f-77aa-report".into(),
        tag: Some(Tag {
            key: "Patch".into(),
            value: "yes".into(),
        }),
        duration_seconds: 3600,
        started_at: "2026-11-28T10:00:00Z".into(),
        deadline: "2026-11-28T12:00:00Z".into(),
        wait_seconds: 0,
        rerun: false,
        execution: "sched-111122223333-eu-west-1-20261128".into(),
        adopted: false,
        scheduled_at: None,
        sla_days: None,
        v2_readiness: None,
        cis: None,
    }
}

fn finding(i: usize, description_len: usize) -> Finding {
    Finding {
        id: format!("arn:aws:inspector2:eu-west-1:111122223333:finding/{i:032x}"),
        engine: Engine::Inspector2,
        account_id: "111122223333".into(),
        region: "eu-west-1".into(),
        severity: Severity::ALL[i % Severity::ALL.len()],
        title: format!("CVE-2026-{i:05} - openssl"),
        instance_id: Some(format!("i-{:017x}", i % 40)),
        instance_tags: BTreeMap::new(),
        vulnerability_id: Some(format!("CVE-2026-{i:05}")),
        description: "d".repeat(description_len),
        recommendation: "Upgrade.".into(),
        fix_available: Some(true),
        score: Some(7.5),
        first_seen: None,
        last_seen: None,
        rules_package_arn: None,
        detail: None,
    }
}

fn uncovered(n: usize) -> Vec<Uncovered> {
    (0..n)
        .map(|i| Uncovered {
            instance_id: format!("i-{:017x}", 90_000 + i),
            reason: "UNMANAGED_EC2_INSTANCE".into(),
            remedy: "Install the SSM agent and attach an instance profile.".into(),
        })
        .collect()
}

/// Stores what collect-findings would (chunks of `chunk` findings and the manifest), runs the
/// real format step, and returns publish's delivery input.
fn formatted_run(
    fake: &Fake,
    findings: usize,
    description_len: usize,
    chunk: usize,
    not_scanned: usize,
) -> PublishInput {
    let run = run();
    let all: Vec<Finding> = (0..findings).map(|i| finding(i, description_len)).collect();
    // Inspector sent them to Security Hub, where nobody has triaged them yet.
    fake.member_hub
        .new
        .lock()
        .expect("lock")
        .extend(all.iter().map(|f| NewFinding {
            id: f.id.clone(),
            user_defined_fields: BTreeMap::new(),
        }));
    let mut counts = SeverityCounts::default();
    let mut chunks = Vec::new();
    for (i, part) in all.chunks(chunk).enumerate() {
        let mut body = Vec::new();
        for f in part {
            counts.add(f.severity);
            serde_json::to_writer(&mut body, f).expect("json");
            body.push(b'\n');
        }
        let key = keys::findings_chunk(&run, i);
        fake.store.insert(&key, body);
        chunks.push(key);
    }
    let coverage = Coverage {
        scanned: (0..40).map(|i| format!("i-{i:017x}")).collect(),
        not_scanned: uncovered(not_scanned),
        cis: None,
    };
    let collected = Collected {
        manifest_key: keys::manifest(&run),
        counts: counts.clone(),
        instances_scanned: coverage.scanned.len() as u64,
        instances_not_scanned: coverage.not_scanned.len() as u64,
    };
    let manifest = Manifest {
        chunks,
        counts,
        coverage,
        collected_at: "2026-11-28T11:00:00Z".into(),
    };
    fake.store.insert(
        &collected.manifest_key,
        serde_json::to_vec(&manifest).expect("json"),
    );
    let formatted = pollster::block_on(format::format_run(
        fake,
        &FormatInput {
            run: run.clone(),
            collected: collected.clone(),
        },
    ))
    .expect("format");
    PublishInput {
        run,
        collected,
        formatted,
    }
}

fn publish_it(fake: &Fake, input: &PublishInput) -> Result<Published, ScanError> {
    let event = serde_json::to_value(input).expect("json");
    pollster::block_on(invoke(fake, event)).map(|v| serde_json::from_value(v).expect("Published"))
}

fn attrs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn formatted_of(input: &PublishInput) -> Formatted {
    input.formatted.clone()
}

#[test]
fn delivery_publishes_the_digest_then_every_part_in_order_with_its_attributes() {
    let fake = Fake::new();
    let input = formatted_run(&fake, 2_000, 600, 500, 0);
    let formatted = formatted_of(&input);
    let n = formatted.siem_parts;
    assert!(n >= 3, "{n} parts");
    let published = publish_it(&fake, &input).expect("published");
    assert_eq!(published.messages, n as u64 + 1);

    let sent = fake.topic.sent();
    assert_eq!(sent.len(), n + 1);
    let run = run();
    let run_attrs = [
        (ATTR_ACCOUNT, "111122223333"),
        (ATTR_REGION, "eu-west-1"),
        (ATTR_RUN, "0b9f-77aa-report"),
    ];
    let mut digest_attrs = run_attrs.to_vec();
    digest_attrs.push((ATTR_KIND, "digest"));
    assert_eq!(sent[0].attributes, attrs(&digest_attrs));
    let digest: scanflow_documents::digest::Digest =
        serde_json::from_slice(&fake.store.object(&formatted.digest_key).expect("digest"))
            .expect("digest");
    assert_eq!(sent[0].subject, digest.subject);
    // The body as stored, with the link to the HTML report (a day, the default) first under
    // WHERE TO LOOK.
    let slot = digest
        .report
        .as_ref()
        .expect("format keeps a slot for the report link");
    assert_eq!(slot.key, keys::report_html(&run));
    let link = format!(
        "https://hub-reports.s3.amazonaws.com/{}?X-Amz-Expires=86400",
        slot.key
    );
    let (before, after) = digest.body.split_at(slot.at);
    assert!(before.ends_with("\nWHERE TO LOOK\n"), "{before}");
    assert_eq!(
        sent[0].body,
        format!(
            "{before}The report with charts (HTML). Anyone with this link can open it, until\n\
             2026-12-02T06:00:00Z at the latest:\n  {link}\n\n{after}"
        )
    );

    for (i, message) in sent[1..].iter().enumerate() {
        let index = (i + 1).to_string();
        let count = n.to_string();
        let mut expected = run_attrs.to_vec();
        expected.extend([
            (ATTR_KIND, "siem"),
            (ATTR_PART, index.as_str()),
            (ATTR_PARTS, count.as_str()),
        ]);
        assert_eq!(message.attributes, attrs(&expected));
        let stored = fake
            .store
            .object(&keys::siem_part(&run, i + 1, n))
            .expect("part");
        assert_eq!(message.body.as_bytes(), stored.as_slice());
        assert!(message.size() <= SNS_MESSAGE_LIMIT);
        let doc: Value = serde_json::from_str(&message.body).expect("json");
        assert_eq!(doc["part"], json!({"index": i + 1, "count": n}));
    }
    assert_eq!(published.findings_marked, 2_000);
    assert!(published.security_hub_problems.is_empty());
    assert_eq!(
        fake.entered.lock().expect("lock").as_slice(),
        [(
            "111122223333".to_owned(),
            "eu-west-1".to_owned(),
            run.execution.clone()
        )]
    );
}

fn mark_batches(findings: usize) -> (Vec<usize>, Published, Fake) {
    let fake = Fake::new();
    // Chunks of 30: batches must run across chunk boundaries.
    let input = formatted_run(&fake, findings, 10, 30, 0);
    let published = publish_it(&fake, &input).expect("published");
    let sizes = fake.member_hub.marks().iter().map(Vec::len).collect();
    (sizes, published, fake)
}

#[test]
fn findings_are_marked_in_batches_of_at_most_one_hundred() {
    assert_eq!(mark_batches(250).0, [100, 100, 50]);
    assert_eq!(mark_batches(100).0, [100]);
    assert_eq!(mark_batches(101).0, [100, 1]);
    assert!(mark_batches(0).0.is_empty());

    let (_, published, fake) = mark_batches(250);
    assert_eq!(published.findings_marked, 250);
    let run = run();
    let calls = fake.member_hub.calls();
    let Call::Mark { refs, fields } = &calls[0] else {
        panic!("a mark call")
    };
    assert_eq!(fields["scanflow_execution"], run.execution);
    assert_eq!(fields["scanflow_run"], run.run_id);
    assert_eq!(
        refs[0],
        FindingRef {
            id: finding(0, 0).id,
            region: "eu-west-1".into()
        }
    );
    let mut all: Vec<String> = fake
        .member_hub
        .marks()
        .into_iter()
        .flatten()
        .map(|r| r.id)
        .collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 250, "every finding marked once");
    assert!(fake.hub.calls().is_empty(), "nothing in the hub account");
}

#[test]
fn instances_not_scanned_become_notices_in_batches() {
    let fake = Fake::new();
    let input = formatted_run(&fake, 5, 10, 30, 250);
    let published = publish_it(&fake, &input).expect("published");
    let imports = fake.member_hub.imports();
    assert_eq!(
        imports.iter().map(Vec::len).collect::<Vec<_>>(),
        [100, 100, 50]
    );
    assert_eq!(published.notices_imported, 250);
    let notice = &imports[0][0];
    let expected_id = Notice::id_for(
        "111122223333",
        "eu-west-1",
        NoticeKind::NotScanned,
        "i-00000000000015f90",
    );
    assert_eq!(notice.id, expected_id);
    assert_eq!(notice.kind, NoticeKind::NotScanned);
    assert_eq!(notice.severity, Severity::Medium);
    assert_eq!(notice.account_id, "111122223333");
    assert_eq!(
        notice.resource,
        NoticeResource::AwsEc2Instance {
            id: "i-00000000000015f90".into()
        }
    );
    assert_eq!(
        notice.remedy,
        "Install the SSM agent and attach an instance profile."
    );
    assert!(notice.description.contains("UNMANAGED_EC2_INSTANCE"));
    assert_eq!(notice.created_at, "2026-11-28T11:00:00Z");
}

#[test]
fn security_hub_failures_are_recorded_and_the_delivery_stands() {
    let fake = Fake::new();
    *fake.member_hub.error.lock().expect("lock") = Some(ScanError::Transient {
        service: "Security Hub".into(),
        detail: "throttled".into(),
    });
    let input = formatted_run(&fake, 1_000, 10, 300, 3);
    let n = formatted_of(&input).siem_parts;
    let published = publish_it(&fake, &input).expect("delivery succeeds");
    assert_eq!(published.messages, n as u64 + 1);
    assert_eq!(fake.topic.sent().len(), n + 1);
    assert_eq!(published.findings_marked, 0);
    assert_eq!(published.notices_imported, 0);
    // Three failed calls in a row, then Security Hub is given up on for marking.
    assert_eq!(fake.member_hub.marks().len(), 3);
    let problems = published.security_hub_problems.join("\n");
    assert!(
        problems.contains("mark NOTIFIED: 300 not done: Security Hub did not answer (throttled)"),
        "{problems}"
    );
    assert!(
        problems
            .contains("mark NOTIFIED: 700 not done: not attempted after 3 failed calls in a row"),
        "{problems}"
    );
    assert!(
        problems.contains("import not-scanned notices: 3 not done"),
        "{problems}"
    );
}

#[test]
fn only_new_findings_are_marked_and_their_own_fields_kept() {
    let fake = Fake::new();
    let input = formatted_run(&fake, 300, 10, 100, 0);
    {
        // People triaged the first 120 (SUPPRESSED, RESOLVED or NOTIFIED: no longer NEW), and
        // a ticketing tool put a field on finding 200.
        let mut new = fake.member_hub.new.lock().expect("lock");
        new.drain(..120);
        let f = new
            .iter_mut()
            .find(|f| f.id == finding(200, 0).id)
            .expect("still NEW");
        f.user_defined_fields
            .insert("ticket".into(), "SEC-7".into());
    }
    let published = publish_it(&fake, &input).expect("published");
    assert_eq!(published.findings_marked, 180);
    assert_eq!(published.findings_triaged, 120);
    let marked: Vec<(String, BTreeMap<String, String>)> = fake
        .member_hub
        .calls()
        .into_iter()
        .filter_map(|c| match c {
            Call::Mark { refs, fields } => {
                Some(refs.into_iter().map(move |r| (r.id, fields.clone())))
            }
            Call::Import(_) => None,
        })
        .flatten()
        .collect();
    assert_eq!(marked.len(), 180);
    for i in 0..120 {
        assert!(
            marked.iter().all(|(id, _)| *id != finding(i, 0).id),
            "{i} was triaged"
        );
    }
    let (_, fields) = marked
        .iter()
        .find(|(id, _)| *id == finding(200, 0).id)
        .expect("marked");
    assert_eq!(fields["ticket"], "SEC-7", "the tool's field is kept");
    assert_eq!(fields["scanflow_execution"], run().execution);
    assert!(
        marked
            .iter()
            .filter(|(id, _)| *id != finding(200, 0).id)
            .all(|(_, f)| !f.contains_key("ticket"))
    );
}

#[test]
fn nothing_is_marked_when_security_hub_cannot_say_what_is_new() {
    let fake = Fake::new();
    *fake.member_hub.new_error.lock().expect("lock") = Some(ScanError::Transient {
        service: "Security Hub".into(),
        detail: "throttled".into(),
    });
    let input = formatted_run(&fake, 50, 10, 100, 0);
    let published = publish_it(&fake, &input).expect("the delivery stands");
    assert_eq!(published.findings_marked, 0);
    assert!(fake.member_hub.marks().is_empty());
    let problems = published.security_hub_problems.join("\n");
    assert!(
        problems.contains("cannot read which findings are still NEW"),
        "{problems}"
    );
}

#[test]
fn unprocessed_findings_are_counted_not_marked() {
    let fake = Fake::new();
    let input = formatted_run(&fake, 150, 10, 30, 0);
    *fake.member_hub.unprocessed.lock().expect("lock") = vec![finding(3, 0).id, finding(120, 0).id];
    let published = publish_it(&fake, &input).expect("published");
    assert_eq!(published.findings_marked, 148);
    assert_eq!(
        published.security_hub_problems,
        [format!(
            "mark NOTIFIED: 2 not done: FindingNotFound (e.g. {})",
            finding(3, 0).id
        )]
    );
}

#[test]
fn a_member_that_cannot_be_entered_only_costs_the_security_hub_updates() {
    let mut fake = Fake::new();
    fake.member_error = Some(ScanError::RoleNotAssumable {
        account_id: "111122223333".into(),
        role_arn: "arn:aws:iam::111122223333:role/scanflow".into(),
        detail: "AccessDenied".into(),
    });
    let input = formatted_run(&fake, 10, 10, 30, 2);
    let published = publish_it(&fake, &input).expect("delivered");
    assert_eq!(published.messages, 2);
    assert_eq!(published.findings_marked, 0);
    assert_eq!(published.security_hub_problems.len(), 1);
    assert!(
        published.security_hub_problems[0]
            .contains("12 not done: cannot enter account 111122223333")
    );
}

#[test]
fn a_transient_notifier_error_propagates_for_the_state_machine_to_retry() {
    let fake = Fake::new();
    let input = formatted_run(&fake, 2_000, 600, 500, 0);
    *fake.topic.fail_at.lock().expect("lock") = Some((
        2,
        ScanError::Transient {
            service: "SNS".into(),
            detail: "Rate exceeded".into(),
        },
    ));
    let err = publish_it(&fake, &input).expect_err("propagates");
    assert_eq!(err.error_type(), "Transient");
    assert!(err.is_retryable());
    assert_eq!(fake.topic.sent().len(), 2);
    assert!(
        fake.member_hub.calls().is_empty(),
        "Security Hub waits for the delivery"
    );
}

const EXECUTION: &str = "sched-111122223333-eu-west-1-20261128";

/// The status change event EventBridge hands the notifier for a FAILED execution; `run`, when
/// given, is recorded as start-run records it.
fn failure_event(fake: &Fake, error: &str, cause: &str, input: Value, run: Option<Run>) -> Value {
    if let Some(run) = run {
        fake.store.insert(
            &keys::execution_run(EXECUTION),
            serde_json::to_vec(&run).expect("json"),
        );
    }
    json!({
        "version": "0",
        "source": "aws.states",
        "detail-type": "Step Functions Execution Status Change",
        "detail": {
            "executionArn": format!("arn:aws:states:eu-west-1:999999999999:execution:scanflow:{EXECUTION}"),
            "stateMachineArn": "arn:aws:states:eu-west-1:999999999999:stateMachine:scanflow",
            "name": EXECUTION,
            "status": "FAILED",
            "startDate": 1_764_324_000_000_i64,
            "stopDate": 1_764_324_060_000_i64,
            "input": input.to_string(),
            "error": error,
            "cause": cause,
            "redriveCount": 0
        }
    })
}

fn notify_it(fake: &Fake, event: Value) -> Result<notify::Notified, ScanError> {
    pollster::block_on(notify::invoke(fake, event))
        .map(|v| serde_json::from_value(v).expect("Notified"))
}

fn validator() -> jsonschema::Validator {
    let schema: Value =
        serde_json::from_str(scanflow_documents::siem::SCHEMA_JSON).expect("schema");
    jsonschema::draft202012::new(&schema).expect("schema compiles")
}

fn assert_valid(doc: &Value) {
    let validator = validator();
    let errors: Vec<String> = validator.iter_errors(doc).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:#?}\n{doc:#}");
}

#[test]
fn every_error_type_gets_a_notice_with_place_and_remedy() {
    let input = json!({"accountId": "111122223333", "region": "eu-west-1"});
    let cases = [
        ("RoleNotAssumable", "member stack (its StackSet instance)"),
        ("AccessDenied", "grants the action named above"),
        ("InspectorDisabled", "Enable Amazon Inspector EC2 scanning"),
        ("NoInstancesMatched", "Tagkey/Tagvalue"),
        ("ScanFailed", "Check the instances' agents"),
        ("ScanTimedOut", "\"reportId\": \"0b9f-77aa-report\""),
        ("InvalidInput", "\"durationSeconds\" (180 to 86400)"),
        ("Transient", "kept failing after every retry"),
        (
            "States.Timeout",
            "in the Step Functions console of the hub account: its event history",
        ),
        (
            "Lambda.Unknown",
            "in the Step Functions console of the hub account: its event history",
        ),
        ("NotFound", "fix the cause"),
    ];
    for (error, remedy) in cases {
        let fake = Fake::new();
        let cause = ScanError::internal(format!("the {error} detail")).to_cause();
        let run = (error == "ScanTimedOut").then(run);
        let event = failure_event(&fake, error, &cause, input.clone(), run);
        let published = notify_it(&fake, event).expect(error);
        assert_eq!(published.messages, 2);
        assert_eq!(published.action, "failure");
        let sent = fake.topic.sent();
        let (human, siem) = (&sent[0], &sent[1]);
        assert_eq!(
            human.subject,
            format!("scanflow: scan FAILED — 111122223333 eu-west-1 ({error})")
        );
        assert_eq!(human.attributes[ATTR_KIND], "failure");
        assert_eq!(human.attributes[ATTR_ACCOUNT], "111122223333");
        for needle in [
            "Account:    111122223333",
            "Region:     eu-west-1",
            &format!("Error:      {error}"),
            "Execution:  sched-111122223333-eu-west-1-20261128",
            &format!("internal error: the {error} detail"),
            "WHAT TO DO",
            remedy,
        ] {
            // Paragraphs are wrapped at 78 columns: compare with line breaks as spaces.
            let flat = |t: &str| t.split_whitespace().collect::<Vec<_>>().join(" ");
            assert!(
                flat(&human.body).contains(&flat(needle)),
                "{error}: no {needle:?} in\n{}",
                human.body
            );
        }
        assert_eq!(siem.attributes[ATTR_KIND], "siem");
        let doc: Value = serde_json::from_str(&siem.body).expect("json");
        assert_eq!(doc["kind"], "failure");
        assert_eq!(doc["failure"]["error"], error);
        assert_eq!(doc["failure"]["accountId"], "111122223333");
        assert!(
            doc["failure"]["remedy"]
                .as_str()
                .is_some_and(|r| r.contains(remedy))
        );
        assert_valid(&doc);

        let (imports, elsewhere) = if error == "RoleNotAssumable" {
            (fake.hub.imports(), fake.member_hub.calls())
        } else {
            (fake.member_hub.imports(), fake.hub.calls())
        };
        assert!(elsewhere.is_empty(), "{error}");
        assert_eq!(imports.len(), 1, "{error}");
        let notice = &imports[0][0];
        assert_eq!(
            notice.id,
            Notice::id_for("111122223333", "eu-west-1", NoticeKind::ScanFailed, error)
        );
        assert_eq!(notice.severity, Severity::High);
        assert_eq!(published.notices_imported, 1);
    }
}

#[test]
fn a_role_failure_is_recorded_in_the_hub_account_naming_the_member() {
    let fake = Fake::new();
    let err = ScanError::RoleNotAssumable {
        account_id: "111122223333".into(),
        role_arn: "arn:aws:iam::111122223333:role/scanflow-scan".into(),
        detail: "AccessDenied".into(),
    };
    let event = failure_event(
        &fake,
        "RoleNotAssumable",
        &err.to_cause(),
        json!({"accountId": "111122223333", "region": "eu-west-1"}),
        None,
    );
    let published = notify_it(&fake, event).expect("published");
    assert!(
        fake.entered.lock().expect("lock").is_empty(),
        "no attempt to enter the member"
    );
    let notice = &fake.hub.imports()[0][0];
    assert_eq!(notice.account_id, "999999999999");
    assert_eq!(
        notice.resource,
        NoticeResource::AwsAccount {
            id: "111122223333".into()
        }
    );
    assert!(notice.description.contains("cannot assume role"));
    assert_eq!(published.notices_imported, 1);
    let human = &fake.topic.sent()[0];
    assert!(
        human
            .body
            .contains("cannot assume role arn:aws:iam::111122223333:role/scanflow-scan")
    );
}

#[test]
fn when_the_member_cannot_be_entered_the_notice_goes_to_the_hub() {
    let mut fake = Fake::new();
    fake.member_error = Some(ScanError::Transient {
        service: "STS".into(),
        detail: "timeout".into(),
    });
    let event = failure_event(
        &fake,
        "ScanFailed",
        "plain text cause",
        json!({"accountId": "111122223333", "region": "eu-west-1"}),
        Some(run()),
    );
    let published = notify_it(&fake, event).expect("published");
    assert_eq!(fake.entered.lock().expect("lock").len(), 1);
    assert_eq!(fake.hub.imports()[0][0].account_id, "999999999999");
    assert_eq!(published.notices_imported, 1);
    let doc: Value = serde_json::from_str(&fake.topic.sent()[1].body).expect("json");
    assert_eq!(doc["run"]["runId"], "0b9f-77aa-report");
    assert!(doc["run"].get("collectedAt").is_none());
    assert_valid(&doc);
}

#[test]
fn an_invalid_input_still_gets_a_notice_that_says_so() {
    let fake = Fake::new();
    let err = ScanError::invalid("accountId", "a 12-digit AWS account id", "is missing");
    // start-run failed before it recorded a run: the event's input is all there is.
    let event = failure_event(
        &fake,
        "InvalidInput",
        &err.to_cause(),
        json!({"region": "eu-west-1", "tagKey": "Patch"}),
        None,
    );
    let out = notify_it(&fake, event).expect("published");
    assert_eq!(out.notices_imported, 1);
    let sent = fake.topic.sent();
    let human = &sent[0];
    assert_eq!(
        human.subject,
        "scanflow: scan FAILED — unknown account eu-west-1 (InvalidInput)"
    );
    assert!(
        human
            .body
            .contains("Account:    unknown: the execution input has no accountId")
    );
    assert!(human.body.contains("invalid input: `accountId` is missing"));
    assert!(
        human.body.contains("\"tagKey\": \"Patch\""),
        "the input is quoted"
    );
    assert!(!human.attributes.contains_key(ATTR_ACCOUNT));
    assert_eq!(human.attributes[ATTR_REGION], "eu-west-1");
    let doc: Value = serde_json::from_str(&sent[1].body).expect("json");
    assert_eq!(doc["failure"]["accountId"], Value::Null);
    assert_eq!(doc["run"], Value::Null);
    assert_valid(&doc);
    let notice = &fake.hub.imports()[0][0];
    assert_eq!(notice.account_id, "999999999999");
    assert_eq!(
        notice.id,
        Notice::id_for(
            "unknown",
            "eu-west-1",
            NoticeKind::ScanFailed,
            "InvalidInput"
        )
    );

    // An account id of the wrong shape is quoted back.
    let fake = Fake::new();
    let event = failure_event(
        &fake,
        "InvalidInput",
        "bad",
        json!({"accountId": 12345}),
        None,
    );
    notify_it(&fake, event).expect("published");
    let body = &fake.topic.sent()[0].body;
    assert!(
        body.contains(
            "unknown: the execution input's accountId 12345 is not a 12-digit account id"
        ),
        "{body}"
    );
    assert!(body.contains("Region:     unknown: the execution input has no region"));
}

#[test]
fn a_huge_cause_still_fits_one_message() {
    let fake = Fake::new();
    let event = failure_event(
        &fake,
        "States.TaskFailed",
        &"x".repeat(300_000),
        json!({"accountId": "111122223333", "region": "eu-west-1", "junk": "y".repeat(300_000)}),
        None,
    );
    notify_it(&fake, event).expect("published");
    for m in fake.topic.sent() {
        assert!(m.size() < SNS_MESSAGE_LIMIT / 10, "{}", m.size());
    }
}

#[test]
fn the_handler_futures_are_send() {
    fn assert_send<T: Send>(_: &T) {}
    let fake = Fake::new();
    let future = invoke(&fake, json!({}));
    assert_send(&future);
    let future = notify::invoke(&fake, json!({}));
    assert_send(&future);
}

#[test]
fn a_repeated_event_publishes_nothing_twice_and_a_failed_publish_is_resumed() {
    let fake = Fake::new();
    let input = json!({"accountId": "111122223333", "region": "eu-west-1"});
    // The SIEM part fails the first time: the e-mail went out, the invocation fails.
    *fake.topic.fail_at.lock().expect("lock") = Some((
        1,
        ScanError::Transient {
            service: "SNS".into(),
            detail: "Rate exceeded".into(),
        },
    ));
    let event = failure_event(&fake, "ScanFailed", "boom", input.clone(), None);
    let err = notify_it(&fake, event.clone()).expect_err("the SIEM part failed");
    assert_eq!(err.error_type(), "Transient");
    assert_eq!(fake.topic.sent().len(), 1);
    *fake.topic.fail_at.lock().expect("lock") = None;
    // Lambda's retry sends only what is missing.
    let retried = notify_it(&fake, event.clone()).expect("retried");
    assert_eq!((retried.messages, retried.already_sent), (1, 1));
    let sent = fake.topic.sent();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1].attributes[ATTR_KIND], "siem");
    // A third delivery of the same event sends nothing.
    let again = notify_it(&fake, event).expect("again");
    assert_eq!((again.messages, again.already_sent), (0, 2));
    assert_eq!(fake.topic.sent().len(), 2);
}

#[test]
fn success_after_a_redrive_is_told_once_and_archives_the_notice() {
    let fake = Fake::new();
    let input = json!({"accountId": "111122223333", "region": "eu-west-1"});
    notify_it(
        &fake,
        failure_event(&fake, "ScanFailed", "boom", input.clone(), Some(run())),
    )
    .expect("failure notice");
    let mut event = failure_event(&fake, "ScanFailed", "boom", input, None);
    event["detail"]["status"] = json!("SUCCEEDED");
    event["detail"]["error"] = Value::Null;
    event["detail"]["cause"] = Value::Null;
    event["detail"]["redriveCount"] = json!(1);
    let resolved = notify_it(&fake, event.clone()).expect("resolved");
    assert_eq!(resolved.action, "resolved");
    assert_eq!(resolved.messages, 1);
    let sent = fake.topic.sent();
    let last = sent.last().expect("a message");
    assert_eq!(last.attributes[ATTR_KIND], "resolved");
    assert!(last.subject.contains("RESOLVED"), "{}", last.subject);
    assert!(last.body.contains("ScanFailed"), "{}", last.body);
    let imports = fake.member_hub.imports();
    let archived = &imports.last().expect("re-imported")[0];
    assert!(archived.resolved_at.is_some());
    assert_eq!(
        archived.id,
        Notice::id_for(
            "111122223333",
            "eu-west-1",
            NoticeKind::ScanFailed,
            "ScanFailed"
        )
    );
    // Again: nothing more is sent.
    let again = notify_it(&fake, event.clone()).expect("again");
    assert_eq!((again.messages, again.already_sent), (0, 1));
    // A success without a redrive, and other sources, are not the notifier's business.
    event["detail"]["redriveCount"] = json!(0);
    assert_eq!(
        notify_it(&fake, event.clone()).expect("none").action,
        "none"
    );
    event["source"] = json!("aws.events");
    assert_eq!(
        notify_it(&fake, event).expect_err("refused").error_type(),
        "InvalidInput"
    );
}

#[test]
fn a_delivery_records_what_was_scanned_for_the_fleet_watch() {
    let fake = Fake::new();
    let input = formatted_run(&fake, 3, 100, 500, 0);
    let run = run();
    let key = keys::last_delivery(&run.account_id, &run.region);
    assert!(fake.store.object(&key).is_none());
    publish_it(&fake, &input).expect("published");
    let record: scanflow_core::fleet::LastDelivery =
        serde_json::from_slice(&fake.store.object(&key).expect("recorded")).expect("parses");
    assert_eq!(record.account_id, run.account_id);
    assert_eq!(record.execution, run.execution);
    assert_eq!(record.started_at, run.started_at);
    // The manifest's collection time.
    assert_eq!(record.delivered_at, "2026-11-28T11:00:00Z");
    assert_eq!(record.scope.engine, run.engine);
    assert_eq!(record.scope.tag, run.tag);
    assert_eq!(record.scope.duration_seconds, run.duration_seconds);

    // A failure notice is not a delivery: nothing is recorded for it.
    let failed = Fake::new();
    let event = failure_event(
        &failed,
        "RoleNotAssumable",
        "denied",
        json!({}),
        Some(run.clone()),
    );
    notify_it(&failed, event).expect("notice published");
    assert!(failed.store.object(&key).is_none());
}

#[test]
fn instances_covered_again_get_their_notices_archived() {
    let fake = Fake::new();
    let first = formatted_run(&fake, 10, 10, 100, 3);
    assert_eq!(
        publish_it(&fake, &first).expect("first").notices_resolved,
        0
    );
    // The next scan covers two of the three instances.
    let second = formatted_run(&fake, 10, 10, 100, 1);
    let published = publish_it(&fake, &second).expect("second");
    assert_eq!(published.notices_resolved, 2);
    let imports = fake.member_hub.imports();
    let archived: Vec<&Notice> = imports
        .iter()
        .flatten()
        .filter(|n| n.resolved_at.is_some())
        .collect();
    assert_eq!(archived.len(), 2);
    let still = &uncovered(1)[0].instance_id;
    assert!(archived.iter().all(|n| !n.id.ends_with(still.as_str())));
    // A third scan with the same coverage archives nothing more.
    let third = formatted_run(&fake, 10, 10, 100, 1);
    assert_eq!(
        publish_it(&fake, &third).expect("third").notices_resolved,
        0
    );
}
