//! Generic Access Profile (Core spec Vol 3 Part C): advertising state and
//! the Advertising Data format.
pub mod ad;

use crate::config;
use crate::hci::command::AdvertisingParameters;
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
