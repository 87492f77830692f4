//! AWS Step Functions Local mock configuration, as a TaskHandler.
