/*
 * SSE floating-point exercise body shared by the `ssefp` guest and the
 * `ssefp_host` Linux program (the host CPU is the oracle).
 */
#ifndef FTVM_SSEFP_BODY_H
#define FTVM_SSEFP_BODY_H

#include <stdint.h>

/* Provided by the environment: write n bytes to the console. */
void ex_write(const char *s, unsigned long n);

/* Unmasked exceptions: when the environment catches #XM (SIGFPE on Linux),
 * its handler resumes at xm_resume and counts the exception in xm_caught. */
extern volatile uint64_t xm_resume, xm_caught;

/* Runs every SSE floating-point instruction family and prints one line per
 * family:  family-name hash=0x%016lx; with catch_xm, also the xm-* families
 * that run with unmasked exceptions.  Returns 0. */
int ssefp_run(int catch_xm);

#endif
