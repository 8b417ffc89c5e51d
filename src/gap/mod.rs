//! Generic Access Profile (Core spec Vol 3 Part C): advertising state and
//! the Advertising Data format.
pub mod ad;

use crate::config;
use crate::hci::command::{AdvertisingParameters, ScanParameters};
use heapless::Vec;

/// Defaults of LE Set Advertising Parameters (Vol 4 Part E 7.8.5): 1.28 s
/// interval, ADV_IND, public address, all three channels.
pub const ADVERTISING_DEFAULTS: AdvertisingParameters = AdvertisingParameters {
    interval_min: 0x0800,
    interval_max: 0x0800,
    advertising_type: 0x00,
    own_address_type: 0x00,
    peer_address_type: 0x00,
    peer_address: [0; 6],
    channel_map: 0x07,
    filter_policy: 0x00,
};

/// Our scanning defaults: active scanning, 160 ms interval, 50 ms window,
/// public address.
pub const SCAN_DEFAULTS: ScanParameters = ScanParameters {
    scan_type: 0x01,
    interval: 0x0100,
    window: 0x0050,
    own_address_type: 0x00,
    filter_policy: 0x00,
};

/// `p` with each field XOR the default's: applied twice it gives `p` back.
/// The parameters are stored this way so that the all-zero bit pattern is
/// the defaults, and the core's static needs no initial image (`.bss`).
const fn xor_adv(p: AdvertisingParameters) -> AdvertisingParameters {
    let d = ADVERTISING_DEFAULTS;
    AdvertisingParameters {
        interval_min: p.interval_min ^ d.interval_min,
        interval_max: p.interval_max ^ d.interval_max,
        advertising_type: p.advertising_type ^ d.advertising_type,
        own_address_type: p.own_address_type ^ d.own_address_type,
        peer_address_type: p.peer_address_type ^ d.peer_address_type,
        peer_address: p.peer_address,
        channel_map: p.channel_map ^ d.channel_map,
        filter_policy: p.filter_policy ^ d.filter_policy,
    }
}

/// The same for the scan parameters.
const fn xor_scan(p: ScanParameters) -> ScanParameters {
    let d = SCAN_DEFAULTS;
    ScanParameters {
        scan_type: p.scan_type ^ d.scan_type,
        interval: p.interval ^ d.interval,
        window: p.window ^ d.window,
        own_address_type: p.own_address_type ^ d.own_address_type,
        filter_policy: p.filter_policy ^ d.filter_policy,
    }
}

/// The peripheral's advertising configuration as the application set it.
///
/// Data is kept here and sent to the controller when advertising starts
/// (and at once when it changes while advertising), so a controller reset
/// between `gattStop` and `gattStart` loses nothing the app set.
#[derive(Clone, Debug)]
pub struct Advertiser {
    /// The parameters XOR [`ADVERTISING_DEFAULTS`] (zero: the defaults).
    params_xor: AdvertisingParameters,
    pub data: Vec<u8, { config::ADV_DATA_MAX }>,
    pub scan_response: Vec<u8, { config::ADV_DATA_MAX }>,
    /// True while the controller advertises (as far as the host knows).
    pub enabled: bool,
}

impl Default for Advertiser {
    fn default() -> Self {
        Self::new()
    }
}

impl Advertiser {
    /// The defaults (all fields zero).
    pub const fn new() -> Self {
        Advertiser {
            params_xor: xor_adv(ADVERTISING_DEFAULTS),
            data: Vec::new(),
            scan_response: Vec::new(),
            enabled: false,
        }
    }

    /// The parameters LE Set Advertising Parameters will carry.
    pub const fn params(&self) -> AdvertisingParameters {
        xor_adv(self.params_xor)
    }

    pub fn set_params(&mut self, p: AdvertisingParameters) {
        self.params_xor = xor_adv(p);
    }
}

/// The central's scanning configuration (Vol 4 Part E 7.8.10).
#[derive(Clone, Copy, Debug)]
pub struct Scanner {
    /// The parameters XOR [`SCAN_DEFAULTS`] (zero: the defaults).
    params_xor: ScanParameters,
    /// True while the controller scans (as far as the host knows).
    pub enabled: bool,
}

impl Default for Scanner {
    fn default() -> Self {
        Self::new()
    }
}

impl Scanner {
    /// The defaults (all fields zero).
    pub const fn new() -> Self {
        Scanner {
            params_xor: xor_scan(SCAN_DEFAULTS),
            enabled: false,
        }
    }

    /// The parameters LE Set Scan Parameters will carry.
    pub const fn params(&self) -> ScanParameters {
        xor_scan(self.params_xor)
    }

    pub fn set_params(&mut self, p: ScanParameters) {
        self.params_xor = xor_scan(p);
    }
}

/// One advertising report, copied out of the HCI event so it can wait in
/// the event queue. Legacy advertising data is at most 31 bytes; longer
/// extended data is cut there (`truncated`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AdvReportEvent {
    /// Legacy Event_Type: 0 ADV_IND, 1 ADV_DIRECT_IND, 2 ADV_SCAN_IND,
    /// 3 ADV_NONCONN_IND, 4 SCAN_RSP (Vol 4 Part E 7.7.65.2).
    pub event_type: u8,
    pub address_type: u8,
    /// LSB first.
    pub address: [u8; 6],
    pub rssi: i8,
    pub len: u8,
    pub data: [u8; config::ADV_DATA_MAX],
    pub truncated: bool,
}

impl AdvReportEvent {
    pub fn data(&self) -> &[u8] {
        &self.data[..usize::from(self.len).min(config::ADV_DATA_MAX)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The defaults are stored as all zeros (the core's static stays in
    /// `.bss`), and every value set reads back unchanged.
    #[test]
    fn gap_parameters_are_zero_when_default() {
        let a = Advertiser::new();
        assert_eq!(a.params_xor, xor_adv(ADVERTISING_DEFAULTS));
        assert_eq!(
            (a.params_xor.interval_min, a.params_xor.channel_map),
            (0, 0)
        );
        assert_eq!(a.params(), ADVERTISING_DEFAULTS);
        assert_eq!(a.params(), AdvertisingParameters::default());
        let s = Scanner::new();
        assert_eq!(
            (
                s.params_xor.scan_type,
                s.params_xor.interval,
                s.params_xor.window
            ),
            (0, 0, 0)
        );
        assert_eq!(s.params(), SCAN_DEFAULTS);
        let mut a = Advertiser::new();
        let p = AdvertisingParameters {
            interval_min: 0,
            channel_map: 1,
            peer_address: [1, 2, 3, 4, 5, 6],
            ..ADVERTISING_DEFAULTS
        };
        a.set_params(p);
        assert_eq!(a.params(), p);
        let mut s = Scanner::new();
        let q = ScanParameters {
            scan_type: 0,
            interval: 0x4000,
            ..SCAN_DEFAULTS
        };
        s.set_params(q);
        assert_eq!(s.params(), q);
    }
}
