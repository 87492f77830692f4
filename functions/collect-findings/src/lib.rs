//! The collect-findings step: pages through every finding of the run into chunk objects in the
//! report store, records coverage, and returns only counts and the manifest key. After each
//! chunk it records a checkpoint; a little before the invocation's deadline it stops with a
//! `Transient` error, and the state machine's retry continues from the checkpoint, so a run
//! with more findings than one invocation can read (`ListFindings` returns 100 a call) is
//! collected across invocations with one chunk in memory.

use std::time::{Duration, SystemTime};

use scanflow_core::ports::{MemberAccount, Platform, ReportStore};
use scanflow_core::state::{CollectCheckpoint, CollectInput, Collected, Manifest, Run};
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
    let member = platform.reader(run).await?;

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
    let checkpoint_key = keys::collect_checkpoint(run);
    let mut at = resume_from(platform.store(), &checkpoint_key, run).await?;
    let mut buffer = Vec::new();
    let mut in_buffer = 0;
    let deadline = platform.deadline();
    loop {
        if let Some(deadline) = deadline {
            out_of_time(deadline, SystemTime::now(), &at)?;
        }
        let page = member.findings_page(run, at.cursor.clone()).await?;
        let skip = std::mem::take(&mut at.skip);
        let mut flushed = false;
        for (n, finding) in page.findings.iter().enumerate().skip(skip) {
            at.counts.add(finding.severity);
            serde_json::to_writer(&mut buffer, finding).map_err(ScanError::internal)?;
            buffer.push(b'\n');
            in_buffer += 1;
            if in_buffer == chunk_size {
                at.chunks
                    .push(flush(platform, run, at.chunks.len(), &mut buffer).await?);
                in_buffer = 0;
                // The chunks now hold this page's findings up to `n`.
                at.skip = n + 1;
                flushed = true;
                save(platform.store(), &checkpoint_key, &at).await?;
            }
        }
        at.skip = 0;
        match page.next {
            Some(next) => at.cursor = Some(next),
            None => break,
        }
        if flushed && in_buffer == 0 {
            // Every finding read so far is in a chunk: the next invocation starts at `next`.
            save(platform.store(), &checkpoint_key, &at).await?;
        }
    }
    if in_buffer > 0 {
        at.chunks
            .push(flush(platform, run, at.chunks.len(), &mut buffer).await?);
    }
    let CollectCheckpoint { chunks, counts, .. } = at;

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

/// Fails once less than [`DEADLINE_MARGIN`] is left before `deadline`, with a `Transient`
/// error: the state machine retries the step and the retry continues from the checkpoint
/// (`at`), instead of Lambda killing the invocation at its timeout with nothing kept.
pub fn out_of_time(
    deadline: SystemTime,
    now: SystemTime,
    at: &CollectCheckpoint,
) -> Result<(), ScanError> {
    let left = deadline.duration_since(now).unwrap_or_default();
    if left >= DEADLINE_MARGIN {
        return Ok(());
    }
    Err(ScanError::Transient {
        service: "collect-findings".into(),
        detail: format!(
            "stopped {} s before the invocation's deadline with {} findings in {} chunks; the \
             retry continues from the checkpoint. If retries run out, raise the function's \
             Timeout (at most 900 s) or split the scan by tag",
            left.as_secs(),
            at.counts.total(),
            at.chunks.len()
        ),
    })
}

/// Where this execution's collection stands: its checkpoint, or the start.
async fn resume_from<S: ReportStore>(
    store: &S,
    key: &str,
    run: &Run,
) -> Result<CollectCheckpoint, ScanError> {
    let start = CollectCheckpoint {
        execution: run.execution.clone(),
        ..CollectCheckpoint::default()
    };
    let body = match store.get(key).await {
        Ok(body) => body,
        Err(ScanError::NotFound { .. }) => return Ok(start),
        Err(e) => return Err(e),
    };
    let at: CollectCheckpoint = serde_json::from_slice(&body).map_err(|e| {
        ScanError::internal(format!(
            "the collection checkpoint {key} is not one ({e}); delete it to collect from the start"
        ))
    })?;
    if at.execution != run.execution {
        // Another execution's (the run collected before, now rerun): start over.
        return Ok(start);
    }
    tracing::info!(account = %run.account_id, region = %run.region, findings = at.counts.total(), chunks = at.chunks.len(), "continuing collection from the checkpoint");
    Ok(at)
}

async fn save<S: ReportStore>(
    store: &S,
    key: &str,
    at: &CollectCheckpoint,
) -> Result<(), ScanError> {
    let body = serde_json::to_vec(at).map_err(ScanError::internal)?;
    store.put(key, body, "application/json").await
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
        let at = CollectCheckpoint {
            chunks: vec!["c0".into()],
            ..CollectCheckpoint::default()
        };
        assert!(out_of_time(deadline, deadline - DEADLINE_MARGIN, &at).is_ok());
        let late = deadline - DEADLINE_MARGIN + Duration::from_millis(1);
        let err = out_of_time(deadline, late, &at).expect_err("one past the margin");
        assert_eq!(err.error_type(), "Transient");
        assert!(err.to_string().contains("in 1 chunks"), "{err}");
        assert!(err.to_string().contains("checkpoint"), "{err}");
        assert!(out_of_time(deadline, deadline + Duration::from_secs(1), &at).is_err());
    }
}
