//! The one wrap-around millisecond clock of the stack.
//!
//! The core is sans-IO: the port gives it the time as a `u32` count of
//! milliseconds (`mp_hal_ticks_ms` and friends), which wraps to 0 every
//! 2^32 ms (about 49.7 days). Timers built on it: the HCI command timeout
//! (Vol 4 Part E 4.4, `config::HCI_CMD_TIMEOUT_MS`) and the ATT transaction
//! timeout (Vol 3 Part F 3.3.3, 30 s).
//!
//! **Half-range rule.** Two instants are compared by their wrapping
//! difference read as a signed 32-bit number: `b` is at or after `a` when
//! `b - a (mod 2^32)` is below 2^31. This is right across the wrap as long
//! as the two are less than 2^31 ms (about 24.8 days) apart. Timeouts here
//! are seconds long and are polled far more often than that, so a deadline
//! is always checked long before it could alias; a deadline left unchecked
//! for 24.8 days after it passed would read as being in the future again.
//! For the same reason `Instant` is not `Ord`: the order is not transitive
//! around the whole circle.

/// A point on the wrapping millisecond clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Instant(u32);

impl Instant {
    /// The instant that reads `ms` on the port's clock.
    pub const fn from_ms(ms: u32) -> Self {
        Self(ms)
    }

    /// The clock reading.
    pub const fn as_ms(self) -> u32 {
        self.0
    }

    /// `ms` milliseconds later, wrapping past `u32::MAX`. `ms` must be
    /// below 2^31 for the result to compare as later (half-range rule).
    pub const fn add_ms(self, ms: u32) -> Self {
        Self(self.0.wrapping_add(ms))
    }

    /// Whether this deadline has come at `now`: `now` is at or after it.
    pub const fn is_reached(self, now: Instant) -> bool {
        (now.0.wrapping_sub(self.0) as i32) >= 0
    }

    /// Milliseconds from `now` until this deadline; 0 once it is reached.
    pub const fn ms_until(self, now: Instant) -> u32 {
        if self.is_reached(now) {
            0
        } else {
            self.0.wrapping_sub(now.0)
        }
    }

    /// Milliseconds from `earlier` to this instant; 0 if `earlier` is in
    /// fact later.
    pub const fn ms_since(self, earlier: Instant) -> u32 {
        if earlier.is_reached(self) {
            self.0.wrapping_sub(earlier.0)
        } else {
            0
        }
    }

    /// Of two deadlines, the one that comes first (either when equal).
    pub const fn earliest(self, other: Instant) -> Instant {
        if other.is_reached(self) {
            other
        } else {
            self
        }
    }

    /// The earlier of two timers, either of which may not run (`None`).
    pub const fn earliest_of(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
        match (a, b) {
            (Some(a), Some(b)) => Some(a.earliest(b)),
            (Some(d), None) | (None, Some(d)) => Some(d),
            (None, None) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn t(ms: u32) -> Instant {
        Instant::from_ms(ms)
    }

    #[test]
    fn time_plain_deadline() {
        let d = t(1000).add_ms(500);
        assert_eq!(d.as_ms(), 1500);
        assert!(!d.is_reached(t(1000)));
        assert!(!d.is_reached(t(1499)));
        assert!(d.is_reached(t(1500)));
        assert!(d.is_reached(t(1501)));
        assert_eq!(d.ms_until(t(1000)), 500);
        assert_eq!(d.ms_until(t(1499)), 1);
        assert_eq!(d.ms_until(t(1500)), 0);
        assert_eq!(d.ms_until(t(9000)), 0);
        assert_eq!(t(1500).ms_since(t(1000)), 500);
        assert_eq!(t(1000).ms_since(t(1500)), 0);
    }

    #[test]
    fn time_deadline_across_the_wrap() {
        // Set 100 ms before the clock wraps, due 30 s later (the ATT
        // transaction timeout), i.e. at 29 900 after the wrap.
        let now = t(u32::MAX - 99);
        let d = now.add_ms(30_000);
        assert_eq!(d.as_ms(), 29_900);
        assert!(!d.is_reached(now));
        assert!(!d.is_reached(t(u32::MAX)));
        assert!(!d.is_reached(t(0)));
        assert!(!d.is_reached(t(29_899)));
        assert!(d.is_reached(t(29_900)));
        assert_eq!(d.ms_until(now), 30_000);
        assert_eq!(d.ms_until(t(u32::MAX)), 29_901);
        assert_eq!(d.ms_until(t(0)), 29_900);
        assert_eq!(d.ms_until(t(29_900)), 0);
        assert_eq!(t(5).ms_since(t(u32::MAX - 4)), 10);
        // A deadline exactly at u32::MAX and one at 0.
        assert!(t(u32::MAX).is_reached(t(0)));
        assert!(!t(0).is_reached(t(u32::MAX)));
        assert_eq!(t(0).ms_until(t(u32::MAX)), 1);
    }

    #[test]
    fn time_half_range_rule() {
        let d = t(0);
        // Up to 2^31 - 1 ms after a deadline, it reads as reached...
        assert!(d.is_reached(t(i32::MAX as u32)));
        assert_eq!(d.ms_until(t(i32::MAX as u32)), 0);
        // ...from 2^31 on, as 2^31 ms in the future: the documented limit.
        assert!(!d.is_reached(t(1 << 31)));
        assert_eq!(d.ms_until(t(1 << 31)), 1 << 31);
        // The same holds whatever the origin.
        let d = t(u32::MAX - 10);
        assert!(d.is_reached(d.add_ms(i32::MAX as u32)));
        assert!(!d.is_reached(d.add_ms(1 << 31)));
    }

    #[test]
    fn time_earliest() {
        assert_eq!(t(10).earliest(t(20)), t(10));
        assert_eq!(t(20).earliest(t(10)), t(10));
        assert_eq!(t(7).earliest(t(7)), t(7));
        // Across the wrap, the one before the wrap comes first.
        let before = t(u32::MAX - 5);
        let after = t(3);
        assert_eq!(before.earliest(after), before);
        assert_eq!(after.earliest(before), before);
    }
}
