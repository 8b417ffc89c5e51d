//! Repeated attempts (Core spec Vol 3 Part H 2.3.6), sans-IO: a peer whose
//! pairing failed waits before its next Pairing Request (or, as central,
//! before we answer its Security Request) is accepted, the wait growing
//! exponentially with each failure, so that a passkey cannot be guessed
//! by trying again and again. The spec leaves the intervals to us:
//! [`FIRST_WAIT_MS`] after one failure, doubling up to [`MAX_WAIT_MS`];
//! each [`DECAY_MS`] without a new failure takes one failure off, and a
//! successful pairing forgets the peer.
//!
//! The host keeps one table (no clock here: it passes `now`), asks
//! [`Attempts::wait_ms`] when a Pairing Request comes and answers Pairing
//! Failed / Repeated Attempts while it is not zero, and reports each
//! pairing's end with [`Attempts::failed`] or [`Attempts::paired`].
//! Peers are told apart by address; a full table forgets the peer whose
//! last failure is the oldest. 12 bytes a peer.

use super::crypto::LeAddress;
use crate::time::Instant;

/// The wait after the first failure.
pub const FIRST_WAIT_MS: u32 = 1_000;
/// The longest wait (after 7 failures and more).
pub const MAX_WAIT_MS: u32 = 64_000;
/// Each such interval without a failure takes one failure off the count.
pub const DECAY_MS: u32 = 120_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    addr: LeAddress,
    /// 0: a free entry.
    failures: u8,
    last: Instant,
}

const FREE: Entry = Entry {
    addr: LeAddress {
        kind: 0,
        addr: [0; 6],
    },
    failures: 0,
    last: Instant::from_ms(0),
};

/// The failures of up to `N` peers.
#[derive(Clone, Debug)]
pub struct Attempts<const N: usize> {
    peers: [Entry; N],
}

impl<const N: usize> Default for Attempts<N> {
    fn default() -> Self {
        Self::new()
    }
}

/// The wait after `failures` failures.
fn wait_for(failures: u8) -> u32 {
    match failures {
        0 => 0,
        n => FIRST_WAIT_MS
            .checked_shl(u32::from(n - 1))
            .unwrap_or(MAX_WAIT_MS)
            .min(MAX_WAIT_MS),
    }
}

impl<const N: usize> Attempts<N> {
    pub const fn new() -> Self {
        Attempts { peers: [FREE; N] }
    }

    /// Failures still counted for `e` at `now` (the decay applied).
    fn failures(e: &Entry, now: Instant) -> u8 {
        let decayed = now.ms_since(e.last) / DECAY_MS;
        e.failures
            .saturating_sub(u8::try_from(decayed).unwrap_or(u8::MAX))
    }

    fn find(&self, peer: LeAddress) -> Option<usize> {
        self.peers
            .iter()
            .position(|e| e.failures != 0 && e.addr == peer)
    }

    /// How long `peer` must still wait before a pairing is accepted: 0
    /// when it may pair now.
    pub fn wait_ms(&self, peer: LeAddress, now: Instant) -> u32 {
        let Some(e) = self.find(peer).and_then(|i| self.peers.get(i)) else {
            return 0;
        };
        let until = e.last.add_ms(wait_for(Self::failures(e, now)));
        until.ms_until(now)
    }

    /// A pairing with `peer` failed at `now` (whichever side ended it).
    pub fn failed(&mut self, peer: LeAddress, now: Instant) {
        let i = match self.find(peer) {
            Some(i) => i,
            None => {
                // A free entry, or the one that failed longest ago.
                let free = self.peers.iter().position(|e| e.failures == 0);
                let oldest =
                    (0..N).max_by_key(|&i| self.peers.get(i).map_or(0, |e| now.ms_since(e.last)));
                let Some(i) = free.or(oldest) else {
                    return;
                };
                if let Some(e) = self.peers.get_mut(i) {
                    *e = Entry {
                        addr: peer,
                        failures: 0,
                        last: now,
                    };
                }
                i
            }
        };
        if let Some(e) = self.peers.get_mut(i) {
            e.failures = Self::failures(e, now).saturating_add(1).max(1);
            e.last = now;
        }
    }

    /// A pairing with `peer` succeeded: it starts afresh.
    pub fn paired(&mut self, peer: LeAddress) {
        if let Some(e) = self.find(peer).and_then(|i| self.peers.get_mut(i)) {
            *e = FREE;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(n: u8) -> LeAddress {
        LeAddress {
            kind: 0,
            addr: [n, 0, 0, 0, 0, 0],
        }
    }

    fn at(ms: u32) -> Instant {
        Instant::from_ms(ms)
    }

    #[test]
    fn waits_grow_and_end() {
        let mut a: Attempts<2> = Attempts::new();
        assert_eq!(a.wait_ms(peer(1), at(0)), 0);
        a.failed(peer(1), at(1_000));
        assert_eq!(a.wait_ms(peer(1), at(1_000)), 1_000);
        assert_eq!(a.wait_ms(peer(1), at(1_500)), 500);
        assert_eq!(a.wait_ms(peer(1), at(2_000)), 0);
        // Another peer is not concerned.
        assert_eq!(a.wait_ms(peer(2), at(1_000)), 0);
        // Each failure doubles the wait, up to the cap.
        let mut now = 2_000;
        for expected in [2_000, 4_000, 8_000, 16_000, 32_000, 64_000, 64_000, 64_000] {
            a.failed(peer(1), at(now));
            assert_eq!(a.wait_ms(peer(1), at(now)), expected);
            now += expected;
            assert_eq!(a.wait_ms(peer(1), at(now)), 0);
        }
        // Success forgets.
        a.paired(peer(1));
        a.failed(peer(1), at(now));
        assert_eq!(a.wait_ms(peer(1), at(now)), 1_000);
    }

    #[test]
    fn failures_decay() {
        let mut a: Attempts<1> = Attempts::new();
        for t in 0..4 {
            a.failed(peer(1), at(t * 100_000));
        }
        // 4 failures: 8 s, or 1 s after three decays.
        let last = 300_000;
        assert_eq!(a.wait_ms(peer(1), at(last)), 8_000);
        a.failed(peer(1), at(last + 3 * DECAY_MS));
        assert_eq!(a.wait_ms(peer(1), at(last + 3 * DECAY_MS)), 2_000);
    }

    #[test]
    fn a_full_table_forgets_the_oldest() {
        let mut a: Attempts<2> = Attempts::new();
        a.failed(peer(1), at(0));
        a.failed(peer(2), at(10));
        a.failed(peer(3), at(20));
        assert_eq!(a.wait_ms(peer(1), at(20)), 0, "forgotten");
        assert_eq!(a.wait_ms(peer(2), at(20)), 990);
        assert_eq!(a.wait_ms(peer(3), at(20)), 1_000);
        // Time wraps around u32 milliseconds (49 days) without harm.
        let mut a: Attempts<1> = Attempts::new();
        a.failed(peer(1), at(u32::MAX - 100));
        assert_eq!(a.wait_ms(peer(1), at(400)), 499);
    }
}
