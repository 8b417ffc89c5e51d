//! Little-endian byte reading and writing, the one copy the whole stack uses.
//!
//! Every multi-octet field the host sees is little-endian: HCI parameters
//! (Core spec Vol 4 Part E 5.2), L2CAP headers and signaling (Vol 3 Part A
//! 3, 4), ATT PDUs (Vol 3 Part F 3.3) and SMP (Vol 3 Part H 3.3). Input
//! comes from a controller or a peer we do not trust, so:
//!
//! - [`Reader`] never panics: a read past the end returns
//!   `Err(Truncated)` and consumes nothing.
//! - [`Writer`] never panics: a write that does not fit returns
//!   `Err(Overflow)` and writes nothing.

/// A read needed more bytes than were left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Truncated;

/// A write did not fit in the rest of the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overflow;

/// The little-endian `u16` at `b[i..i + 2]`, or `None` if `b` is too short
/// (`i` may be any value; an out-of-range index is `None`, never a panic).
pub fn le_u16_at(b: &[u8], i: usize) -> Option<u16> {
    let end = i.checked_add(2)?;
    match b.get(i..end)? {
        [lo, hi] => Some(u16::from_le_bytes([*lo, *hi])),
        _ => None,
    }
}

/// Cursor reading little-endian fields from the front of a byte slice.
///
/// Reads either take the whole field or fail with [`Truncated`] and leave
/// the cursor where it was, so a caller may try a shorter layout after a
/// failure. The reader is `Copy`: copy it to look ahead without consuming.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub const fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }

    /// The bytes not read yet.
    pub const fn remaining(&self) -> &'a [u8] {
        self.rest
    }

    /// Number of bytes not read yet.
    pub const fn len(&self) -> usize {
        self.rest.len()
    }

    /// Everything has been read.
    pub const fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// The next `N` bytes as an array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], Truncated> {
        let (a, rest) = self.rest.split_first_chunk::<N>().ok_or(Truncated)?;
        self.rest = rest;
        Ok(*a)
    }

    /// The next `n` bytes, borrowed from the input.
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], Truncated> {
        if n > self.rest.len() {
            return Err(Truncated);
        }
        let (a, rest) = self.rest.split_at(n);
        self.rest = rest;
        Ok(a)
    }

    /// Steps over `n` bytes (reserved or unused fields).
    pub fn skip(&mut self, n: usize) -> Result<(), Truncated> {
        self.bytes(n).map(|_| ())
    }

    /// Everything not read yet; the reader is empty afterwards.
    pub fn rest(&mut self) -> &'a [u8] {
        core::mem::take(&mut self.rest)
    }

    pub fn u8(&mut self) -> Result<u8, Truncated> {
        let (&b, rest) = self.rest.split_first().ok_or(Truncated)?;
        self.rest = rest;
        Ok(b)
    }

    /// One octet read as a two's-complement signed value (e.g. RSSI,
    /// Vol 4 Part E 7.7.65.2).
    pub fn i8(&mut self) -> Result<i8, Truncated> {
        self.u8().map(|b| b as i8)
    }

    pub fn u16(&mut self) -> Result<u16, Truncated> {
        self.array().map(u16::from_le_bytes)
    }

    /// A 3-octet field (e.g. Class_of_Device, SDU intervals) in the low
    /// 24 bits.
    pub fn u24(&mut self) -> Result<u32, Truncated> {
        self.array::<3>()
            .map(|[a, b, c]| u32::from_le_bytes([a, b, c, 0]))
    }

    pub fn u32(&mut self) -> Result<u32, Truncated> {
        self.array().map(u32::from_le_bytes)
    }

    pub fn u64(&mut self) -> Result<u64, Truncated> {
        self.array().map(u64::from_le_bytes)
    }
}

/// Cursor writing little-endian fields into a caller's buffer.
///
/// Each `put_*` writes the whole field or, when it does not fit, returns
/// [`Overflow`] and writes nothing. They return the writer again, so
/// fields chain: `w.put_u8(code)?.put_u16(len)?`.
#[derive(Debug)]
pub struct Writer<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl<'a> Writer<'a> {
    /// A writer filling `buf` from its start.
    pub fn new(buf: &'a mut [u8]) -> Self {
        Self { buf, len: 0 }
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes that can still be written.
    pub fn free(&self) -> usize {
        self.buf.len() - self.len
    }

    /// The bytes written so far.
    pub fn written(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }

    pub fn put_slice(&mut self, bytes: &[u8]) -> Result<&mut Self, Overflow> {
        let end = self.len.checked_add(bytes.len()).ok_or(Overflow)?;
        self.buf
            .get_mut(self.len..end)
            .ok_or(Overflow)?
            .copy_from_slice(bytes);
        self.len = end;
        Ok(self)
    }

    pub fn put_u8(&mut self, v: u8) -> Result<&mut Self, Overflow> {
        self.put_slice(&[v])
    }

    pub fn put_u16(&mut self, v: u16) -> Result<&mut Self, Overflow> {
        self.put_slice(&v.to_le_bytes())
    }

    /// The low 24 bits of `v` as a 3-octet field; the high octet must be
    /// zero (a value that does not fit is an `Overflow`, not cut).
    pub fn put_u24(&mut self, v: u32) -> Result<&mut Self, Overflow> {
        match v.to_le_bytes() {
            [a, b, c, 0] => self.put_slice(&[a, b, c]),
            _ => Err(Overflow),
        }
    }

    pub fn put_u32(&mut self, v: u32) -> Result<&mut Self, Overflow> {
        self.put_slice(&v.to_le_bytes())
    }

    pub fn put_u64(&mut self, v: u64) -> Result<&mut Self, Overflow> {
        self.put_slice(&v.to_le_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn le_u16_at_bounds() {
        let b = [0x34, 0x12, 0x78];
        assert_eq!(le_u16_at(&b, 0), Some(0x1234));
        assert_eq!(le_u16_at(&b, 1), Some(0x7812));
        assert_eq!(le_u16_at(&b, 2), None);
        assert_eq!(le_u16_at(&b, 3), None);
        assert_eq!(le_u16_at(&b, usize::MAX), None);
        assert_eq!(le_u16_at(&[], 0), None);
    }

    #[test]
    fn reader_fields_are_little_endian() {
        // Command Complete parameters for LE Read Buffer Size as Bumble
        // sends them, then made-up wider fields.
        let b = [
            0x01, 0x02, 0x20, // u8, u16 0x2002
            0x56, 0x34, 0x12, // u24
            0x78, 0x56, 0x34, 0x12, // u32
            0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, // u64
            0xCE, // i8 -50
            0xAA, 0xBB, 0xCC,
        ];
        let mut r = Reader::new(&b);
        assert_eq!(r.u8(), Ok(1));
        assert_eq!(r.u16(), Ok(0x2002));
        assert_eq!(r.u24(), Ok(0x123456));
        assert_eq!(r.u32(), Ok(0x1234_5678));
        assert_eq!(r.u64(), Ok(0x0102_0304_0506_0708));
        assert_eq!(r.i8(), Ok(-50));
        assert_eq!(r.len(), 3);
        let ahead = r; // Copy: look ahead without consuming
        assert_eq!(ahead.remaining(), &[0xAA, 0xBB, 0xCC]);
        assert_eq!(r.array::<2>(), Ok([0xAA, 0xBB]));
        assert_eq!(r.rest(), &[0xCC]);
        assert!(r.is_empty());
        assert_eq!(r.rest(), &[] as &[u8]);
    }

    #[test]
    fn reader_short_input_fails_and_consumes_nothing() {
        let b = [1, 2, 3];
        let mut r = Reader::new(&b);
        assert_eq!(r.u32(), Err(Truncated));
        assert_eq!(r.u64(), Err(Truncated));
        assert_eq!(r.array::<4>(), Err(Truncated));
        assert_eq!(r.bytes(4), Err(Truncated));
        assert_eq!(r.skip(4), Err(Truncated));
        assert_eq!(r.len(), 3);
        assert_eq!(r.u24(), Ok(0x030201));
        assert_eq!(r.u8(), Err(Truncated));
        assert_eq!(r.i8(), Err(Truncated));
        assert_eq!(r.u16(), Err(Truncated));
        assert_eq!(r.u24(), Err(Truncated));
        assert_eq!(r.bytes(0), Ok(&[] as &[u8]));
        assert_eq!(r.array::<0>(), Ok([]));
        assert_eq!(r.skip(0), Ok(()));
    }

    #[test]
    fn reader_bytes_and_skip() {
        let b = [9, 8, 7, 6, 5];
        let mut r = Reader::new(&b);
        r.skip(1).unwrap();
        assert_eq!(r.bytes(2), Ok(&[8, 7][..]));
        assert_eq!(r.bytes(usize::MAX), Err(Truncated));
        assert_eq!(r.remaining(), &[6, 5]);
    }

    /// One read; how many bytes it took, or `None` when it failed.
    type Step = dyn Fn(&mut Reader<'_>) -> Option<usize>;

    #[test]
    fn reader_never_panics_on_any_prefix() {
        let b: std::vec::Vec<u8> = (0..20).collect();
        for n in 0..=b.len() {
            let mut r = Reader::new(&b[..n]);
            let mut taken = 0;
            let steps: [&Step; 7] = [
                &|r| r.u8().ok().map(|_| 1),
                &|r| r.u16().ok().map(|_| 2),
                &|r| r.u24().ok().map(|_| 3),
                &|r| r.u32().ok().map(|_| 4),
                &|r| r.u64().ok().map(|_| 8),
                &|r| r.array::<5>().ok().map(|_| 5),
                &|r| r.bytes(6).ok().map(|_| 6),
            ];
            for step in steps.iter().cycle().take(30) {
                let before = r.len();
                match step(&mut r) {
                    Some(k) => taken += k,
                    None => assert_eq!(r.len(), before),
                }
            }
            assert_eq!(taken + r.len(), n);
        }
    }

    #[test]
    fn writer_fields_are_little_endian() {
        let mut buf = [0u8; 22];
        let mut w = Writer::new(&mut buf);
        assert!(w.is_empty());
        w.put_u8(0x01)
            .unwrap()
            .put_u16(0x2002)
            .unwrap()
            .put_u24(0x123456)
            .unwrap()
            .put_u32(0x1234_5678)
            .unwrap()
            .put_u64(0x0102_0304_0506_0708)
            .unwrap()
            .put_slice(&[0xAA, 0xBB])
            .unwrap();
        assert_eq!(w.len(), 20);
        assert_eq!(w.free(), 2);
        assert_eq!(
            w.written(),
            &[
                0x01, 0x02, 0x20, 0x56, 0x34, 0x12, 0x78, 0x56, 0x34, 0x12, 0x08, 0x07, 0x06, 0x05,
                0x04, 0x03, 0x02, 0x01, 0xAA, 0xBB
            ]
        );
        // The same bytes read back.
        let mut r = Reader::new(&buf[..20]);
        assert_eq!(r.u8(), Ok(0x01));
        assert_eq!(r.u16(), Ok(0x2002));
        assert_eq!(r.u24(), Ok(0x123456));
        assert_eq!(r.u32(), Ok(0x1234_5678));
        assert_eq!(r.u64(), Ok(0x0102_0304_0506_0708));
    }

    #[test]
    fn writer_overflow_writes_nothing() {
        let mut buf = [0xEEu8; 5];
        let mut w = Writer::new(&mut buf);
        w.put_u16(0x0102).unwrap();
        assert_eq!(w.put_u32(7).map(|_| ()), Err(Overflow));
        assert_eq!(w.put_u64(7).map(|_| ()), Err(Overflow));
        assert_eq!(w.put_slice(&[1, 2, 3, 4]).map(|_| ()), Err(Overflow));
        assert_eq!(w.len(), 2);
        w.put_u24(0x030405).unwrap();
        assert_eq!(w.free(), 0);
        assert_eq!(w.put_u8(1).map(|_| ()), Err(Overflow));
        assert_eq!(w.put_slice(&[]).map(|_| ()), Ok(()));
        assert_eq!(w.written(), &[0x02, 0x01, 0x05, 0x04, 0x03]);
        // A 24-bit field refuses a value that needs 32 bits.
        let mut small = [0u8; 4];
        let mut w = Writer::new(&mut small);
        assert_eq!(w.put_u24(0x01000000).map(|_| ()), Err(Overflow));
        assert!(w.is_empty());
        // An empty buffer refuses everything but nothing.
        let mut w = Writer::new(&mut []);
        assert_eq!(w.put_u8(0).map(|_| ()), Err(Overflow));
        assert_eq!(w.free(), 0);
    }
}
