//! The collect-findings step: pages through every finding of the run into chunk objects in the
//! report store, records coverage, and returns only counts and the manifest key. It stops with
//! a clear error a little before the invocation's deadline rather than being cut off by it.

use std::time::{Duration, SystemTime};

use scanflow_core::model::SeverityCounts;
use scanflow_core::ports::{MemberAccount, Platform, ReportStore};
use scanflow_core::state::{CollectInput, Collected, Manifest, Run};
use scanflow_core::{ScanError, keys, step, time};

/// Entry point shared by the Lambda main and the local engine.
pub async fn invoke<P: Platform>(
    platform: &P,
    event: serde_json::Value,
) -> Result<serde_json::Value, ScanError> {
    let input: CollectInput = step::decode(event)?;
    step::encode(&collect(platform, &input).await?)
}

pub async fn collect<P: Platform>(
    platform: &P,
    input: &CollectInput,
) -> Result<Collected, ScanError> {
    let run = &input.run;
    let collected_at = time::parse("now", &input.now)?;
    let member = platform
        .member(&run.account_id, &run.region, &run.execution)
        .await?;

    // Coverage first: a scan that reached no instance must not be reported as "0 findings".
    let coverage = member.coverage(run).await?;
    if coverage.scanned.is_empty() && coverage.not_scanned.is_empty() {
        return Err(ScanError::NoInstancesMatched {
            account_id: run.account_id.clone(),
            region: run.region.clone(),
            target: run.target(),
        });
    }

    let chunk_size = platform.config().chunk_size.max(1);
    let mut counts = SeverityCounts::default();
    let mut chunks = Vec::new();
    let mut buffer = Vec::new();
    let mut in_buffer = 0;
    let mut cursor = None;
    let deadline = platform.deadline();
    loop {
        if let Some(deadline) = deadline {
            out_of_time(deadline, SystemTime::now(), counts.total())?;
        }
        let page = member.findings_page(run, cursor.take()).await?;
        for finding in &page.findings {
            counts.add(finding.severity);
            serde_json::to_writer(&mut buffer, finding).map_err(ScanError::internal)?;
            buffer.push(b'\n');
            in_buffer += 1;
            if in_buffer == chunk_size {
                chunks.push(flush(platform, run, chunks.len(), &mut buffer).await?);
                in_buffer = 0;
            }
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    if in_buffer > 0 {
        chunks.push(flush(platform, run, chunks.len(), &mut buffer).await?);
    }

    let manifest_key = keys::manifest(run);
    let collected = Collected {
        manifest_key: manifest_key.clone(),
        counts: counts.clone(),
        instances_scanned: coverage.scanned.len() as u64,
        instances_not_scanned: coverage.not_scanned.len() as u64,
    };
    let manifest = Manifest {
        chunks,
        counts,
        coverage,
        collected_at: time::format(collected_at),
    };
    let body = serde_json::to_vec(&manifest).map_err(ScanError::internal)?;
    platform
        .store()
        .put(&manifest_key, body, "application/json")
        .await?;
    tracing::info!(account = %run.account_id, region = %run.region, findings = collected.counts.total(), chunks = manifest.chunks.len(), "findings collected");
    Ok(collected)
}

/// Time kept back at the deadline for writing the manifest and returning.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(20);

/// Fails once less than [`DEADLINE_MARGIN`] is left before `deadline`: a Lambda killed at its
/// timeout says nothing useful, this error says how far collection got and what to change.
pub fn out_of_time(deadline: SystemTime, now: SystemTime, collected: u64) -> Result<(), ScanError> {
    let left = deadline.duration_since(now).unwrap_or_default();
    if left >= DEADLINE_MARGIN {
        return Ok(());
    }
    Err(ScanError::internal(format!(
        "collect-findings ran out of time after {collected} findings ({} s left of the \
         invocation); raise the function's Timeout (at most 900 s) or split the scan by tag",
        left.as_secs()
    )))
}

async fn flush<P: Platform>(
    platform: &P,
    run: &Run,
    index: usize,
    buffer: &mut Vec<u8>,
) -> Result<String, ScanError> {
    let key = keys::findings_chunk(run, index);
    platform
        .store()
        .put(&key, std::mem::take(buffer), "application/x-ndjson")
        .await?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collection_stops_only_when_less_than_the_margin_is_left() {
        let deadline = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert!(out_of_time(deadline, deadline - DEADLINE_MARGIN, 5).is_ok());
        let late = deadline - DEADLINE_MARGIN + Duration::from_millis(1);
        let err = out_of_time(deadline, late, 5).expect_err("one past the margin");
        assert!(err.to_string().contains("after 5 findings"), "{err}");
        assert!(err.to_string().contains("Timeout"), "{err}");
        assert!(out_of_time(deadline, deadline + Duration::from_secs(1), 0).is_err());
    }
}
