//! Progress lines for long steps (keygen, refresh, waiting for a receipt),
//! on stderr and only for a person at a terminal: with `--json` or when
//! stderr is not a terminal, nothing is printed, so scripts see pure JSON.

use std::io::IsTerminal;
use std::time::Instant;

/// One long step: "what… done (0.6 s)", or "failed" if dropped unfinished.
pub struct Step {
    started: Instant,
    shown: bool,
    finished: bool,
}

impl Step {
    pub fn begin(json: bool, what: &str) -> Step {
        let shown = !json && std::io::stderr().is_terminal();
        if shown {
            eprint!("{what}… ");
        }
        Step {
            started: Instant::now(),
            shown,
            finished: false,
        }
    }

    pub fn done(mut self) {
        self.finished = true;
        if self.shown {
            eprintln!("done ({:.1} s)", self.started.elapsed().as_secs_f64());
        }
    }
}

impl Drop for Step {
    fn drop(&mut self) {
        if self.shown && !self.finished {
            eprintln!("failed");
        }
    }
}
