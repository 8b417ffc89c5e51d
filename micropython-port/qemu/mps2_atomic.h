/*
 * Force-included (-include) into every file of the qemu build by
 * micropython.mk: the qemu port leaves MicroPython's atomic sections empty
 * (it takes no interrupts), but our interrupt handlers call
 * mp_sched_schedule() and mp_sched_keyboard_interrupt(), so the scheduler's
 * queue must be guarded against them (py/scheduler.c).
 */
#ifndef MICROPY_INCLUDED_MPBLE_QEMU_MPS2_ATOMIC_H
#define MICROPY_INCLUDED_MPBLE_QEMU_MPS2_ATOMIC_H

#ifndef __ASSEMBLER__
#include <stdint.h>

static inline uint32_t mpble_mps2_atomic_begin(void) {
    uint32_t primask;
    __asm volatile ("mrs %0, primask\n cpsid i" : "=r" (primask) : : "memory");
    return primask;
}

static inline void mpble_mps2_atomic_end(uint32_t primask) {
    __asm volatile ("msr primask, %0" : : "r" (primask) : "memory");
}

#define MICROPY_BEGIN_ATOMIC_SECTION() mpble_mps2_atomic_begin()
#define MICROPY_END_ATOMIC_SECTION(state) mpble_mps2_atomic_end(state)
#endif

#endif // MICROPY_INCLUDED_MPBLE_QEMU_MPS2_ATOMIC_H
