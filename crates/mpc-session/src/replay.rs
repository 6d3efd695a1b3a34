//! Sliding replay window over the peer's message sequence numbers.

/// How far behind the newest sequence number a message may still arrive.
const WINDOW: u64 = 128;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Replay {
    AlreadySeen,
    OutsideWindow,
}

impl Replay {
    pub fn as_str(self) -> &'static str {
        match self {
            Replay::AlreadySeen => "sequence number already seen",
            Replay::OutsideWindow => "sequence number too far behind the window",
        }
    }
}

/// Remembers which of the last [`WINDOW`] sequence numbers were accepted.
#[derive(Debug, Default)]
pub(crate) struct ReplayWindow {
    /// The newest accepted sequence number, if any.
    newest: Option<u64>,
    /// Bit `i` set: `newest - i` was accepted.
    seen: u128,
}

impl ReplayWindow {
    /// Whether `seq` may still be accepted. Call [`commit`](Self::commit)
    /// only once the message proved authentic, so forgeries cannot move the
    /// window.
    pub fn check(&self, seq: u64) -> Result<(), Replay> {
        let Some(newest) = self.newest else {
            return Ok(());
        };
        if seq > newest {
            return Ok(());
        }
        let behind = newest - seq;
        if behind >= WINDOW {
            return Err(Replay::OutsideWindow);
        }
        if self.seen & (1 << behind) != 0 {
            return Err(Replay::AlreadySeen);
        }
        Ok(())
    }

    pub fn commit(&mut self, seq: u64) {
        match self.newest {
            Some(newest) if seq <= newest => self.seen |= 1 << (newest - seq),
            Some(newest) => {
                let ahead = seq - newest;
                self.seen = if ahead >= WINDOW {
                    0
                } else {
                    self.seen << ahead
                };
                self.seen |= 1;
                self.newest = Some(seq);
            }
            None => {
                self.seen = 1;
                self.newest = Some(seq);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(window: &mut ReplayWindow, seq: u64) -> Result<(), Replay> {
        window.check(seq)?;
        window.commit(seq);
        Ok(())
    }

    #[test]
    fn accepts_each_number_once_in_any_order_within_the_window() {
        let mut w = ReplayWindow::default();
        assert_eq!(accept(&mut w, 2), Ok(()));
        assert_eq!(accept(&mut w, 0), Ok(()));
        assert_eq!(accept(&mut w, 1), Ok(()));
        for seq in 0..=2 {
            assert_eq!(accept(&mut w, seq), Err(Replay::AlreadySeen));
        }
        assert_eq!(accept(&mut w, 300), Ok(()));
        assert_eq!(accept(&mut w, 172), Err(Replay::OutsideWindow));
        assert_eq!(accept(&mut w, 173), Ok(()));
        assert_eq!(accept(&mut w, 173), Err(Replay::AlreadySeen));
        assert_eq!(accept(&mut w, 300), Err(Replay::AlreadySeen));
    }

    #[test]
    fn checking_alone_does_not_consume_a_number() {
        let mut w = ReplayWindow::default();
        assert_eq!(w.check(5), Ok(()));
        assert_eq!(w.check(5), Ok(()));
        w.commit(5);
        assert_eq!(w.check(5), Err(Replay::AlreadySeen));
    }
}
