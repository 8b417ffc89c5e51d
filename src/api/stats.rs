//! The drop counters of every layer in one struct ([`MpbleStats`]), for
//! the stats call of each vendor module, and the callback latency
//! histogram ([`LatencyHistogram`]) whose figures it also carries.

use super::event::MpbleStats;
use super::Firmware;

impl Firmware {
    /// Every drop counter: the host's, the H4 parser's, the tuple queue's
    /// and each adapter's.
    pub fn stats(&self) -> MpbleStats {
        let host = &self.stack.host;
        let s = host.core.stats;
        let h4 = host.h4_stats();
        MpbleStats {
            size: core::mem::size_of::<MpbleStats>() as u32,
            bad_events: s.bad_events,
            bad_acl: s.bad_acl,
            unknown_handle: s.unknown_handle,
            l2cap_errors: s.l2cap_errors,
            unknown_cid: s.unknown_cid,
            tx_dropped: s.tx_dropped,
            host_events_dropped: s.events_dropped,
            att_events_dropped: s.att_events_dropped,
            gatt_client_unexpected: s.gatt_client_unexpected,
            h4_oversize_dropped: h4.oversize_dropped,
            h4_bad_indicator: h4.bad_indicator,
            h4_sco_iso_dropped: h4.sco_iso_dropped,
            events_dropped: self.stack.events_dropped,
            qpy_events_dropped: self.qpy.events_dropped,
            pycom_events_dropped: self.pycom.events_dropped,
            adv_fifo_dropped: self.pycom.fifo.dropped,
            cb_latency_count: self.latency.count(),
            cb_latency_p50_us: self.latency.percentile(50),
            cb_latency_p99_us: self.latency.percentile(99),
            cb_latency_max_us: self.latency.max(),
        }
    }

    /// The counters of what was accepted and then lost (not those of
    /// malformed input): all zero whenever the stack's bounds hold, which
    /// the tests and fuzz targets assert.
    pub fn lost(&self) -> [(&'static str, u32); 6] {
        let s = self.stats();
        [
            ("tx_dropped", s.tx_dropped),
            ("host_events_dropped", s.host_events_dropped),
            ("att_events_dropped", s.att_events_dropped),
            ("events_dropped", s.events_dropped),
            ("qpy_events_dropped", s.qpy_events_dropped),
            ("pycom_events_dropped", s.pycom_events_dropped),
        ]
    }
}

/// Sub-buckets per power of two: values are kept within 1/8 (12.5 %).
const SUB_BITS: u32 = 3;
const SUB: usize = 1 << SUB_BITS;
/// Values below `SUB` get a bucket each; every power of two from `SUB` up
/// to 2^31 gets `SUB` of them.
const BUCKETS: usize = SUB * (32 - SUB_BITS as usize + 1);

/// A log2/linear histogram of durations in µs (HDR-style): fixed size
/// (under 1 KiB, no heap), zero at start, so its percentiles cost nothing
/// to keep on a microcontroller. Counts saturate instead of wrapping.
#[derive(Clone, Debug)]
pub struct LatencyHistogram {
    buckets: [u32; BUCKETS],
    count: u32,
    max: u32,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self::new()
    }
}

impl LatencyHistogram {
    pub const fn new() -> Self {
        LatencyHistogram {
            buckets: [0; BUCKETS],
            count: 0,
            max: 0,
        }
    }

    fn bucket(us: u32) -> usize {
        if (us as usize) < SUB {
            return us as usize;
        }
        // The top set bit picks the power of two, the SUB_BITS below it
        // the linear step inside it.
        let e = 31 - us.leading_zeros();
        let sub = (us >> (e - SUB_BITS)) as usize & (SUB - 1);
        SUB * (e - SUB_BITS + 1) as usize + sub
    }

    /// The largest value that falls in bucket `i`.
    fn upper(i: usize) -> u32 {
        if i < SUB {
            return i as u32;
        }
        let e = (i / SUB) as u32 + SUB_BITS - 1;
        let sub = (i % SUB) as u64;
        let lo = (1u64 << e) + (sub << (e - SUB_BITS));
        (lo + (1u64 << (e - SUB_BITS)) - 1).min(u64::from(u32::MAX)) as u32
    }

    pub fn record(&mut self, us: u32) {
        let b = &mut self.buckets[Self::bucket(us)];
        *b = b.saturating_add(1);
        self.count = self.count.saturating_add(1);
        self.max = self.max.max(us);
    }

    pub fn count(&self) -> u32 {
        self.count
    }

    pub fn max(&self) -> u32 {
        self.max
    }

    /// The `p`th percentile (0..=100): the upper edge of the bucket that
    /// holds the value of rank ceil(count * p / 100), never above the
    /// maximum; 0 while empty.
    pub fn percentile(&self, p: u32) -> u32 {
        let total: u64 = self.buckets.iter().map(|&n| u64::from(n)).sum();
        if total == 0 {
            return 0;
        }
        let rank = (total * u64::from(p.min(100))).div_ceil(100).max(1);
        let mut seen = 0u64;
        for (i, &n) in self.buckets.iter().enumerate() {
            seen += u64::from(n);
            if seen >= rank {
                return Self::upper(i).min(self.max);
            }
        }
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::le_advertising_report;

    #[test]
    fn a_fresh_stack_counts_nothing_and_malformed_input_is_counted() {
        let mut fw = std::boxed::Box::new(Firmware::new());
        let s = fw.stats();
        assert_eq!(s.size as usize, core::mem::size_of::<MpbleStats>());
        assert_eq!(
            s,
            MpbleStats {
                size: s.size,
                ..MpbleStats::default()
            }
        );
        // A bad packet indicator, then an LE Advertising Report whose
        // Num_Reports promises more than it carries.
        let mut bad = std::vec![0x07];
        let mut adv = le_advertising_report([1; 6], &[]);
        adv[4] = 2;
        bad.extend(adv);
        assert_eq!(fw.h4_rx(&bad, 0), bad.len());
        let s = fw.stats();
        assert_eq!((s.h4_bad_indicator, s.bad_events), (1, 1));
        assert!(fw.lost().iter().all(|(_, n)| *n == 0));
    }

    #[test]
    fn every_value_lands_in_a_bucket_whose_upper_edge_is_within_an_eighth() {
        let mut prev = 0;
        for us in (0..100_000u32).chain([u32::MAX / 3, u32::MAX - 1, u32::MAX]) {
            let b = LatencyHistogram::bucket(us);
            assert!(b < BUCKETS);
            assert!(b >= prev, "buckets grow with the value");
            prev = b;
            let up = LatencyHistogram::upper(b);
            assert!(
                up >= us && u64::from(up) <= u64::from(us) + u64::from(us) / 8,
                "{us}: {up}"
            );
        }
        assert_eq!(LatencyHistogram::bucket(u32::MAX), BUCKETS - 1);
    }

    #[test]
    fn percentiles_of_a_known_spread() {
        let mut h = LatencyHistogram::new();
        assert_eq!(
            (h.count(), h.percentile(50), h.percentile(99), h.max()),
            (0, 0, 0, 0)
        );
        // 1..=1000 µs once each: median 500, 99th 990 (within an eighth).
        for us in 1..=1000 {
            h.record(us);
        }
        assert_eq!(h.count(), 1000);
        assert_eq!(h.max(), 1000);
        let p50 = h.percentile(50);
        let p99 = h.percentile(99);
        assert!((500..=562).contains(&p50), "{p50}");
        assert!((990..=1000).contains(&p99), "{p99}");
        // One slow outlier moves the maximum, not the median.
        h.record(633_000);
        assert_eq!(h.max(), 633_000);
        assert_eq!(h.percentile(50), p50);
        assert_eq!(h.percentile(100), 633_000);
    }

    #[test]
    fn the_stats_carry_the_latency_figures() {
        let mut fw = std::boxed::Box::new(Firmware::new());
        for us in [100, 200, 300] {
            fw.latency.record(us);
        }
        let s = fw.stats();
        assert_eq!((s.cb_latency_count, s.cb_latency_max_us), (3, 300));
        assert!((200..=223).contains(&s.cb_latency_p50_us));
        assert_eq!(s.cb_latency_p99_us, 300);
        fw.reset();
        assert_eq!(fw.stats().cb_latency_count, 0);
    }
}
