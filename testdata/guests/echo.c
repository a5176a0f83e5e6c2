// echo: the serial console's receive side. Reads bytes from COM1 (polling
// the line status register), echoes each one in upper case, and ends with
// debug-exit 0 on 'q'. With RDRAND it also shows a random number is an input
// a recording must hold.
#include "runtime.h"

#define COM1 0x3F8
#define LSR_DR 0x01

int main(unsigned long ram_size)
{
	(void)ram_size;
	printf("echo: type; q ends\n");
	unsigned long n = 0;
	for (;;) {
		if (!(inb(COM1 + 5) & LSR_DR))
			continue;
		char c = (char)inb(COM1);
		if (c == 'q')
			break;
		if (c >= 'a' && c <= 'z')
			c -= 'a' - 'A';
		serial_write(&c, 1);
		n++;
	}
	unsigned long r;
	unsigned char ok;
	__asm__ volatile("rdrand %0; setc %1" : "=r"(r), "=qm"(ok));
	printf("\necho: %lu bytes, rdrand ok=%u\n", n, ok);
	return 0;
}
