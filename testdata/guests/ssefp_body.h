/*
 * SSE floating-point exercise body shared by the `ssefp` guest and the
 * `ssefp_host` Linux program (the host CPU is the oracle).
 */
#ifndef FTVM_SSEFP_BODY_H
#define FTVM_SSEFP_BODY_H

/* Provided by the environment: write n bytes to the console. */
void ex_write(const char *s, unsigned long n);

/* Runs every SSE floating-point instruction family and prints one line per
 * family:  family-name hash=0x%016lx.  Returns 0. */
int ssefp_run(void);

#endif
