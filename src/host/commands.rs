//! HCI commands and who issued them.
//!
//! The controller answers each command with Command Complete or Command
//! Status (Vol 4 Part E 4.4), which carries only the opcode. The host
//! remembers which of its parts sent each command, so the answer (its
//! status and return parameters) goes back to that part: a GAP procedure
//! learns its advertising failed, the stop sequence learns the controller
//! was reset, and the Security Manager will get the results of LE Encrypt,
//! LE Rand and LE Long Term Key Request Reply for its own link.
//!
//! Bring-up drives its own commands through [`Commands::queue`] and
//! recognises their answers itself (`BringUp::waiting_for`), so they are
//! not tracked here.

use super::conn::ConnSlot;
use crate::config;
use crate::hci::command::{Command, CommandQueue, QueueFull};
use crate::hci::h4::H4Tx;
use heapless::Deque;

/// The part of the host a command's answer goes back to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Issuer {
    /// Link management by the host itself (a Disconnect of a dead bearer,
    /// refusing a link, answering a parameter request): a failure is
    /// reported as `HostEvent::CommandFailed`.
    Host,
    /// A GAP procedure the application started (advertising, scanning,
    /// connecting).
    Gap,
    /// The HCI Reset that ends `HostCore::stop`.
    Stop,
    /// Security on one link (SMP: encryption, keys).
    Security(ConnSlot),
}

/// Commands sent or waiting, with the issuer of each.
pub struct Commands {
    queue: CommandQueue,
    /// Oldest first; answers of one opcode come back in the order sent.
    issuers: Deque<(u16, Issuer), { 2 * config::HCI_CMD_QUEUE }>,
}

impl Default for Commands {
    fn default() -> Self {
        Self::new()
    }
}

impl Commands {
    pub const fn new() -> Self {
        Commands {
            queue: CommandQueue::new(),
            issuers: Deque::new(),
        }
    }

    pub fn reset(&mut self) {
        self.queue.reset();
        self.issuers.clear();
    }

    /// Queues `cmd`; its answer will be routed to `issuer`.
    pub fn submit(&mut self, issuer: Issuer, cmd: Command) -> Result<(), QueueFull> {
        if self.issuers.is_full() {
            return Err(QueueFull);
        }
        let opcode = cmd.opcode;
        self.queue.submit(cmd)?;
        let _ = self.issuers.push_back((opcode, issuer));
        Ok(())
    }

    /// The queue itself, for bring-up (which tracks its own answers).
    pub fn queue(&mut self) -> &mut CommandQueue {
        &mut self.queue
    }

    /// Who sent the oldest unanswered `opcode`; `Host` when nobody here did
    /// (bring-up, or an answer the controller sent on its own).
    fn take_issuer(&mut self, opcode: u16) -> Issuer {
        let mut found = None;
        // One turn of the ring: every entry but the first match goes back
        // in the same order.
        for _ in 0..self.issuers.len() {
            let Some(entry) = self.issuers.pop_front() else {
                break;
            };
            if found.is_none() && entry.0 == opcode {
                found = Some(entry.1);
            } else {
                let _ = self.issuers.push_back(entry);
            }
        }
        found.unwrap_or(Issuer::Host)
    }

    /// A Command Complete or Command Status for `opcode` arrived with a new
    /// credit: returns who issued it.
    pub fn on_answer(&mut self, num_hci_command_packets: u8, opcode: u16) -> Issuer {
        self.queue
            .on_command_complete_or_status(num_hci_command_packets, opcode);
        self.take_issuer(opcode)
    }

    /// A command whose answer did not come in time, and who issued it.
    pub fn poll_timeout(&mut self, now_ms: u32) -> Option<(u16, Issuer)> {
        let op = self.queue.poll_timeout(now_ms)?;
        Some((op, self.take_issuer(op)))
    }

    pub fn next_deadline(&self) -> Option<u32> {
        self.queue.next_deadline()
    }

    /// Moves queued commands into `tx` as the controller's credit allows;
    /// returns whether it sent one.
    pub fn pump(&mut self, tx: &mut H4Tx, now_ms: u32) -> bool {
        self.queue.pump(tx, now_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hci::command::{self, opcode};

    fn slot(i: usize) -> Issuer {
        Issuer::Security(ConnSlot::new(i).unwrap())
    }

    #[test]
    fn answers_go_back_to_their_issuer_in_order() {
        let mut c = Commands::new();
        c.submit(slot(1), command::le_rand()).unwrap();
        c.submit(Issuer::Gap, command::le_set_advertising_enable(true))
            .unwrap();
        c.submit(slot(0), command::le_rand()).unwrap();
        // Two LE Rand: the first answer is link 1's, the second link 0's.
        assert_eq!(c.on_answer(1, opcode::LE_RAND), slot(1));
        assert_eq!(
            c.on_answer(1, opcode::LE_SET_ADVERTISING_ENABLE),
            Issuer::Gap
        );
        assert_eq!(c.on_answer(1, opcode::LE_RAND), slot(0));
        // An answer nobody here asked for (bring-up's own, or unsolicited).
        assert_eq!(c.on_answer(1, opcode::RESET), Issuer::Host);
    }

    #[test]
    fn a_timed_out_command_names_its_issuer_and_reset_forgets_all() {
        let mut c = Commands::new();
        let mut tx = H4Tx::new();
        c.submit(Issuer::Stop, command::reset()).unwrap();
        c.pump(&mut tx, 0);
        assert_eq!(c.poll_timeout(config::HCI_CMD_TIMEOUT_MS - 1), None);
        assert_eq!(
            c.poll_timeout(config::HCI_CMD_TIMEOUT_MS),
            Some((opcode::RESET, Issuer::Stop))
        );
        c.submit(Issuer::Gap, command::le_set_scan_enable(true, false))
            .unwrap();
        c.reset();
        assert_eq!(c.on_answer(1, opcode::LE_SET_SCAN_ENABLE), Issuer::Host);
    }

    #[test]
    fn the_issuer_list_is_bounded_like_the_queue() {
        let mut c = Commands::new();
        let mut n = 0;
        while c.submit(Issuer::Host, command::le_rand()).is_ok() {
            n += 1;
        }
        assert_eq!(n, config::HCI_CMD_QUEUE);
    }
}
