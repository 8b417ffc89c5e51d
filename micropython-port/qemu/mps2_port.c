/*
 * mpble: board glue for MicroPython's qemu port on MPS2_AN385 (Cortex-M3).
 *
 * The stock port polls its REPL UART in a busy loop, takes no interrupts,
 * and has neither a clock nor the time module. The module needs all three,
 * without editing MicroPython's tree, so this file (compiled only into the
 * qemu build, see micropython.mk) adds them:
 *
 * - A vector table in RAM with the external interrupts (the port's own
 *   table has only the 16 system exceptions), installed through VTOR.
 * - The REPL on UART0, interrupt driven: the RX interrupt fills a ring (and
 *   turns Ctrl-C into KeyboardInterrupt while code runs); the linker wraps
 *   the port's mp_hal_stdin_rx_chr (-Wl,--wrap) so that reading the REPL
 *   runs pending scheduled work and then sleeps in WFI instead of spinning.
 *   When the ring is full the interrupt is disabled and the byte stays in
 *   the UART, so QEMU stops reading the terminal: nothing is lost.
 * - mp_hal_ticks_ms from the FPGA's prescaled counter (FPGAIO COUNTER,
 *   prescaled to 1 kHz): a clock with no periodic interrupt, so an idle
 *   board sleeps until something happens.
 * - Sleeps (mp_hal_delay_ms, time.sleep) that run the scheduler and sleep
 *   in WFI, woken by TIMER1 at the end or by any interrupt before.
 * - A minimal `time` module (extensible, so `import utime` finds it),
 *   with localtime()/gmtime() counted from boot.
 */
#include <stdlib.h>

#include "py/mphal.h"
#include "py/nlr.h"
#include "py/runtime.h"
#include "py/smallint.h"
#include "shared/runtime/interrupt_char.h"

#include "mps2.h"

// FPGA system registers (AN385 4.5): a counter incremented every
// PRESCALE + 1 cycles of the 25 MHz clock, and the prescaler's own count.
typedef struct {
    volatile uint32_t LED0;      // 0x00
    volatile uint32_t r0;        // 0x04
    volatile uint32_t BUTTON;    // 0x08
    volatile uint32_t r1;        // 0x0c
    volatile uint32_t CLK1HZ;    // 0x10
    volatile uint32_t CLK100HZ;  // 0x14
    volatile uint32_t COUNTER;   // 0x18
    volatile uint32_t PRESCALE;  // 0x1c
    volatile uint32_t PSCNTR;    // 0x20
} mps2_fpgaio_t;

#define MPS2_FPGAIO ((mps2_fpgaio_t *)0x40028000u)
#define MPS2_TICKS_PER_MS (MPS2_SYSCLK_HZ / 1000u)

// System Control Block and NVIC (ARMv7-M ARM B3.2, B3.4).
#define SCB_VTOR (*(volatile uint32_t *)0xE000ED08u)
#define NVIC_ISER ((volatile uint32_t *)0xE000E100u)
#define NVIC_ICER ((volatile uint32_t *)0xE000E180u)

#define MPS2_N_IRQ (32)
#define MPS2_STDIN_SIZE (512)

typedef void (*mps2_handler_t)(void);

// VTOR needs the table aligned to its size rounded up to a power of two
// (48 words -> 256 bytes).
static mps2_handler_t mps2_vectors[16 + MPS2_N_IRQ] __attribute__((aligned(256)));
static bool mps2_inited;

static uint8_t mps2_stdin[MPS2_STDIN_SIZE];
static volatile uint32_t mps2_stdin_head;
static volatile uint32_t mps2_stdin_len;
static volatile bool mps2_stdin_stalled;
static volatile bool mps2_in_input;
// Set by every interrupt handler of ours (see mps2_idle_irq_masked).
volatile bool mps2_woken;

// Upper bound of one WFI (the lost-wake-up window, see mps2_idle_irq_masked).
#define MPS2_IDLE_MAX_MS (100)

void mps2_irq_enable(unsigned irq, bool on) {
    if (on) {
        NVIC_ISER[irq / 32] = 1u << (irq % 32);
    } else {
        NVIC_ICER[irq / 32] = 1u << (irq % 32);
    }
}

// With interrupts masked: moves what UART0 received into the ring. A full
// ring leaves the byte in the UART and stops its interrupt (QEMU then stops
// reading the terminal); reading the ring starts it again.
static void mps2_stdin_drain(void) {
    while (MPS2_UART0->STATE & MPS2_UART_STATE_RXFULL) {
        if (mps2_stdin_len == MPS2_STDIN_SIZE) {
            MPS2_UART0->CTRL &= ~MPS2_UART_CTRL_RX_INTEN;
            mps2_stdin_stalled = true;
            return;
        }
        int c = (int)(MPS2_UART0->DATA & 0xff);
        if (c == mp_interrupt_char) {
            // Code is running (pyexec sets the interrupt char only then).
            mp_sched_keyboard_interrupt();
            continue;
        }
        mps2_stdin[(mps2_stdin_head + mps2_stdin_len) % MPS2_STDIN_SIZE] = (uint8_t)c;
        mps2_stdin_len++;
    }
}

static void mps2_uart0_rx_irq(void) {
    mps2_woken = true;
    MPS2_UART0->INTSTATUS = MPS2_UART_INT_RX;
    mps2_stdin_drain();
}

static void mps2_timer1_irq(void) {
    // Only wakes the CPU out of WFI; the sleeper looks at the clock.
    mps2_woken = true;
    MPS2_TIMER1->CTRL = 0;
    MPS2_TIMER1->INTSTATUS = 1;
}

void mps2_init(void) {
    if (mps2_inited) {
        return;
    }
    mps2_inited = true;
    // The millisecond clock: COUNTER counts once per PRESCALE + 1 cycles.
    MPS2_FPGAIO->PRESCALE = MPS2_TICKS_PER_MS - 1;

    uint32_t primask = mps2_irq_save();
    const mps2_handler_t *old = (const mps2_handler_t *)SCB_VTOR;
    for (size_t i = 0; i < 16; i++) {
        mps2_vectors[i] = old[i];
    }
    for (size_t i = 16; i < MP_ARRAY_SIZE(mps2_vectors); i++) {
        mps2_vectors[i] = old[3]; // HardFault: an interrupt nobody enabled
    }
    mps2_vectors[16 + MPS2_IRQ_UART0_RX] = mps2_uart0_rx_irq;
    mps2_vectors[16 + MPS2_IRQ_UART1_RX] = mpble_hal_cmsdk_uart_rx_irq;
    mps2_vectors[16 + MPS2_IRQ_UART1_TX] = mpble_hal_cmsdk_uart_tx_irq;
    mps2_vectors[16 + MPS2_IRQ_TIMER0] = mpble_hal_cmsdk_timer_irq;
    mps2_vectors[16 + MPS2_IRQ_TIMER1] = mps2_timer1_irq;
    SCB_VTOR = (uint32_t)(uintptr_t)mps2_vectors;
    __asm volatile ("dsb\n isb" : : : "memory");

    MPS2_TIMER1->CTRL = 0;
    MPS2_TIMER1->INTSTATUS = 1;
    mps2_irq_enable(MPS2_IRQ_TIMER1, true);
    MPS2_UART0->INTSTATUS = MPS2_UART_INT_RX;
    MPS2_UART0->CTRL |= MPS2_UART_CTRL_RX_INTEN;
    mps2_irq_enable(MPS2_IRQ_UART0_RX, true);
    mps2_stdin_drain();
    mps2_irq_restore(primask);
}

void mps2_idle_irq_masked(uint32_t timeout_ms) {
    if (MP_STATE_VM(sched_state) == MP_SCHED_PENDING) {
        __asm volatile ("cpsie i" : : : "memory");
        return;
    }
    mps2_wait_irq_masked(timeout_ms);
}

void mps2_wait_irq_masked(uint32_t timeout_ms) {
    // QEMU (7.2) does not end WFI for an interrupt that PRIMASK masks, as
    // the architecture says it must (ARMv7-M ARM B1.5.19), so the wait
    // runs unmasked: every handler sets mps2_woken, and the window between
    // its test and WFI (one instruction) is closed by a bounded sleep.
    if (timeout_ms > MPS2_IDLE_MAX_MS) {
        timeout_ms = MPS2_IDLE_MAX_MS;
    }
    mps2_woken = false;
    {
        uint32_t max_ms = UINT32_MAX / MPS2_TICKS_PER_MS;
        uint32_t ticks = (timeout_ms < max_ms ? timeout_ms : max_ms) * MPS2_TICKS_PER_MS;
        MPS2_TIMER1->CTRL = 0;
        MPS2_TIMER1->INTSTATUS = 1;
        MPS2_TIMER1->RELOAD = ticks ? ticks : 1;
        MPS2_TIMER1->VALUE = ticks ? ticks : 1;
        MPS2_TIMER1->CTRL = MPS2_TIMER_CTRL_EN | MPS2_TIMER_CTRL_IRQEN;
    }
    __asm volatile ("cpsie i" : : : "memory");
    if (!mps2_woken) {
        __asm volatile ("wfi" : : : "memory");
    }
    MPS2_TIMER1->CTRL = 0;
}

bool mps2_waiting_for_input(void) {
    return mps2_in_input;
}

// Scheduled work (BLE events) runs while the REPL waits for a line, as
// MICROPY_EVENT_POLL_HOOK does on other bare-metal ports.
static void mps2_handle_pending_in_input(void) {
    nlr_buf_t nlr;
    mps2_in_input = true;
    if (nlr_push(&nlr) == 0) {
        mp_handle_pending(true);
        nlr_pop();
        mps2_in_input = false;
    } else {
        mps2_in_input = false;
        nlr_jump(nlr.ret_val);
    }
}

int __wrap_mp_hal_stdin_rx_chr(void);
int __wrap_mp_hal_stdin_rx_chr(void) {
    mps2_init();
    for (;;) {
        uint32_t primask = mps2_irq_save();
        if (mps2_stdin_len > 0) {
            int c = mps2_stdin[mps2_stdin_head];
            mps2_stdin_head = (mps2_stdin_head + 1) % MPS2_STDIN_SIZE;
            mps2_stdin_len--;
            if (mps2_stdin_stalled) {
                mps2_stdin_stalled = false;
                MPS2_UART0->CTRL |= MPS2_UART_CTRL_RX_INTEN;
                mps2_stdin_drain();
            }
            mps2_irq_restore(primask);
            return c;
        }
        if (MP_STATE_VM(sched_state) == MP_SCHED_PENDING) {
            mps2_irq_restore(primask);
            mps2_handle_pending_in_input();
            continue;
        }
        mps2_in_input = true;
        mps2_idle_irq_masked(UINT32_MAX);
        mps2_in_input = false;
    }
}

mp_uint_t mp_hal_ticks_ms(void) {
    mps2_init();
    return MPS2_FPGAIO->COUNTER;
}

mp_uint_t mp_hal_ticks_us(void) {
    mps2_init();
    for (;;) {
        uint32_t ms = MPS2_FPGAIO->COUNTER;
        uint32_t left = MPS2_FPGAIO->PSCNTR;
        if (MPS2_FPGAIO->COUNTER == ms) {
            return ms * 1000u + (MPS2_TICKS_PER_MS - 1 - left) / (MPS2_TICKS_PER_MS / 1000u);
        }
    }
}

mp_uint_t mp_hal_ticks_cpu(void) {
    return mp_hal_ticks_us();
}

void mp_hal_delay_ms(mp_uint_t ms) {
    uint32_t start = mp_hal_ticks_ms();
    for (;;) {
        mp_handle_pending(true);
        uint32_t elapsed = mp_hal_ticks_ms() - start;
        if (elapsed >= ms) {
            return;
        }
        mps2_irq_save();
        mps2_idle_irq_masked(ms - elapsed);
    }
}

void mp_hal_delay_us(mp_uint_t us) {
    if (us >= 2000) {
        mp_hal_delay_ms(us / 1000);
        us %= 1000;
    }
    uint32_t start = mp_hal_ticks_us();
    while (mp_hal_ticks_us() - start < us) {
    }
}

// The port links no C library (-nostdlib); the module's fatal path and the
// Rust core's unwinder stub call abort().
void abort(void) {
    mp_printf(&mp_plat_print, "mpble: abort\n");
    exit(1);
}

// --- time module -----------------------------------------------------------

#define MPS2_TICKS_PERIOD (MICROPY_PY_TIME_TICKS_PERIOD)

static mp_obj_t mps2_time_sleep(mp_obj_t seconds) {
    #if MICROPY_PY_BUILTINS_FLOAT
    mp_float_t s = mp_obj_get_float(seconds);
    if (s > 0) {
        mp_hal_delay_ms((mp_uint_t)(s * (mp_float_t)1000));
    }
    #else
    mp_int_t s = mp_obj_get_int(seconds);
    if (s > 0) {
        mp_hal_delay_ms((mp_uint_t)s * 1000);
    }
    #endif
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(mps2_time_sleep_obj, mps2_time_sleep);

static mp_obj_t mps2_time_sleep_ms(mp_obj_t ms) {
    mp_int_t n = mp_obj_get_int(ms);
    if (n > 0) {
        mp_hal_delay_ms((mp_uint_t)n);
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(mps2_time_sleep_ms_obj, mps2_time_sleep_ms);

static mp_obj_t mps2_time_sleep_us(mp_obj_t us) {
    mp_int_t n = mp_obj_get_int(us);
    if (n > 0) {
        mp_hal_delay_us((mp_uint_t)n);
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(mps2_time_sleep_us_obj, mps2_time_sleep_us);

static mp_obj_t mps2_time_ticks_ms(void) {
    return MP_OBJ_NEW_SMALL_INT(mp_hal_ticks_ms() & (MPS2_TICKS_PERIOD - 1));
}
static MP_DEFINE_CONST_FUN_OBJ_0(mps2_time_ticks_ms_obj, mps2_time_ticks_ms);

static mp_obj_t mps2_time_ticks_us(void) {
    return MP_OBJ_NEW_SMALL_INT(mp_hal_ticks_us() & (MPS2_TICKS_PERIOD - 1));
}
static MP_DEFINE_CONST_FUN_OBJ_0(mps2_time_ticks_us_obj, mps2_time_ticks_us);

static mp_obj_t mps2_time_ticks_diff(mp_obj_t end_in, mp_obj_t start_in) {
    mp_uint_t start = MP_OBJ_SMALL_INT_VALUE(start_in);
    mp_uint_t end = MP_OBJ_SMALL_INT_VALUE(end_in);
    mp_int_t diff = ((end - start + MPS2_TICKS_PERIOD / 2) & (MPS2_TICKS_PERIOD - 1)) - MPS2_TICKS_PERIOD / 2;
    return MP_OBJ_NEW_SMALL_INT(diff);
}
static MP_DEFINE_CONST_FUN_OBJ_2(mps2_time_ticks_diff_obj, mps2_time_ticks_diff);

static mp_obj_t mps2_time_ticks_add(mp_obj_t ticks_in, mp_obj_t delta_in) {
    mp_uint_t ticks = MP_OBJ_SMALL_INT_VALUE(ticks_in);
    mp_uint_t delta = mp_obj_get_int(delta_in);
    return MP_OBJ_NEW_SMALL_INT((ticks + delta) & (MPS2_TICKS_PERIOD - 1));
}
static MP_DEFINE_CONST_FUN_OBJ_2(mps2_time_ticks_add_obj, mps2_time_ticks_add);

// Seconds since boot (the board has no calendar).
static mp_obj_t mps2_time_time(void) {
    return mp_obj_new_int_from_uint(mp_hal_ticks_ms() / 1000u);
}
static MP_DEFINE_CONST_FUN_OBJ_0(mps2_time_time_obj, mps2_time_time);

// localtime([secs]) / gmtime([secs]): the 8-tuple (year, month, mday,
// hour, minute, second, weekday 0 = Monday, yearday) of MicroPython's time
// module, counting from MicroPython's epoch 2000-01-01 (the board has no
// calendar: time() is seconds since boot). The vendor client demo prints
// timestamps with it.
static mp_obj_t mps2_time_localtime(size_t n_args, const mp_obj_t *args) {
    mp_uint_t t = n_args == 0 || args[0] == mp_const_none
        ? mp_hal_ticks_ms() / 1000u : (mp_uint_t)mp_obj_get_int(args[0]);
    mp_uint_t days = t / 86400u;
    mp_uint_t secs = t % 86400u;
    // 2000-01-01 was a Saturday (weekday 5).
    mp_uint_t weekday = (days + 5) % 7;
    mp_uint_t year = 2000;
    for (;;) {
        bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        mp_uint_t in_year = leap ? 366 : 365;
        if (days < in_year) {
            break;
        }
        days -= in_year;
        year++;
    }
    mp_uint_t yday = days + 1;
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    static const uint8_t month_days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    mp_uint_t month = 0;
    for (; month < 12; month++) {
        mp_uint_t n = month_days[month] + (month == 1 && leap ? 1 : 0);
        if (days < n) {
            break;
        }
        days -= n;
    }
    mp_obj_t tuple[8] = {
        mp_obj_new_int(year),
        mp_obj_new_int(month + 1),
        mp_obj_new_int(days + 1),
        mp_obj_new_int(secs / 3600),
        mp_obj_new_int((secs / 60) % 60),
        mp_obj_new_int(secs % 60),
        mp_obj_new_int(weekday),
        mp_obj_new_int(yday),
    };
    return mp_obj_new_tuple(8, tuple);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(mps2_time_localtime_obj, 0, 1, mps2_time_localtime);

static const mp_rom_map_elem_t mps2_time_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR_localtime), MP_ROM_PTR(&mps2_time_localtime_obj) },
    { MP_ROM_QSTR(MP_QSTR_gmtime), MP_ROM_PTR(&mps2_time_localtime_obj) },
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR_time) },
    { MP_ROM_QSTR(MP_QSTR_sleep), MP_ROM_PTR(&mps2_time_sleep_obj) },
    { MP_ROM_QSTR(MP_QSTR_sleep_ms), MP_ROM_PTR(&mps2_time_sleep_ms_obj) },
    { MP_ROM_QSTR(MP_QSTR_sleep_us), MP_ROM_PTR(&mps2_time_sleep_us_obj) },
    { MP_ROM_QSTR(MP_QSTR_ticks_ms), MP_ROM_PTR(&mps2_time_ticks_ms_obj) },
    { MP_ROM_QSTR(MP_QSTR_ticks_us), MP_ROM_PTR(&mps2_time_ticks_us_obj) },
    { MP_ROM_QSTR(MP_QSTR_ticks_cpu), MP_ROM_PTR(&mps2_time_ticks_us_obj) },
    { MP_ROM_QSTR(MP_QSTR_ticks_diff), MP_ROM_PTR(&mps2_time_ticks_diff_obj) },
    { MP_ROM_QSTR(MP_QSTR_ticks_add), MP_ROM_PTR(&mps2_time_ticks_add_obj) },
    { MP_ROM_QSTR(MP_QSTR_time), MP_ROM_PTR(&mps2_time_time_obj) },
};
static MP_DEFINE_CONST_DICT(mps2_time_globals, mps2_time_globals_table);

const mp_obj_module_t mpble_mps2_time_module = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&mps2_time_globals,
};

MP_REGISTER_EXTENSIBLE_MODULE(MP_QSTR_time, mpble_mps2_time_module);
