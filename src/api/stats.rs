//! The drop counters of every layer in one struct ([`MpbleStats`]), for
//! the stats call of each vendor module.

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
}
