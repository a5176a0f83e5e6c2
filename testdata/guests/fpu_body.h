/*
 * x87 FPU exerciser body shared by the `fpu` guest and the `fpu_host` Linux
 * program (the host CPU is the oracle); see fpu_body.c.
 */
#ifndef FTVM_FPU_BODY_H
#define FTVM_FPU_BODY_H

/* Provided by the environment: write n bytes to the console. */
void ex_write(const char *s, unsigned long n);

/* Runs every x87 instruction family and prints one line per family:
 *     family-name hash=0x%016lx
 * Returns 0. */
int fpu_run(void);

#endif
