//! HCI events (Core spec Vol 4 Part E 7.7), parsed without copying.
//!
//! Lengths are checked against the packet: a Parameter_Total_Length that
//! differs from the bytes present, or parameters too short for the event,
//! is an error. Fixed-size events may carry extra trailing parameters
//! (a newer controller may append fields), which are ignored; list events
//! (Number Of Completed Packets, advertising reports) must add up exactly.

use crate::bytes::{Reader, Truncated};

/// Event codes (Vol 4 Part E 7.7).
pub mod event_code {
    pub const DISCONNECTION_COMPLETE: u8 = 0x05;
    pub const ENCRYPTION_CHANGE: u8 = 0x08;
    pub const READ_REMOTE_VERSION_INFORMATION_COMPLETE: u8 = 0x0C;
    pub const COMMAND_COMPLETE: u8 = 0x0E;
    pub const COMMAND_STATUS: u8 = 0x0F;
    pub const HARDWARE_ERROR: u8 = 0x10;
    pub const NUMBER_OF_COMPLETED_PACKETS: u8 = 0x13;
    pub const DATA_BUFFER_OVERFLOW: u8 = 0x1A;
    pub const ENCRYPTION_KEY_REFRESH_COMPLETE: u8 = 0x30;
    pub const LE_META: u8 = 0x3E;
    pub const ENCRYPTION_CHANGE_V2: u8 = 0x59;
}

/// LE Meta subevent codes (Vol 4 Part E 7.7.65).
pub mod le_subevent {
    pub const CONNECTION_COMPLETE: u8 = 0x01;
    pub const ADVERTISING_REPORT: u8 = 0x02;
    pub const CONNECTION_UPDATE_COMPLETE: u8 = 0x03;
    pub const READ_REMOTE_FEATURES_COMPLETE: u8 = 0x04;
    pub const LONG_TERM_KEY_REQUEST: u8 = 0x05;
    pub const REMOTE_CONNECTION_PARAMETER_REQUEST: u8 = 0x06;
    pub const DATA_LENGTH_CHANGE: u8 = 0x07;
    pub const ENHANCED_CONNECTION_COMPLETE: u8 = 0x0A;
    pub const DIRECTED_ADVERTISING_REPORT: u8 = 0x0B;
    pub const PHY_UPDATE_COMPLETE: u8 = 0x0C;
    pub const EXTENDED_ADVERTISING_REPORT: u8 = 0x0D;
    pub const ENHANCED_CONNECTION_COMPLETE_V2: u8 = 0x29;
}

/// Legacy advertising report Event_Type values (Vol 4 Part E 7.7.65.2).
pub mod adv_type {
    pub const ADV_IND: u8 = 0x00;
    pub const ADV_DIRECT_IND: u8 = 0x01;
    pub const ADV_SCAN_IND: u8 = 0x02;
    pub const ADV_NONCONN_IND: u8 = 0x03;
    pub const SCAN_RSP: u8 = 0x04;
}

/// Why an event could not be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventError {
    /// Shorter than the 2-byte event header.
    NoHeader,
    /// Parameter_Total_Length differs from the parameter bytes present.
    LengthMismatch,
    /// Parameters too short for this event (or a report list that does
    /// not add up).
    Truncated,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'a> {
    /// Vol 4 Part E 7.7.14. `return_parameters` starts with the status for
    /// every command that has one.
    CommandComplete {
        num_hci_command_packets: u8,
        opcode: u16,
        return_parameters: &'a [u8],
    },
    /// Vol 4 Part E 7.7.15.
    CommandStatus {
        status: u8,
        num_hci_command_packets: u8,
        opcode: u16,
    },
    /// Vol 4 Part E 7.7.5.
    DisconnectionComplete {
        status: u8,
        handle: u16,
        reason: u8,
    },
    /// Vol 4 Part E 7.7.8 (v1; v2 0x59 is reported the same way).
    EncryptionChange {
        status: u8,
        handle: u16,
        enabled: u8,
    },
    /// Vol 4 Part E 7.7.39.
    EncryptionKeyRefreshComplete {
        status: u8,
        handle: u16,
    },
    /// Vol 4 Part E 7.7.12.
    ReadRemoteVersionInformationComplete {
        status: u8,
        handle: u16,
        version: u8,
        manufacturer: u16,
        subversion: u16,
    },
    /// Vol 4 Part E 7.7.19.
    NumberOfCompletedPackets(CompletedPackets<'a>),
    /// Vol 4 Part E 7.7.16.
    HardwareError {
        code: u8,
    },
    /// Vol 4 Part E 7.7.26.
    DataBufferOverflow,
    /// Vol 4 Part E 7.7.65.
    Le(LeEvent<'a>),
    Unknown {
        code: u8,
    },
}

/// Connection complete, from LE Connection Complete (7.7.65.1) or LE
/// Enhanced Connection Complete v1/v2 (7.7.65.10). Handles are 12 bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionComplete {
    pub status: u8,
    pub handle: u16,
    /// 0 Central, 1 Peripheral.
    pub role: u8,
    pub peer_address_type: u8,
    /// LSB first, as on the wire.
    pub peer_address: [u8; 6],
    /// 1.25 ms units.
    pub interval: u16,
    pub latency: u16,
    /// 10 ms units.
    pub supervision_timeout: u16,
    pub central_clock_accuracy: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeEvent<'a> {
    ConnectionComplete(ConnectionComplete),
    /// 7.7.65.2.
    AdvertisingReport(AdvReports<'a>),
    /// 7.7.65.13.
    ExtendedAdvertisingReport(ExtAdvReports<'a>),
    /// 7.7.65.3.
    ConnectionUpdateComplete {
        status: u8,
        handle: u16,
        interval: u16,
        latency: u16,
        supervision_timeout: u16,
    },
    /// 7.7.65.4.
    ReadRemoteFeaturesComplete {
        status: u8,
        handle: u16,
        le_features: [u8; 8],
    },
    /// 7.7.65.5.
    LongTermKeyRequest {
        handle: u16,
        random_number: [u8; 8],
        encrypted_diversifier: u16,
    },
    /// 7.7.65.6.
    RemoteConnectionParameterRequest {
        handle: u16,
        interval_min: u16,
        interval_max: u16,
        latency: u16,
        timeout: u16,
    },
    /// 7.7.65.7.
    DataLengthChange {
        handle: u16,
        max_tx_octets: u16,
        max_tx_time: u16,
        max_rx_octets: u16,
        max_rx_time: u16,
    },
    /// 7.7.65.12.
    PhyUpdateComplete {
        status: u8,
        handle: u16,
        tx_phy: u8,
        rx_phy: u8,
    },
    Unknown {
        subevent: u8,
    },
}

impl From<Truncated> for EventError {
    fn from(_: Truncated) -> Self {
        EventError::Truncated
    }
}

/// Connection_Handle: 12 bits, upper bits RFU (Vol 4 Part E 5.4.2).
fn handle(r: &mut Reader<'_>) -> Result<u16, EventError> {
    Ok(r.u16()? & 0x0FFF)
}

/// Parse one event: event code, Parameter_Total_Length, parameters.
/// Inline: the host's one call site then matches on the fields as they
/// are read, instead of on an `Event` written out and read back (this
/// runs for every Number Of Completed Packets, one per ACL packet sent).
#[inline]
pub fn parse(packet: &[u8]) -> Result<Event<'_>, EventError> {
    let [code, len, params @ ..] = packet else {
        return Err(EventError::NoHeader);
    };
    if params.len() != usize::from(*len) {
        return Err(EventError::LengthMismatch);
    }
    let mut r = Reader::new(params);
    use event_code as c;
    Ok(match *code {
        c::COMMAND_COMPLETE => Event::CommandComplete {
            num_hci_command_packets: r.u8()?,
            opcode: r.u16()?,
            return_parameters: r.rest(),
        },
        c::COMMAND_STATUS => Event::CommandStatus {
            status: r.u8()?,
            num_hci_command_packets: r.u8()?,
            opcode: r.u16()?,
        },
        c::DISCONNECTION_COMPLETE => Event::DisconnectionComplete {
            status: r.u8()?,
            handle: handle(&mut r)?,
            reason: r.u8()?,
        },
        c::ENCRYPTION_CHANGE | c::ENCRYPTION_CHANGE_V2 => Event::EncryptionChange {
            status: r.u8()?,
            handle: handle(&mut r)?,
            enabled: r.u8()?,
        },
        c::ENCRYPTION_KEY_REFRESH_COMPLETE => Event::EncryptionKeyRefreshComplete {
            status: r.u8()?,
            handle: handle(&mut r)?,
        },
        c::READ_REMOTE_VERSION_INFORMATION_COMPLETE => {
            Event::ReadRemoteVersionInformationComplete {
                status: r.u8()?,
                handle: handle(&mut r)?,
                version: r.u8()?,
                manufacturer: r.u16()?,
                subversion: r.u16()?,
            }
        }
        c::NUMBER_OF_COMPLETED_PACKETS => {
            let n = usize::from(r.u8()?);
            // Num_Handles entries of Connection_Handle, Num_Completed_Packets
            // (Vol 4 Part E 7.7.19), interleaved as controllers send them.
            if r.len() != n * 4 {
                return Err(EventError::Truncated);
            }
            Event::NumberOfCompletedPackets(CompletedPackets(r.rest()))
        }
        c::HARDWARE_ERROR => Event::HardwareError { code: r.u8()? },
        c::DATA_BUFFER_OVERFLOW => {
            r.u8()?; // Link_Type
            Event::DataBufferOverflow
        }
        c::LE_META => Event::Le(parse_le(r)?),
        code => Event::Unknown { code },
    })
}

fn parse_le(mut r: Reader<'_>) -> Result<LeEvent<'_>, EventError> {
    use le_subevent as s;
    let sub = r.u8()?;
    Ok(match sub {
        s::CONNECTION_COMPLETE
        | s::ENHANCED_CONNECTION_COMPLETE
        | s::ENHANCED_CONNECTION_COMPLETE_V2 => {
            let status = r.u8()?;
            let handle = handle(&mut r)?;
            let role = r.u8()?;
            let peer_address_type = r.u8()?;
            let peer_address = r.array::<6>()?;
            if sub != s::CONNECTION_COMPLETE {
                // Local and Peer Resolvable Private Addresses (7.7.65.10).
                r.skip(12)?;
            }
            let interval = r.u16()?;
            let latency = r.u16()?;
            let supervision_timeout = r.u16()?;
            let central_clock_accuracy = r.u8()?;
            LeEvent::ConnectionComplete(ConnectionComplete {
                status,
                handle,
                role,
                peer_address_type,
                peer_address,
                interval,
                latency,
                supervision_timeout,
                central_clock_accuracy,
            })
        }
        s::ADVERTISING_REPORT => {
            let n = r.u8()?;
            let reports = AdvReports { n, data: r.rest() };
            if !reports.validate() {
                return Err(EventError::Truncated);
            }
            LeEvent::AdvertisingReport(reports)
        }
        s::EXTENDED_ADVERTISING_REPORT => {
            let n = r.u8()?;
            let reports = ExtAdvReports { n, data: r.rest() };
            if !reports.validate() {
                return Err(EventError::Truncated);
            }
            LeEvent::ExtendedAdvertisingReport(reports)
        }
        s::CONNECTION_UPDATE_COMPLETE => LeEvent::ConnectionUpdateComplete {
            status: r.u8()?,
            handle: handle(&mut r)?,
            interval: r.u16()?,
            latency: r.u16()?,
            supervision_timeout: r.u16()?,
        },
        s::READ_REMOTE_FEATURES_COMPLETE => LeEvent::ReadRemoteFeaturesComplete {
            status: r.u8()?,
            handle: handle(&mut r)?,
            le_features: r.array()?,
        },
        s::LONG_TERM_KEY_REQUEST => LeEvent::LongTermKeyRequest {
            handle: handle(&mut r)?,
            random_number: r.array()?,
            encrypted_diversifier: r.u16()?,
        },
        s::REMOTE_CONNECTION_PARAMETER_REQUEST => LeEvent::RemoteConnectionParameterRequest {
            handle: handle(&mut r)?,
            interval_min: r.u16()?,
            interval_max: r.u16()?,
            latency: r.u16()?,
            timeout: r.u16()?,
        },
        s::DATA_LENGTH_CHANGE => LeEvent::DataLengthChange {
            handle: handle(&mut r)?,
            max_tx_octets: r.u16()?,
            max_tx_time: r.u16()?,
            max_rx_octets: r.u16()?,
            max_rx_time: r.u16()?,
        },
        s::PHY_UPDATE_COMPLETE => LeEvent::PhyUpdateComplete {
            status: r.u8()?,
            handle: handle(&mut r)?,
            tx_phy: r.u8()?,
            rx_phy: r.u8()?,
        },
        subevent => LeEvent::Unknown { subevent },
    })
}

/// (Connection_Handle, Num_Completed_Packets) pairs of a Number Of
/// Completed Packets event; the length was checked by `parse`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompletedPackets<'a>(&'a [u8]);

impl<'a> CompletedPackets<'a> {
    pub fn len(&self) -> usize {
        self.0.len() / 4
    }
    pub fn is_empty(&self) -> bool {
        self.0.len() < 4
    }
}

impl Iterator for CompletedPackets<'_> {
    type Item = (u16, u16);
    fn next(&mut self) -> Option<(u16, u16)> {
        let mut r = Reader::new(self.0);
        let handle = handle(&mut r).ok()?;
        let count = r.u16().ok()?;
        self.0 = r.remaining();
        Some((handle, count))
    }
}

/// One advertising report, legacy or extended, in one shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdvReport<'a> {
    /// Legacy Event_Type (see [`adv_type`]); extended reports are mapped to
    /// the legacy PDU they describe.
    pub event_type: u8,
    pub address_type: u8,
    /// LSB first.
    pub address: [u8; 6],
    /// dBm; 127 means not available.
    pub rssi: i8,
    pub data: &'a [u8],
    pub connectable: bool,
    pub scannable: bool,
    pub scan_response: bool,
    pub directed: bool,
}

impl<'a> AdvReport<'a> {
    fn from_legacy(
        event_type: u8,
        address_type: u8,
        address: [u8; 6],
        rssi: i8,
        data: &'a [u8],
    ) -> Self {
        use adv_type::*;
        AdvReport {
            event_type,
            address_type,
            address,
            rssi,
            data,
            connectable: matches!(event_type, ADV_IND | ADV_DIRECT_IND),
            scannable: matches!(event_type, ADV_IND | ADV_SCAN_IND),
            scan_response: event_type == SCAN_RSP,
            directed: event_type == ADV_DIRECT_IND,
        }
    }
}

/// Map an extended report's Event_Type bits (Vol 4 Part E 7.7.65.13:
/// bit 0 connectable, 1 scannable, 2 directed, 3 scan response, 4 legacy)
/// to the legacy Event_Type. Legacy PDUs use the table of 7.7.65.13;
/// Bumble 0.0.236 reports legacy advertising without the legacy bit
/// (0x0001 for ADV_IND, 0x0008 for its scan response), so other values
/// are mapped by their bits.
pub fn legacy_event_type(ext_event_type: u16) -> u8 {
    use adv_type::*;
    match ext_event_type & 0x1F {
        0x13 => ADV_IND,
        0x15 => ADV_DIRECT_IND,
        0x12 => ADV_SCAN_IND,
        0x10 => ADV_NONCONN_IND,
        0x1B | 0x1A => SCAN_RSP,
        t if t & 0x08 != 0 => SCAN_RSP,
        t if t & 0x04 != 0 => ADV_DIRECT_IND,
        t if t & 0x01 != 0 => ADV_IND,
        t if t & 0x02 != 0 => ADV_SCAN_IND,
        _ => ADV_NONCONN_IND,
    }
}

/// Reports of an LE Advertising Report event (7.7.65.2). Each report is
/// Event_Type, Address_Type, Address, Data_Length, Data, RSSI, one report
/// after another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdvReports<'a> {
    n: u8,
    data: &'a [u8],
}

impl<'a> AdvReports<'a> {
    /// Number of reports not yet iterated.
    pub fn remaining(&self) -> usize {
        usize::from(self.n)
    }

    fn validate(&self) -> bool {
        let mut it = *self;
        for _ in 0..self.n {
            if it.read().is_err() {
                return false;
            }
        }
        it.data.is_empty()
    }

    fn read(&mut self) -> Result<AdvReport<'a>, EventError> {
        let mut r = Reader::new(self.data);
        let event_type = r.u8()?;
        let address_type = r.u8()?;
        let address = r.array::<6>()?;
        let len = r.u8()?;
        let data = r.bytes(usize::from(len))?;
        let rssi = r.i8()?;
        self.data = r.remaining();
        Ok(AdvReport::from_legacy(
            event_type,
            address_type,
            address,
            rssi,
            data,
        ))
    }
}

impl<'a> Iterator for AdvReports<'a> {
    type Item = AdvReport<'a>;
    fn next(&mut self) -> Option<AdvReport<'a>> {
        if self.n == 0 {
            return None;
        }
        self.n -= 1;
        self.read().ok()
    }
}

/// Reports of an LE Extended Advertising Report event (7.7.65.13).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtAdvReports<'a> {
    n: u8,
    data: &'a [u8],
}

/// Data_Status of an extended report (bits 5-6 of Event_Type).
pub fn ext_data_status(ext_event_type: u16) -> u8 {
    ((ext_event_type >> 5) & 0b11) as u8
}

impl<'a> ExtAdvReports<'a> {
    /// Number of reports not yet iterated.
    pub fn remaining(&self) -> usize {
        usize::from(self.n)
    }

    fn validate(&self) -> bool {
        let mut it = *self;
        for _ in 0..self.n {
            if it.read().is_err() {
                return false;
            }
        }
        it.data.is_empty()
    }

    /// The next report with its raw Event_Type bits (for callers that care
    /// about Data_Status, PHYs are not kept).
    pub fn next_raw(&mut self) -> Option<(u16, AdvReport<'a>)> {
        if self.n == 0 {
            return None;
        }
        self.n -= 1;
        let before = self.data;
        let t = Reader::new(before).u16().ok()?;
        self.read().ok().map(|rep| (t, rep))
    }

    fn read(&mut self) -> Result<AdvReport<'a>, EventError> {
        let mut r = Reader::new(self.data);
        let ext = r.u16()?;
        let address_type = r.u8()?;
        let address = r.array::<6>()?;
        // Primary_PHY, Secondary_PHY, Advertising_SID, TX_Power.
        r.skip(4)?;
        let rssi = r.i8()?;
        // Periodic_Advertising_Interval, Direct_Address_Type, Direct_Address.
        r.skip(9)?;
        let len = r.u8()?;
        let data = r.bytes(usize::from(len))?;
        self.data = r.remaining();
        Ok(AdvReport {
            event_type: legacy_event_type(ext),
            address_type,
            address,
            rssi,
            data,
            connectable: ext & 0x01 != 0,
            scannable: ext & 0x02 != 0,
            directed: ext & 0x04 != 0,
            scan_response: ext & 0x08 != 0,
        })
    }
}

impl<'a> Iterator for ExtAdvReports<'a> {
    type Item = AdvReport<'a>;
    fn next(&mut self) -> Option<AdvReport<'a>> {
        self.next_raw().map(|(_, r)| r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    use crate::testing::hex;

    // Captured from a bumble 0.0.236 Controller (public address
    // F0:F1:F2:F3:F4:F5) on a LocalLink, H4 indicator stripped.

    #[test]
    fn hci_event_command_complete_read_bd_addr() {
        let p = hex("0e0a01091000f5f4f3f2f1f0");
        assert_eq!(
            parse(&p),
            Ok(Event::CommandComplete {
                num_hci_command_packets: 1,
                opcode: 0x1009,
                return_parameters: &[0x00, 0xF5, 0xF4, 0xF3, 0xF2, 0xF1, 0xF0],
            })
        );
    }

    #[test]
    fn hci_event_command_status() {
        // LE Create Connection accepted (bumble capture).
        assert_eq!(
            parse(&hex("0f0400010d20")),
            Ok(Event::CommandStatus {
                status: 0,
                num_hci_command_packets: 1,
                opcode: 0x200D
            })
        );
    }

    #[test]
    fn hci_event_le_connection_complete_bumble() {
        // Central side of a connection to a Bumble Device at random
        // address C0:C1:C2:C3:C4:C5: handle 1, interval 0x18, timeout 0x48.
        let p = hex("3e13010001000001c5c4c3c2c1c018000000480000");
        let want = ConnectionComplete {
            status: 0,
            handle: 1,
            role: 0,
            peer_address_type: 1,
            peer_address: [0xC5, 0xC4, 0xC3, 0xC2, 0xC1, 0xC0],
            interval: 0x18,
            latency: 0,
            supervision_timeout: 0x48,
            central_clock_accuracy: 0,
        };
        assert_eq!(parse(&p), Ok(Event::Le(LeEvent::ConnectionComplete(want))));
        // The same connection as Enhanced Connection Complete v1 and v2
        // (7.7.65.10): RPAs inserted after the peer address; v2 adds
        // Advertising_Handle and Sync_Handle at the end.
        let mut v1 = hex("3e1f0a0001000001c5c4c3c2c1c0");
        v1.extend_from_slice(&[0x11; 12]);
        v1.extend_from_slice(&hex("180000004800" /* interval..timeout */));
        v1.push(0);
        assert_eq!(parse(&v1), Ok(Event::Le(LeEvent::ConnectionComplete(want))));
        let mut v2 = v1.clone();
        v2[1] = 0x22;
        v2[2] = 0x29;
        v2.extend_from_slice(&[0xFF, 0xFF, 0x0F]);
        assert_eq!(parse(&v2), Ok(Event::Le(LeEvent::ConnectionComplete(want))));
        // Truncated by one byte, with a consistent length field.
        let mut short = p[..p.len() - 1].to_vec();
        short[1] -= 1;
        assert_eq!(parse(&short), Err(EventError::Truncated));
    }

    #[test]
    fn hci_event_extended_advertising_report_bumble() {
        // Bumble Device "Bumble" advertising, heard by the scanner: first
        // the ADV_IND (Event_Type 0x0001), then its scan response (0x0008).
        let adv = hex("3e220d01010001c5c4c3c2c1c001010000ce00000000000000000008070942756d626c65");
        let rsp = hex("3e220d01080001c5c4c3c2c1c001010000ce00000000000000000008070942756d626c65");
        let Ok(Event::Le(LeEvent::ExtendedAdvertisingReport(mut it))) = parse(&adv) else {
            panic!("not an extended report");
        };
        let r = it.next().unwrap();
        assert_eq!(r.event_type, adv_type::ADV_IND);
        assert_eq!(r.address_type, 1);
        assert_eq!(r.address, [0xC5, 0xC4, 0xC3, 0xC2, 0xC1, 0xC0]);
        assert_eq!(r.rssi, -50);
        assert_eq!(r.data, b"\x07\x09Bumble");
        assert!(r.connectable && !r.scan_response && !r.directed);
        assert!(it.next().is_none());
        let Ok(Event::Le(LeEvent::ExtendedAdvertisingReport(mut it))) = parse(&rsp) else {
            panic!("not an extended report");
        };
        let r = it.next().unwrap();
        assert_eq!(r.event_type, adv_type::SCAN_RSP);
        assert!(r.scan_response);
        // One report claiming more data than present.
        let mut bad = adv.clone();
        bad[27] = 9;
        assert_eq!(parse(&bad), Err(EventError::Truncated));
    }

    #[test]
    fn hci_event_ext_legacy_mapping() {
        use adv_type::*;
        // Vol 4 Part E 7.7.65.13, table for legacy PDUs.
        assert_eq!(legacy_event_type(0x13), ADV_IND);
        assert_eq!(legacy_event_type(0x15), ADV_DIRECT_IND);
        assert_eq!(legacy_event_type(0x12), ADV_SCAN_IND);
        assert_eq!(legacy_event_type(0x10), ADV_NONCONN_IND);
        assert_eq!(legacy_event_type(0x1B), SCAN_RSP);
        assert_eq!(legacy_event_type(0x1A), SCAN_RSP);
        // Data status bits do not change the type.
        assert_eq!(legacy_event_type(0x0013 | 0x20), ADV_IND);
        assert_eq!(ext_data_status(0x0033), 1);
    }

    #[test]
    fn hci_event_legacy_advertising_report() {
        // Two reports (7.7.65.2): ADV_IND from a public address with Flags,
        // then a SCAN_RSP with no data and RSSI not available (127).
        let mut p = vec![0x3E, 0, 0x02, 2];
        p.extend_from_slice(&[0x00, 0x00, 1, 2, 3, 4, 5, 6, 3, 0x02, 0x01, 0x06, 0xC4]);
        p.extend_from_slice(&[0x04, 0x01, 9, 8, 7, 6, 5, 4, 0, 0x7F]);
        p[1] = (p.len() - 2) as u8;
        let Ok(Event::Le(LeEvent::AdvertisingReport(it))) = parse(&p) else {
            panic!();
        };
        let v: Vec<_> = it.collect();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].event_type, adv_type::ADV_IND);
        assert_eq!(v[0].rssi, -60);
        assert_eq!(v[0].data, &[0x02, 0x01, 0x06]);
        assert!(v[0].connectable && v[0].scannable);
        assert_eq!(v[1].address, [9, 8, 7, 6, 5, 4]);
        assert!(v[1].scan_response && v[1].data.is_empty());
        assert_eq!(v[1].rssi, 127);
        // Num_Reports says 3 but only 2 are present.
        p[3] = 3;
        assert_eq!(parse(&p), Err(EventError::Truncated));
        // Trailing garbage after the last report.
        p[3] = 2;
        p.push(0);
        p[1] += 1;
        assert_eq!(parse(&p), Err(EventError::Truncated));
    }

    #[test]
    fn hci_event_number_of_completed_packets() {
        let p = hex("1309024000020041000100");
        let Ok(Event::NumberOfCompletedPackets(it)) = parse(&p) else {
            panic!();
        };
        assert_eq!(it.len(), 2);
        assert_eq!(it.collect::<Vec<_>>(), vec![(0x40, 2), (0x41, 1)]);
        assert_eq!(parse(&hex("130502400002")), Err(EventError::LengthMismatch));
        assert_eq!(parse(&hex("13050240000200")), Err(EventError::Truncated));
    }

    #[test]
    fn hci_event_misc() {
        assert_eq!(
            parse(&hex("0504000100" /* status, handle */)),
            Err(EventError::LengthMismatch)
        );
        assert_eq!(
            parse(&hex("050400010013")),
            Ok(Event::DisconnectionComplete {
                status: 0,
                handle: 1,
                reason: 0x13
            })
        );
        assert_eq!(
            parse(&hex("080400400001")),
            Ok(Event::EncryptionChange {
                status: 0,
                handle: 0x40,
                enabled: 1
            })
        );
        assert_eq!(parse(&hex("100101")), Ok(Event::HardwareError { code: 1 }));
        assert_eq!(parse(&hex("1a0101")), Ok(Event::DataBufferOverflow));
        assert_eq!(parse(&hex("ff00")), Ok(Event::Unknown { code: 0xFF }));
        assert_eq!(parse(&hex("0e")), Err(EventError::NoHeader));
        assert_eq!(parse(&hex("0e0201")), Err(EventError::LengthMismatch));
        assert_eq!(
            parse(&hex("3e0d05400001020304050607083412")),
            Ok(Event::Le(LeEvent::LongTermKeyRequest {
                handle: 0x40,
                random_number: [1, 2, 3, 4, 5, 6, 7, 8],
                encrypted_diversifier: 0x1234
            }))
        );
        assert_eq!(
            parse(&hex("3e0b074000fb004808fb004808")),
            Ok(Event::Le(LeEvent::DataLengthChange {
                handle: 0x40,
                max_tx_octets: 251,
                max_tx_time: 0x0848,
                max_rx_octets: 251,
                max_rx_time: 0x0848
            }))
        );
        assert_eq!(
            parse(&hex("3e0a03004000180000004800")),
            Ok(Event::Le(LeEvent::ConnectionUpdateComplete {
                status: 0,
                handle: 0x40,
                interval: 0x18,
                latency: 0,
                supervision_timeout: 0x48
            }))
        );
        assert_eq!(
            parse(&hex("3e010b")),
            Ok(Event::Le(LeEvent::Unknown { subevent: 0x0B }))
        );
        assert_eq!(parse(&hex("3e00")), Err(EventError::Truncated));
    }

    #[test]
    fn hci_event_never_panics() {
        let mut x = 7u32;
        for _ in 0..20000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let len = (x % 40) as usize;
            let mut p: Vec<u8> = (0..len + 2)
                .map(|i| (x.rotate_left(i as u32 * 3) as u8) ^ i as u8)
                .collect();
            p[0] = [0x0E, 0x0F, 0x13, 0x3E, 0x05, 0x08][(x % 6) as usize];
            p[1] = len as u8;
            if len > 0 {
                p[2] = (x >> 8) as u8 % 0x30;
            }
            if let Ok(Event::Le(LeEvent::AdvertisingReport(it))) = parse(&p) {
                it.for_each(drop);
            }
            if let Ok(Event::Le(LeEvent::ExtendedAdvertisingReport(it))) = parse(&p) {
                it.for_each(drop);
            }
        }
    }
}
