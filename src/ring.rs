//! The one fixed-capacity byte ring of the stack.
//!
//! Used wherever bytes wait in FIFO order in a buffer sized at build time:
//! H4 framed bytes for the controller (`hci::h4::H4Tx`) and L2CAP PDUs
//! waiting for controller buffers (`hci::acl::AclTxQueue`).
//!
//! - Pushes are all-or-nothing: a packet is never torn in the stream.
//! - Data moves with at most two `copy_from_slice` per call (one per
//!   contiguous half of the ring), never byte by byte.
//! - Nothing panics: out-of-range offsets read as empty.
//! - [`ByteRing::new`] is a `const fn` whose value is all zeros, so a
//!   `static` that holds a ring (or a struct of rings) lands in `.bss` and
//!   costs no flash for an initial image.

/// The ring had no room for all the bytes; nothing was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RingFull;

/// FIFO of at most `N` bytes.
///
/// Logical offset 0 is the oldest byte. When the ring empties, the next
/// push starts again at the beginning of the buffer, so small queues
/// rarely wrap and `slices` mostly returns one piece.
#[derive(Debug, Clone)]
pub struct ByteRing<const N: usize> {
    buf: [u8; N],
    at: Cursor,
}

/// Where the bytes are in a ring buffer. The work is done here, on a
/// slice, so that it is compiled once and not once per ring size `N`.
#[derive(Debug, Clone, Copy)]
struct Cursor {
    /// Index in the buffer of logical offset 0; always < its length (or
    /// 0 when it is empty). (u16: every ring of the stack is shorter than
    /// 64 KiB, see `ByteRing::FITS`, and two u16 cost less static RAM.)
    head: u16,
    /// Bytes stored; always <= the buffer's length.
    len: u16,
}

impl Cursor {
    const fn head(&self) -> usize {
        self.head as usize
    }

    const fn len(&self) -> usize {
        self.len as usize
    }

    /// Buffer index of `i`, for `i < 2 * cap`.
    fn wrap(i: usize, cap: usize) -> usize {
        if i >= cap {
            i - cap
        } else {
            i
        }
    }

    fn push_parts(&mut self, buf: &mut [u8], parts: &[&[u8]]) -> Result<(), RingFull> {
        let mut need = 0usize;
        for p in parts {
            need = need.checked_add(p.len()).ok_or(RingFull)?;
        }
        if need > buf.len() - self.len() {
            return Err(RingFull);
        }
        for data in parts {
            let cap = buf.len();
            let tail = Self::wrap(self.head() + self.len(), cap);
            let first = data.len().min(cap - tail);
            let (a, b) = data.split_at(first);
            if let Some(dst) = buf.get_mut(tail..tail + first) {
                dst.copy_from_slice(a);
            }
            if !b.is_empty() {
                if let Some(dst) = buf.get_mut(..b.len()) {
                    dst.copy_from_slice(b);
                }
            }
            self.len += data.len() as u16;
        }
        Ok(())
    }

    fn slices<'a>(&self, buf: &'a [u8], offset: usize, n: usize) -> (&'a [u8], &'a [u8]) {
        if offset >= self.len() {
            return (&[], &[]);
        }
        let n = n.min(self.len() - offset);
        let start = Self::wrap(self.head() + offset, buf.len());
        let first = n.min(buf.len() - start);
        let a = buf.get(start..start + first).unwrap_or(&[]);
        let b = buf.get(..n - first).unwrap_or(&[]);
        (a, b)
    }

    fn peek_into(&self, buf: &[u8], offset: usize, out: &mut [u8]) -> usize {
        let (a, b) = self.slices(buf, offset, out.len());
        let n = a.len() + b.len();
        if let Some(dst) = out.get_mut(..a.len()) {
            dst.copy_from_slice(a);
        }
        // Mostly empty: the data seldom wraps.
        if !b.is_empty() {
            if let Some(dst) = out.get_mut(a.len()..n) {
                dst.copy_from_slice(b);
            }
        }
        n
    }

    /// The free space after the stored bytes, in order, as two pieces
    /// (the second is empty unless the free space wraps).
    fn free_slices_mut<'a>(&self, buf: &'a mut [u8]) -> (&'a mut [u8], &'a mut [u8]) {
        let cap = buf.len();
        let tail = Self::wrap(self.head() + self.len(), cap);
        let free = cap - self.len();
        let first = free.min(cap - tail);
        let (front, back) = buf.split_at_mut(tail);
        let a = back.get_mut(..first).unwrap_or(&mut []);
        let b = front.get_mut(..free - first).unwrap_or(&mut []);
        (a, b)
    }

    fn discard(&mut self, cap: usize, n: usize) -> usize {
        let n = n.min(self.len());
        self.head = Self::wrap(self.head() + n, cap) as u16;
        self.len -= n as u16;
        if self.len == 0 {
            self.head = 0;
        }
        n
    }
}

/// Writes a record into a ring's free space in place ([`ByteRing::writer`]);
/// nothing is stored until [`ByteRing::commit`]. Header bytes go one by
/// one (a call to copy 1 to 5 bytes costs more than the bytes), payloads
/// with one copy per contiguous piece.
pub struct RingWriter<'a> {
    a: &'a mut [u8],
    b: &'a mut [u8],
    /// Bytes written so far.
    at: usize,
}

impl RingWriter<'_> {
    /// Bytes written so far.
    pub fn written(&self) -> usize {
        self.at
    }

    pub fn byte(&mut self, v: u8) -> Result<(), RingFull> {
        let dst = match self.a.get_mut(self.at) {
            Some(d) => d,
            None => self.b.get_mut(self.at - self.a.len()).ok_or(RingFull)?,
        };
        *dst = v;
        self.at += 1;
        Ok(())
    }

    /// Writes a record header (a few bytes, their number known when
    /// compiled): stored in place when they come before the wrap (nearly
    /// always), else byte by byte.
    #[inline]
    pub fn put_array<const K: usize>(&mut self, src: [u8; K]) -> Result<(), RingFull> {
        // As an array, not a slice: K stores, no call to copy K bytes.
        let dst = self.a.get_mut(self.at..self.at + K);
        if let Some(dst) = dst.and_then(|d| <&mut [u8; K]>::try_from(d).ok()) {
            *dst = src;
            self.at += K;
            return Ok(());
        }
        for v in src {
            self.byte(v)?;
        }
        Ok(())
    }

    /// Copies `src` in. Inline: where it is called the usual cases (an
    /// empty second piece, a record that does not wrap) cost a test and
    /// the copy, not a call with the wrapping case's frame.
    #[inline]
    pub fn put(&mut self, src: &[u8]) -> Result<(), RingFull> {
        if src.is_empty() {
            return Ok(());
        }
        let end = self.at + src.len();
        if let Some(dst) = self.a.get_mut(self.at..end) {
            dst.copy_from_slice(src);
            self.at = end;
            return Ok(());
        }
        self.put_wrapped(src)
    }

    /// [`RingWriter::put`] past the end of the first piece.
    fn put_wrapped(&mut self, src: &[u8]) -> Result<(), RingFull> {
        let end = self.at + src.len();
        let first = self.a.len().saturating_sub(self.at);
        let (x, y) = src.split_at(first);
        let boff = self.at + first - self.a.len();
        self.b
            .get_mut(boff..boff + y.len())
            .ok_or(RingFull)?
            .copy_from_slice(y);
        if let Some(dst) = self.a.get_mut(self.at..) {
            dst.copy_from_slice(x);
        }
        self.at = end;
        Ok(())
    }
}

/// Reads a ring's stored bytes in order, without removing them
/// ([`ByteRing::reader`]).
pub struct RingReader<'a> {
    a: &'a [u8],
    b: &'a [u8],
    /// Bytes read so far.
    at: usize,
}

impl RingReader<'_> {
    /// Bytes read so far.
    pub fn read_len(&self) -> usize {
        self.at
    }

    pub fn byte(&mut self) -> Option<u8> {
        let v = match self.a.get(self.at) {
            Some(&v) => v,
            None => *self.b.get(self.at - self.a.len())?,
        };
        self.at += 1;
        Some(v)
    }

    /// Reads a record header (see [`RingWriter::put_array`]).
    #[inline]
    pub fn read_array<const K: usize>(&mut self) -> Option<[u8; K]> {
        let src = self.a.get(self.at..self.at + K);
        if let Some(&v) = src.and_then(|s| <&[u8; K]>::try_from(s).ok()) {
            self.at += K;
            return Some(v);
        }
        let mut out = [0u8; K];
        for v in out.iter_mut() {
            *v = self.byte()?;
        }
        Some(out)
    }

    /// Fills `dst` whole, or returns None.
    pub fn read(&mut self, dst: &mut [u8]) -> Option<()> {
        let end = self.at + dst.len();
        if end <= self.a.len() {
            dst.copy_from_slice(self.a.get(self.at..end)?);
        } else {
            let first = self.a.len().saturating_sub(self.at);
            let boff = self.at + first - self.a.len();
            let (x, y) = dst.split_at_mut(first);
            y.copy_from_slice(self.b.get(boff..boff + y.len())?);
            // Empty when the read starts in `b`.
            x.copy_from_slice(self.a.get(self.at..).unwrap_or(&[]));
        }
        self.at = end;
        Some(())
    }
}

impl<const N: usize> Default for ByteRing<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> ByteRing<N> {
    /// The ring's offsets are u16 (`Cursor`): a build with a ring of
    /// 64 KiB or more fails here.
    const FITS: () = assert!(N <= u16::MAX as usize, "ByteRing longer than 64 KiB");

    /// An empty ring; all fields are zero.
    pub const fn new() -> Self {
        #[allow(clippy::let_unit_value)]
        let () = Self::FITS;
        Self {
            buf: [0; N],
            at: Cursor { head: 0, len: 0 },
        }
    }

    /// `N`, the most bytes the ring holds.
    pub const fn capacity(&self) -> usize {
        N
    }

    /// Bytes stored.
    pub const fn len(&self) -> usize {
        self.at.len()
    }

    pub const fn is_empty(&self) -> bool {
        self.at.len == 0
    }

    /// Bytes that can still be pushed.
    pub const fn free(&self) -> usize {
        N - self.at.len()
    }

    /// Forgets every byte.
    pub fn clear(&mut self) {
        self.at = Cursor { head: 0, len: 0 };
    }

    /// Appends all of `data`, or nothing when it does not fit.
    pub fn push_slice(&mut self, data: &[u8]) -> Result<(), RingFull> {
        self.at.push_parts(&mut self.buf, &[data])
    }

    /// Appends the concatenation of `parts` (e.g. a header and a body), or
    /// nothing when it does not all fit.
    pub fn push_parts(&mut self, parts: &[&[u8]]) -> Result<(), RingFull> {
        self.at.push_parts(&mut self.buf, parts)
    }

    /// The stored bytes from logical `offset`, at most `n` of them, as two
    /// contiguous pieces (the second is empty unless the range wraps).
    /// Fewer than `n` bytes when the ring holds less; both empty when
    /// `offset >= len()`.
    pub fn slices(&self, offset: usize, n: usize) -> (&[u8], &[u8]) {
        self.at.slices(&self.buf, offset, n)
    }

    /// Every stored byte, oldest first, in two contiguous pieces.
    pub fn as_slices(&self) -> (&[u8], &[u8]) {
        self.slices(0, self.at.len())
    }

    /// The byte at logical `offset`, if stored.
    pub fn get(&self, offset: usize) -> Option<u8> {
        self.slices(offset, 1).0.first().copied()
    }

    /// Copies bytes from logical `offset` into `out` without removing
    /// them; returns how many were copied (`out.len()` at most).
    pub fn peek_into(&self, offset: usize, out: &mut [u8]) -> usize {
        self.at.peek_into(&self.buf, offset, out)
    }

    /// The free space after the stored bytes, in order, as two pieces (the
    /// second is empty unless it wraps), to write a record in place; then
    /// [`ByteRing::commit`] stores what was written. Without a commit the
    /// ring is unchanged: a record that turns out not to fit is dropped
    /// whole.
    pub fn free_slices_mut(&mut self) -> (&mut [u8], &mut [u8]) {
        self.at.free_slices_mut(&mut self.buf)
    }

    /// A writer into the free space (see [`ByteRing::free_slices_mut`]).
    pub fn writer(&mut self) -> RingWriter<'_> {
        let (a, b) = self.free_slices_mut();
        RingWriter { a, b, at: 0 }
    }

    /// A reader of the stored bytes from the oldest.
    pub fn reader(&self) -> RingReader<'_> {
        let (a, b) = self.as_slices();
        RingReader { a, b, at: 0 }
    }

    /// Stores the first `n` bytes of [`ByteRing::free_slices_mut`] (at most
    /// the free space).
    pub fn commit(&mut self, n: usize) {
        self.at.len += n.min(N - self.at.len()) as u16;
    }

    /// Removes up to `n` bytes from the front; returns how many.
    pub fn discard(&mut self, n: usize) -> usize {
        self.at.discard(N, n)
    }

    /// Moves up to `out.len()` bytes from the front into `out`; returns
    /// how many.
    #[inline]
    pub fn pop_into(&mut self, out: &mut [u8]) -> usize {
        // The port asks until it gets nothing: the last ask is one test.
        if self.is_empty() {
            return 0;
        }
        self.pop_some(out)
    }

    fn pop_some(&mut self, out: &mut [u8]) -> usize {
        let n = self.at.peek_into(&self.buf, 0, out);
        self.at.discard(N, n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;
    use std::vec::Vec;

    /// A static ring needs no runtime initialisation (`new` is const).
    static STATIC_RING: spin::Mutex<ByteRing<16>> = spin::Mutex::new(ByteRing::new());

    fn contents<const N: usize>(r: &ByteRing<N>) -> Vec<u8> {
        let (a, b) = r.as_slices();
        [a, b].concat()
    }

    #[test]
    fn headers_by_array_in_place_and_across_the_wrap() {
        for head in 0..8 {
            let mut r = ByteRing::<8>::new();
            r.push_slice(&[0xEE; 8]).unwrap();
            r.discard(head);
            r.push_slice(&[0xEE; 8][..head]).unwrap();
            // Full: a header finds no room and nothing is stored.
            assert_eq!(r.writer().put_array([1]), Err(RingFull));
            r.discard(5);
            let mut w = r.writer();
            w.put_array([1, 2, 3, 4, 5]).unwrap();
            assert_eq!(w.put_array([6]), Err(RingFull));
            let n = w.written();
            r.commit(n);
            assert_eq!(contents(&r), [0xEE, 0xEE, 0xEE, 1, 2, 3, 4, 5], "{head}");
            let mut rd = r.reader();
            assert_eq!(rd.read_array(), Some([0xEE, 0xEE, 0xEE, 1]));
            assert_eq!(rd.read_array(), Some([2, 3, 4, 5]));
            assert_eq!(rd.read_array::<1>(), None);
            let mut rd = r.reader();
            assert_eq!(rd.read_array::<9>(), None);
        }
    }

    #[test]
    fn ring_new_is_empty() {
        let r = ByteRing::<8>::new();
        assert_eq!((r.len(), r.free(), r.capacity()), (0, 8, 8));
        assert!(r.is_empty());
        assert_eq!(r.as_slices(), (&[][..], &[][..]));
        let mut s = STATIC_RING.lock();
        s.push_slice(b"abc").unwrap();
        assert_eq!(contents(&s), b"abc");
        s.clear();
    }

    #[test]
    fn ring_push_is_all_or_nothing() {
        let mut r = ByteRing::<8>::new();
        r.push_slice(&[1, 2, 3, 4, 5]).unwrap();
        assert_eq!(r.push_slice(&[6, 7, 8, 9]), Err(RingFull));
        assert_eq!(r.len(), 5);
        assert_eq!(r.push_parts(&[&[6], &[7, 8, 9]]), Err(RingFull));
        assert_eq!(r.len(), 5);
        r.push_parts(&[&[6], &[], &[7, 8]]).unwrap();
        assert_eq!(r.free(), 0);
        assert_eq!(contents(&r), [1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(r.push_slice(&[9]), Err(RingFull));
        assert_eq!(r.push_slice(&[]), Ok(()));
    }

    #[test]
    fn ring_wraps_in_two_pieces() {
        let mut r = ByteRing::<8>::new();
        r.push_slice(&[1, 2, 3, 4, 5, 6]).unwrap();
        let mut out = [0u8; 4];
        assert_eq!(r.pop_into(&mut out), 4);
        assert_eq!(out, [1, 2, 3, 4]);
        // 5, 6 at indexes 4, 5; 7..=10 wrap to 6, 7, 0, 1.
        r.push_slice(&[7, 8, 9, 10]).unwrap();
        assert_eq!(r.as_slices(), (&[5, 6, 7, 8][..], &[9, 10][..]));
        assert_eq!(r.slices(1, 4), (&[6, 7, 8][..], &[9][..]));
        // A range that starts past the wrap is one piece.
        assert_eq!(r.slices(4, 100), (&[9, 10][..], &[][..]));
        assert_eq!(r.slices(5, 1), (&[10][..], &[][..]));
        assert_eq!(r.slices(6, 1), (&[][..], &[][..]));
        assert_eq!(r.get(0), Some(5));
        assert_eq!(r.get(5), Some(10));
        assert_eq!(r.get(6), None);
        let mut peek = [0u8; 3];
        assert_eq!(r.peek_into(2, &mut peek), 3);
        assert_eq!(peek, [7, 8, 9]);
        assert_eq!(r.peek_into(5, &mut peek), 1);
        assert_eq!(r.peek_into(usize::MAX, &mut peek), 0);
        assert_eq!(r.len(), 6);
        let mut all = [0u8; 16];
        assert_eq!(r.pop_into(&mut all), 6);
        assert_eq!(&all[..6], &[5, 6, 7, 8, 9, 10]);
        assert!(r.is_empty());
    }

    #[test]
    fn ring_empties_back_to_the_start() {
        let mut r = ByteRing::<8>::new();
        r.push_slice(&[1, 2, 3, 4, 5]).unwrap();
        assert_eq!(r.discard(5), 5);
        // Empty again: the next push is contiguous, not split at index 5.
        r.push_slice(&[6, 7, 8, 9, 10, 11]).unwrap();
        assert_eq!(r.as_slices(), (&[6, 7, 8, 9, 10, 11][..], &[][..]));
        assert_eq!(r.discard(100), 6);
        assert_eq!(r.discard(1), 0);
    }

    #[test]
    fn ring_zero_capacity_refuses_everything() {
        let mut r = ByteRing::<0>::new();
        assert_eq!(r.push_slice(&[1]), Err(RingFull));
        assert_eq!(r.push_slice(&[]), Ok(()));
        assert_eq!(r.pop_into(&mut [0; 4]), 0);
        assert_eq!(r.get(0), None);
    }

    /// xorshift32, for deterministic random operations.
    struct Prng(u32);
    impl Prng {
        fn next(&mut self) -> u32 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            self.0 = x;
            x
        }
    }

    /// Random pushes, pops, peeks and discards agree with a `VecDeque`.
    #[test]
    fn ring_matches_a_model() {
        let mut rng = Prng(0xC0FFEE);
        let mut r = ByteRing::<37>::new();
        let mut model: VecDeque<u8> = VecDeque::new();
        let mut next = 0u8;
        for _ in 0..20_000 {
            match rng.next() % 5 {
                0 | 1 => {
                    let n = (rng.next() % 20) as usize;
                    let data: Vec<u8> = (0..n)
                        .map(|_| {
                            next = next.wrapping_add(1);
                            next
                        })
                        .collect();
                    let fits = n <= 37 - model.len();
                    assert_eq!(r.push_slice(&data).is_ok(), fits);
                    if fits {
                        model.extend(&data);
                    }
                }
                2 => {
                    let mut out = vec![0u8; (rng.next() % 20) as usize];
                    let n = r.pop_into(&mut out);
                    let want: Vec<u8> = model.drain(..n.min(model.len())).collect();
                    assert_eq!(&out[..n], &want[..]);
                    assert_eq!(n, out.len().min(n + model.len()));
                }
                3 => {
                    let off = (rng.next() % 40) as usize;
                    let mut out = vec![0u8; (rng.next() % 20) as usize];
                    let n = r.peek_into(off, &mut out);
                    let want: Vec<u8> = model.iter().skip(off).take(out.len()).copied().collect();
                    assert_eq!(&out[..n], &want[..]);
                    assert_eq!(r.get(off), model.get(off).copied());
                }
                4 if rng.next() & 1 == 0 => {
                    // In place: write into the free space, commit some.
                    let n = (rng.next() % 20) as usize;
                    let (a, b) = r.free_slices_mut();
                    assert_eq!(a.len() + b.len(), 37 - model.len());
                    let k = n.min(a.len() + b.len());
                    let data: Vec<u8> = (0..k)
                        .map(|_| {
                            next = next.wrapping_add(1);
                            next
                        })
                        .collect();
                    for (i, &x) in data.iter().enumerate() {
                        if i < a.len() {
                            a[i] = x;
                        } else {
                            b[i - a.len()] = x;
                        }
                    }
                    r.commit(k);
                    model.extend(&data);
                }
                _ => {
                    let n = (rng.next() % 10) as usize;
                    let k = r.discard(n);
                    assert_eq!(k, n.min(model.len()));
                    model.drain(..k);
                }
            }
            assert_eq!(r.len(), model.len());
            assert_eq!(r.free(), 37 - model.len());
            assert_eq!(contents(&r), model.iter().copied().collect::<Vec<u8>>());
        }
    }
}
