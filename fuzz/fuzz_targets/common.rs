//! Shared by the fuzz target and the seed generator: the input format and
//! the attribute table under test.
//!
//! Input format: a sequence of chunks, each `len: u16 LE` followed by `len`
//! bytes holding one HCI ACL data packet without its H4 type byte:
//! `handle_and_flags: u16 LE` (connection handle in bits 0-11,
//! Packet_Boundary_Flag in bits 12-13, Vol 4 Part E 5.4.2),
//! `data_total_length: u16 LE`, then the data.

#![allow(dead_code)] // each binary uses part of this file

use mpble::att::db::{AttPermissions as P, AttributeDb};
use mpble::gatt::server::GattServer;
use mpble::uuid::Uuid;

/// The QuecPython demo table with GAP/GATT kept (battery service at 16),
/// plus characteristics that exercise each permission path and a 128-bit
/// UUID.
pub fn demo_db(db: &mut AttributeDb) {
    db.clear();
    db.add_gap_gatt_services(b"Quectel_ble").unwrap();
    let rw = P::READ | P::WRITE;
    db.add_service(Uuid::Uuid16(0x180F), true).unwrap();
    db.add_characteristic(0x32, Uuid::Uuid16(0x2A19), rw, &[0u8; 244], 244)
        .unwrap();
    db.add_descriptor(Uuid::Uuid16(0x2902), rw, &[0; 4], 4)
        .unwrap();
    db.add_service(Uuid::Uuid128([0x5A; 16]), false).unwrap();
    for (u, perms) in [
        (0xAAA1u16, P::WRITE),
        (
            0xAAA2,
            P::READ | P::READ_ENCRYPTION | P::WRITE | P::WRITE_ENCRYPTION,
        ),
        (
            0xAAA3,
            P::READ | P::READ_AUTHENTICATED_MITM | P::WRITE | P::WRITE_AUTHENTICATED_MITM,
        ),
        (
            0xAAA4,
            P::READ | P::READ_AUTHORIZATION | P::WRITE | P::WRITE_AUTHORIZATION,
        ),
    ] {
        db.add_characteristic(0x3E, Uuid::Uuid16(u), perms, b"abc", 20)
            .unwrap();
    }
    db.add_characteristic(0x0A, Uuid::Uuid128([0xC3; 16]), rw, &[1, 2, 3], 512)
        .unwrap();
    db.add_descriptor(Uuid::Uuid16(0x2901), P::READ, b"user description", 16)
        .unwrap();
    db.add_descriptor(Uuid::Uuid16(0x2902), rw, &[], 2).unwrap();
}

/// Splits the input into ACL packets: (connection handle, PB flag, data).
pub fn acl_packets(mut input: &[u8]) -> impl Iterator<Item = (u16, u8, &[u8])> {
    core::iter::from_fn(move || loop {
        if input.len() < 2 {
            return None;
        }
        let len = usize::from(u16::from_le_bytes([input[0], input[1]]));
        let rest = &input[2..];
        let take = len.min(rest.len());
        let (chunk, tail) = rest.split_at(take);
        input = tail;
        // Minimal ACL header parse, as the HCI layer will do it.
        if chunk.len() < 4 {
            continue;
        }
        let hf = u16::from_le_bytes([chunk[0], chunk[1]]);
        let data_len = usize::from(u16::from_le_bytes([chunk[2], chunk[3]]));
        let data = &chunk[4..];
        if data.len() != data_len {
            continue; // a real H4 parser would never deliver this packet
        }
        return Some((hf & 0x0FFF, ((hf >> 12) & 0x3) as u8, data));
    })
}

/// Encodes one ACL packet chunk (used by the seed generator).
#[allow(dead_code)]
pub fn chunk(handle: u16, pb: u8, data: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&((data.len() + 4) as u16).to_le_bytes());
    v.extend_from_slice(&(handle | (u16::from(pb) << 12)).to_le_bytes());
    v.extend_from_slice(&(data.len() as u16).to_le_bytes());
    v.extend_from_slice(data);
    v
}

/// A B-frame as one start ACL packet.
#[allow(dead_code)]
pub fn l2cap(handle: u16, cid: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&(payload.len() as u16).to_le_bytes());
    f.extend_from_slice(&cid.to_le_bytes());
    f.extend_from_slice(payload);
    chunk(handle, 0b10, &f)
}
