/*
 * SSE instruction-exercise body shared by the `sse` guest and the `sse_host`
 * Linux program (the host CPU is the oracle). All output goes through
 * ex_write(); both programs must print exactly the same bytes.
 */
#ifndef FTVM_SSE_BODY_H
#define FTVM_SSE_BODY_H

/* Provided by the environment: write n bytes to the console. */
void ex_write(const char *s, unsigned long n);

/* Runs every family and prints one line per family:
 *     family-name hash=0x%016lx
 * Returns 0. */
int sse_run(void);

#endif
