//! Progress of the CLI's long work on standard error, through `indicatif`: a bar with position,
//! rate and time left when the total is known, a counter with its rate when it is not.
//!
//! Quiet (nothing drawn) when standard error is not a terminal, with `--quiet`, or with `--json`:
//! tests and scripts read standard output, and a redirected log must not fill with redraws.

use std::io::IsTerminal as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Set from the command line's global `--quiet`, or by a command printing JSON.
static QUIET: AtomicBool = AtomicBool::new(false);

/// Makes every later bar quiet when `quiet` holds (the command line's `--quiet`, a command's
/// `--json`); never makes them drawn again.
pub fn quiet_if(quiet: bool) {
    if quiet {
        QUIET.store(true, Ordering::Relaxed);
    }
}

/// Whether bars are drawn.
fn drawn() -> bool {
    !QUIET.load(Ordering::Relaxed) && std::io::stderr().is_terminal()
}

/// A bar for `total` units of work (`None`: unknown, a counter with its rate), labelled `what`.
/// Hidden when quiet; a hidden bar still runs what [`ProgressBar::suspend`] is given, so lines
/// printed through it appear either way.
pub fn bar(what: &str, total: Option<u64>) -> ProgressBar {
    if !drawn() {
        return ProgressBar::hidden();
    }
    let (bar, template) = match total {
        Some(n) => (
            ProgressBar::new(n),
            "{msg} [{bar:30}] {human_pos}/{human_len} ({rate}, {eta} left)",
        ),
        None => (
            ProgressBar::new_spinner(),
            "{spinner} {msg} {human_pos} ({rate}, {elapsed})",
        ),
    };
    // A constant template cannot fail to parse; the default style is the fallback regardless.
    if let Ok(style) = ProgressStyle::with_template(template) {
        // Whole units a second: indicatif's own `per_sec` shows four decimals.
        let style = style.with_key(
            "rate",
            |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{:.0}/s", state.per_sec());
            },
        );
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_draw_target(ProgressDrawTarget::stderr());
    bar.set_message(what.to_owned());
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_hides_the_bar_and_suspend_still_runs() {
        quiet_if(false);
        quiet_if(true);
        assert!(!drawn(), "quiet stays quiet");
        let b = bar("work", Some(10));
        assert!(b.is_hidden());
        let b = bar("work", None);
        assert!(b.is_hidden());
        let mut ran = false;
        b.suspend(|| ran = true);
        assert!(ran, "lines printed through a hidden bar still appear");
        b.inc(3);
        assert_eq!(b.position(), 3);
    }
}
