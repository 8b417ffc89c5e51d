//! The attribute table (Core spec Vol 3 Part F 3.2), owned by ATT.
//!
//! As in NimBLE (`ble_att_svr.c` owns the table, `ble_gatts.c` fills it),
//! the ATT server reads this table and GATT (`gatt::server`) lays its
//! services into it with [`AttributeDb::push`]; nothing here knows how a
//! service or a characteristic is structured beyond what ATT itself must:
//! which attribute types group others (Read By Group Type, Vol 3 Part F
//! 3.4.4.9) and which attributes are kept per connection.
//!
//! A fixed array of `config::GATT_MAX_ATTRIBUTES` rows sorted by handle,
//! and one pool of `config::GATT_VALUE_POOL` bytes from which each
//! attribute reserves its maximum length once, when it is added. Values
//! never move, so nothing is ever freed except by [`AttributeDb::clear`].
//! Handles only grow; gaps are allowed (Vol 3 Part F 3.2.2).
//!
//! Client Characteristic Configuration descriptors (0x2902) are kept per
//! connection (Vol 3 Part G 3.3.3.3): their value starts at 0x0000 on
//! every connection and is exactly two bytes long.

use crate::config::{GATT_MAX_ATTRIBUTES, GATT_VALUE_POOL, MAX_CONNECTIONS};
use crate::uuid::Uuid;

/// Grouping attribute types ATT must know for Read By Group Type
/// (Vol 3 Part F 3.4.4.9; defined by GATT, Vol 3 Part G 3.1).
pub const PRIMARY_SERVICE: u16 = 0x2800;
pub const SECONDARY_SERVICE: u16 = 0x2801;

/// Longest attribute value (Vol 3 Part F 3.2.9).
pub const MAX_ATTRIBUTE_VALUE_LEN: usize = 512;

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
    /// The application answers reads of this value itself (see
    /// [`AttributeDb::set_deferred_read`]).
    deferred_read: bool,
}

const EMPTY_ROW: Row = Row {
    handle: 0,
    uuid: Uuid::Uuid16(0),
    // Discriminant 0: an unused row is all zero bytes (.bss, not .data).
    kind: AttributeKind::PrimaryService,
    perms: AttPermissions::empty(),
    off: 0,
    len: 0,
    cap: 0,
    cccd: [[0; 2]; MAX_CONNECTIONS],
    deferred_read: false,
};

const _: () = assert!(GATT_VALUE_POOL <= u16::MAX as usize);

pub struct AttributeDb {
    rows: [Row; GATT_MAX_ATTRIBUTES],
    count: usize,
    pool: [u8; GATT_VALUE_POOL],
    pool_used: usize,
    /// Next handle to assign minus one (0x10000 once 0xFFFF is used), so
    /// that a new table is all zeros and the core's static stays in `.bss`.
    next_less_one: u32,
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
            next_less_one: 0,
        }
    }

    /// Next handle to assign; 0x10000 once 0xFFFF is used.
    fn next(&self) -> u32 {
        self.next_less_one + 1
    }

    /// Removes every attribute; the next handle is 1 again.
    pub fn clear(&mut self) {
        self.count = 0;
        self.pool_used = 0;
        self.next_less_one = 0;
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
        if handle == 0 || u32::from(handle) < self.next() {
            return Err(DbError::HandleNotIncreasing);
        }
        self.next_less_one = u32::from(handle) - 1;
        Ok(())
    }

    /// The handle the next attribute will get (0 once the handle space is
    /// used up).
    pub fn next_handle(&self) -> u16 {
        u16::try_from(self.next()).unwrap_or(0)
    }

    fn rows(&self) -> &[Row] {
        self.rows.get(..self.count).unwrap_or(&[])
    }

    fn index_of(&self, handle: u16) -> Option<usize> {
        let rows = self.rows();
        // Handles are mostly consecutive (Vol 3 Part G 3 lets them be
        // sparse, but a table built in one go has no gap): try the row at
        // the handle's distance from the first before searching.
        let guess = usize::from(handle.wrapping_sub(rows.first()?.handle));
        if rows.get(guess).is_some_and(|r| r.handle == handle) {
            return Some(guess);
        }
        rows.binary_search_by_key(&handle, |r| r.handle).ok()
    }

    fn row(&self, handle: u16) -> Option<&Row> {
        self.index_of(handle).and_then(|i| self.rows.get(i))
    }

    /// Checks that `n` more rows with `bytes` of values fit.
    pub fn reserve(&self, n: usize, bytes: usize) -> Result<(), DbError> {
        if self.count + n > GATT_MAX_ATTRIBUTES {
            return Err(DbError::TableFull);
        }
        if self.next() + n as u32 > 0x1_0000 {
            return Err(DbError::HandleSpaceExhausted);
        }
        if self.pool_used + bytes > GATT_VALUE_POOL {
            return Err(DbError::PoolFull);
        }
        Ok(())
    }

    /// Appends one attribute at the next handle, reserving `cap` bytes of
    /// value storage (at least `value.len()`); returns its handle.
    pub fn push(
        &mut self,
        uuid: Uuid,
        kind: AttributeKind,
        perms: AttPermissions,
        value: &[u8],
        cap: usize,
    ) -> Result<u16, DbError> {
        self.reserve(1, cap)?;
        let handle = u16::try_from(self.next()).map_err(|_| DbError::HandleSpaceExhausted)?;
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
            deferred_read: false,
        };
        self.count += 1;
        self.pool_used += cap;
        self.next_less_one += 1;
        Ok(handle)
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

    /// Every attribute, in handle order.
    pub fn attributes(&self) -> impl DoubleEndedIterator<Item = Attribute> + '_ {
        self.rows().iter().map(Row::view)
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

    /// Makes the application answer Read and Read Blob Requests of a
    /// characteristic value itself: the ATT server holds the response
    /// until it does (the access callback of NimBLE's `ble_att_svr`, a
    /// dynamic value in Bumble). Only characteristic values and plain
    /// descriptors can be deferred.
    pub fn set_deferred_read(&mut self, handle: u16, on: bool) -> Result<(), DbError> {
        let i = self.index_of(handle).ok_or(DbError::NotFound)?;
        let row = self.rows.get_mut(i).ok_or(DbError::NotFound)?;
        if row.kind.is_declaration() || row.kind == AttributeKind::Cccd {
            return Err(DbError::NotWritable);
        }
        row.deferred_read = on;
        Ok(())
    }

    /// Whether reads of `handle` wait for the application.
    pub fn is_deferred_read(&self, handle: u16) -> bool {
        self.row(handle).is_some_and(|r| r.deferred_read)
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
pub(crate) mod fixture {
    //! Tables built row by row, as GATT would lay them (Vol 3 Part G 3),
    //! for the ATT tests; `gatt::server` has its own tests of the layout.
    use super::*;

    /// Appends a primary service declaration.
    pub fn service(db: &mut AttributeDb, uuid: u16) -> u16 {
        let v = uuid.to_le_bytes();
        let kind = AttributeKind::PrimaryService;
        db.push(
            Uuid::Uuid16(PRIMARY_SERVICE),
            kind,
            AttPermissions::READ,
            &v,
            2,
        )
        .unwrap()
    }

    /// Appends a characteristic declaration (properties, value handle,
    /// UUID; Vol 3 Part G 3.3.1) and its value; returns the value handle.
    pub fn characteristic(
        db: &mut AttributeDb,
        properties: u8,
        uuid: Uuid,
        perms: AttPermissions,
        value: &[u8],
        cap: usize,
    ) -> u16 {
        let vh = db.next_handle() + 1;
        let mut decl = [0u8; 19];
        decl[0] = properties;
        decl[1..3].copy_from_slice(&vh.to_le_bytes());
        let n = 3 + uuid.write_le(&mut decl[3..]).unwrap();
        let kind = AttributeKind::CharacteristicDeclaration;
        db.push(
            Uuid::Uuid16(0x2803),
            kind,
            AttPermissions::READ,
            &decl[..n],
            n,
        )
        .unwrap();
        let kind = AttributeKind::CharacteristicValue;
        db.push(uuid, kind, perms, value, cap).unwrap()
    }

    /// Appends a Client Characteristic Configuration descriptor.
    pub fn cccd(db: &mut AttributeDb, perms: AttPermissions) -> u16 {
        db.push(Uuid::Uuid16(0x2902), AttributeKind::Cccd, perms, &[], 0)
            .unwrap()
    }

    /// The QuecPython server demo's table: battery service 0x180F at 1,
    /// Battery Level 0x2A19 (props 0x32, 244 zero bytes, READ|WRITE) at
    /// 2/3 and its CCCD at 4.
    pub fn demo(db: &mut AttributeDb) {
        let rw = AttPermissions::READ | AttPermissions::WRITE;
        service(db, 0x180F);
        characteristic(db, 0x32, Uuid::Uuid16(0x2A19), rw, &[0u8; 244], 244);
        cccd(db, rw);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demo_table(db: &mut AttributeDb) {
        fixture::demo(db);
    }

    /// Unused rows hold only zero bytes, so a table in a static sits in
    /// `.bss` rather than `.data` (RAM plus a flash image; issue 6, 3): the
    /// filler kind is the enum's first variant (discriminant 0).
    #[test]
    fn empty_row_is_zero() {
        assert_eq!(EMPTY_ROW.kind as u8, 0);
        assert_eq!(EMPTY_ROW.uuid, Uuid::Uuid16(0));
        assert_eq!(
            (
                EMPTY_ROW.handle,
                EMPTY_ROW.off,
                EMPTY_ROW.len,
                EMPTY_ROW.cap
            ),
            (0, 0, 0, 0)
        );
        assert!(EMPTY_ROW.perms.is_empty());
        assert_eq!(EMPTY_ROW.cccd, [[0; 2]; MAX_CONNECTIONS]);
        // The next handle, 1, is stored as 0.
        let mut db = AttributeDb::new();
        assert_eq!((db.next_less_one, db.next_handle()), (0, 1));
        db.set_next_handle(0xFFFF).unwrap();
        db.push(
            Uuid::Uuid16(0x2800),
            AttributeKind::PrimaryService,
            AttPermissions::READ,
            &[0, 0x18],
            2,
        )
        .unwrap();
        assert_eq!(db.next_handle(), 0);
    }

    #[test]
    fn rows_service_groups_and_handles() {
        let mut db = AttributeDb::new();
        demo_table(&mut db);
        assert_eq!(db.len(), 4);
        assert_eq!(db.service_end(1), Some(4));
        assert_eq!(db.service_end(2), None);
        assert!(db.is_characteristic_value(3) && db.is_cccd(4));
        assert_eq!(db.max_len(3), Some(244));
        assert_eq!(db.max_len(4), Some(2));
        assert_eq!(db.set_next_handle(4), Err(DbError::HandleNotIncreasing));
        assert_eq!(db.set_next_handle(0x20), Ok(()));
        fixture::service(&mut db, 0x1234);
        assert_eq!(db.service_end(1), Some(4));
        assert_eq!(db.service_end(0x20), Some(0x20));
        db.clear();
        assert!(db.is_empty());
        assert_eq!(db.next_handle(), 1);
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
