//! The ports of a simulated member account: each call goes to the engine that serves it
//! (Inspector Classic, Inspector v2 and its CIS scans). Apart from `member`, so the engines
//! depend on the member they are called for and nothing depends back on them.

use std::future::{Future, ready};

use scanflow_core::ScanError;
use scanflow_core::migration::ScanningStatus;
use scanflow_core::model::{AccountSettings, CisLevel, Coverage, Engine};
use scanflow_core::ports::{FindingsPage, MemberAccount, RunStatus, Started};
use scanflow_core::state::Run;

use crate::member::Member;
use crate::security_hub::SecurityHubSim;
use crate::{cis, classic, inspector2};

impl MemberAccount for Member {
    type SecurityHub = SecurityHubSim;

    fn settings(&self) -> impl Future<Output = Result<AccountSettings, ScanError>> + Send {
        ready(self.settings_now())
    }

    fn start_scan(
        &self,
        settings: &AccountSettings,
        name: &str,
    ) -> impl Future<Output = Result<Started, ScanError>> + Send {
        ready(
            self.entered("starting a scan")
                .and_then(|()| match settings.engine {
                    Engine::Classic => classic::start(self, settings, name),
                    Engine::Inspector2 => inspector2::start(self, settings, name),
                }),
        )
    }

    fn start_cis_scan(
        &self,
        settings: &AccountSettings,
        level: CisLevel,
        name: &str,
    ) -> impl Future<Output = Result<String, ScanError>> + Send {
        ready(
            self.entered("starting a CIS scan")
                .and_then(|()| cis::start(self, settings, level, name)),
        )
    }

    fn run_status(&self, run: &Run) -> impl Future<Output = Result<RunStatus, ScanError>> + Send {
        ready(self.check_run(run).and_then(|()| {
            match run.engine {
                Engine::Classic => self
                    .entered("Inspector Classic")
                    .and_then(|()| classic::status(self, run)),
                Engine::Inspector2 if run.cis_scan().is_some() => cis::status(self, run),
                Engine::Inspector2 => inspector2::status(self, run),
            }
        }))
    }

    fn findings_page(
        &self,
        run: &Run,
        cursor: Option<String>,
    ) -> impl Future<Output = Result<FindingsPage, ScanError>> + Send {
        ready(self.check_run(run).and_then(|()| {
            match run.engine {
                Engine::Classic => self
                    .entered("Inspector Classic")
                    .and_then(|()| classic::findings_page(self, run, cursor.as_deref())),
                Engine::Inspector2 => match cursor.as_deref() {
                    Some(c) if c.starts_with(cis::CURSOR_PREFIX) => cis::failed_page(self, run, c),
                    c => inspector2::findings_page(self, run, c).map(|mut page| {
                        // A run with a CIS scan goes on to its failed checks after the last
                        // vulnerability page.
                        if page.next.is_none() && run.cis_scan().is_some() {
                            page.next = Some(cis::FIRST_CURSOR.to_owned());
                        }
                        page
                    }),
                },
            }
        }))
    }

    fn coverage(&self, run: &Run) -> impl Future<Output = Result<Coverage, ScanError>> + Send {
        ready(self.check_run(run).and_then(|()| {
            match run.engine {
                Engine::Classic => self
                    .entered("Inspector Classic")
                    .and_then(|()| classic::coverage(self, run)),
                Engine::Inspector2 => {
                    let mut coverage = inspector2::coverage(self, run)?;
                    coverage.cis = cis::coverage(self, run)?;
                    Ok(coverage)
                }
            }
        }))
    }

    fn v2_ec2_status(&self) -> impl Future<Output = Result<ScanningStatus, ScanError>> + Send {
        ready(self.v2_ec2_status_now())
    }

    fn security_hub(&self) -> &SecurityHubSim {
        &self.security_hub
    }
}
