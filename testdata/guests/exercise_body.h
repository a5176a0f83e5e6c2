/*
 * Instruction-exercise body shared by the `exercise` guest and the
 * `exercise_host` Linux program (the host CPU is the oracle).
 *
 * The body produces all of its output through ex_write(); both programs must
 * print exactly the same bytes.
 */
#ifndef FTVM_EXERCISE_BODY_H
#define FTVM_EXERCISE_BODY_H

/* Provided by the environment: write n bytes to the console. */
void ex_write(const char *s, unsigned long n);

/* Runs every instruction family and prints one line per family:
 *     family-name hash=0x%016lx
 * Returns 0. */
int exercise_run(void);

#endif
