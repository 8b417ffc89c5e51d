//! Pycom's advertising side: the report FIFO behind `get_adv()`,
//! `resolve_adv_data()`, and the packets `set_advertisement()` builds
//! (reference §2.4, §2.8, §10).

use super::copy_prefix;
use crate::config;
use crate::gap::ad::{self, ad_type, AdBuilder, AdFull};
use crate::gap::AdvReportEvent;
use heapless::Deque;

/// Bytes of `adv.data`: advertising data then the scan response, zero
/// padded, as Pycom's firmware reports them (reference §2.4: 31 + 31).
pub const ADV_REPORT_DATA: usize = 2 * config::ADV_DATA_MAX;

/// One `get_adv()` report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AdvEntry {
    /// The address most significant byte first, as ESP-IDF stores it
    /// (`ubinascii.hexlify(adv.mac)` prints the usual order).
    pub mac: [u8; 6],
    pub addr_type: u8,
    /// Legacy event type masked with 3, as the firmware reports it (a
    /// SCAN_RSP, 4, becomes 0).
    pub adv_type: u8,
    pub rssi: i8,
    pub data: [u8; ADV_REPORT_DATA],
}

/// Reverses an on-air (LSB first) address into Pycom's `mac` order.
pub fn mac_from_address(address: [u8; 6]) -> [u8; 6] {
    let mut m = address;
    m.reverse();
    m
}

/// The advertising-report FIFO: 16 entries (reference §12); when full, new
/// reports are dropped and counted, older ones kept.
pub struct AdvFifo {
    entries: Deque<AdvEntry, { config::PYCOM_ADV_FIFO }>,
    /// The last advertising data seen, to put in front of its device's scan
    /// response (ESP-IDF reports both together): address, type, length.
    last_address: [u8; 6],
    last_address_type: u8,
    last_len: u8,
    last_data: [u8; config::ADV_DATA_MAX],
    /// Reports dropped because the FIFO was full.
    pub dropped: u32,
}

impl Default for AdvFifo {
    fn default() -> Self {
        Self::new()
    }
}

impl AdvFifo {
    pub const fn new() -> Self {
        AdvFifo {
            entries: Deque::new(),
            last_address: [0; 6],
            last_address_type: 0,
            last_len: 0,
            last_data: [0; config::ADV_DATA_MAX],
            dropped: 0,
        }
    }

    pub fn clear(&mut self) {
        self.entries.clear();
        self.last_len = 0;
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn pop(&mut self) -> Option<AdvEntry> {
        self.entries.pop_front()
    }

    /// Queues one controller report; false when the FIFO was full.
    pub fn push(&mut self, r: &AdvReportEvent) -> bool {
        let mut data = [0u8; ADV_REPORT_DATA];
        let own = r.data();
        // Legacy Event_Type 4 is SCAN_RSP (Vol 4 Part E 7.7.65.2).
        let scan_rsp = r.event_type == 4;
        let mut at = 0;
        if scan_rsp
            && self.last_len > 0
            && self.last_address == r.address
            && self.last_address_type == r.address_type
        {
            let n = usize::from(self.last_len);
            at = copy_prefix(&mut data, self.last_data.get(..n).unwrap_or(&[]));
        }
        copy_prefix(data.get_mut(at..).unwrap_or(&mut []), own);
        if !scan_rsp {
            self.last_address = r.address;
            self.last_address_type = r.address_type;
            self.last_len = copy_prefix(&mut self.last_data, own) as u8;
        }
        let entry = AdvEntry {
            mac: mac_from_address(r.address),
            addr_type: r.address_type,
            adv_type: r.event_type & 0x03,
            rssi: r.rssi,
            data,
        };
        if self.entries.push_back(entry).is_err() {
            self.dropped = self.dropped.wrapping_add(1);
            return false;
        }
        true
    }
}

/// How `resolve_adv_data` returns what it found (reference §10).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resolved<'a> {
    None,
    /// `ADV_FLAG` (first byte, signed) and `ADV_TX_PWR` (signed dBm).
    Int(i8),
    /// The local names, raw bytes as a `str`.
    Str(&'a [u8]),
    Bytes(&'a [u8]),
}

/// `resolve_adv_data(data, data_type)`: the first AD structure of that
/// type, typed as Pycom's firmware returns it. Types the firmware never
/// returns (device class, appearance, advertising interval, 32- and 128-bit
/// service data) give `None` even when present, like every unknown type.
pub fn resolve(data: &[u8], data_type: i64) -> Resolved<'_> {
    let Ok(t) = u8::try_from(data_type) else {
        return Resolved::None;
    };
    let returned = matches!(t, 0x01..=0x0A | 0x16 | 0xFF);
    let Some(found) = returned.then(|| ad::find(data, t)).flatten() else {
        return Resolved::None;
    };
    match t {
        ad_type::FLAGS | ad_type::TX_POWER_LEVEL => match found.first() {
            Some(&b) => Resolved::Int(b as i8),
            None => Resolved::None,
        },
        ad_type::SHORTENED_LOCAL_NAME | ad_type::COMPLETE_LOCAL_NAME => Resolved::Str(found),
        _ => Resolved::Bytes(found),
    }
}

/// `set_advertisement(...)`'s service UUID.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdvUuid<'a> {
    None,
    /// An int: a 16-bit (≤ 0xFFFF) or 32-bit UUID.
    Int(u32),
    /// 128-bit UUIDs, 16 bytes each, LSB first as given.
    List128(&'a [u8]),
}

/// What `set_advertisement` was given (all optional).
#[derive(Clone, Copy, Debug)]
pub struct Advertisement<'a> {
    pub name: Option<&'a [u8]>,
    pub manufacturer_data: Option<&'a [u8]>,
    pub service_data: Option<&'a [u8]>,
    pub service_uuid: AdvUuid<'a>,
}

/// Why `set_advertisement` refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdvError {
    /// A 128-bit UUID list whose length is not a multiple of 16
    /// (the firmware's "incorrect service UUID length").
    UuidLength,
    /// The fields do not fit in 31 bytes of scan response.
    TooLong,
}

/// Builds the advertising data and scan response Pycom's firmware sends
/// (reference §2.8): flags (LE General Discoverable, BR/EDR not supported)
/// and the name in the advertising packet; manufacturer data, service data
/// and the service UUID list in the scan response. A name too long for the
/// packet is sent shortened (AD 0x08), as the Core spec allows
/// (CSS Part A 1.2). An int UUID is sent as a 16- or 32-bit list: the
/// firmware's 16-byte form of it carries stack garbage (reference §13
/// item 7), which is not copied.
pub fn build(a: &Advertisement<'_>) -> Result<(AdBuilder, AdBuilder), AdvError> {
    let mut adv = AdBuilder::new();
    let mut rsp = AdBuilder::new();
    let _ = adv.push(
        ad_type::FLAGS,
        &[ad::flags::LE_GENERAL_DISCOVERABLE | ad::flags::BR_EDR_NOT_SUPPORTED],
    );
    if let Some(name) = a.name {
        // 31 - 3 (flags) - 2 (length, type).
        let room = config::ADV_DATA_MAX - 5;
        let r = if name.len() <= room {
            adv.push(ad_type::COMPLETE_LOCAL_NAME, name)
        } else {
            adv.push(
                ad_type::SHORTENED_LOCAL_NAME,
                name.get(..room).unwrap_or(&[]),
            )
        };
        r.map_err(|AdFull| AdvError::TooLong)?;
    }
    let full = |_: AdFull| AdvError::TooLong;
    if let Some(m) = a.manufacturer_data {
        rsp.push(ad_type::MANUFACTURER_SPECIFIC_DATA, m)
            .map_err(full)?;
    }
    if let Some(d) = a.service_data {
        rsp.push(ad_type::SERVICE_DATA_16BIT_UUID, d)
            .map_err(full)?;
    }
    match a.service_uuid {
        AdvUuid::None => {}
        AdvUuid::Int(v) => match u16::try_from(v) {
            Ok(v16) => rsp
                .push(ad_type::COMPLETE_LIST_16BIT_UUIDS, &v16.to_le_bytes())
                .map_err(full)?,
            // Complete List of 32-bit Service UUIDs (CSS Part A 1.1).
            Err(_) => rsp.push(0x05, &v.to_le_bytes()).map_err(full)?,
        },
        AdvUuid::List128(list) => {
            if list.is_empty() || list.len() % 16 != 0 {
                return Err(AdvError::UuidLength);
            }
            rsp.push(ad_type::COMPLETE_LIST_128BIT_UUIDS, list)
                .map_err(full)?;
        }
    }
    Ok((adv, rsp))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(event_type: u8, address: [u8; 6], data: &[u8]) -> AdvReportEvent {
        let mut r = AdvReportEvent {
            event_type,
            address_type: 0,
            address,
            rssi: -60,
            len: data.len() as u8,
            data: [0; config::ADV_DATA_MAX],
            truncated: false,
        };
        r.data[..data.len()].copy_from_slice(data);
        r
    }

    /// An ADV_IND and its SCAN_RSP: the second report carries both, back
    /// to back, so a name only in the scan response is found too; the
    /// SCAN_RSP type 4 is reported as 0; the mac is MSB first.
    #[test]
    fn a_scan_response_follows_its_advertising_data() {
        let mut f = AdvFifo::new();
        let addr = [0x11, 0x22, 0x33, 0x44, 0x55, 0x66];
        assert!(f.push(&report(0, addr, &[2, 1, 6])));
        let mut rsp = std::vec![11, 9];
        rsp.extend_from_slice(b"Heart Rate");
        assert!(f.push(&report(4, addr, &rsp)));
        let first = f.pop().unwrap();
        assert_eq!(first.mac, [0x66, 0x55, 0x44, 0x33, 0x22, 0x11]);
        assert_eq!(&first.data[..4], &[2, 1, 6, 0]);
        let second = f.pop().unwrap();
        assert_eq!(second.adv_type, 0);
        assert_eq!(&second.data[..3], &[2, 1, 6]);
        assert_eq!(
            resolve(&second.data, 9),
            Resolved::Str(b"Heart Rate".as_slice())
        );
        assert_eq!(resolve(&second.data, 1), Resolved::Int(6));
        assert_eq!(second.data.len(), 62);
    }

    /// 16 entries; the 17th is dropped and counted, the old ones kept.
    #[test]
    fn a_full_fifo_drops_new_reports() {
        let mut f = AdvFifo::new();
        for i in 0..20u8 {
            f.push(&report(0, [i, 0, 0, 0, 0, 0], &[2, 1, 6]));
        }
        assert_eq!(f.len(), 16);
        assert_eq!(f.dropped, 4);
        assert_eq!(f.pop().unwrap().mac[5], 0);
    }

    /// Reference §10: iBeacon manufacturer data comes back whole (company
    /// id included); the types the firmware never returns give None.
    #[test]
    fn resolve_types() {
        let data = [
            2, 0x01, 0x06, 5, 0xFF, 0x4C, 0x00, 0x02, 0x15, 3, 0x19, 0x40, 0x00, 2, 0x0A, 0xF4,
        ];
        assert_eq!(
            resolve(&data, 0xFF),
            Resolved::Bytes([0x4C, 0x00, 0x02, 0x15].as_slice())
        );
        assert_eq!(resolve(&data, 0x19), Resolved::None);
        assert_eq!(resolve(&data, 0x0A), Resolved::Int(-12));
        assert_eq!(resolve(&data, 9), Resolved::None);
        assert_eq!(resolve(&data, 300), Resolved::None);
    }

    /// The seed example's `set_advertisement(name='LoPy',
    /// service_uuid=b'1234567890123456')`.
    #[test]
    fn builds_the_seed_advertisement() {
        let (adv, rsp) = build(&Advertisement {
            name: Some(b"LoPy"),
            manufacturer_data: None,
            service_data: None,
            service_uuid: AdvUuid::List128(b"1234567890123456"),
        })
        .unwrap();
        assert_eq!(adv.as_bytes(), b"\x02\x01\x06\x05\x09LoPy");
        assert_eq!(rsp.as_bytes(), b"\x11\x071234567890123456");
        let (_, rsp) = build(&Advertisement {
            name: None,
            manufacturer_data: Some(b"Pycom"),
            service_data: None,
            service_uuid: AdvUuid::Int(0xEC00),
        })
        .unwrap();
        assert_eq!(rsp.as_bytes(), b"\x06\xFFPycom\x03\x03\x00\xEC");
        let bad = build(&Advertisement {
            name: None,
            manufacturer_data: None,
            service_data: None,
            service_uuid: AdvUuid::List128(b"123"),
        });
        assert_eq!(bad.err(), Some(AdvError::UuidLength));
    }
}
