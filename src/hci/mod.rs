//! Host Controller Interface (Core spec Vol 4 Part E) and its UART/H4
//! framing (Vol 4 Part A).
pub mod acl;
pub mod bringup;
pub mod command;
pub mod event;
pub mod h4;
