//! GATT client procedures waiting for their link's ATT bearer.
//!
//! A client has one ATT request outstanding per bearer (Vol 3 Part F
//! 3.3.2), so one procedure runs per link and the rest wait behind it, in
//! the order the application asked for them: an application may start a
//! characteristic discovery from the callback of a service discovery that
//! is still running, and the vendor APIs let it. The queue is the core's,
//! shared by every API adapter; an adapter only tags its requests (owner,
//! and a tag of its own) so it can map their results to its events.
//!
//! Write values and Read Multiple handle lists are copied in when a
//! procedure is queued and live in one [`ValuePool`] until the procedure
//! ends. Procedures end in any order (links are independent, a link that
//! drops frees its whole queue, a refused call frees at once), so the pool
//! frees each value on its own, never by position.

use super::client::ProcedureKind;
use crate::config;
use crate::uuid::Uuid;
use heapless::Deque;

/// Bytes of a value held in the pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Span {
    start: u16,
    len: u16,
}

impl Span {
    pub const EMPTY: Span = Span { start: 0, len: 0 };

    pub fn len(self) -> usize {
        usize::from(self.len)
    }

    pub fn is_empty(self) -> bool {
        self.len == 0
    }

    fn end(self) -> usize {
        usize::from(self.start) + usize::from(self.len)
    }
}

/// A GATT client procedure (Vol 3 Part G 4) as an application asks for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Procedure {
    /// Exchange MTU (4.3.1).
    ExchangeMtu { mtu: u16 },
    /// Discover All Primary Services (4.4.1).
    DiscoverAllPrimaryServices,
    /// Discover Primary Service by Service UUID (4.4.2).
    DiscoverPrimaryServiceByUuid { uuid: Uuid },
    /// Find Included Services (4.5.1).
    FindIncludedServices { start: u16, end: u16 },
    /// Discover All Characteristics of a Service (4.6.1).
    DiscoverAllCharacteristics { start: u16, end: u16 },
    /// Discover All Characteristic Descriptors (4.7.1).
    DiscoverAllDescriptors { start: u16, end: u16 },
    /// Read Characteristic Value / Descriptor, long or from an offset
    /// (4.8.1, 4.8.3, 4.12.1, 4.12.2).
    Read {
        handle: u16,
        offset: u16,
        long: bool,
    },
    /// Read Using Characteristic UUID (4.8.2).
    ReadByUuid { start: u16, end: u16, uuid: Uuid },
    /// Read Multiple Characteristic Values (4.8.4): LE handles in the pool.
    ReadMultiple { handles: Span },
    /// Write Characteristic Value / Descriptor, long when `long` or at an
    /// offset (4.9.3, 4.9.4, 4.12.3, 4.12.4): the value is in the pool.
    Write {
        handle: u16,
        offset: u16,
        long: bool,
        value: Span,
    },
}

impl Procedure {
    /// The GATT client's name for it.
    pub fn kind(&self) -> ProcedureKind {
        match *self {
            Procedure::ExchangeMtu { .. } => ProcedureKind::ExchangeMtu,
            Procedure::DiscoverAllPrimaryServices => ProcedureKind::DiscoverAllPrimaryServices,
            Procedure::DiscoverPrimaryServiceByUuid { .. } => {
                ProcedureKind::DiscoverPrimaryServiceByUuid
            }
            Procedure::FindIncludedServices { .. } => ProcedureKind::FindIncludedServices,
            Procedure::DiscoverAllCharacteristics { .. } => {
                ProcedureKind::DiscoverAllCharacteristics
            }
            Procedure::DiscoverAllDescriptors { .. } => ProcedureKind::DiscoverAllDescriptors,
            Procedure::Read { .. } => ProcedureKind::ReadByHandle,
            Procedure::ReadByUuid { .. } => ProcedureKind::ReadByUuid,
            Procedure::ReadMultiple { .. } => ProcedureKind::ReadMultiple,
            Procedure::Write { long, offset, .. } if long || offset != 0 => {
                ProcedureKind::WriteLong
            }
            Procedure::Write { .. } => ProcedureKind::Write,
        }
    }

    /// The pool bytes this procedure holds.
    fn span(&self) -> Span {
        match *self {
            Procedure::ReadMultiple { handles } => handles,
            Procedure::Write { value, .. } => value,
            _ => Span::EMPTY,
        }
    }

    fn with_span(mut self, span: Span) -> Self {
        match &mut self {
            Procedure::ReadMultiple { handles } => *handles = span,
            Procedure::Write { value, .. } => *value = span,
            _ => {}
        }
        self
    }
}

/// A procedure and who asked for it: `owner` names the API adapter,
/// `tag` is the adapter's own (e.g. which vendor call it was).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request {
    pub procedure: Procedure,
    pub owner: u8,
    pub tag: u8,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueueError {
    /// The link's queue or the value pool is full.
    Full,
    /// No such link.
    NoLink,
}

/// Values of queued procedures: a first-fit allocator over a fixed byte
/// array, with one span per procedure that can hold a value.
pub struct ValuePool<const N: usize, const SPANS: usize> {
    bytes: [u8; N],
    /// Live spans; `len == 0` marks a free slot.
    spans: [Span; SPANS],
}

impl<const N: usize, const SPANS: usize> Default for ValuePool<N, SPANS> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize, const SPANS: usize> ValuePool<N, SPANS> {
    const _FITS: () = assert!(N <= u16::MAX as usize);

    pub const fn new() -> Self {
        ValuePool {
            bytes: [0; N],
            spans: [Span::EMPTY; SPANS],
        }
    }

    pub fn clear(&mut self) {
        self.spans = [Span::EMPTY; SPANS];
    }

    /// Bytes in use.
    pub fn used(&self) -> usize {
        self.spans.iter().map(|s| s.len()).sum()
    }

    /// Copies `data` in; an empty value takes no space. `None` when no gap
    /// is long enough or every span slot is taken.
    pub fn alloc(&mut self, data: &[u8]) -> Option<Span> {
        if data.is_empty() {
            return Some(Span::EMPTY);
        }
        let slot = self.spans.iter().position(|s| s.is_empty())?;
        // Candidate starts: 0 and the end of every live span; take the
        // lowest one whose range overlaps no live span.
        let fits = |start: usize| {
            let end = start + data.len();
            end <= N
                && self
                    .spans
                    .iter()
                    .filter(|s| !s.is_empty())
                    .all(|s| end <= usize::from(s.start) || start >= s.end())
        };
        let start = core::iter::once(0)
            .chain(self.spans.iter().filter(|s| !s.is_empty()).map(|s| s.end()))
            .filter(|&st| fits(st))
            .min()?;
        self.bytes
            .get_mut(start..start + data.len())?
            .copy_from_slice(data);
        let span = Span {
            start: start as u16,
            len: data.len() as u16,
        };
        self.spans[slot] = span;
        Some(span)
    }

    /// The bytes of a live span (empty for an unknown one).
    pub fn get(&self, span: Span) -> &[u8] {
        if span.is_empty() || !self.spans.contains(&span) {
            return &[];
        }
        self.bytes
            .get(usize::from(span.start)..span.end())
            .unwrap_or(&[])
    }

    /// Frees one span; other spans keep their bytes.
    pub fn free(&mut self, span: Span) {
        if span.is_empty() {
            return;
        }
        if let Some(s) = self.spans.iter_mut().find(|s| **s == span) {
            *s = Span::EMPTY;
        }
    }
}

/// One link: the procedure running and those waiting behind it.
pub struct LinkQueue {
    /// At most one: a one-slot `Vec` rather than an `Option`, whose `None`
    /// would be a niche value and put the core's static in `.data`.
    running: heapless::Vec<Request, 1>,
    waiting: Deque<Request, { config::GATT_CLIENT_QUEUE }>,
}

impl LinkQueue {
    const fn new() -> Self {
        LinkQueue {
            running: heapless::Vec::new(),
            waiting: Deque::new(),
        }
    }
}

/// Spans: a running and a full queue of waiting procedures on every link.
const SPANS: usize = config::MAX_CONNECTIONS * (config::GATT_CLIENT_QUEUE + 1);

/// Every link's procedures and the pool holding their values.
pub struct ProcedureQueue {
    links: [LinkQueue; config::MAX_CONNECTIONS],
    pool: ValuePool<{ config::GATT_CLIENT_POOL }, SPANS>,
}

impl Default for ProcedureQueue {
    fn default() -> Self {
        Self::new()
    }
}

impl ProcedureQueue {
    pub const fn new() -> Self {
        const LINK: LinkQueue = LinkQueue::new();
        ProcedureQueue {
            links: [LINK; config::MAX_CONNECTIONS],
            pool: ValuePool::new(),
        }
    }

    /// Forgets every procedure (the stack stopped or restarted).
    pub fn reset(&mut self) {
        for link in self.links.iter_mut() {
            link.running.clear();
            link.waiting.clear();
        }
        self.pool.clear();
    }

    /// Forgets a link's procedures and frees their values (it went down).
    pub fn link_down(&mut self, conn: usize) {
        let Some(link) = self.links.get_mut(conn) else {
            return;
        };
        let running = link.running.pop();
        for r in running.iter().chain(link.waiting.iter()) {
            self.pool.free(r.procedure.span());
        }
        link.waiting.clear();
    }

    /// The procedure running on `conn`.
    pub fn running(&self, conn: usize) -> Option<Request> {
        self.links.get(conn)?.running.first().copied()
    }

    /// Whether nothing runs or waits on `conn`.
    pub fn is_idle(&self, conn: usize) -> bool {
        self.links
            .get(conn)
            .is_none_or(|l| l.running.is_empty() && l.waiting.is_empty())
    }

    /// Copies `data` (a write value or a handle list) into the pool and
    /// returns the request holding it, not yet queued: the caller either
    /// starts it at once ([`ProcedureQueue::set_running`]) or queues it
    /// ([`ProcedureQueue::push`]), or gives it back ([`ProcedureQueue::release`]).
    pub fn prepare(&mut self, request: Request, data: &[u8]) -> Result<Request, QueueError> {
        let span = self.pool.alloc(data).ok_or(QueueError::Full)?;
        Ok(Request {
            procedure: request.procedure.with_span(span),
            ..request
        })
    }

    /// Queues a prepared request behind the running one. On failure its
    /// value is freed.
    pub fn push(&mut self, conn: usize, request: Request) -> Result<(), QueueError> {
        let Some(link) = self.links.get_mut(conn) else {
            self.pool.free(request.procedure.span());
            return Err(QueueError::NoLink);
        };
        link.waiting.push_back(request).map_err(|r| {
            self.pool.free(r.procedure.span());
            QueueError::Full
        })
    }

    /// `request` was started on `conn`'s bearer.
    pub fn set_running(&mut self, conn: usize, request: Request) {
        if let Some(link) = self.links.get_mut(conn) {
            link.running.clear();
            let _ = link.running.push(request);
        }
    }

    /// The running procedure on `conn` ended: its value is freed. Returns it.
    pub fn finish(&mut self, conn: usize) -> Option<Request> {
        let r = self.links.get_mut(conn)?.running.pop()?;
        self.pool.free(r.procedure.span());
        Some(r)
    }

    /// A request that was never started or queued gives its value back.
    pub fn release(&mut self, request: Request) {
        self.pool.free(request.procedure.span());
    }

    /// The next waiting request of an idle link.
    pub fn next(&mut self, conn: usize) -> Option<Request> {
        let link = self.links.get_mut(conn)?;
        if !link.running.is_empty() {
            return None;
        }
        link.waiting.pop_front()
    }

    /// The value a request holds.
    pub fn data(&self, request: &Request) -> &[u8] {
        self.pool.get(request.procedure.span())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(value: Span) -> Request {
        Request {
            procedure: Procedure::Write {
                handle: 3,
                offset: 0,
                long: false,
                value,
            },
            owner: 1,
            tag: 0,
        }
    }

    #[test]
    fn pool_frees_in_any_order_and_never_overlaps() {
        let mut p: ValuePool<10, 4> = ValuePool::new();
        let a = p.alloc(b"aaaa").unwrap();
        let b = p.alloc(b"bbb").unwrap();
        let c = p.alloc(b"cc").unwrap();
        assert_eq!(p.alloc(b"dd"), None, "10 bytes: 4 + 3 + 2 used, 1 left");
        // Free the middle one first: its gap is reused, a and c untouched.
        p.free(b);
        let d = p.alloc(b"ddd").unwrap();
        assert_eq!(
            (p.get(a), p.get(c), p.get(d)),
            (&b"aaaa"[..], &b"cc"[..], &b"ddd"[..])
        );
        p.free(a);
        let e = p.alloc(b"e").unwrap();
        assert_eq!(e.start, 0);
        assert_eq!(
            (p.get(c), p.get(d), p.get(e)),
            (&b"cc"[..], &b"ddd"[..], &b"e"[..])
        );
        assert_eq!(p.used(), 6);
        // A freed span reads as empty; span slots are bounded too.
        assert_eq!(p.get(b), b"ddd", "b's bytes now belong to d (same span)");
        p.free(d);
        assert_eq!(p.get(d), b"");
        let _ = p.alloc(b"x").unwrap();
        let _ = p.alloc(b"y").unwrap();
        assert_eq!(p.alloc(b"z"), None, "4 span slots");
        assert_eq!(
            p.alloc(b""),
            Some(Span::EMPTY),
            "an empty value needs no slot"
        );
    }

    #[test]
    fn queue_keeps_order_per_link_and_frees_a_dropped_link() {
        let mut q = ProcedureQueue::new();
        let r0 = q.prepare(write(Span::EMPTY), b"first").unwrap();
        q.set_running(0, r0);
        let r1 = q.prepare(write(Span::EMPTY), b"second").unwrap();
        q.push(0, r1).unwrap();
        let other = q.prepare(write(Span::EMPTY), b"other link").unwrap();
        q.push(1, other).unwrap();
        assert_eq!(q.next(0), None, "link 0 is busy");
        let done = q.finish(0).unwrap();
        assert_eq!(q.data(&done), b"", "freed once finished");
        let next = q.next(0).unwrap();
        assert_eq!(q.data(&next), b"second");
        q.link_down(1);
        assert_eq!(q.data(&other), b"");
        assert_eq!(
            q.data(&next),
            b"second",
            "link 1 going down frees only its own"
        );
        q.release(next);
        assert_eq!(q.pool.used(), 0);
        assert!(q.is_idle(0) && q.is_idle(1));
    }

    #[test]
    fn a_full_link_queue_refuses_and_frees() {
        let mut q = ProcedureQueue::new();
        q.set_running(0, write(Span::EMPTY));
        for _ in 0..config::GATT_CLIENT_QUEUE {
            let r = q.prepare(write(Span::EMPTY), b"v").unwrap();
            q.push(0, r).unwrap();
        }
        let r = q.prepare(write(Span::EMPTY), b"v").unwrap();
        assert_eq!(q.push(0, r), Err(QueueError::Full));
        assert_eq!(q.pool.used(), config::GATT_CLIENT_QUEUE);
        let r = q.prepare(write(Span::EMPTY), b"v").unwrap();
        assert_eq!(q.push(config::MAX_CONNECTIONS, r), Err(QueueError::NoLink));
        assert_eq!(q.pool.used(), config::GATT_CLIENT_QUEUE);
    }
}
