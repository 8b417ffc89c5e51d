//! The GATT server side (Core spec Vol 3 Part G 3): lays services,
//! characteristics and descriptors into ATT's attribute table following
//! the GATT structure. A service declaration, then for each characteristic
//! its declaration, its value (declaration + 1, Vol 3 Part G 3.3) and its
//! descriptors.
//!
//! The table itself belongs to ATT ([`crate::att::db`]); this module only
//! adds rows through [`AttributeDb::push`] and reads them back, so the
//! dependency runs one way, gatt -> att, as in NimBLE (`ble_gatts.c` fills
//! the table `ble_att_svr.c` owns). The structure is read back from the
//! table itself (the last service, the last characteristic), so the table
//! holds no GATT state of its own.

use crate::att::db::{
    AttPermissions, AttributeDb, AttributeKind, DbError, MAX_ATTRIBUTE_VALUE_LEN, PRIMARY_SERVICE,
    SECONDARY_SERVICE,
};
use crate::config::DEVICE_NAME_MAX;
use crate::uuid::Uuid;

/// Attribute types (Assigned Numbers 3.5, Vol 3 Part G 3).
pub const INCLUDE: u16 = 0x2802;
pub const CHARACTERISTIC: u16 = 0x2803;
pub const CLIENT_CHARACTERISTIC_CONFIGURATION: u16 = 0x2902;
/// GAP and GATT services and their characteristics (Vol 3 Part C 12,
/// Vol 3 Part G 7).
pub const GAP_SERVICE: u16 = 0x1800;
pub const GATT_SERVICE: u16 = 0x1801;
pub const DEVICE_NAME: u16 = 0x2A00;
pub const APPEARANCE: u16 = 0x2A01;
pub const PERIPHERAL_PREFERRED_CONNECTION_PARAMETERS: u16 = 0x2A04;
pub const SERVICE_CHANGED: u16 = 0x2A05;

/// Characteristic properties (Vol 3 Part G 3.3.1.1).
pub mod properties {
    pub const BROADCAST: u8 = 0x01;
    pub const READ: u8 = 0x02;
    pub const WRITE_WITHOUT_RESPONSE: u8 = 0x04;
    pub const WRITE: u8 = 0x08;
    pub const NOTIFY: u8 = 0x10;
    pub const INDICATE: u8 = 0x20;
    pub const AUTHENTICATED_SIGNED_WRITES: u8 = 0x40;
    pub const EXTENDED_PROPERTIES: u8 = 0x80;
}

/// CCCD bits (Vol 3 Part G 3.3.3.3).
pub const CCCD_NOTIFICATION: u16 = 0x0001;
pub const CCCD_INDICATION: u16 = 0x0002;

/// First handle for user services when GAP/GATT are kept (QuecPython CSDK
/// `QL_GATT_START_HANDLE_WITH_SYS`).
pub const FIRST_USER_HANDLE_WITH_GAP_GATT: u16 = 16;

/// The last service declaration in the table.
fn last_service(db: &AttributeDb) -> Option<u16> {
    db.attributes()
        .rev()
        .find(|a| a.kind.is_service())
        .map(|a| a.handle)
}

/// The last characteristic declaration of the last service.
fn last_characteristic(db: &AttributeDb) -> Option<u16> {
    db.attributes()
        .rev()
        .take_while(|a| !a.kind.is_service())
        .find(|a| a.kind == AttributeKind::CharacteristicDeclaration)
        .map(|a| a.handle)
}

/// The value handle of the first characteristic of type `uuid`.
fn find_value(db: &AttributeDb, uuid: u16) -> Option<u16> {
    db.attributes()
        .find(|a| a.kind == AttributeKind::CharacteristicValue && a.uuid == Uuid::Uuid16(uuid))
        .map(|a| a.handle)
}

pub trait GattServer {
    /// Adds a service declaration (Vol 3 Part G 3.1); returns its handle.
    fn add_service(&mut self, uuid: Uuid, primary: bool) -> Result<u16, DbError>;

    /// Adds a characteristic declaration and its value (Vol 3 Part G 3.3)
    /// to the last service; returns (declaration handle, value handle).
    ///
    /// The value reserves `max(max_len, value.len())` bytes, at most 512
    /// (Vol 3 Part F 3.2.9); a longer `max_len` is clamped, a longer initial
    /// value is refused.
    fn add_characteristic(
        &mut self,
        properties: u8,
        uuid: Uuid,
        permissions: AttPermissions,
        value: &[u8],
        max_len: usize,
    ) -> Result<(u16, u16), DbError>;

    /// Adds a descriptor to the last characteristic; returns its handle.
    ///
    /// A 0x2902 descriptor becomes a real CCCD: 2 bytes per connection,
    /// 0x0000 at the start, whatever `value` and `max_len` say. Other
    /// descriptors are stored like characteristic values.
    fn add_descriptor(
        &mut self,
        uuid: Uuid,
        permissions: AttPermissions,
        value: &[u8],
        max_len: usize,
    ) -> Result<u16, DbError>;

    /// Lays out the GAP and GATT services in handles 1..=15 and leaves the
    /// next handle at 16, as QuecPython does when the default services are
    /// kept:
    ///
    /// | handle | attribute |
    /// |---|---|
    /// | 1 | primary service 0x1800 (GAP) |
    /// | 2, 3 | Device Name 0x2A00, read, up to `DEVICE_NAME_MAX` bytes |
    /// | 4, 5 | Appearance 0x2A01, read, 0x0000 "Unknown" |
    /// | 6, 7 | Peripheral Preferred Connection Parameters 0x2A04, read: all "no specific value" (0xFFFF intervals and timeout, latency 0; Vol 3 Part C 12.3) |
    /// | 8 | primary service 0x1801 (GATT) |
    /// | 9, 10 | Service Changed 0x2A05, indicate; value 0x0001..0xFFFF, neither readable nor writable (Vol 3 Part G 7.1) |
    /// | 11 | its CCCD |
    /// | 12..=15 | unused, reserved for later GATT characteristics |
    ///
    /// The table must be empty.
    fn add_gap_gatt_services(&mut self, device_name: &[u8]) -> Result<(), DbError>;

    /// Changes the GAP Device Name value; `NotFound` if the GAP service is
    /// not in the table.
    fn set_device_name(&mut self, name: &[u8]) -> Result<(), DbError>;

    /// Handle of the Service Changed value, if the GATT service is present.
    fn service_changed_handle(&self) -> Option<u16>;

    /// The CCCD of the characteristic whose value handle is `value_handle`:
    /// the first CCCD among the descriptors that follow the value.
    fn cccd_for_value(&self, value_handle: u16) -> Option<u16>;

    /// Characteristic properties of the characteristic owning
    /// `value_handle` (from its declaration, at `value_handle - 1`).
    fn characteristic_properties(&self, value_handle: u16) -> Option<u8>;
}

impl GattServer for AttributeDb {
    fn add_service(&mut self, uuid: Uuid, primary: bool) -> Result<u16, DbError> {
        let mut value = [0u8; 16];
        let n = uuid.write_le(&mut value).unwrap_or(0);
        let (ty, kind) = if primary {
            (PRIMARY_SERVICE, AttributeKind::PrimaryService)
        } else {
            (SECONDARY_SERVICE, AttributeKind::SecondaryService)
        };
        let h = self.push(
            Uuid::Uuid16(ty),
            kind,
            AttPermissions::READ,
            value.get(..n).unwrap_or(&[]),
            n,
        )?;
        Ok(h)
    }

    fn add_characteristic(
        &mut self,
        properties: u8,
        uuid: Uuid,
        permissions: AttPermissions,
        value: &[u8],
        max_len: usize,
    ) -> Result<(u16, u16), DbError> {
        if last_service(self).is_none() {
            return Err(DbError::NoService);
        }
        if value.len() > MAX_ATTRIBUTE_VALUE_LEN {
            return Err(DbError::ValueTooLong);
        }
        let cap = max_len.clamp(value.len(), MAX_ATTRIBUTE_VALUE_LEN);
        let mut decl = [0u8; 19];
        let uuid_len = uuid.encoded_len();
        self.reserve(2, 3 + uuid_len + cap)?;
        let value_handle = self
            .next_handle()
            .checked_add(1)
            .filter(|_| self.next_handle() != 0)
            .ok_or(DbError::HandleSpaceExhausted)?;
        // Characteristic declaration value: properties, value handle, UUID
        // (Vol 3 Part G 3.3.1, table 3.4).
        decl[0] = properties;
        decl[1..3].copy_from_slice(&value_handle.to_le_bytes());
        let n = 3 + uuid.write_le(&mut decl[3..]).unwrap_or(0);
        let decl_handle = self.push(
            Uuid::Uuid16(CHARACTERISTIC),
            AttributeKind::CharacteristicDeclaration,
            AttPermissions::READ,
            decl.get(..n).unwrap_or(&[]),
            n,
        )?;
        let vh = self.push(
            uuid,
            AttributeKind::CharacteristicValue,
            permissions,
            value,
            cap,
        )?;
        Ok((decl_handle, vh))
    }

    fn add_descriptor(
        &mut self,
        uuid: Uuid,
        permissions: AttPermissions,
        value: &[u8],
        max_len: usize,
    ) -> Result<u16, DbError> {
        let Some(decl) = last_characteristic(self) else {
            return Err(DbError::NoCharacteristic);
        };
        if uuid.as_u16() == Some(CLIENT_CHARACTERISTIC_CONFIGURATION) {
            // One CCCD per characteristic (Vol 3 Part G 3.3.3.3): the rows
            // after the declaration are its value and descriptors.
            if self
                .attributes_in(decl, 0xFFFF)
                .any(|a| a.kind == AttributeKind::Cccd)
            {
                return Err(DbError::DuplicateCccd);
            }
            return self.push(uuid, AttributeKind::Cccd, permissions, &[], 0);
        }
        if value.len() > MAX_ATTRIBUTE_VALUE_LEN {
            return Err(DbError::ValueTooLong);
        }
        let cap = max_len.clamp(value.len(), MAX_ATTRIBUTE_VALUE_LEN);
        self.push(uuid, AttributeKind::Descriptor, permissions, value, cap)
    }

    fn add_gap_gatt_services(&mut self, device_name: &[u8]) -> Result<(), DbError> {
        if !self.is_empty() || self.next_handle() != 1 {
            return Err(DbError::NotEmpty);
        }
        if device_name.len() > DEVICE_NAME_MAX {
            return Err(DbError::ValueTooLong);
        }
        let r = AttPermissions::READ;
        let read = properties::READ;
        let result = (|| {
            self.add_service(Uuid::Uuid16(GAP_SERVICE), true)?;
            self.add_characteristic(
                read,
                Uuid::Uuid16(DEVICE_NAME),
                r,
                device_name,
                DEVICE_NAME_MAX,
            )?;
            self.add_characteristic(read, Uuid::Uuid16(APPEARANCE), r, &[0, 0], 2)?;
            self.add_characteristic(
                read,
                Uuid::Uuid16(PERIPHERAL_PREFERRED_CONNECTION_PARAMETERS),
                r,
                &[0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0xFF, 0xFF],
                8,
            )?;
            self.add_service(Uuid::Uuid16(GATT_SERVICE), true)?;
            self.add_characteristic(
                properties::INDICATE,
                Uuid::Uuid16(SERVICE_CHANGED),
                AttPermissions::empty(),
                &[0x01, 0x00, 0xFF, 0xFF],
                4,
            )?;
            self.add_descriptor(
                Uuid::Uuid16(CLIENT_CHARACTERISTIC_CONFIGURATION),
                AttPermissions::READ | AttPermissions::WRITE,
                &[0, 0],
                2,
            )?;
            self.set_next_handle(FIRST_USER_HANDLE_WITH_GAP_GATT)
        })();
        if result.is_err() {
            self.clear();
        }
        result
    }

    fn set_device_name(&mut self, name: &[u8]) -> Result<(), DbError> {
        let handle = find_value(self, DEVICE_NAME).ok_or(DbError::NotFound)?;
        self.set_value(handle, name)
    }

    fn service_changed_handle(&self) -> Option<u16> {
        find_value(self, SERVICE_CHANGED)
    }

    fn cccd_for_value(&self, value_handle: u16) -> Option<u16> {
        if !self.is_characteristic_value(value_handle) {
            return None;
        }
        self.attributes_in(value_handle.checked_add(1)?, 0xFFFF)
            .take_while(|a| matches!(a.kind, AttributeKind::Cccd | AttributeKind::Descriptor))
            .find(|a| a.kind == AttributeKind::Cccd)
            .map(|a| a.handle)
    }

    fn characteristic_properties(&self, value_handle: u16) -> Option<u8> {
        if !self.is_characteristic_value(value_handle) {
            return None;
        }
        let decl = value_handle.checked_sub(1)?;
        if self.attribute(decl)?.kind != AttributeKind::CharacteristicDeclaration {
            return None;
        }
        self.value(decl)?.first().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{GATT_MAX_ATTRIBUTES, GATT_VALUE_POOL};

    /// The QuecPython server demo's table: battery service 0x180F with
    /// Battery Level 0x2A19 (props 0x32, 244 zero bytes, READ|WRITE) and
    /// a CCCD (demo gives 4 zero bytes as its initial value).
    pub(crate) fn demo_table(db: &mut AttributeDb) -> u16 {
        let rw = AttPermissions::READ | AttPermissions::WRITE;
        let svc = db.add_service(Uuid::Uuid16(0x180F), true).unwrap();
        let (decl, val) = db
            .add_characteristic(0x32, Uuid::Uuid16(0x2A19), rw, &[0u8; 244], 244)
            .unwrap();
        let cccd = db
            .add_descriptor(Uuid::Uuid16(0x2902), rw, &[0; 4], 4)
            .unwrap();
        assert_eq!((decl, val, cccd), (svc + 1, svc + 2, svc + 3));
        svc
    }

    #[test]
    fn demo_layout_without_default_services() {
        let mut db = AttributeDb::new();
        assert_eq!(demo_table(&mut db), 1);
        assert_eq!(db.uuid(1), Some(Uuid::Uuid16(PRIMARY_SERVICE)));
        assert_eq!(db.value(1), Some(&[0x0F, 0x18][..]));
        assert_eq!(db.uuid(2), Some(Uuid::Uuid16(CHARACTERISTIC)));
        assert_eq!(db.value(2), Some(&[0x32, 0x03, 0x00, 0x19, 0x2A][..]));
        assert_eq!(db.uuid(3), Some(Uuid::Uuid16(0x2A19)));
        assert_eq!(db.value(3), Some(&[0u8; 244][..]));
        assert_eq!(
            db.permissions(3),
            Some(AttPermissions::READ | AttPermissions::WRITE)
        );
        assert!(db.is_characteristic_value(3));
        assert!(db.is_cccd(4));
        assert_eq!(db.value(4), Some(&[0, 0][..]));
        assert_eq!(db.service_end(1), Some(4));
        assert_eq!(db.cccd_for_value(3), Some(4));
        assert_eq!(db.characteristic_properties(3), Some(0x32));
        assert_eq!(db.next_handle(), 5);
        assert_eq!(db.uuid(5), None);
    }

    #[test]
    fn demo_layout_with_gap_gatt() {
        let mut db = AttributeDb::new();
        db.add_gap_gatt_services(b"Quectel_ble").unwrap();
        assert_eq!(db.next_handle(), 16);
        assert_eq!(demo_table(&mut db), 16);
        assert_eq!(db.value(17), Some(&[0x32, 0x12, 0x00, 0x19, 0x2A][..]));
        assert_eq!(db.cccd_for_value(18), Some(19));
        // GAP / GATT layout.
        assert_eq!(db.value(1), Some(&[0x00, 0x18][..]));
        assert_eq!(db.value(2), Some(&[0x02, 0x03, 0x00, 0x00, 0x2A][..]));
        assert_eq!(db.value(3), Some(&b"Quectel_ble"[..]));
        assert_eq!(db.value(4), Some(&[0x02, 0x05, 0x00, 0x01, 0x2A][..]));
        assert_eq!(db.value(5), Some(&[0, 0][..]));
        assert_eq!(db.value(6), Some(&[0x02, 0x07, 0x00, 0x04, 0x2A][..]));
        assert_eq!(db.value(8), Some(&[0x01, 0x18][..]));
        assert_eq!(db.value(9), Some(&[0x20, 0x0A, 0x00, 0x05, 0x2A][..]));
        assert_eq!(db.service_changed_handle(), Some(10));
        assert_eq!(db.cccd_for_value(10), Some(11));
        assert_eq!(db.service_end(1), Some(7));
        assert_eq!(db.service_end(8), Some(11));
        assert_eq!(db.service_end(16), Some(19));
        assert_eq!(db.uuid(12), None);
        db.set_device_name(b"x").unwrap();
        assert_eq!(db.value(3), Some(&b"x"[..]));
        assert_eq!(
            db.set_device_name(&[0; DEVICE_NAME_MAX + 1]),
            Err(DbError::ValueTooLong)
        );
        assert_eq!(db.add_gap_gatt_services(b""), Err(DbError::NotEmpty));
    }

    #[test]
    fn handles_only_grow_and_gaps() {
        let mut db = AttributeDb::new();
        db.set_next_handle(0x20).unwrap();
        assert_eq!(db.add_service(Uuid::Uuid16(0x180F), true), Ok(0x20));
        assert_eq!(db.set_next_handle(0x10), Err(DbError::HandleNotIncreasing));
        assert_eq!(db.set_next_handle(0), Err(DbError::HandleNotIncreasing));
        db.set_next_handle(0xFFFE).unwrap();
        // Two handles left for decl+value: OK, then nothing is left.
        assert_eq!(
            db.add_characteristic(2, Uuid::Uuid16(0x2A19), AttPermissions::READ, &[1], 1),
            Ok((0xFFFE, 0xFFFF))
        );
        assert_eq!(db.next_handle(), 0);
        assert_eq!(
            db.add_descriptor(Uuid::Uuid16(0x2901), AttPermissions::READ, b"x", 1),
            Err(DbError::HandleSpaceExhausted)
        );
        assert_eq!(db.service_end(0x20), Some(0xFFFF));
        db.clear();
        assert_eq!(db.next_handle(), 1);
        assert!(db.is_empty());
    }

    #[test]
    fn structure_errors_and_capacity() {
        let mut db = AttributeDb::new();
        let r = AttPermissions::READ;
        assert_eq!(
            db.add_characteristic(2, Uuid::Uuid16(0x2A19), r, &[], 1),
            Err(DbError::NoService)
        );
        db.add_service(Uuid::Uuid16(0x180F), true).unwrap();
        assert_eq!(
            db.add_descriptor(Uuid::Uuid16(0x2901), r, b"x", 1),
            Err(DbError::NoCharacteristic)
        );
        assert_eq!(
            db.add_characteristic(2, Uuid::Uuid16(0x2A19), r, &[0; 513], 513),
            Err(DbError::ValueTooLong)
        );
        // The pool runs out before the rows do.
        let mut added = 0;
        loop {
            match db.add_characteristic(2, Uuid::Uuid16(0x2A19), r, &[], 512) {
                Ok(_) => added += 1,
                Err(e) => {
                    assert_eq!(e, DbError::PoolFull);
                    break;
                }
            }
        }
        assert_eq!(added, GATT_VALUE_POOL / (512 + 5));
        // Rows run out too.
        let mut db = AttributeDb::new();
        db.add_service(Uuid::Uuid16(0x180F), true).unwrap();
        let mut n = 1;
        while db
            .add_descriptor(Uuid::Uuid16(0x2901), r, b"", 0)
            .or_else(|_| {
                db.add_characteristic(2, Uuid::Uuid16(0x2A19), r, &[], 0)
                    .map(|x| x.0)
            })
            .is_ok()
        {
            n = db.len();
        }
        assert_eq!(n, GATT_MAX_ATTRIBUTES);
    }

    #[test]
    fn one_cccd_per_characteristic() {
        let mut db = AttributeDb::new();
        demo_table(&mut db);
        let rw = AttPermissions::READ | AttPermissions::WRITE;
        assert_eq!(
            db.add_descriptor(Uuid::Uuid16(0x2902), rw, &[0; 2], 2),
            Err(DbError::DuplicateCccd)
        );
        assert_eq!(db.next_handle(), 5, "nothing added");
        // Other descriptors may repeat (the SMP demo gives one
        // characteristic three Report References), and the next
        // characteristic gets its own CCCD.
        assert_eq!(
            db.add_descriptor(Uuid::Uuid16(0x2908), rw, &[1, 1], 2),
            Ok(5)
        );
        assert_eq!(
            db.add_descriptor(Uuid::Uuid16(0x2908), rw, &[2, 1], 2),
            Ok(6)
        );
        db.add_characteristic(0x12, Uuid::Uuid16(0x2A4D), rw, &[0], 8)
            .unwrap();
        assert_eq!(db.add_descriptor(Uuid::Uuid16(0x2902), rw, &[], 2), Ok(9));
    }
}
