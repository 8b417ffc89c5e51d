//! Host Controller Interface (Core spec Vol 4 Part E) and its UART/H4
//! framing (Vol 4 Part A).
//!
//! - [`h4`]: stream deframing of controller bytes and the framed tx ring.
//! - [`command`]: command builders and Num_HCI_Command_Packets flow
//!   control with per-command timeouts (Vol 4 Part E 4.4).
//! - [`event`]: zero-copy event parsing, including LE meta subevents.
//! - [`acl`]: ACL headers, host-to-controller data flow control
//!   (Vol 4 Part E 4.1.1) and fragmentation of outbound L2CAP PDUs.
//! - [`bringup`]: the controller bring-up sequence.
//!
//! Nothing here does I/O or reads a clock: the host passes bytes and
//! milliseconds in and takes bytes out.
pub mod acl;
pub mod bringup;
pub mod command;
pub mod event;
pub mod h4;

/// An HCI Connection_Handle (Vol 4 Part E 5.4.2: 12 significant bits),
/// as the controller names a link. Not the host's connection slot
/// (`host::ConnSlot`): a distinct type, so one cannot be passed for the
/// other.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct ConnHandle(pub u16);
