/*
 * mpble on MicroPython's qemu port, board MPS2_AN385 (Cortex-M3): the
 * peripherals the module uses and the services the board glue (mps2_port.c)
 * gives the transport (hal_cmsdk_uart.c).
 *
 * Addresses and interrupt numbers: ARM Application Note AN385 (MPS2 FPGA
 * image for Cortex-M3), as QEMU models it (hw/arm/mps2.c): UARTn RX IRQ 2n,
 * TX IRQ 2n + 1; TIMER0 IRQ 8, TIMER1 IRQ 9; the FPGA's system registers
 * (FPGAIO) at 0x40028000, prescaled from the 25 MHz system clock.
 */
#ifndef MICROPY_INCLUDED_MPBLE_QEMU_MPS2_H
#define MICROPY_INCLUDED_MPBLE_QEMU_MPS2_H

#include <stdbool.h>
#include <stdint.h>

#define MPS2_SYSCLK_HZ (25000000u)

// CMSDK APB UART (ARM DDI 0479, 4.3).
typedef struct {
    volatile uint32_t DATA;
    volatile uint32_t STATE;
    volatile uint32_t CTRL;
    volatile uint32_t INTSTATUS; // read: status; write 1: clear
    volatile uint32_t BAUDDIV;
} mps2_uart_t;

#define MPS2_UART_STATE_TXFULL (1u << 0)
#define MPS2_UART_STATE_RXFULL (1u << 1)
#define MPS2_UART_CTRL_TX_EN (1u << 0)
#define MPS2_UART_CTRL_RX_EN (1u << 1)
#define MPS2_UART_CTRL_TX_INTEN (1u << 2)
#define MPS2_UART_CTRL_RX_INTEN (1u << 3)
#define MPS2_UART_INT_TX (1u << 0)
#define MPS2_UART_INT_RX (1u << 1)

#define MPS2_UART0 ((mps2_uart_t *)0x40004000u) // the REPL
#define MPS2_UART1 ((mps2_uart_t *)0x40005000u) // H4 to the controller
#define MPS2_IRQ_UART0_RX (0)
#define MPS2_IRQ_UART1_RX (2)
#define MPS2_IRQ_UART1_TX (3)

// CMSDK APB timer (ARM DDI 0479, 4.4): counts VALUE down at the system
// clock, interrupts at zero and reloads from RELOAD.
typedef struct {
    volatile uint32_t CTRL;
    volatile uint32_t VALUE;
    volatile uint32_t RELOAD;
    volatile uint32_t INTSTATUS; // write 1: clear
} mps2_timer_t;

#define MPS2_TIMER_CTRL_EN (1u << 0)
#define MPS2_TIMER_CTRL_IRQEN (1u << 3)

#define MPS2_TIMER0 ((mps2_timer_t *)0x40000000u) // the core's next deadline
#define MPS2_TIMER1 ((mps2_timer_t *)0x40001000u) // sleeps and waits
#define MPS2_IRQ_TIMER0 (8)
#define MPS2_IRQ_TIMER1 (9)

// Board glue (mps2_port.c).

// Idempotent: vector table in RAM with our handlers, the millisecond
// counter, the REPL UART's receive interrupt.
void mps2_init(void);

// Enables or disables an external interrupt in the NVIC.
void mps2_irq_enable(unsigned irq, bool on);

// Interrupts masked (PRIMASK) around a check-then-sleep; returns the old mask.
static inline uint32_t mps2_irq_save(void) {
    uint32_t primask;
    __asm volatile ("mrs %0, primask\n cpsid i" : "=r" (primask) : : "memory");
    return primask;
}
static inline void mps2_irq_restore(uint32_t primask) {
    __asm volatile ("msr primask, %0" : : "r" (primask) : "memory");
}

// Called with interrupts masked after the caller found nothing to do:
// unless the scheduler already has work, unmasks them and sleeps (WFI)
// until one of our interrupts or timeout_ms (at most MPS2_IDLE_MAX_MS);
// returns with interrupts unmasked. Callers loop.
void mps2_idle_irq_masked(uint32_t timeout_ms);

// The same without looking at the scheduler (a wait outside the VM).
void mps2_wait_irq_masked(uint32_t timeout_ms);

// Set by the interrupt handlers: ends an idle wait.
extern volatile bool mps2_woken;

// True while the REPL waits for input (no script runs).
bool mps2_waiting_for_input(void);

// The transport's interrupt handlers (hal_cmsdk_uart.c).
void mpble_hal_cmsdk_uart_rx_irq(void);
void mpble_hal_cmsdk_uart_tx_irq(void);
void mpble_hal_cmsdk_timer_irq(void);

#endif // MICROPY_INCLUDED_MPBLE_QEMU_MPS2_H
