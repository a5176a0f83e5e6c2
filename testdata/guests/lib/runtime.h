/*
 * Shared freestanding runtime for ftvm test guests.
 *
 *   COM1 (0x3F8) output, polling LSR (0x3FD) bit 5 before every byte;
 *   a small printf (%s %c %d %i %u %x %X %p %%, flags '0' '-', width,
 *   length modifiers l ll z); exit(v) writes v to isa-debug-exit (0xF4).
 */
#ifndef FTVM_GUEST_RUNTIME_H
#define FTVM_GUEST_RUNTIME_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define COM1          0x3F8
#define COM1_LSR      (COM1 + 5)
#define LSR_THRE      0x20
#define DEBUG_EXIT    0xF4

static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outw(uint16_t port, uint16_t v) { __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port) { uint8_t v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }

/* wait_change sleeps in HLT until *count, which interrupt handlers advance,
 * differs from seen. The test and the halt are atomic: STI enables
 * interrupts only once the HLT after it has started. */
static inline void wait_change(const volatile uint64_t *count, uint64_t seen)
{
    for (;;) {
        __asm__ volatile("cli");
        if (*count != seen)
            break;
        __asm__ volatile("sti; hlt" ::: "memory");
    }
    __asm__ volatile("sti");
}

void serial_putc(char c);
void serial_write(const char *s, size_t n);
void puts_nonl(const char *s);           /* no newline appended */
int  vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int  snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int  printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* vprintf_to formats as vsnprintf (at most 511 bytes) and passes the text to write. */
int  vprintf_to(void (*write)(const char *s, size_t n), const char *fmt, va_list ap);
__attribute__((noreturn)) void exit(int v);
__attribute__((noreturn)) void halt(void);

void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
int   memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);

/* faults.c / faults.S (link them to use it): print unexpected CPU
 * exceptions 0-31 and exit with debug-exit value 0x7e. */
void install_fault_reporter(void);

/* The guest's entry, called by start.S with the boot registers RDI (RAM
 * size) and RSI (physical address of the kernel command line, 0 if none).
 * A guest that reads the command line defines GUEST_MAIN_CMDLINE before
 * including this header and takes it as the second argument. */
#ifdef GUEST_MAIN_CMDLINE
int main(unsigned long ram_size, unsigned long cmdline_paddr);
#else
int main(unsigned long ram_size);
#endif

#endif
