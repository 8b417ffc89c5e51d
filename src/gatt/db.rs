//! The GATT server's attribute table (Core spec Vol 3 Part G 3, Vol 3
//! Part F 3.2).
//!
//! A fixed array of `config::GATT_MAX_ATTRIBUTES` rows sorted by handle,
//! and one pool of `config::GATT_VALUE_POOL` bytes from which each
//! attribute reserves its maximum length once, when it is added. Values
//! never move, so nothing is ever freed except by [`AttributeDb::clear`].
//!
//! Layout follows the GATT rules: a service declaration, then for each
//! characteristic its declaration, its value (declaration + 1, Vol 3 Part G
//! 3.3) and its descriptors. Handles only grow; gaps are allowed (Vol 3
//! Part F 3.2.2), which is how the QuecPython layout puts the first user
//! service at 16 when the default services are kept.
//!
//! Client Characteristic Configuration descriptors (0x2902) are special
//! (Vol 3 Part G 3.3.3.3): their value is kept per connection, starts at
//! 0x0000 on every connection whatever initial bytes the application gave,
//! and is exactly two bytes long.

use crate::config::{DEVICE_NAME_MAX, GATT_MAX_ATTRIBUTES, GATT_VALUE_POOL, MAX_CONNECTIONS};
use crate::uuid::Uuid;

/// Attribute types (Assigned Numbers, Vol 3 Part G 3).
pub const PRIMARY_SERVICE: u16 = 0x2800;
pub const SECONDARY_SERVICE: u16 = 0x2801;
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

/// Longest attribute value (Vol 3 Part F 3.2.9).
pub const MAX_ATTRIBUTE_VALUE_LEN: usize = 512;

/// First handle for user services when GAP/GATT are kept (QuecPython CSDK
/// `QL_GATT_START_HANDLE_WITH_SYS`).
pub const FIRST_USER_HANDLE_WITH_GAP_GATT: u16 = 16;

bitflags::bitflags! {
    /// Attribute permissions, bit for bit QuecPython's `permission`
    /// argument (CSDK `QL_ATT_PM_*`), so the API layer passes it through.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct AttPermissions: u16 {
        const READ = 0x0001;
        const WRITE = 0x0002;
        const READ_AUTHENTICATION = 0x0004;
        const READ_AUTHORIZATION = 0x0008;
        const READ_ENCRYPTION = 0x0010;
        const READ_AUTHENTICATED_MITM = 0x0020;
        const WRITE_AUTHENTICATION = 0x0040;
        const WRITE_AUTHORIZATION = 0x0080;
        const WRITE_ENCRYPTION = 0x0100;
        const WRITE_AUTHENTICATED_MITM = 0x0200;
    }
}

/// What an attribute is in the GATT structure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttributeKind {
    PrimaryService,
    SecondaryService,
    CharacteristicDeclaration,
    CharacteristicValue,
    Descriptor,
    /// A Client Characteristic Configuration descriptor (per connection).
    Cccd,
}

impl AttributeKind {
    pub fn is_service(self) -> bool {
        matches!(
            self,
            AttributeKind::PrimaryService | AttributeKind::SecondaryService
        )
    }
    /// Declarations have fixed values set by the server (Vol 3 Part G 3.1,
    /// 3.3.1).
    pub fn is_declaration(self) -> bool {
        self.is_service() || self == AttributeKind::CharacteristicDeclaration
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DbError {
    /// All `GATT_MAX_ATTRIBUTES` rows are used.
    TableFull,
    /// The value pool cannot hold the attribute's maximum length.
    PoolFull,
    /// Handle 0xFFFF has been used; no handle is left.
    HandleSpaceExhausted,
    /// `set_next_handle` below the next free handle, or to 0.
    HandleNotIncreasing,
    /// A characteristic without a service before it.
    NoService,
    /// A descriptor without a characteristic before it.
    NoCharacteristic,
    /// No attribute (or no GAP service) with that handle.
    NotFound,
    /// Value longer than the attribute's maximum length, or than 512.
    ValueTooLong,
    /// A CCCD value that is not exactly two bytes.
    InvalidLength,
    /// Write offset past the end of the current value.
    InvalidOffset,
    /// Declarations and CCCDs cannot be changed by `set_value`.
    NotWritable,
    /// `add_gap_gatt_services` on a table that already has attributes.
    NotEmpty,
    /// A second CCCD in one characteristic (Vol 3 Part G 3.3.3.3 allows
    /// only one).
    DuplicateCccd,
}

/// Public view of one attribute row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attribute {
    pub handle: u16,
    pub uuid: Uuid,
    pub kind: AttributeKind,
    pub permissions: AttPermissions,
}

#[derive(Clone, Copy)]
struct Row {
    handle: u16,
    uuid: Uuid,
    kind: AttributeKind,
    perms: AttPermissions,
    /// Value storage in the pool: offset, current length, capacity.
    off: u16,
    len: u16,
    cap: u16,
    /// Per-connection value, used by CCCD rows only (little-endian).
    cccd: [[u8; 2]; MAX_CONNECTIONS],
}

const EMPTY_ROW: Row = Row {
    handle: 0,
    uuid: Uuid::Uuid16(0),
    kind: AttributeKind::Descriptor,
    perms: AttPermissions::empty(),
    off: 0,
    len: 0,
    cap: 0,
    cccd: [[0; 2]; MAX_CONNECTIONS],
};

const _: () = assert!(GATT_VALUE_POOL <= u16::MAX as usize);

pub struct AttributeDb {
    rows: [Row; GATT_MAX_ATTRIBUTES],
    count: usize,
    pool: [u8; GATT_VALUE_POOL],
    pool_used: usize,
    /// Next handle to assign; 0x10000 once 0xFFFF is used.
    next: u32,
    /// Index of the last service declaration, if any.
    service: Option<usize>,
    /// Index of the last characteristic declaration of that service.
    characteristic: Option<usize>,
    device_name_handle: u16,
    service_changed_handle: u16,
}

impl Default for AttributeDb {
    fn default() -> Self {
        Self::new()
    }
}

impl AttributeDb {
    pub const fn new() -> Self {
        AttributeDb {
            rows: [EMPTY_ROW; GATT_MAX_ATTRIBUTES],
            count: 0,
            pool: [0; GATT_VALUE_POOL],
            pool_used: 0,
            next: 1,
            service: None,
            characteristic: None,
            device_name_handle: 0,
            service_changed_handle: 0,
        }
    }

    /// Removes every attribute; the next handle is 1 again.
    pub fn clear(&mut self) {
        self.count = 0;
        self.pool_used = 0;
        self.next = 1;
        self.service = None;
        self.characteristic = None;
        self.device_name_handle = 0;
        self.service_changed_handle = 0;
    }

    /// Number of attributes in the table.
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Skips to `handle` for the next attribute. Handles only grow (a
    /// client may cache them); gaps are fine (Vol 3 Part F 3.2.2).
    pub fn set_next_handle(&mut self, handle: u16) -> Result<(), DbError> {
        if handle == 0 || u32::from(handle) < self.next {
            return Err(DbError::HandleNotIncreasing);
        }
        self.next = u32::from(handle);
        Ok(())
    }

    /// The handle the next attribute will get (0 once the handle space is
    /// used up).
    pub fn next_handle(&self) -> u16 {
        u16::try_from(self.next).unwrap_or(0)
    }

    fn rows(&self) -> &[Row] {
        self.rows.get(..self.count).unwrap_or(&[])
    }

    fn index_of(&self, handle: u16) -> Option<usize> {
        self.rows().binary_search_by_key(&handle, |r| r.handle).ok()
    }

    fn row(&self, handle: u16) -> Option<&Row> {
        self.index_of(handle).and_then(|i| self.rows.get(i))
    }

    /// Checks that `n` more rows with `bytes` of values fit.
    fn reserve(&self, n: usize, bytes: usize) -> Result<(), DbError> {
        if self.count + n > GATT_MAX_ATTRIBUTES {
            return Err(DbError::TableFull);
        }
        if self.next + n as u32 > 0x1_0000 {
            return Err(DbError::HandleSpaceExhausted);
        }
        if self.pool_used + bytes > GATT_VALUE_POOL {
            return Err(DbError::PoolFull);
        }
        Ok(())
    }

    /// Appends one row; capacity must have been checked with `reserve`.
    fn push(
        &mut self,
        uuid: Uuid,
        kind: AttributeKind,
        perms: AttPermissions,
        value: &[u8],
        cap: usize,
    ) -> Result<u16, DbError> {
        self.reserve(1, cap)?;
        let handle = u16::try_from(self.next).map_err(|_| DbError::HandleSpaceExhausted)?;
        let off = self.pool_used;
        let end = off + value.len();
        self.pool
            .get_mut(off..end)
            .ok_or(DbError::PoolFull)?
            .copy_from_slice(value);
        let row = self.rows.get_mut(self.count).ok_or(DbError::TableFull)?;
        *row = Row {
            handle,
            uuid,
            kind,
            perms,
            off: off as u16,
            len: value.len() as u16,
            cap: cap as u16,
            cccd: [[0; 2]; MAX_CONNECTIONS],
        };
        self.count += 1;
        self.pool_used += cap;
        self.next += 1;
        Ok(handle)
    }

    /// Adds a service declaration (Vol 3 Part G 3.1); returns its handle.
    pub fn add_service(&mut self, uuid: Uuid, primary: bool) -> Result<u16, DbError> {
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
        self.service = Some(self.count - 1);
        self.characteristic = None;
        Ok(h)
    }

    /// Adds a characteristic declaration and its value (Vol 3 Part G 3.3)
    /// to the last service; returns (declaration handle, value handle).
    ///
    /// The value reserves `max(max_len, value.len())` bytes, at most 512
    /// (Vol 3 Part F 3.2.9); a longer `max_len` is clamped, a longer initial
    /// value is refused.
    pub fn add_characteristic(
        &mut self,
        properties: u8,
        uuid: Uuid,
        permissions: AttPermissions,
        value: &[u8],
        max_len: usize,
    ) -> Result<(u16, u16), DbError> {
        if self.service.is_none() {
            return Err(DbError::NoService);
        }
        if value.len() > MAX_ATTRIBUTE_VALUE_LEN {
            return Err(DbError::ValueTooLong);
        }
        let cap = max_len.clamp(value.len(), MAX_ATTRIBUTE_VALUE_LEN);
        let mut decl = [0u8; 19];
        let uuid_len = uuid.encoded_len();
        self.reserve(2, 3 + uuid_len + cap)?;
        let value_handle =
            u16::try_from(self.next + 1).map_err(|_| DbError::HandleSpaceExhausted)?;
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
        self.characteristic = Some(self.count - 1);
        let vh = self.push(
            uuid,
            AttributeKind::CharacteristicValue,
            permissions,
            value,
            cap,
        )?;
        Ok((decl_handle, vh))
    }

    /// Adds a descriptor to the last characteristic; returns its handle.
    ///
    /// A 0x2902 descriptor becomes a real CCCD: 2 bytes per connection,
    /// 0x0000 at the start, whatever `value` and `max_len` say. Other
    /// descriptors are stored like characteristic values.
    pub fn add_descriptor(
        &mut self,
        uuid: Uuid,
        permissions: AttPermissions,
        value: &[u8],
        max_len: usize,
    ) -> Result<u16, DbError> {
        let Some(decl) = self.characteristic else {
            return Err(DbError::NoCharacteristic);
        };
        if uuid.as_u16() == Some(CLIENT_CHARACTERISTIC_CONFIGURATION) {
            // Rows after the declaration are this characteristic's value
            // and descriptors.
            let rows = self.rows.get(decl..self.count).unwrap_or(&[]);
            if rows.iter().any(|r| r.kind == AttributeKind::Cccd) {
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
    pub fn add_gap_gatt_services(&mut self, device_name: &[u8]) -> Result<(), DbError> {
        if !self.is_empty() || self.next != 1 {
            return Err(DbError::NotEmpty);
        }
        if device_name.len() > DEVICE_NAME_MAX {
            return Err(DbError::ValueTooLong);
        }
        let r = AttPermissions::READ;
        let read = properties::READ;
        let result = (|| {
            self.add_service(Uuid::Uuid16(GAP_SERVICE), true)?;
            let (_, name) = self.add_characteristic(
                read,
                Uuid::Uuid16(DEVICE_NAME),
                r,
                device_name,
                DEVICE_NAME_MAX,
            )?;
            self.device_name_handle = name;
            self.add_characteristic(read, Uuid::Uuid16(APPEARANCE), r, &[0, 0], 2)?;
            self.add_characteristic(
                read,
                Uuid::Uuid16(PERIPHERAL_PREFERRED_CONNECTION_PARAMETERS),
                r,
                &[0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0xFF, 0xFF],
                8,
            )?;
            self.add_service(Uuid::Uuid16(GATT_SERVICE), true)?;
            let (_, sc) = self.add_characteristic(
                properties::INDICATE,
                Uuid::Uuid16(SERVICE_CHANGED),
                AttPermissions::empty(),
                &[0x01, 0x00, 0xFF, 0xFF],
                4,
            )?;
            self.service_changed_handle = sc;
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

    /// Changes the GAP Device Name value; `NotFound` if the GAP service is
    /// not in the table.
    pub fn set_device_name(&mut self, name: &[u8]) -> Result<(), DbError> {
        if self.device_name_handle == 0 {
            return Err(DbError::NotFound);
        }
        self.set_value(self.device_name_handle, name)
    }

    /// Handle of the Service Changed value, if the GATT service is present.
    pub fn service_changed_handle(&self) -> Option<u16> {
        (self.service_changed_handle != 0).then_some(self.service_changed_handle)
    }

    /// The stored value. For a CCCD this is connection 0's value (use
    /// [`AttributeDb::value_for`] or [`AttributeDb::cccd`] for others).
    pub fn value(&self, handle: u16) -> Option<&[u8]> {
        self.value_for(0, handle)
    }

    /// The value as connection `conn` sees it (differs only for CCCDs).
    pub fn value_for(&self, conn: usize, handle: u16) -> Option<&[u8]> {
        let row = self.row(handle)?;
        if row.kind == AttributeKind::Cccd {
            return row.cccd.get(conn).map(|v| &v[..]);
        }
        let off = usize::from(row.off);
        self.pool.get(off..off + usize::from(row.len))
    }

    /// Local update by the application: no permission check, but the value
    /// must fit the attribute's maximum length. Declarations and CCCDs are
    /// refused.
    pub fn set_value(&mut self, handle: u16, value: &[u8]) -> Result<(), DbError> {
        let i = self.index_of(handle).ok_or(DbError::NotFound)?;
        let row = self.rows.get_mut(i).ok_or(DbError::NotFound)?;
        if row.kind.is_declaration() || row.kind == AttributeKind::Cccd {
            return Err(DbError::NotWritable);
        }
        if value.len() > usize::from(row.cap) {
            return Err(DbError::ValueTooLong);
        }
        let off = usize::from(row.off);
        row.len = value.len() as u16;
        self.pool
            .get_mut(off..off + value.len())
            .ok_or(DbError::PoolFull)?
            .copy_from_slice(value);
        Ok(())
    }

    /// Checks a write by a peer without doing it: `offset` and the resulting
    /// length must be valid (the caller checks permissions). Returns the
    /// length the value would have.
    pub fn check_write(
        &self,
        conn: usize,
        handle: u16,
        current_len: Option<usize>,
        offset: usize,
        len: usize,
    ) -> Result<usize, DbError> {
        let row = self.row(handle).ok_or(DbError::NotFound)?;
        if row.kind.is_declaration() {
            return Err(DbError::NotWritable);
        }
        let cur = match current_len {
            Some(c) => c,
            None if row.kind == AttributeKind::Cccd => 2,
            None => usize::from(row.len),
        };
        if row.kind == AttributeKind::Cccd {
            if conn >= MAX_CONNECTIONS {
                return Err(DbError::NotFound);
            }
            // A CCCD is written whole: exactly 2 bytes at offset 0 (Vol 3
            // Part G 3.3.3.3 defines a 2-octet bit field).
            if offset != 0 {
                return Err(DbError::InvalidOffset);
            }
            if len != 2 {
                return Err(DbError::InvalidLength);
            }
            return Ok(2);
        }
        if offset > cur {
            return Err(DbError::InvalidOffset);
        }
        let new_len = offset.checked_add(len).ok_or(DbError::ValueTooLong)?;
        if new_len > usize::from(row.cap) {
            return Err(DbError::ValueTooLong);
        }
        Ok(new_len)
    }

    /// A write by a peer (the caller has checked permissions): the value
    /// becomes `old[..offset] ++ data` (Vol 3 Part F 3.4.5.1 replaces the
    /// whole value; a long write builds it part by part from offset 0).
    /// A CCCD write changes only connection `conn`'s copy.
    pub fn write(
        &mut self,
        conn: usize,
        handle: u16,
        offset: usize,
        data: &[u8],
    ) -> Result<(), DbError> {
        let new_len = self.check_write(conn, handle, None, offset, data.len())?;
        let i = self.index_of(handle).ok_or(DbError::NotFound)?;
        let row = self.rows.get_mut(i).ok_or(DbError::NotFound)?;
        if row.kind == AttributeKind::Cccd {
            let slot = row.cccd.get_mut(conn).ok_or(DbError::NotFound)?;
            slot.copy_from_slice(data.get(..2).ok_or(DbError::InvalidLength)?);
            return Ok(());
        }
        let start = usize::from(row.off) + offset;
        row.len = new_len as u16;
        self.pool
            .get_mut(start..start + data.len())
            .ok_or(DbError::PoolFull)?
            .copy_from_slice(data);
        Ok(())
    }

    pub fn uuid(&self, handle: u16) -> Option<Uuid> {
        self.row(handle).map(|r| r.uuid)
    }

    pub fn attribute(&self, handle: u16) -> Option<Attribute> {
        self.row(handle).map(Row::view)
    }

    pub fn permissions(&self, handle: u16) -> Option<AttPermissions> {
        self.row(handle).map(|r| r.perms)
    }

    /// The maximum value length (2 for a CCCD).
    pub fn max_len(&self, handle: u16) -> Option<usize> {
        self.row(handle).map(|r| {
            if r.kind == AttributeKind::Cccd {
                2
            } else {
                usize::from(r.cap)
            }
        })
    }

    /// Attributes with `start <= handle <= end`, in handle order.
    pub fn attributes_in(&self, start: u16, end: u16) -> impl Iterator<Item = Attribute> + '_ {
        let rows = self.rows();
        let first = rows.partition_point(|r| r.handle < start);
        rows.get(first..)
            .unwrap_or(&[])
            .iter()
            .take_while(move |r| r.handle <= end)
            .map(Row::view)
    }

    /// End Group Handle of a service declaration: the last handle before
    /// the next service declaration, or the last handle in the table
    /// (Vol 3 Part G 3.1). `None` if `handle` is not a service.
    pub fn service_end(&self, handle: u16) -> Option<u16> {
        let i = self.index_of(handle)?;
        let rows = self.rows();
        if !rows.get(i)?.kind.is_service() {
            return None;
        }
        let mut end = handle;
        for r in rows.get(i + 1..)? {
            if r.kind.is_service() {
                break;
            }
            end = r.handle;
        }
        Some(end)
    }

    pub fn is_cccd(&self, handle: u16) -> bool {
        self.row(handle)
            .is_some_and(|r| r.kind == AttributeKind::Cccd)
    }

    pub fn is_characteristic_value(&self, handle: u16) -> bool {
        self.row(handle)
            .is_some_and(|r| r.kind == AttributeKind::CharacteristicValue)
    }

    /// Connection `conn`'s CCCD value (0 if `handle` is not a CCCD).
    pub fn cccd(&self, conn: usize, handle: u16) -> u16 {
        match self.row(handle) {
            Some(r) if r.kind == AttributeKind::Cccd => {
                r.cccd.get(conn).map_or(0, |v| u16::from_le_bytes(*v))
            }
            _ => 0,
        }
    }

    /// Sets connection `conn`'s CCCD (restoring a bonded peer's value).
    pub fn set_cccd(&mut self, conn: usize, handle: u16, value: u16) -> Result<(), DbError> {
        let i = self.index_of(handle).ok_or(DbError::NotFound)?;
        let row = self.rows.get_mut(i).ok_or(DbError::NotFound)?;
        if row.kind != AttributeKind::Cccd {
            return Err(DbError::NotFound);
        }
        *row.cccd.get_mut(conn).ok_or(DbError::NotFound)? = value.to_le_bytes();
        Ok(())
    }

    /// The CCCD of the characteristic whose value handle is `value_handle`:
    /// the first CCCD among the descriptors that follow the value.
    pub fn cccd_for_value(&self, value_handle: u16) -> Option<u16> {
        let i = self.index_of(value_handle)?;
        let rows = self.rows();
        if rows.get(i)?.kind != AttributeKind::CharacteristicValue {
            return None;
        }
        for r in rows.get(i + 1..)? {
            match r.kind {
                AttributeKind::Cccd => return Some(r.handle),
                AttributeKind::Descriptor => {}
                _ => break,
            }
        }
        None
    }

    /// Characteristic properties of the characteristic owning
    /// `value_handle` (from its declaration, at `value_handle - 1`).
    pub fn characteristic_properties(&self, value_handle: u16) -> Option<u8> {
        if !self.is_characteristic_value(value_handle) {
            return None;
        }
        let decl = self.row(value_handle.checked_sub(1)?)?;
        if decl.kind != AttributeKind::CharacteristicDeclaration {
            return None;
        }
        self.pool.get(usize::from(decl.off)).copied()
    }

    /// All CCCDs back to 0x0000 for `conn` (new, non-bonded link).
    pub fn reset_connection(&mut self, conn: usize) {
        let count = self.count;
        for r in self.rows.iter_mut().take(count) {
            if let Some(v) = r.cccd.get_mut(conn) {
                *v = [0, 0];
            }
        }
    }
}

impl Row {
    fn view(&self) -> Attribute {
        Attribute {
            handle: self.handle,
            uuid: self.uuid,
            kind: self.kind,
            permissions: self.perms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn values_and_cccds() {
        let mut db = AttributeDb::new();
        demo_table(&mut db);
        assert_eq!(db.set_value(3, &[7; 10]), Ok(()));
        assert_eq!(db.value(3), Some(&[7u8; 10][..]));
        assert_eq!(db.set_value(3, &[7; 245]), Err(DbError::ValueTooLong));
        assert_eq!(db.set_value(2, &[1]), Err(DbError::NotWritable));
        assert_eq!(db.set_value(4, &[1, 0]), Err(DbError::NotWritable));
        assert_eq!(db.set_value(99, &[1]), Err(DbError::NotFound));
        // Peer writes: value = old[..offset] ++ data.
        db.write(0, 3, 0, &[1, 2, 3]).unwrap();
        assert_eq!(db.value(3), Some(&[1u8, 2, 3][..]));
        db.write(0, 3, 3, &[4]).unwrap();
        assert_eq!(db.value(3), Some(&[1u8, 2, 3, 4][..]));
        assert_eq!(db.write(0, 3, 5, &[4]), Err(DbError::InvalidOffset));
        assert_eq!(db.write(0, 3, 4, &[0; 241]), Err(DbError::ValueTooLong));
        // CCCDs are per connection.
        db.write(1, 4, 0, &[0x01, 0x00]).unwrap();
        assert_eq!(db.cccd(1, 4), 0x0001);
        assert_eq!(db.cccd(0, 4), 0);
        assert_eq!(db.value_for(1, 4), Some(&[1u8, 0][..]));
        assert_eq!(db.write(1, 4, 0, &[1]), Err(DbError::InvalidLength));
        assert_eq!(db.write(1, 4, 1, &[1, 0]), Err(DbError::InvalidOffset));
        assert_eq!(
            db.write(MAX_CONNECTIONS, 4, 0, &[1, 0]),
            Err(DbError::NotFound)
        );
        db.set_cccd(0, 4, 2).unwrap();
        db.reset_connection(1);
        assert_eq!((db.cccd(0, 4), db.cccd(1, 4)), (2, 0));
        assert_eq!(db.cccd(0, 3), 0);
        assert_eq!(db.cccd(99, 4), 0);
        let handles: std::vec::Vec<u16> = db.attributes_in(2, 3).map(|a| a.handle).collect();
        assert_eq!(handles, [2, 3]);
        assert_eq!(db.attributes_in(5, 0xFFFF).count(), 0);
    }
}
