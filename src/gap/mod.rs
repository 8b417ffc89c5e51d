//! Generic Access Profile (Core spec Vol 3 Part C): advertising state and
//! the Advertising Data format.
pub mod ad;

use crate::config;
use crate::hci::command::{AdvertisingParameters, ScanParameters};
use heapless::Vec;

/// The peripheral's advertising configuration as the application set it.
///
/// Data is kept here and sent to the controller when advertising starts
/// (and at once when it changes while advertising), so a controller reset
/// between `gattStop` and `gattStart` loses nothing the app set.
#[derive(Clone, Debug)]
pub struct Advertiser {
    pub params: AdvertisingParameters,
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
    /// Defaults of LE Set Advertising Parameters (Vol 4 Part E 7.8.5):
    /// 1.28 s interval, ADV_IND, public address, all three channels.
    pub const fn new() -> Self {
        Advertiser {
            params: AdvertisingParameters {
                interval_min: 0x0800,
                interval_max: 0x0800,
                advertising_type: 0x00,
                own_address_type: 0x00,
                peer_address_type: 0x00,
                peer_address: [0; 6],
                channel_map: 0x07,
                filter_policy: 0x00,
            },
            data: Vec::new(),
            scan_response: Vec::new(),
            enabled: false,
        }
    }
}

/// The central's scanning configuration (Vol 4 Part E 7.8.10).
#[derive(Clone, Copy, Debug)]
pub struct Scanner {
    pub params: ScanParameters,
    /// True while the controller scans (as far as the host knows).
    pub enabled: bool,
}

impl Default for Scanner {
    fn default() -> Self {
        Self::new()
    }
}

impl Scanner {
    /// Active scanning, 160 ms interval, 50 ms window, public address.
    pub const fn new() -> Self {
        Scanner {
            params: ScanParameters {
                scan_type: 0x01,
                interval: 0x0100,
                window: 0x0050,
                own_address_type: 0x00,
                filter_policy: 0x00,
            },
            enabled: false,
        }
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
