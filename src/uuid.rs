//! Bluetooth UUIDs (Core spec Vol 3 Part B 2.5.1).
//!
//! A UUID is either a 16-bit alias of the Bluetooth Base UUID or a full
//! 128-bit value. 128-bit values are stored little-endian, as on air.

use crate::bytes::{le_u16_at, Overflow, Writer};

/// Bluetooth Base UUID 00000000-0000-1000-8000-00805F9B34FB, little-endian.
pub const BASE_UUID_LE: [u8; 16] = [
    0xFB, 0x34, 0x9B, 0x5F, 0x80, 0x00, 0x00, 0x80, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Uuid {
    /// 16-bit alias (e.g. 0x2800 Primary Service).
    Uuid16(u16),
    /// Full 128-bit UUID, little-endian byte order.
    Uuid128([u8; 16]),
}

impl Uuid {
    /// Parses a UUID from its on-air form: 2 or 16 little-endian bytes.
    pub fn from_le_bytes(bytes: &[u8]) -> Option<Uuid> {
        match bytes.len() {
            2 => le_u16_at(bytes, 0).map(Uuid::Uuid16),
            16 => bytes.try_into().ok().map(Uuid::Uuid128),
            _ => None,
        }
    }

    /// Length of the on-air form (2 or 16).
    pub fn encoded_len(&self) -> usize {
        match self {
            Uuid::Uuid16(_) => 2,
            Uuid::Uuid128(_) => 16,
        }
    }

    /// Writes the on-air form into `out`, returning the number of bytes
    /// written, or `None` if `out` is too short.
    pub fn write_le(&self, out: &mut [u8]) -> Option<usize> {
        let mut w = Writer::new(out);
        self.put(&mut w).ok()?;
        Some(w.len())
    }

    /// Appends the on-air form (2 or 16 bytes) to `w`; nothing is written
    /// when it does not fit.
    pub fn put(&self, w: &mut Writer<'_>) -> Result<(), Overflow> {
        match self {
            Uuid::Uuid16(v) => w.put_u16(*v)?,
            Uuid::Uuid128(b) => w.put_slice(b)?,
        };
        Ok(())
    }

    /// The 128-bit little-endian form; 16-bit UUIDs expand over the Base UUID.
    pub fn to_128_le(&self) -> [u8; 16] {
        match self {
            Uuid::Uuid16(v) => {
                // Vol 3 Part B 2.5.1: the alias is octets 12-13 of the
                // Base UUID (its 32-bit field, upper half zero).
                let mut b = BASE_UUID_LE;
                let [lo, hi] = v.to_le_bytes();
                b[12] = lo;
                b[13] = hi;
                b
            }
            Uuid::Uuid128(b) => *b,
        }
    }

    /// Two UUIDs are the same attribute type if their 128-bit forms match
    /// (Vol 3 Part F 3.2.1: a 16-bit UUID equals its 128-bit expansion).
    pub fn same_as(&self, other: &Uuid) -> bool {
        self.to_128_le() == other.to_128_le()
    }

    /// The 16-bit alias if this UUID has one (possibly through the Base UUID).
    pub fn as_u16(&self) -> Option<u16> {
        match self {
            Uuid::Uuid16(v) => Some(*v),
            Uuid::Uuid128(b) => {
                if b[..12] == BASE_UUID_LE[..12] && b[14..] == BASE_UUID_LE[14..] {
                    le_u16_at(b, 12)
                } else {
                    None
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid16_expands_over_base_uuid() {
        let u = Uuid::Uuid16(0x180F);
        let full = u.to_128_le();
        assert_eq!(full[12], 0x0F);
        assert_eq!(full[13], 0x18);
        assert!(u.same_as(&Uuid::Uuid128(full)));
        assert_eq!(Uuid::Uuid128(full).as_u16(), Some(0x180F));
    }

    #[test]
    fn parse_and_write_round_trip() {
        let u = Uuid::from_le_bytes(&[0x19, 0x2A]).unwrap();
        assert_eq!(u, Uuid::Uuid16(0x2A19));
        let mut out = [0u8; 2];
        assert_eq!(u.write_le(&mut out), Some(2));
        assert_eq!(out, [0x19, 0x2A]);
        assert_eq!(Uuid::from_le_bytes(&[1, 2, 3]), None);
    }
}
