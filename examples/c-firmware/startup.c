/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * Reset and vector table for the MPS2 boards under QEMU (Cortex-M4F AN386, Cortex-M33
 * AN505): copy .data from flash, zero .bss, enable the FPU (the code is built for the
 * hard-float ABI), run main, and end the emulation with main's status over semihosting.
 * A fault ends it with status 100 + the exception number, so a crash is never a pass.
 */
#include <stdint.h>

#include "semihost.h"

extern uint32_t __data_load__, __data_start__, __data_end__, __bss_start__, __bss_end__;
extern uint32_t __stack_top__;
int main(void);

__attribute__((noreturn)) void Reset_Handler(void) {
  uint32_t *src = &__data_load__;
  for (uint32_t *dst = &__data_start__; dst < &__data_end__;) *dst++ = *src++;
  for (uint32_t *dst = &__bss_start__; dst < &__bss_end__;) *dst++ = 0;
  /* CPACR: full access to CP10 and CP11 (the FPU). */
  *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20;
  __asm__ volatile("dsb\n\tisb" ::: "memory");
  sh_exit((uint32_t)main());
}

static __attribute__((noreturn)) void fault(uint32_t number) {
  sh_puts("FAULT: exception ");
  char line[16];
  fmt_str(fmt_u32(line, number), "\n");
  sh_puts(line);
  sh_exit(100 + number);
}

/* Rust objects compiled for Arm carry unwind-table entries that name this personality
 * routine, and libgcc's would drag its unwinder in. Nothing unwinds here (the library is
 * built with panic = abort), so it is never called. */
void __aeabi_unwind_cpp_pr0(void);
void __aeabi_unwind_cpp_pr0(void) { fault(1); }

void NMI_Handler(void) { fault(2); }
/* A hard fault reports the faulting PC (from the exception frame on the main stack) and the
 * fault status registers, then ends the run with status 103. */
__attribute__((used, noreturn)) void hard_fault_report(const uint32_t *frame) {
  char line[80];
  char *at = fmt_str(line, "HARD FAULT: pc=");
  at = fmt_u32(at, frame[6]);
  at = fmt_str(at, " cfsr=");
  at = fmt_u32(at, *(volatile uint32_t *)0xE000ED28u);
  at = fmt_str(at, " hfsr=");
  fmt_str(fmt_u32(at, *(volatile uint32_t *)0xE000ED2Cu), "\n");
  sh_puts(line);
  fault(3);
}
__attribute__((naked)) void HardFault_Handler(void) {
  __asm__ volatile("mrs r0, msp\n\tb hard_fault_report");
}
void MemManage_Handler(void) { fault(4); }
void BusFault_Handler(void) { fault(5); }
void UsageFault_Handler(void) { fault(6); }
void SecureFault_Handler(void) { fault(7); }
void Default_Handler(void) { fault(0); }

typedef void (*vector)(void);
__attribute__((section(".isr_vector"), used)) const vector vectors[16] = {
    (vector)(uintptr_t)&__stack_top__,
    Reset_Handler,
    NMI_Handler,
    HardFault_Handler,
    MemManage_Handler,
    BusFault_Handler,
    UsageFault_Handler,
    SecureFault_Handler,
    0,
    0,
    0,
    Default_Handler, /* SVC */
    Default_Handler, /* DebugMon */
    0,
    Default_Handler, /* PendSV */
    Default_Handler, /* SysTick */
};
