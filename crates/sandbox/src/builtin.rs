//! The built-in scenario `scanflow run` uses when given none: `scenarios/default.json`, built
//! into the binary, so there is one copy of it (four accounts in four regions, both engines, a
//! few hundred findings of every severity, instances the scans cannot reach, and one account
//! whose scan role is missing).

use crate::SandboxError;
use crate::scenario::Scenario;

/// The default scenario's text.
pub const DEFAULT_SCENARIO_JSON: &str = include_str!("../scenarios/default.json");

impl Scenario {
    /// The deterministic demo organisation. (It always parses: a test reads it.)
    pub fn default_scenario() -> Result<Scenario, SandboxError> {
        Self::from_json(DEFAULT_SCENARIO_JSON)
    }
}
