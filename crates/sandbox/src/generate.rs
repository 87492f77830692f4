//! Realistic vulnerabilities and instance details, generated reproducibly from a seed: CVE ids,
//! OS packages with vulnerable and fixed versions, descriptions of normal length, CVSS vectors
//! and scores that agree with the severity.

use std::borrow::Cow;
use std::collections::HashSet;

use scanflow_core::model::Severity;

use crate::ids::Rng;
use crate::scenario::{AccountSpec, FindingSpec, GeneratorSpec, InstanceSpec, MAX_SCANS};

/// One vulnerability of one package on one instance, before either engine shapes it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Vuln {
    /// Index into the account's instances.
    pub instance: usize,
    pub cve: String,
    pub severity: Severity,
    pub package: String,
    pub version: String,
    pub fixed_in: Option<String>,
    /// Some packages of a multi-package advisory have a fix, others not.
    pub partial_fix: bool,
    pub score: Option<f64>,
    pub cvss_vector: Option<&'static str>,
    pub title: Option<String>,
    pub description: Description,
    pub epss: f64,
    pub exploit_available: bool,
    pub first_seen_days_ago: u32,
    /// The first scan (1-based) that finds it.
    pub from_scan: u32,
    /// The first scan that no longer finds it (fixed before it); `None`: never fixed.
    pub until_scan: Option<u32>,
    /// A network reachability finding's open ports and path (listed findings only).
    pub network: Option<Box<crate::scenario::NetworkSpec>>,
}

/// How a vulnerability is described: the scenario's text, or a generated weakness whose text
/// is written out only when a finding is shaped, so a million generated findings (a few
/// hundred bytes of prose each) hold no prose in memory.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Description {
    Text(String),
    Weakness(&'static Weakness),
}

impl Vuln {
    /// The description text Inspector shows.
    pub fn description(&self) -> String {
        match &self.description {
            Description::Text(text) => text.clone(),
            Description::Weakness(w) => describe(
                w,
                &self.package,
                self.fixed_in.as_deref().unwrap_or(UNFIXED),
            ),
        }
    }

    /// Whether scan `scan` (1-based) finds it.
    pub fn present_at(&self, scan: u32) -> bool {
        scan >= self.from_scan && self.until_scan.is_none_or(|u| scan < u)
    }
}

/// Facts about an instance that the scenario does not spell out, derived from its id.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct InstanceFacts {
    pub platform: Platform,
    pub ami_id: String,
    pub instance_type: &'static str,
    pub private_ip: String,
    pub hostname: String,
    pub vpc_id: String,
    pub subnet_id: String,
    pub launched_days_ago: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Platform {
    AmazonLinux2023,
    Ubuntu2204,
}

impl Platform {
    pub fn name(self) -> &'static str {
        match self {
            Self::AmazonLinux2023 => "AMAZON_LINUX_2023",
            Self::Ubuntu2204 => "UBUNTU_22_04",
        }
    }

    /// A distribution-style version string for upstream version `v`.
    fn package_version(self, v: &str, build: u64) -> String {
        match self {
            Self::AmazonLinux2023 => format!("{v}-{}.amzn2023.0.{}", 1 + build % 3, build % 7),
            Self::Ubuntu2204 => format!("{v}-{}ubuntu0.22.04.{}", 1 + build % 4, build % 5),
        }
    }

    /// How an operator installs `fixed` of `package` on this platform.
    pub fn update_command(self, package: &str, fixed: &str) -> String {
        match self {
            Self::AmazonLinux2023 => format!("dnf update {package} (to {fixed})"),
            Self::Ubuntu2204 => format!("apt-get install --only-upgrade {package} (to {fixed})"),
        }
    }

    pub fn arch(self) -> &'static str {
        match self {
            Self::AmazonLinux2023 => "x86_64",
            Self::Ubuntu2204 => "amd64",
        }
    }
}

pub(crate) fn instance_facts(account_id: &str, region: &str, inst: &InstanceSpec) -> InstanceFacts {
    let mut rng = Rng::new(&["instance", account_id, region, &inst.id]);
    let platform = if rng.chance(70) {
        Platform::AmazonLinux2023
    } else {
        Platform::Ubuntu2204
    };
    let (a, b, c) = (rng.below(16), rng.between(1, 254), rng.between(4, 250));
    let private_ip = format!("10.{a}.{b}.{c}");
    let hostname = format!(
        "ip-10-{a}-{b}-{c}.{}",
        if region == "us-east-1" {
            "ec2.internal".to_owned()
        } else {
            format!("{region}.compute.internal")
        }
    );
    let instance_type = *rng.pick(&INSTANCE_TYPES);
    InstanceFacts {
        platform,
        ami_id: format!("ami-{:017x}", rng.next_u64() & 0x0fff_ffff_ffff_ffff),
        instance_type,
        private_ip,
        hostname,
        vpc_id: format!("vpc-{:017x}", rng.next_u64() & 0x0fff_ffff_ffff_ffff),
        subnet_id: format!("subnet-{:017x}", rng.next_u64() & 0x0fff_ffff_ffff_ffff),
        launched_days_ago: rng.between(3, 400) as u32,
    }
}

const INSTANCE_TYPES: [&str; 6] = [
    "t3.medium",
    "t3.large",
    "m6i.large",
    "m6i.xlarge",
    "c6i.2xlarge",
    "r6i.large",
];

/// An OS package and the upstream version installed.
struct Package {
    name: &'static str,
    version: &'static str,
}

const PACKAGES: &[Package] = &[
    Package {
        name: "openssl-libs",
        version: "3.0.8",
    },
    Package {
        name: "openssh-server",
        version: "8.7p1",
    },
    Package {
        name: "curl",
        version: "8.3.0",
    },
    Package {
        name: "libcurl",
        version: "8.3.0",
    },
    Package {
        name: "glibc",
        version: "2.34",
    },
    Package {
        name: "kernel",
        version: "6.1.55",
    },
    Package {
        name: "sudo",
        version: "1.9.15p2",
    },
    Package {
        name: "bind-libs",
        version: "9.16.23",
    },
    Package {
        name: "python3",
        version: "3.9.16",
    },
    Package {
        name: "vim-minimal",
        version: "9.0.2081",
    },
    Package {
        name: "expat",
        version: "2.5.0",
    },
    Package {
        name: "libxml2",
        version: "2.10.4",
    },
    Package {
        name: "zlib",
        version: "1.2.13",
    },
    Package {
        name: "systemd",
        version: "252.16",
    },
    Package {
        name: "nss",
        version: "3.90.0",
    },
    Package {
        name: "krb5-libs",
        version: "1.21",
    },
    Package {
        name: "git",
        version: "2.40.1",
    },
    Package {
        name: "tar",
        version: "1.34",
    },
    Package {
        name: "sqlite-libs",
        version: "3.40.0",
    },
    Package {
        name: "openldap",
        version: "2.4.57",
    },
    Package {
        name: "less",
        version: "608",
    },
    Package {
        name: "ncurses-libs",
        version: "6.2",
    },
    Package {
        name: "gnutls",
        version: "3.8.0",
    },
    Package {
        name: "perl-interpreter",
        version: "5.32.1",
    },
    Package {
        name: "polkit",
        version: "0.117",
    },
    Package {
        name: "xz-libs",
        version: "5.2.5",
    },
    Package {
        name: "bash",
        version: "5.2.15",
    },
    Package {
        name: "libssh2",
        version: "1.10.0",
    },
    Package {
        name: "libtiff",
        version: "4.4.0",
    },
    Package {
        name: "libpng",
        version: "1.6.37",
    },
    Package {
        name: "pcre2",
        version: "10.40",
    },
    Package {
        name: "gnupg2",
        version: "2.3.7",
    },
    Package {
        name: "libarchive",
        version: "3.6.2",
    },
    Package {
        name: "dbus-libs",
        version: "1.12.28",
    },
    Package {
        name: "libnghttp2",
        version: "1.55.1",
    },
    Package {
        name: "c-ares",
        version: "1.19.1",
    },
    Package {
        name: "libgcrypt",
        version: "1.10.2",
    },
    Package {
        name: "cups-libs",
        version: "2.4.2",
    },
    Package {
        name: "nodejs",
        version: "18.18.2",
    },
    Package {
        name: "python3-urllib3",
        version: "1.25.10",
    },
];

/// Kinds of weakness, each with the sentences a vendor advisory would use.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Weakness {
    opening: &'static str,
    impact: &'static str,
    condition: &'static str,
}

const WEAKNESSES: &[Weakness] = &[
    Weakness {
        opening: "A heap-based buffer overflow was found in {pkg} before {fixed}.",
        impact: "A remote attacker could supply specially crafted input that makes the affected parsing routine write past the end of an allocated buffer, which may crash the process or allow arbitrary code execution with its privileges.",
        condition: "Exploitation requires the vulnerable code path to process attacker-controlled data, for example over the network.",
    },
    Weakness {
        opening: "A use-after-free flaw was discovered in {pkg} before {fixed}.",
        impact: "When an error path releases an object that is still referenced, a later access uses freed memory; an attacker who controls the timing of the operation may corrupt memory and execute code.",
        condition: "The flaw is reachable by a local user or by a remote peer depending on how the component is deployed.",
    },
    Weakness {
        opening: "An out-of-bounds read vulnerability exists in {pkg} before {fixed}.",
        impact: "Processing a malformed record causes the library to read beyond the bounds of a buffer, which can disclose portions of process memory or terminate the application.",
        condition: "Applications that parse untrusted files or network messages with this library are affected.",
    },
    Weakness {
        opening: "An integer overflow in {pkg} before {fixed} leads to an undersized allocation.",
        impact: "A length calculation wraps around when given very large values, so a subsequent copy overflows the heap and may allow a denial of service or code execution.",
        condition: "An attacker needs to provide a crafted input of several megabytes to trigger the overflow.",
    },
    Weakness {
        opening: "A NULL pointer dereference was found in {pkg} before {fixed}.",
        impact: "A missing check on an optional field allows an unauthenticated attacker to crash any service that uses the affected function, causing a denial of service.",
        condition: "No authentication or user interaction is required.",
    },
    Weakness {
        opening: "{pkg} before {fixed} does not properly validate certificates in some configurations.",
        impact: "A man-in-the-middle attacker could present a certificate that should be rejected and intercept or modify traffic that the application believes to be protected.",
        condition: "Only connections that rely on the affected verification mode are exposed.",
    },
    Weakness {
        opening: "An argument injection vulnerability was found in {pkg} before {fixed}.",
        impact: "Insufficient quoting of user-supplied values allows an attacker to pass additional options to a helper program and execute commands as the invoking user.",
        condition: "The attacker must be able to influence the values passed to the affected command.",
    },
    Weakness {
        opening: "A race condition in {pkg} before {fixed} allows local privilege escalation.",
        impact: "A time-of-check to time-of-use window when handling temporary files lets a local unprivileged user replace a file with a symbolic link and gain elevated privileges.",
        condition: "The attacker needs a local account on the instance.",
    },
    Weakness {
        opening: "Uncontrolled resource consumption was found in {pkg} before {fixed}.",
        impact: "A crafted request causes excessive memory allocation or CPU use in the parser, allowing a remote attacker to exhaust the resources of the instance and deny service to legitimate users.",
        condition: "Services that accept untrusted input with this component are affected.",
    },
    Weakness {
        opening: "A path traversal vulnerability was found in {pkg} before {fixed}.",
        impact: "Archive entries or file names containing '../' sequences are not sanitized, so extracting or serving attacker-supplied content can overwrite or read files outside the intended directory.",
        condition: "User interaction, such as opening a crafted archive, may be required.",
    },
    Weakness {
        opening: "{pkg} before {fixed} is vulnerable to HTTP request smuggling.",
        impact: "Inconsistent handling of conflicting length headers lets an attacker smuggle a second request past a front-end proxy and poison responses delivered to other users.",
        condition: "Deployments behind a reverse proxy that interprets the headers differently are affected.",
    },
    Weakness {
        opening: "A timing side channel was found in the cryptographic routines of {pkg} before {fixed}.",
        impact: "Measurable differences in processing time for valid and invalid padding may allow a remote attacker who observes many handshakes to recover plaintext or key material.",
        condition: "The attacker must be able to send a large number of requests and measure response times precisely.",
    },
];

/// (CVSS v3.1 vector, base score) pairs per severity band.
fn cvss_choices(severity: Severity) -> &'static [(&'static str, f64)] {
    match severity {
        Severity::Critical => &[
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10.0),
            ("CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:H/I:H/A:H", 9.9),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:L", 9.4),
        ],
        Severity::High => &[
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", 7.5),
            ("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 7.8),
            ("CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H", 8.1),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H", 8.8),
        ],
        Severity::Medium => &[
            ("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:N/I:N/A:H", 5.5),
            ("CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N", 5.9),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1),
            ("CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:L/I:L/A:N", 5.4),
            ("CVSS:3.1/AV:L/AC:H/PR:L/UI:N/S:U/C:H/I:H/A:H", 6.4),
        ],
        Severity::Low => &[
            ("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:L/I:N/A:N", 3.3),
            ("CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N", 3.1),
            ("CVSS:3.1/AV:L/AC:H/PR:L/UI:N/S:U/C:N/I:N/A:L", 2.5),
        ],
        Severity::Informational => &[("CVSS:3.1/AV:L/AC:H/PR:H/UI:R/S:U/C:N/I:N/A:N", 0.0)],
        Severity::Untriaged => &[],
    }
}

/// The share of each severity among generated findings, in percent.
const SEVERITY_WEIGHTS: [(Severity, u64); 6] = [
    (Severity::Critical, 6),
    (Severity::High, 22),
    (Severity::Medium, 38),
    (Severity::Low, 20),
    (Severity::Informational, 8),
    (Severity::Untriaged, 6),
];

fn pick_severity(rng: &mut Rng) -> Severity {
    let mut roll = rng.below(100);
    for (s, w) in SEVERITY_WEIGHTS {
        if roll < w {
            return s;
        }
        roll -= w;
    }
    Severity::Medium
}

/// A later upstream version: the last numeric component raised, or a patch suffix added.
fn bump(version: &str, by: u64) -> String {
    let split = version
        .rfind(|c: char| !c.is_ascii_digit())
        .map_or(0, |i| i + 1);
    let (head, tail) = version.split_at(split);
    match tail.parse::<u64>() {
        Ok(n) => format!("{head}{}", n + by),
        Err(_) => format!("{version}.{by}"),
    }
}

/// The vulnerabilities of one account: the scenario's list as given, then the generated ones,
/// each kept as the few numbers that draw it again (20 bytes instead of a few hundred: a
/// million generated findings hold 20 MB, not 700). A generated finding is written out each
/// time it is asked for, from the same seed, so it is the same every time.
#[derive(Default)]
pub(crate) struct Vulns {
    listed: Vec<Vuln>,
    generated: Vec<Drawn>,
    maker: Option<Maker>,
}

/// What draws an account's generated findings: its id, the generator's seed, its instances.
struct Maker {
    account_id: String,
    seed: String,
    platforms: Vec<Platform>,
}

/// One generated finding: its number, the instance drawn for it, how many CVE draws it took
/// to find one the instance and package did not have yet, its identity (CVE and package, so
/// Security Hub's copy needs nothing else drawn), and the scans it is present in.
#[derive(Debug, Clone, Copy)]
struct Drawn {
    n: u32,
    instance: u32,
    cve_draws: u32,
    from_scan: u32,
    until_scan: Option<std::num::NonZeroU32>,
    cve_year: u16,
    cve_number: u16,
    package: u8,
}

impl Vulns {
    pub fn len(&self) -> usize {
        self.listed.len() + self.generated.len()
    }

    /// Vulnerability `i` written out (the listed ones first).
    pub fn get(&self, i: usize) -> Option<Vuln> {
        if let Some(v) = self.listed.get(i) {
            return Some(v.clone());
        }
        let d = self.generated.get(i - self.listed.len())?;
        let maker = self.maker.as_ref()?;
        let mut draws = 0;
        let (mut v, _) = draw(maker, d.n, d.from_scan, |_| {
            draws += 1;
            draws >= d.cve_draws
        });
        v.until_scan = d.until_scan.map(std::num::NonZeroU32::get);
        Some(v)
    }

    /// The instance of vulnerability `i` (an index into the account's instances), without
    /// writing it out.
    pub fn instance(&self, i: usize) -> Option<usize> {
        match self.listed.get(i) {
            Some(v) => Some(v.instance),
            None => self
                .generated
                .get(i - self.listed.len())
                .map(|d| d.instance as usize),
        }
    }

    /// The identity of vulnerability `i`: its instance, CVE and package, without writing out
    /// the rest.
    pub fn identity(&self, i: usize) -> Option<(usize, Cow<'_, str>, &str)> {
        if let Some(v) = self.listed.get(i) {
            return Some((v.instance, Cow::Borrowed(&v.cve), &v.package));
        }
        let d = self.generated.get(i - self.listed.len())?;
        Some((
            d.instance as usize,
            Cow::Owned(format!("CVE-{}-{}", d.cve_year, d.cve_number)),
            PACKAGES.get(usize::from(d.package))?.name,
        ))
    }

    /// Whether scan `scan` finds vulnerability `i`, without writing it out.
    pub fn present_at(&self, i: usize, scan: u32) -> bool {
        match self.listed.get(i) {
            Some(v) => v.present_at(scan),
            None => self.generated.get(i - self.listed.len()).is_some_and(|d| {
                scan >= d.from_scan && d.until_scan.is_none_or(|u| scan < u.get())
            }),
        }
    }

    /// Every vulnerability, written out one at a time.
    #[cfg(test)]
    pub fn iter(&self) -> impl Iterator<Item = Vuln> + '_ {
        (0..self.len()).filter_map(|i| self.get(i))
    }
}

/// Every vulnerability of `account`: its explicit list, then `generate.count` generated ones.
pub(crate) fn account_vulns(account: &AccountSpec) -> Vulns {
    let platforms: Vec<Platform> = account
        .instances
        .iter()
        .map(|i| instance_facts(&account.account_id, &account.region, i).platform)
        .collect();
    let listed: Vec<Vuln> = account
        .findings
        .list
        .iter()
        .filter_map(|f| {
            let idx = account
                .instances
                .iter()
                .position(|i| i.id == f.instance_id)?;
            Some(listed(account, idx, f))
        })
        .collect();
    let mut vulns = Vulns {
        listed,
        generated: Vec::new(),
        maker: None,
    };
    if let Some(g) = &account.findings.generate {
        let maker = Maker {
            account_id: account.account_id.clone(),
            seed: g.seed.to_string(),
            platforms,
        };
        let mut taken: Taken = vulns
            .listed
            .iter()
            .map(|v| fingerprint(v.instance, &v.cve, &v.package))
            .collect();
        vulns.generated.reserve(g.count as usize);
        generate(&maker, 0..g.count, 1, &mut taken, &mut vulns.generated);
        if let Some(c) = account.findings.churn {
            churn(&maker, g, c, &mut taken, &mut vulns.generated);
        }
        vulns.maker = Some(maker);
    }
    vulns
}

/// The history of the generated findings over [`MAX_SCANS`] scans: before each scan from the
/// second on, `fixedPerScan` findings still present are fixed (drawn from the seed) and
/// `introducedPerScan` new ones are generated, numbered on from the initial `count`.
fn churn(
    maker: &Maker,
    g: &GeneratorSpec,
    c: crate::scenario::ChurnSpec,
    taken: &mut Taken,
    out: &mut Vec<Drawn>,
) {
    let mut alive: Vec<usize> = (0..out.len()).collect();
    let mut next = g.count;
    for scan in 2..=MAX_SCANS {
        let mut rng = Rng::new(&["churn", &maker.seed, &maker.account_id, &scan.to_string()]);
        for _ in 0..c.fixed_per_scan {
            if alive.is_empty() {
                break;
            }
            let pick = rng.below(alive.len() as u64) as usize;
            let vi = alive.swap_remove(pick);
            out[vi].until_scan = std::num::NonZeroU32::new(scan);
        }
        let end = next.saturating_add(c.introduced_per_scan);
        let before = out.len();
        generate(maker, next..end, scan, taken, out);
        alive.extend(before..out.len());
        next = end;
    }
}

/// Inspector reports one finding per instance, vulnerability and package: the identity a
/// generated finding must not share with another, held as the instance and a 64-bit
/// fingerprint of the CVE and package (16 bytes an entry instead of two strings, so the set of
/// a million findings stays small). A fingerprint collision only makes the generator draw
/// another CVE.
type Taken = HashSet<(usize, u64)>;

fn fingerprint(instance: usize, cve: &str, package: &str) -> (usize, u64) {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let mut h = DefaultHasher::new();
    cve.hash(&mut h);
    package.hash(&mut h);
    (instance, h.finish())
}

fn listed(account: &AccountSpec, instance: usize, f: &FindingSpec) -> Vuln {
    let mut rng = Rng::new(&[
        "listed",
        &account.account_id,
        &f.vulnerability_id,
        &f.instance_id,
    ]);
    let fixed = f.fixed_in_version.as_deref().unwrap_or("a fixed version");
    let w = rng.pick(WEAKNESSES);
    let description = f.description.clone().unwrap_or_else(|| match &f.network {
        Some(n) => format!(
            "{} ports {} to {} of instance {} are reachable from the internet through {} \
             network components.",
            n.protocol,
            n.port_from,
            n.port_to,
            f.instance_id,
            n.path.len()
        ),
        None => describe(w, &f.package_name, fixed),
    });
    let cvss = cvss_choices(f.severity);
    let (vector, default_score) = if cvss.is_empty() {
        (None, None)
    } else {
        let (v, s) = *rng.pick(cvss);
        (Some(v), Some(s))
    };
    Vuln {
        instance,
        cve: f.vulnerability_id.clone(),
        severity: f.severity,
        package: f.package_name.clone(),
        version: f.package_version.clone(),
        fixed_in: f.fixed_in_version.clone(),
        partial_fix: false,
        score: f.score.or(default_score),
        cvss_vector: vector,
        title: f.title.clone(),
        description: Description::Text(description),
        epss: 0.01 + rng.below(900) as f64 / 1000.0,
        exploit_available: rng.chance(40),
        first_seen_days_ago: rng.between(1, 60) as u32,
        from_scan: f.introduced_at_scan.unwrap_or(1),
        until_scan: f.fixed_at_scan,
        network: f.network.clone().map(Box::new),
    }
}

/// Generates findings number `range` of the account's generator, found from scan `from_scan`.
fn generate(
    maker: &Maker,
    range: std::ops::Range<u32>,
    from_scan: u32,
    taken: &mut Taken,
    out: &mut Vec<Drawn>,
) {
    for n in range {
        let (_, drawn) = draw(maker, n, from_scan, |v| {
            taken.insert(fingerprint(v.instance, &v.cve, &v.package))
        });
        out.push(drawn);
    }
}

/// Draws generated finding number `n`, found from scan `from_scan`. Its CVE is drawn again
/// until `accept` takes the finding as it stands (instance, CVE and package set; the rest
/// is drawn after). Returns the finding and what draws it again.
fn draw(
    maker: &Maker,
    n: u32,
    from_scan: u32,
    mut accept: impl FnMut(&Vuln) -> bool,
) -> (Vuln, Drawn) {
    let mut rng = Rng::new(&["finding", &maker.seed, &maker.account_id, &n.to_string()]);
    let instance = rng.below(maker.platforms.len() as u64) as usize;
    let package = rng.below(PACKAGES.len() as u64) as usize;
    let pkg = &PACKAGES[package];
    let severity = pick_severity(&mut rng);
    let mut v = Vuln {
        instance,
        cve: String::new(),
        severity,
        package: pkg.name.to_owned(),
        version: String::new(),
        fixed_in: None,
        partial_fix: false,
        score: None,
        cvss_vector: None,
        title: None,
        description: Description::Weakness(&WEAKNESSES[0]),
        epss: 0.0,
        exploit_available: false,
        first_seen_days_ago: 0,
        from_scan,
        until_scan: None,
        network: None,
    };
    // Redraw the CVE until this instance and package do not have it yet; with millions of
    // CVE numbers per package a few draws always suffice.
    let mut drawn = Drawn {
        n,
        instance: instance as u32,
        cve_draws: 0,
        from_scan,
        until_scan: None,
        cve_year: 0,
        cve_number: 0,
        package: package as u8,
    };
    loop {
        // Both fit 16 bits: 2019 to 2025, 1000 to 52,999.
        drawn.cve_year = rng.between(2019, 2025) as u16;
        drawn.cve_number = rng.between(1000, 52_999) as u16;
        v.cve = format!("CVE-{}-{}", drawn.cve_year, drawn.cve_number);
        drawn.cve_draws += 1;
        if accept(&v) {
            break;
        }
    }
    let build = rng.next_u64();
    let platform = maker
        .platforms
        .get(instance)
        .copied()
        .unwrap_or(Platform::AmazonLinux2023);
    v.version = platform.package_version(pkg.version, build);
    let fix_roll = rng.below(100);
    v.fixed_in = (fix_roll < 82)
        .then(|| platform.package_version(&bump(pkg.version, 1 + build % 3), build >> 8));
    v.partial_fix = v.fixed_in.is_some() && fix_roll >= 74;
    v.description = Description::Weakness(rng.pick(WEAKNESSES));
    let cvss = cvss_choices(severity);
    (v.cvss_vector, v.score) = if cvss.is_empty() {
        (None, None)
    } else {
        let (vector, score) = *rng.pick(cvss);
        (Some(vector), Some(score))
    };
    let epss = match severity {
        Severity::Critical | Severity::High => 0.002 + rng.below(600) as f64 / 1000.0,
        _ => 0.0004 + rng.below(50) as f64 / 1000.0,
    };
    v.epss = (epss * 10_000.0).round() / 10_000.0;
    v.exploit_available = matches!(severity, Severity::Critical | Severity::High) && rng.chance(15);
    // A finding introduced later was first observed just before that scan.
    v.first_seen_days_ago = if from_scan == 1 {
        rng.between(1, 120) as u32
    } else {
        0
    };
    (v, drawn)
}

/// What a generated description says when no version fixes the package.
const UNFIXED: &str = "the latest release";

fn describe(w: &Weakness, package: &str, fixed: &str) -> String {
    // One pass into one string: a fleet simulation describes millions of findings.
    let parts = [w.opening, w.impact, w.condition];
    let mut out = String::with_capacity(
        parts.iter().map(|p| p.len() + 1).sum::<usize>() + 2 * (package.len() + fixed.len()),
    );
    for (i, part) in parts.into_iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let mut rest = part;
        while let Some(at) = rest.find('{') {
            out.push_str(&rest[..at]);
            let tail = &rest[at..];
            rest = if let Some(after) = tail.strip_prefix("{pkg}") {
                out.push_str(package);
                after
            } else if let Some(after) = tail.strip_prefix("{fixed}") {
                out.push_str(fixed);
                after
            } else {
                out.push('{');
                &tail[1..]
            };
        }
        out.push_str(rest);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(v: &Vuln) -> (usize, String, String) {
        (v.instance, v.cve.clone(), v.package.clone())
    }

    #[test]
    fn generated_findings_never_repeat_an_instance_cve_and_package() {
        let account: AccountSpec = serde_json::from_value(serde_json::json!({
            "accountId": "111122223333", "region": "us-east-1",
            "settings": {"engine": "inspector2"},
            "instances": [{"id": "i-0123456789abcdef0"}],
            "findings": {"generate": {"count": 30000, "seed": 3}, "list": [{
                "instanceId": "i-0123456789abcdef0", "vulnerabilityId": "CVE-2024-6387",
                "severity": "HIGH", "packageName": "openssh-server", "packageVersion": "8.7p1"}]}
        }))
        .expect("account");
        let vulns = account_vulns(&account);
        assert_eq!(vulns.len(), 30_001);
        let unique: HashSet<_> = vulns.iter().map(|v| identity(&v)).collect();
        assert_eq!(unique.len(), vulns.len());
    }

    #[test]
    fn a_generated_finding_is_written_out_the_same_every_time_and_as_drawn() {
        let account: AccountSpec = serde_json::from_value(serde_json::json!({
            "accountId": "111122223333", "region": "eu-west-1",
            "settings": {"engine": "inspector2"},
            "instances": [{"id": "i-0123456789abcdef0"}, {"id": "i-0123456789abcdef1"}],
            "findings": {"generate": {"count": 2000, "seed": 9},
                         "churn": {"fixedPerScan": 50, "introducedPerScan": 30}}
        }))
        .expect("account");
        let vulns = account_vulns(&account);
        let again = account_vulns(&account);
        assert_eq!(vulns.len(), 2000 + 30 * (MAX_SCANS as usize - 1));
        let mut fixed = 0;
        for i in 0..vulns.len() {
            let v = vulns.get(i).expect("in range");
            assert_eq!(Some(&v), again.get(i).as_ref(), "finding {i}");
            let (instance, cve, package) = vulns.identity(i).expect("in range");
            assert_eq!(
                (instance, cve.as_ref(), package),
                (v.instance, v.cve.as_str(), v.package.as_str())
            );
            assert_eq!(vulns.instance(i), Some(v.instance));
            for scan in 1..=MAX_SCANS {
                assert_eq!(
                    vulns.present_at(i, scan),
                    v.present_at(scan),
                    "finding {i} scan {scan}"
                );
            }
            fixed += usize::from(v.until_scan.is_some());
        }
        assert_eq!(fixed, 50 * (MAX_SCANS as usize - 1));
        assert!(vulns.get(vulns.len()).is_none());
    }

    #[test]
    fn bump_raises_the_last_number() {
        assert_eq!(bump("3.0.8", 1), "3.0.9");
        assert_eq!(bump("8.7p1", 2), "8.7p3");
        assert_eq!(bump("608", 1), "609");
    }

    #[test]
    fn descriptions_have_normal_length_and_no_placeholders() {
        for w in WEAKNESSES {
            let d = describe(w, "openssl-libs", "3.0.9-1.amzn2023.0.1");
            assert!((200..=1024).contains(&d.len()), "{} chars: {d}", d.len());
            assert!(!d.contains('{'));
            let fill = |s: &str| {
                s.replace("{pkg}", "openssl-libs")
                    .replace("{fixed}", "3.0.9-1.amzn2023.0.1")
            };
            let expected = format!(
                "{} {} {}",
                fill(w.opening),
                fill(w.impact),
                fill(w.condition)
            );
            assert_eq!(d, expected);
        }
    }

    #[test]
    fn severity_weights_cover_every_severity_and_sum_to_100() {
        assert_eq!(SEVERITY_WEIGHTS.iter().map(|w| w.1).sum::<u64>(), 100);
        for s in Severity::ALL {
            assert!(SEVERITY_WEIGHTS.iter().any(|w| w.0 == s));
        }
        for (s, _) in SEVERITY_WEIGHTS {
            for (_, score) in cvss_choices(s) {
                let ok = match s {
                    Severity::Critical => *score >= 9.0,
                    Severity::High => (7.0..9.0).contains(score),
                    Severity::Medium => (4.0..7.0).contains(score),
                    Severity::Low => (0.1..4.0).contains(score),
                    _ => *score == 0.0,
                };
                assert!(ok, "{s} {score}");
            }
        }
    }
}
