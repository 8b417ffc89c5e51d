//! GAP procedures the application starts (Core spec Vol 3 Part C 9):
//! advertising, scanning and connecting as central. Each turns into HCI
//! commands issued as [`Issuer::Gap`], and each answer about them comes
//! back here ([`Gap::on_command_result`]).

use super::commands::{Commands, Issuer};
use super::{HostError, HostEvent};
use crate::gap::{Advertiser, Scanner};
use crate::hci::command::{self, opcode, Command, ConnectionParameters, CreateConnection};

/// Advertising, scanning and connecting state.
pub struct Gap {
    pub adv: Advertiser,
    pub scan: Scanner,
    /// An LE Create Connection is pending (we are the initiator).
    connecting: bool,
}

impl Default for Gap {
    fn default() -> Self {
        Self::new()
    }
}

fn submit(cmds: &mut Commands, cmd: Command) -> Result<(), HostError> {
    cmds.submit(Issuer::Gap, cmd)
        .map_err(|_| HostError::QueueFull)
}

impl Gap {
    pub const fn new() -> Self {
        Gap {
            adv: Advertiser::new(),
            scan: Scanner::new(),
            connecting: false,
        }
    }

    /// The controller was reset: nothing runs in it any more (what the
    /// application configured is kept, to be sent again).
    pub fn controller_reset(&mut self) {
        self.adv.enabled = false;
        self.scan.enabled = false;
        self.connecting = false;
    }

    pub fn is_connecting(&self) -> bool {
        self.connecting
    }

    /// Sends the advertising parameters, data and scan response, then
    /// enables advertising (Vol 6 Part B 4.4.2; legacy commands only, since
    /// a host must not mix legacy and extended advertising commands,
    /// Vol 4 Part E 3.1.1). `random_address` is our static random address,
    /// set first when the parameters use it.
    pub fn advertise(
        &mut self,
        cmds: &mut Commands,
        enable: bool,
        random_address: Option<[u8; 6]>,
    ) -> Result<(), HostError> {
        if enable {
            if self.adv.enabled {
                // Parameters cannot change while advertising (7.8.5).
                submit(cmds, command::le_set_advertising_enable(false))?;
            }
            if self.adv.params().own_address_type == 0x01 {
                let addr = random_address.ok_or(HostError::NotReady)?;
                submit(cmds, command::le_set_random_address(addr))?;
            }
            submit(
                cmds,
                command::le_set_advertising_parameters(&self.adv.params()),
            )?;
            submit(cmds, command::le_set_advertising_data(&self.adv.data))?;
            submit(
                cmds,
                command::le_set_scan_response_data(&self.adv.scan_response),
            )?;
        }
        submit(cmds, command::le_set_advertising_enable(enable))?;
        self.adv.enabled = enable;
        Ok(())
    }

    /// Sends changed advertising or scan response data (live if advertising).
    pub fn refresh_adv_data(
        &mut self,
        cmds: &mut Commands,
        scan_response: bool,
    ) -> Result<(), HostError> {
        if scan_response {
            submit(
                cmds,
                command::le_set_scan_response_data(&self.adv.scan_response),
            )
        } else {
            submit(cmds, command::le_set_advertising_data(&self.adv.data))
        }
    }

    /// Starts or stops scanning with `self.scan.params` (Vol 6 Part D 4.2:
    /// parameters are set while the scanner is off).
    pub fn set_scanning(&mut self, cmds: &mut Commands, enable: bool) -> Result<(), HostError> {
        if enable {
            if self.scan.enabled {
                submit(cmds, command::le_set_scan_enable(false, false))?;
            }
            submit(cmds, command::le_set_scan_parameters(&self.scan.params()))?;
        }
        // Duplicate filtering is the adapter's (the vendor API decides).
        submit(cmds, command::le_set_scan_enable(enable, false))?;
        self.scan.enabled = enable;
        Ok(())
    }

    /// Connects to a peripheral as central (LE Create Connection, Vol 4
    /// Part E 7.8.12): 30-50 ms interval, no latency, 5 s supervision
    /// timeout, scanning for it at 60 ms / 30 ms.
    pub fn connect(
        &mut self,
        cmds: &mut Commands,
        peer_address_type: u8,
        peer_address: [u8; 6],
    ) -> Result<(), HostError> {
        if self.connecting {
            return Err(HostError::Busy);
        }
        let cmd = command::le_create_connection(&CreateConnection {
            scan_interval: 0x0060,
            scan_window: 0x0030,
            initiator_filter_policy: 0x00,
            peer_address_type,
            peer_address,
            own_address_type: self.adv.params().own_address_type,
            connection: ConnectionParameters {
                interval_min: 0x0018,
                interval_max: 0x0028,
                max_latency: 0,
                supervision_timeout: 0x01F4,
                min_ce_length: 0,
                max_ce_length: 0,
            },
        });
        submit(cmds, cmd)?;
        self.connecting = true;
        Ok(())
    }

    /// Cancels a pending connect (LE Create Connection Cancel, 7.8.13).
    pub fn cancel_connect(&mut self, cmds: &mut Commands) -> Result<(), HostError> {
        if !self.connecting {
            return Err(HostError::NoConnection);
        }
        submit(cmds, command::le_create_connection_cancel())?;
        self.connecting = false;
        Ok(())
    }

    /// Stops whatever runs, before the controller is reset.
    pub fn stop(&mut self, cmds: &mut Commands) {
        if self.adv.enabled {
            let _ = submit(cmds, command::le_set_advertising_enable(false));
        }
        if self.scan.enabled {
            let _ = submit(cmds, command::le_set_scan_enable(false, false));
        }
        if self.connecting {
            let _ = submit(cmds, command::le_create_connection_cancel());
        }
        self.controller_reset();
    }

    /// The answer to one of our commands: a failure the application must
    /// hear of, if any.
    pub fn on_command_result(&mut self, op: u16, status: u8) -> Option<HostEvent> {
        if status == 0 {
            return None;
        }
        match op {
            opcode::LE_CREATE_CONNECTION => {
                self.connecting = false;
                Some(HostEvent::ConnectFailed { status })
            }
            opcode::LE_SET_ADVERTISING_ENABLE => {
                self.adv.enabled = false;
                Some(HostEvent::CommandFailed { opcode: op, status })
            }
            _ => Some(HostEvent::CommandFailed { opcode: op, status }),
        }
    }

    /// LE Connection Complete: `central` when it ends our LE Create
    /// Connection. A failure is ours only if we were connecting (the other
    /// parameters are not valid then, Vol 4 Part E 7.7.65.1).
    pub fn on_connection_complete(&mut self, status: u8, central: bool) -> Option<HostEvent> {
        if status != 0 {
            return core::mem::take(&mut self.connecting)
                .then_some(HostEvent::ConnectFailed { status });
        }
        if central {
            self.connecting = false;
        } else {
            // A connectable advertising set stops when a link is made
            // (Vol 4 Part E 7.8.9).
            self.adv.enabled = false;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::hci::h4::H4Tx;
    use std::vec::Vec;

    /// The opcodes `cmds` sends, in order (a controller granting credit
    /// for each).
    fn sent(cmds: &mut Commands) -> Vec<u16> {
        let mut out = Vec::new();
        loop {
            let mut tx = H4Tx::new();
            cmds.pump(&mut tx, 0);
            let mut buf = [0u8; 300];
            let n = tx.pop_into(&mut buf);
            if n == 0 {
                return out;
            }
            let op = u16::from_le_bytes([buf[1], buf[2]]);
            out.push(op);
            cmds.on_answer(1, op);
        }
    }

    #[test]
    fn advertising_sends_parameters_data_then_enable() {
        let (mut gap, mut cmds) = (Gap::new(), Commands::new());
        gap.advertise(&mut cmds, true, None).unwrap();
        assert_eq!(
            sent(&mut cmds),
            [
                opcode::LE_SET_ADVERTISING_PARAMETERS,
                opcode::LE_SET_ADVERTISING_DATA,
                opcode::LE_SET_SCAN_RESPONSE_DATA,
                opcode::LE_SET_ADVERTISING_ENABLE
            ]
        );
        // Again while advertising: disabled first (7.8.5); with a random
        // own address, it is set before the parameters.
        gap.adv.set_params(command::AdvertisingParameters {
            own_address_type: 0x01,
            ..gap.adv.params()
        });
        assert_eq!(
            gap.advertise(&mut cmds, true, None),
            Err(HostError::NotReady)
        );
        let mut cmds = Commands::new();
        gap.advertise(&mut cmds, true, Some([0xC0; 6])).unwrap();
        let ops = sent(&mut cmds);
        assert_eq!(
            ops[..2],
            [
                opcode::LE_SET_ADVERTISING_ENABLE,
                opcode::LE_SET_RANDOM_ADDRESS
            ]
        );
    }

    #[test]
    fn failures_come_back_as_events_and_clear_state() {
        let (mut gap, mut cmds) = (Gap::new(), Commands::new());
        gap.advertise(&mut cmds, true, None).unwrap();
        assert!(gap.adv.enabled);
        let ev = gap.on_command_result(opcode::LE_SET_ADVERTISING_ENABLE, 0x0C);
        assert_eq!(
            ev,
            Some(HostEvent::CommandFailed {
                opcode: opcode::LE_SET_ADVERTISING_ENABLE,
                status: 0x0C
            })
        );
        assert!(!gap.adv.enabled);
        gap.connect(&mut cmds, 0, [1; 6]).unwrap();
        assert_eq!(gap.connect(&mut cmds, 0, [1; 6]), Err(HostError::Busy));
        assert_eq!(
            gap.on_command_result(opcode::LE_CREATE_CONNECTION, 0x0C),
            Some(HostEvent::ConnectFailed { status: 0x0C })
        );
        assert!(!gap.is_connecting());
        assert_eq!(gap.on_command_result(opcode::LE_SET_SCAN_ENABLE, 0), None);
    }

    #[test]
    fn connection_complete_ends_connecting_or_advertising() {
        let (mut gap, mut cmds) = (Gap::new(), Commands::new());
        assert_eq!(gap.on_connection_complete(0x3E, false), None, "not ours");
        gap.connect(&mut cmds, 0, [1; 6]).unwrap();
        assert_eq!(
            gap.on_connection_complete(0x3E, true),
            Some(HostEvent::ConnectFailed { status: 0x3E })
        );
        gap.advertise(&mut cmds, true, None).unwrap();
        assert_eq!(gap.on_connection_complete(0, false), None);
        assert!(!gap.adv.enabled, "a connectable advertising set stops");
        assert_eq!(gap.cancel_connect(&mut cmds), Err(HostError::NoConnection));
    }

    #[test]
    fn stop_sends_what_undoes_the_running_procedures() {
        let (mut gap, mut cmds) = (Gap::new(), Commands::new());
        gap.set_scanning(&mut cmds, true).unwrap();
        gap.connect(&mut cmds, 0, [1; 6]).unwrap();
        sent(&mut cmds);
        gap.stop(&mut cmds);
        assert_eq!(
            sent(&mut cmds),
            [
                opcode::LE_SET_SCAN_ENABLE,
                opcode::LE_CREATE_CONNECTION_CANCEL
            ]
        );
        assert!(!gap.scan.enabled && !gap.is_connecting());
    }
}
