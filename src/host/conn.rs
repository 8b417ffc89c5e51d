//! The host's table of LE links.
//!
//! A link has two names: the controller's HCI Connection_Handle
//! ([`ConnHandle`], Vol 4 Part E 5.4.2) and the host's slot in this table
//! ([`ConnSlot`]), which the APIs show to the application (QuecPython's
//! `connect_id`). They are distinct types so that neither is passed for
//! the other.

use super::security::LinkKeys;
use crate::att::server::{AttBearer, LinkSecurity};
use crate::config;
use crate::gatt::client::GattClient;
use crate::hci::ConnHandle;
use crate::l2cap::Reassembler;
use crate::time::Instant;

/// A link's index in the connection table (0..MAX_CONNECTIONS).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ConnSlot(u8);

const _: () = assert!(config::MAX_CONNECTIONS <= u8::MAX as usize);

impl ConnSlot {
    /// The slot with this index, if the table has one.
    pub const fn new(index: usize) -> Option<ConnSlot> {
        if index < config::MAX_CONNECTIONS {
            Some(ConnSlot(index as u8))
        } else {
            None
        }
    }

    pub const fn index(self) -> usize {
        self.0 as usize
    }

    /// Every slot of the table, in order.
    pub fn all() -> impl Iterator<Item = ConnSlot> {
        (0..config::MAX_CONNECTIONS as u8).map(ConnSlot)
    }
}

/// GAP role of our side of a link (Vol 4 Part E 7.7.65.1 Role).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Central,
    Peripheral,
}

/// One LE link.
pub struct Connection {
    pub handle: ConnHandle,
    pub role: Role,
    pub peer_address_type: u8,
    pub peer_address: [u8; 6],
    /// Connection interval in 1.25 ms units (Vol 4 Part E 7.7.65.1).
    pub interval: u16,
    pub latency: u16,
    /// Supervision timeout in 10 ms units.
    pub supervision_timeout: u16,
    pub security: LinkSecurity,
    /// What pairing left on this link (the LTK) and SMP's state.
    pub keys: LinkKeys,
    pub att: AttBearer,
    /// When the outstanding indication's transaction times out.
    pub(super) indication_deadline: Instant,
    /// The ATT bearer timed out: nothing more may be sent on it
    /// (Vol 3 Part F 3.3.3) and the link is being dropped.
    pub(super) att_dead: bool,
    /// Our GATT client on this link, and when its outstanding request
    /// times out (Vol 3 Part F 3.3.3).
    pub client: GattClient,
    pub(super) client_deadline: Instant,
    pub(super) reassembler: Reassembler,
}

impl Connection {
    /// A new link as LE Connection Complete reports it.
    pub const fn new(handle: ConnHandle, role: Role) -> Self {
        Connection {
            handle,
            role,
            peer_address_type: 0,
            peer_address: [0; 6],
            interval: 0,
            latency: 0,
            supervision_timeout: 0,
            security: LinkSecurity {
                encrypted: false,
                authenticated: false,
                key_size: 0,
                has_ltk: false,
            },
            keys: LinkKeys::new(),
            att: AttBearer::new(),
            indication_deadline: Instant::from_ms(0),
            att_dead: false,
            client: GattClient::new(),
            client_deadline: Instant::from_ms(0),
            reassembler: Reassembler::new(),
        }
    }
}

/// The links, by slot.
///
/// A slot holds a link when its `live` flag is set. An `Option` per slot
/// would mark an empty one with a niche value (2 in `att_dead`) and put the
/// core's static in `.data`; with the flag, a new table is all zeros.
pub struct Connections {
    slots: [Connection; config::MAX_CONNECTIONS],
    live: [bool; config::MAX_CONNECTIONS],
}

impl Default for Connections {
    fn default() -> Self {
        Self::new()
    }
}

/// What an empty slot holds (all zeros).
const EMPTY: Connection = Connection::new(ConnHandle(0), Role::Central);

impl Connections {
    pub const fn new() -> Self {
        Connections {
            slots: [EMPTY; config::MAX_CONNECTIONS],
            live: [false; config::MAX_CONNECTIONS],
        }
    }

    /// Forgets every link.
    pub fn clear(&mut self) {
        self.live = [false; config::MAX_CONNECTIONS];
    }

    pub fn get(&self, slot: ConnSlot) -> Option<&Connection> {
        let i = slot.index();
        self.slots
            .get(i)
            .filter(|_| self.live.get(i) == Some(&true))
    }

    pub fn get_mut(&mut self, slot: ConnSlot) -> Option<&mut Connection> {
        let i = slot.index();
        let live = self.live.get(i) == Some(&true);
        self.slots.get_mut(i).filter(|_| live)
    }

    /// The slot of the link the controller calls `handle`.
    pub fn by_handle(&self, handle: ConnHandle) -> Option<ConnSlot> {
        self.iter()
            .find(|(_, c)| c.handle == handle)
            .map(|(slot, _)| slot)
    }

    /// Puts a new link in the first free slot; `None` when all are taken.
    pub fn insert(&mut self, c: Connection) -> Option<ConnSlot> {
        let i = self.live.iter().position(|l| !l)?;
        *self.slots.get_mut(i)? = c;
        *self.live.get_mut(i)? = true;
        Some(ConnSlot(i as u8))
    }

    /// Takes a link out of the table.
    pub fn remove(&mut self, slot: ConnSlot) -> Option<Connection> {
        let i = slot.index();
        let live = self.live.get_mut(i)?;
        if !*live {
            return None;
        }
        *live = false;
        Some(core::mem::replace(self.slots.get_mut(i)?, EMPTY))
    }

    pub fn is_full(&self) -> bool {
        self.live.iter().all(|l| *l)
    }

    pub fn iter(&self) -> impl Iterator<Item = (ConnSlot, &Connection)> {
        self.slots
            .iter()
            .zip(self.live.iter())
            .enumerate()
            .filter(|(_, (_, live))| **live)
            .map(|(i, (c, _))| (ConnSlot(i as u8), c))
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (ConnSlot, &mut Connection)> {
        self.slots
            .iter_mut()
            .zip(self.live.iter())
            .enumerate()
            .filter(|(_, (_, live))| **live)
            .map(|(i, (c, _))| (ConnSlot(i as u8), c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_fill_in_order_and_free_on_remove() {
        let mut t = Connections::new();
        for i in 0..config::MAX_CONNECTIONS {
            let h = ConnHandle(0x40 + i as u16);
            assert_eq!(
                t.insert(Connection::new(h, Role::Peripheral)),
                ConnSlot::new(i)
            );
        }
        assert!(t.is_full());
        assert!(t
            .insert(Connection::new(ConnHandle(1), Role::Central))
            .is_none());
        let second = ConnSlot::new(1).unwrap();
        assert_eq!(t.by_handle(ConnHandle(0x41)), Some(second));
        assert_eq!(t.remove(second).map(|c| c.handle), Some(ConnHandle(0x41)));
        assert_eq!(t.by_handle(ConnHandle(0x41)), None);
        // The freed slot is reused first; other links keep theirs.
        let h = ConnHandle(0x0EFF);
        assert_eq!(t.insert(Connection::new(h, Role::Central)), Some(second));
        assert_eq!(t.get(second).map(|c| c.role), Some(Role::Central));
        assert_eq!(t.iter().count(), config::MAX_CONNECTIONS);
        t.clear();
        assert_eq!(t.iter().count(), 0);
    }

    #[test]
    fn slot_range_is_the_table_size() {
        assert_eq!(ConnSlot::new(config::MAX_CONNECTIONS), None);
        assert_eq!(ConnSlot::all().count(), config::MAX_CONNECTIONS);
        assert_eq!(ConnSlot::new(2).map(ConnSlot::index), Some(2));
    }
}
