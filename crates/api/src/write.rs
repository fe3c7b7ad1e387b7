//! The one way the API appends: a non-blocking enqueue to the sequencer, whose refusal when
//! full is the one back-pressure answer of every write path (`503 ledger.busy` with
//! `Retry-After`; see [`crate::error::busy`]). The identity routes use it too.

use deedlog_core::SignedCommand;
use deedlog_store::{Receipt, Rejection};

use crate::AppState;
use crate::error::ApiError;

/// Submits `command` without waiting for room in the sequencer's queue, then waits for its
/// receipt. Counts the outcome in the metrics.
///
/// # Errors
/// `503 ledger.busy` (with `Retry-After`) when the queue is full, `503 ledger.unavailable` when
/// the sequencer stopped (its cause logged, not returned), or the command's rejection.
pub async fn submit(state: &AppState, command: SignedCommand) -> Result<Receipt, ApiError> {
    let outcome = match state.node.handle().try_enqueue(command) {
        Ok(rx) => rx
            .await
            .unwrap_or_else(|_| Err(Rejection::unavailable("the sequencer stopped"))),
        Err(r) => Err(r),
    };
    match outcome {
        Ok(receipt) => {
            state.metrics.command(
                if receipt.duplicate {
                    "duplicate"
                } else {
                    "accepted"
                },
                "",
            );
            Ok(receipt)
        }
        Err(rejection) => {
            state.metrics.command("rejected", rejection.code);
            Err(rejection.into())
        }
    }
}
