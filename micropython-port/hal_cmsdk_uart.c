/*
 * mpble: H4 over a CMSDK APB UART, bare metal (MicroPython's qemu port,
 * board MPS2_AN385: UART1; the REPL stays on UART0).
 *
 * No thread and no lock (MICROPY_PY_THREAD is off, so the port lock is a
 * no-op): the core is called from the VM only. The interrupt handlers never
 * touch the core or Python objects; they move bytes and ask for a
 * processing pass (mpble_port_request_process -> mp_sched_schedule, which
 * the board's atomic sections make safe from an interrupt):
 *
 * - UART1 RX: bytes go into rx_ring. When the ring is full the handler
 *   disables the RX interrupt and leaves the byte in the UART; the UART
 *   then refuses the next one, and QEMU stops reading the socket to the
 *   controller (TCP flow control does the rest). Reading the ring
 *   (mpble_hal_read, from the VM) re-enables it. Nothing is lost.
 * - UART1 TX: mpble_hal_write queues into tx_ring and sends what the UART
 *   takes; while bytes remain, the TX interrupt sends the rest, and asks
 *   for a pass once the ring is empty so that the core hands over more.
 * - TIMER0: one-shot at the core's next deadline (mpble_hal_set_timeout);
 *   asks for a pass.
 * The VM runs that pass from the scheduler: between bytecodes while code
 * runs, in sleeps, and while the REPL waits for input (qemu/mps2_port.c),
 * which otherwise sleeps in WFI.
 *
 * Unlike a socket, the UART stays connected across a soft reset, so
 * mpble_hal_close() resets the controller itself (HCI_Reset, Vol 4 Part E
 * 7.3.2) and discards its input, in whole H4 packets (Vol 4 Part A 2),
 * until every HCI_Reset sent has its Command Complete, so that the next
 * bring-up starts on a packet boundary with no link and no answer left
 * over. Every one: when the soft reset comes while bring-up's own Reset is
 * unanswered, two Command Completes come back, and stopping at the first
 * cut the second in two (the rest reached the next bring-up mid-packet,
 * which then waited for ever).
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "py/mphal.h"
#include "py/runtime.h"
#include "shared/readline/readline.h"
#include "shared/runtime/interrupt_char.h"

#include "mpble_hal.h"
#include "mpble_port.h"
#include "qemu/mps2.h"

#define HAL_UART MPS2_UART1
#define HAL_RX_SIZE (1024)
#define HAL_TX_SIZE (512)
#define HAL_CLOSE_TIMEOUT_MS (500)

#define NVIC_ICPR ((volatile uint32_t *)0xE000E280u)

static uint8_t hal_rx[HAL_RX_SIZE];
static volatile uint32_t hal_rx_head;
static volatile uint32_t hal_rx_len;
static volatile bool hal_rx_stalled;
static uint8_t hal_tx[HAL_TX_SIZE];
static volatile uint32_t hal_tx_head;
static volatile uint32_t hal_tx_len;
static bool hal_open;

// H4 framing of the bytes taken from the controller so far (handed to the
// port or discarded), so that close can stop on a packet boundary; and of
// the bytes queued to it, to count the HCI_Resets it has to answer.
typedef struct {
    uint8_t type; // 0: expecting a packet indicator
    uint8_t hdr[4];
    uint8_t hdr_len; // header length of this type
    uint8_t hdr_have;
    uint8_t last; // type of the last complete packet
    uint16_t left; // payload bytes still to come
    uint8_t evt[4]; // first payload bytes of an event
} hal_h4_t;

static hal_h4_t hal_h4;
static hal_h4_t hal_h4_tx;
// HCI_Reset commands queued to the controller whose Command Complete has
// not come back yet.
static uint32_t hal_resets_unanswered;

#define HCI_OP_RESET_LO (0x03)
#define HCI_OP_RESET_HI (0x0c)

// Returns true when b completed a packet.
static bool hal_h4_take(hal_h4_t *f, uint8_t b) {
    if (f->type == 0) {
        f->type = b;
        f->hdr_have = 0;
        switch (b) {
            case 0x04: // event: code, length
                f->hdr_len = 2;
                break;
            case 0x01: // command (host to controller): opcode (2), length
                f->hdr_len = 3;
                break;
            case 0x02: // ACL: handle (2), length (2)
            case 0x05: // ISO: handle (2), length (2, 14 bits)
                f->hdr_len = 4;
                break;
            case 0x03: // SCO: handle (2), length (1)
                f->hdr_len = 3;
                break;
            default: // not H4: count it as a packet of its own
                f->type = 0;
                f->last = 0;
                return true;
        }
        return false;
    }
    if (f->hdr_have < f->hdr_len) {
        f->hdr[f->hdr_have++] = b;
        if (f->hdr_have < f->hdr_len) {
            return false;
        }
        switch (f->type) {
            case 0x04:
                f->left = f->hdr[1];
                break;
            case 0x01:
            case 0x03:
                f->left = f->hdr[2];
                break;
            default:
                f->left = (uint16_t)((f->hdr[2] | (f->hdr[3] << 8)) & (f->type == 0x05 ? 0x3fff : 0xffff));
                break;
        }
        if (f->left == 0) {
            f->last = f->type;
            f->type = 0;
            return true;
        }
        return false;
    }
    uint16_t off = (uint16_t)(f->type == 0x04 ? f->hdr[1] - f->left : 0xffff);
    if (off < sizeof(f->evt)) {
        f->evt[off] = b;
    }
    if (--f->left == 0) {
        f->last = f->type;
        f->type = 0;
        return true;
    }
    return false;
}

// With interrupts masked: one byte from the controller (to the port or
// discarded). Returns true when it completed a packet; a Command Complete
// for HCI_Reset (Vol 4 Part E 7.7.14: Num_HCI_Command_Packets, then the
// opcode) answers one Reset.
static bool hal_rx_take(uint8_t b) {
    hal_h4_t *f = &hal_h4;
    if (!hal_h4_take(f, b)) {
        return false;
    }
    if (f->last == 0x04 && f->hdr[0] == 0x0e && f->hdr[1] >= 3
        && f->evt[1] == HCI_OP_RESET_LO && f->evt[2] == HCI_OP_RESET_HI && hal_resets_unanswered > 0) {
        hal_resets_unanswered--;
    }
    return true;
}

// With interrupts masked: queues one byte to the controller (room checked
// by the caller), counting the HCI_Resets among them.
static void hal_tx_put(uint8_t b) {
    hal_tx[(hal_tx_head + hal_tx_len) % HAL_TX_SIZE] = b;
    hal_tx_len++;
    hal_h4_t *f = &hal_h4_tx;
    if (hal_h4_take(f, b) && f->last == 0x01 && f->hdr[0] == HCI_OP_RESET_LO && f->hdr[1] == HCI_OP_RESET_HI) {
        hal_resets_unanswered++;
    }
}

// With interrupts masked: moves what the UART received into rx_ring.
// When hal_rx_drain() last took a byte (mp_hal_ticks_us).
static volatile uint32_t hal_rx_time_us;

static void hal_rx_drain(void) {
    if (HAL_UART->STATE & MPS2_UART_STATE_RXFULL) {
        hal_rx_time_us = (uint32_t)mp_hal_ticks_us();
    }
    while (HAL_UART->STATE & MPS2_UART_STATE_RXFULL) {
        if (hal_rx_len == HAL_RX_SIZE) {
            // Back-pressure: the byte stays in the UART, which takes no
            // more, and QEMU stops reading the controller's socket.
            HAL_UART->CTRL &= ~MPS2_UART_CTRL_RX_INTEN;
            hal_rx_stalled = true;
            return;
        }
        hal_rx[(hal_rx_head + hal_rx_len) % HAL_RX_SIZE] = (uint8_t)HAL_UART->DATA;
        hal_rx_len++;
    }
}

// With interrupts masked: hands the UART what it takes now; if bytes
// remain, its TX interrupt (on the current byte's completion) continues.
static void hal_tx_kick(void) {
    for (;;) {
        while (hal_tx_len > 0 && !(HAL_UART->STATE & MPS2_UART_STATE_TXFULL)) {
            HAL_UART->DATA = hal_tx[hal_tx_head];
            hal_tx_head = (hal_tx_head + 1) % HAL_TX_SIZE;
            hal_tx_len--;
        }
        if (hal_tx_len == 0) {
            HAL_UART->CTRL &= ~MPS2_UART_CTRL_TX_INTEN;
            return;
        }
        HAL_UART->CTRL |= MPS2_UART_CTRL_TX_INTEN;
        if (HAL_UART->STATE & MPS2_UART_STATE_TXFULL) {
            return; // the completion interrupts
        }
        // It completed before the interrupt was enabled: go on here.
    }
}

void mpble_hal_cmsdk_uart_rx_irq(void) {
    mps2_woken = true;
    HAL_UART->INTSTATUS = MPS2_UART_INT_RX;
    hal_rx_drain();
    mpble_port_request_process();
}

void mpble_hal_cmsdk_uart_tx_irq(void) {
    mps2_woken = true;
    HAL_UART->INTSTATUS = MPS2_UART_INT_TX;
    hal_tx_kick();
    if (hal_tx_len == 0) {
        // Room again: the core may hand over what it kept back.
        mpble_port_request_process();
    }
}

void mpble_hal_cmsdk_timer_irq(void) {
    mps2_woken = true;
    MPS2_TIMER0->CTRL = 0;
    MPS2_TIMER0->INTSTATUS = 1;
    mpble_port_request_process();
}

static void hal_timer0_arm(uint32_t timeout_ms) {
    uint32_t max_ms = UINT32_MAX / (MPS2_SYSCLK_HZ / 1000u);
    uint32_t ticks = (timeout_ms < max_ms ? timeout_ms : max_ms) * (MPS2_SYSCLK_HZ / 1000u);
    MPS2_TIMER0->CTRL = 0;
    MPS2_TIMER0->INTSTATUS = 1;
    MPS2_TIMER0->RELOAD = ticks ? ticks : 1;
    MPS2_TIMER0->VALUE = ticks ? ticks : 1;
    MPS2_TIMER0->CTRL = MPS2_TIMER_CTRL_EN | MPS2_TIMER_CTRL_IRQEN;
}

int mpble_hal_open(const char **msg) {
    *msg = "";
    if (hal_open) {
        return 0;
    }
    mps2_init();
    uint32_t primask = mps2_irq_save();
    hal_rx_head = hal_rx_len = 0;
    hal_rx_stalled = false;
    hal_tx_head = hal_tx_len = 0;
    memset(&hal_h4, 0, sizeof(hal_h4));
    memset(&hal_h4_tx, 0, sizeof(hal_h4_tx));
    hal_resets_unanswered = 0;
    MPS2_TIMER0->CTRL = 0;
    MPS2_TIMER0->INTSTATUS = 1;
    HAL_UART->BAUDDIV = 16;
    HAL_UART->INTSTATUS = MPS2_UART_INT_RX | MPS2_UART_INT_TX;
    HAL_UART->CTRL = MPS2_UART_CTRL_TX_EN | MPS2_UART_CTRL_RX_EN | MPS2_UART_CTRL_RX_INTEN;
    mps2_irq_enable(MPS2_IRQ_UART1_RX, true);
    mps2_irq_enable(MPS2_IRQ_UART1_TX, true);
    mps2_irq_enable(MPS2_IRQ_TIMER0, true);
    hal_open = true;
    hal_rx_drain();
    mps2_irq_restore(primask);
    return 0;
}

const char *mpble_hal_describe(void) {
    return "UART1 (CMSDK UART at 0x40005000; the launcher's MPBLE_HCI)";
}

bool mpble_hal_is_open(void) {
    // A UART cannot tell that the far end went away.
    return hal_open;
}

size_t mpble_hal_read(uint8_t *buf, size_t cap) {
    uint32_t primask = mps2_irq_save();
    size_t n = 0;
    while (n < cap && hal_rx_len > 0) {
        uint8_t b = hal_rx[hal_rx_head];
        hal_rx_head = (hal_rx_head + 1) % HAL_RX_SIZE;
        hal_rx_len--;
        hal_rx_take(b);
        buf[n++] = b;
    }
    if (n > 0 && hal_rx_stalled) {
        // Room again: take the byte the UART held and let it receive.
        hal_rx_stalled = false;
        HAL_UART->CTRL |= MPS2_UART_CTRL_RX_INTEN;
        hal_rx_drain();
    }
    mps2_irq_restore(primask);
    return n;
}

uint32_t mpble_hal_rx_time_us(void) {
    return hal_rx_time_us;
}

size_t mpble_hal_tx_room(void) {
    if (!hal_open) {
        return SIZE_MAX;
    }
    uint32_t primask = mps2_irq_save();
    size_t room = HAL_TX_SIZE - hal_tx_len;
    mps2_irq_restore(primask);
    return room;
}

int mpble_hal_write(const uint8_t *buf, size_t len) {
    if (!hal_open) {
        return ENOTCONN;
    }
    uint32_t primask = mps2_irq_save();
    if (len > HAL_TX_SIZE - hal_tx_len) {
        mps2_irq_restore(primask);
        return ENOBUFS;
    }
    for (size_t i = 0; i < len; i++) {
        hal_tx_put(buf[i]);
    }
    hal_tx_kick();
    mps2_irq_restore(primask);
    return 0;
}

void mpble_hal_set_timeout(uint32_t timeout_ms) {
    if (!hal_open) {
        return;
    }
    uint32_t primask = mps2_irq_save();
    if (timeout_ms == UINT32_MAX) {
        MPS2_TIMER0->CTRL = 0;
        MPS2_TIMER0->INTSTATUS = 1;
    } else {
        hal_timer0_arm(timeout_ms);
    }
    mps2_irq_restore(primask);
}

void mpble_hal_wait_rx(uint32_t timeout_ms) {
    mps2_irq_save();
    if (hal_rx_len > 0) {
        __asm volatile ("cpsie i" : : : "memory");
        return;
    }
    mps2_idle_irq_masked(timeout_ms);
}

// Set while mpble_hal_interrupt_begin() has the interrupt char on for
// callbacks run from the REPL's wait.
static bool hal_repl_interrupt;

bool mpble_hal_script_running(void) {
    // pyexec turns Ctrl-C on only while it executes code, and off again
    // before anything else: also before it runs the scheduler once more
    // after an uncaught exception (mp_handle_pending(false)), which is not
    // the script any more (unix asks its SIGINT handler the same way).
    // "Not waiting for input" is not enough: that pass would count as the
    // script, and a Ctrl-C'ed script would run every queued callback
    // there before the prompt came back.
    return mp_interrupt_char == CHAR_CTRL_C && !hal_repl_interrupt && !mps2_waiting_for_input();
}

bool mpble_hal_interrupt_begin(void) {
    // The REPL waits for a line (interrupt char off): Ctrl-C must reach a
    // callback that loops, as it does while code runs.
    if (mpble_hal_script_running()) {
        return false;
    }
    hal_repl_interrupt = true;
    mp_hal_set_interrupt_char(CHAR_CTRL_C);
    return true;
}

void mpble_hal_interrupt_end(bool begun) {
    if (begun) {
        mp_hal_set_interrupt_char(-1);
        hal_repl_interrupt = false;
    }
}

bool mpble_hal_pumps_core(void) {
    // The handlers only queue bytes and ask for a pass: the VM pumps.
    return false;
}

void mpble_hal_hold_interrupt(void) {
    // Nothing to hold: the REPL UART's handler only marks KeyboardInterrupt
    // pending (mp_sched_keyboard_interrupt); the VM raises it at its checks.
}

void mpble_hal_release_interrupt(void) {
}

void mpble_hal_wake_main(void) {
    // Nothing to do: the interrupt that asked for the pass ended the WFI.
}

int mpble_hal_snoop(const char *path, const char **msg) {
    // No file system to write a capture to; stopping one is a no-op.
    if (path == NULL) {
        *msg = "";
        return 0;
    }
    *msg = "mpble: no HCI capture on this board (no file system)";
    return EOPNOTSUPP;
}

void mpble_hal_close(void) {
    if (!hal_open) {
        return;
    }
    // The handlers keep running (an idle wait here must be woken by them);
    // the passes they ask for are dropped with the scheduler's queue.
    uint32_t primask = mps2_irq_save();
    MPS2_TIMER0->CTRL = 0;
    MPS2_TIMER0->INTSTATUS = 1;
    // What the core queued goes out whole (a cut command would leave the
    // controller's parser mid-packet), then HCI_Reset.
    static const uint8_t reset[] = { 0x01, 0x03, 0x0c, 0x00 };
    if (HAL_TX_SIZE - hal_tx_len >= sizeof(reset)) {
        for (size_t i = 0; i < sizeof(reset); i++) {
            hal_tx_put(reset[i]);
        }
    }
    hal_tx_kick();
    mps2_irq_restore(primask);

    // Discard input in whole packets until every Reset queued (bring-up's
    // own, if it is unanswered, and ours) has its Command Complete (event
    // 0x0E, opcode 0x0C03: Vol 4 Part E 7.7.14), or the timeout.
    uint32_t start = mp_hal_ticks_ms();
    for (;;) {
        uint32_t elapsed = mp_hal_ticks_ms() - start;
        if (elapsed >= HAL_CLOSE_TIMEOUT_MS) {
            break;
        }
        mps2_irq_save();
        bool done = hal_resets_unanswered == 0 && hal_h4.type == 0;
        while (!done && hal_rx_len > 0) {
            uint8_t b = hal_rx[hal_rx_head];
            hal_rx_head = (hal_rx_head + 1) % HAL_RX_SIZE;
            hal_rx_len--;
            done = hal_rx_take(b) && hal_resets_unanswered == 0;
        }
        if (hal_rx_stalled) {
            hal_rx_stalled = false;
            HAL_UART->CTRL |= MPS2_UART_CTRL_RX_INTEN;
            hal_rx_drain();
        }
        if (done) {
            __asm volatile ("cpsie i" : : : "memory");
            break;
        }
        if (hal_rx_len > 0) {
            __asm volatile ("cpsie i" : : : "memory");
            continue;
        }
        mps2_wait_irq_masked(HAL_CLOSE_TIMEOUT_MS - elapsed);
    }

    primask = mps2_irq_save();
    MPS2_TIMER0->CTRL = 0;
    MPS2_TIMER0->INTSTATUS = 1;
    HAL_UART->CTRL = MPS2_UART_CTRL_TX_EN | MPS2_UART_CTRL_RX_EN;
    HAL_UART->INTSTATUS = MPS2_UART_INT_RX | MPS2_UART_INT_TX;
    mps2_irq_enable(MPS2_IRQ_UART1_RX, false);
    mps2_irq_enable(MPS2_IRQ_UART1_TX, false);
    mps2_irq_enable(MPS2_IRQ_TIMER0, false);
    NVIC_ICPR[0] = (1u << MPS2_IRQ_UART1_RX) | (1u << MPS2_IRQ_UART1_TX) | (1u << MPS2_IRQ_TIMER0);
    hal_rx_head = hal_rx_len = 0;
    hal_rx_stalled = false;
    hal_tx_head = hal_tx_len = 0;
    hal_open = false;
    mps2_irq_restore(primask);
}
