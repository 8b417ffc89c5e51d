//! Advertising Data: a sequence of AD structures `length, AD type, data`
//! (Core spec Vol 3 Part C 11; AD types in the Core Specification
//! Supplement Part A).

use crate::config;
use heapless::Vec;

/// AD types used by the vendor APIs (Assigned Numbers 2.3).
pub mod ad_type {
    pub const FLAGS: u8 = 0x01;
    pub const INCOMPLETE_LIST_16BIT_UUIDS: u8 = 0x02;
    pub const COMPLETE_LIST_16BIT_UUIDS: u8 = 0x03;
    pub const INCOMPLETE_LIST_128BIT_UUIDS: u8 = 0x06;
    pub const COMPLETE_LIST_128BIT_UUIDS: u8 = 0x07;
    pub const SHORTENED_LOCAL_NAME: u8 = 0x08;
    pub const COMPLETE_LOCAL_NAME: u8 = 0x09;
    pub const TX_POWER_LEVEL: u8 = 0x0A;
    pub const SERVICE_DATA_16BIT_UUID: u8 = 0x16;
    pub const APPEARANCE: u8 = 0x19;
    pub const MANUFACTURER_SPECIFIC_DATA: u8 = 0xFF;
}

/// Flags AD bits (CSS Part A 1.3).
pub mod flags {
    pub const LE_LIMITED_DISCOVERABLE: u8 = 0x01;
    pub const LE_GENERAL_DISCOVERABLE: u8 = 0x02;
    pub const BR_EDR_NOT_SUPPORTED: u8 = 0x04;
}

/// The structure does not fit in the 31 bytes of legacy advertising data.
#[derive(Debug, PartialEq, Eq)]
pub struct AdFull;

/// Builds legacy Advertising Data (at most 31 bytes, Vol 6 Part B 2.3.1.1).
#[derive(Clone, Debug, Default)]
pub struct AdBuilder {
    bytes: Vec<u8, { config::ADV_DATA_MAX }>,
}

impl AdBuilder {
    pub const fn new() -> Self {
        AdBuilder { bytes: Vec::new() }
    }

    /// Appends one AD structure; nothing is written if it does not fit.
    pub fn push(&mut self, ad_type: u8, data: &[u8]) -> Result<(), AdFull> {
        // The length byte counts the AD type and the data (Vol 3 Part C 11).
        let len = data.len().checked_add(1).ok_or(AdFull)?;
        if len > u8::MAX as usize || self.bytes.len() + 1 + len > config::ADV_DATA_MAX {
            return Err(AdFull);
        }
        // Capacity was checked above, so none of these can fail.
        let _ = self.bytes.push(len as u8);
        let _ = self.bytes.push(ad_type);
        let _ = self.bytes.extend_from_slice(data);
        Ok(())
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// One AD structure found in advertising data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AdStructure<'a> {
    pub ad_type: u8,
    pub data: &'a [u8],
}

/// Iterates the AD structures of advertising or scan response data. Stops
/// at the first zero length (the rest is padding, Vol 3 Part C 11) or at a
/// structure that runs past the end (malformed input is not an error to
/// the iterator; it just ends).
pub struct AdIter<'a> {
    rest: &'a [u8],
}

impl<'a> AdIter<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        AdIter { rest: data }
    }
}

impl<'a> Iterator for AdIter<'a> {
    type Item = AdStructure<'a>;

    fn next(&mut self) -> Option<AdStructure<'a>> {
        let (&len, tail) = self.rest.split_first()?;
        let len = len as usize;
        if len == 0 || len > tail.len() {
            self.rest = &[];
            return None;
        }
        let (structure, rest) = tail.split_at(len);
        self.rest = rest;
        let (&ad_type, data) = structure.split_first()?;
        Some(AdStructure { ad_type, data })
    }
}

/// The data of the first AD structure of `ad_type`, if any.
pub fn find(data: &[u8], ad_type: u8) -> Option<&[u8]> {
    AdIter::new(data)
        .find(|s| s.ad_type == ad_type)
        .map(|s| s.data)
}

/// The local name: Complete Local Name, else Shortened Local Name.
pub fn local_name(data: &[u8]) -> Option<&[u8]> {
    find(data, ad_type::COMPLETE_LOCAL_NAME).or_else(|| find(data, ad_type::SHORTENED_LOCAL_NAME))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_the_quecpython_demo_advertising_data() {
        // ble_server.py: flags 0x05 then the Complete Local Name.
        let mut b = AdBuilder::new();
        b.push(
            ad_type::FLAGS,
            &[flags::LE_LIMITED_DISCOVERABLE | flags::BR_EDR_NOT_SUPPORTED],
        )
        .unwrap();
        b.push(ad_type::COMPLETE_LOCAL_NAME, b"Quectel_ble")
            .unwrap();
        let mut expected = std::vec![0x02, 0x01, 0x05, 0x0C, 0x09];
        expected.extend_from_slice(b"Quectel_ble");
        assert_eq!(b.as_bytes(), &expected[..]);
    }

    #[test]
    fn refuses_a_structure_past_31_bytes_and_keeps_what_was_there() {
        let mut b = AdBuilder::new();
        b.push(ad_type::FLAGS, &[0x06]).unwrap();
        assert_eq!(
            b.push(ad_type::MANUFACTURER_SPECIFIC_DATA, &[0u8; 27]),
            Err(AdFull)
        );
        assert_eq!(b.as_bytes(), &[0x02, 0x01, 0x06]);
        // Exactly 31 bytes fits: 3 + (1 + 1 + 26).
        b.push(ad_type::MANUFACTURER_SPECIFIC_DATA, &[0u8; 26])
            .unwrap();
        assert_eq!(b.as_bytes().len(), 31);
    }

    #[test]
    fn parses_structures_and_stops_at_padding_or_truncation() {
        let data = [
            0x02, 0x01, 0x06, 0x03, 0x03, 0x0D, 0x18, 0x05, 0x09, b'a', b'b', b'c', b'd', 0x00,
            0x00,
        ];
        let all: std::vec::Vec<_> = AdIter::new(&data).collect();
        assert_eq!(all.len(), 3);
        assert_eq!(all[1].ad_type, ad_type::COMPLETE_LIST_16BIT_UUIDS);
        assert_eq!(all[1].data, &[0x0D, 0x18]);
        assert_eq!(local_name(&data), Some(&b"abcd"[..]));

        // A length running past the end ends the iteration without panic.
        let bad = [0x02, 0x01, 0x06, 0x09, 0x09, b'x'];
        assert_eq!(AdIter::new(&bad).count(), 1);
        assert_eq!(local_name(&bad), None);
        assert_eq!(AdIter::new(&[]).count(), 0);
    }

    #[test]
    fn shortened_name_is_used_when_no_complete_name() {
        let data = [0x04, 0x08, b'a', b'b', b'c'];
        assert_eq!(local_name(&data), Some(&b"abc"[..]));
    }
}
