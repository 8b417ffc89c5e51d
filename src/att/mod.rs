//! Attribute Protocol (Core spec Vol 3 Part F).
pub mod pdu;
pub mod server;
