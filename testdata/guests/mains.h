/*
 * mains.h - the main functions shared by the oracle and workload programs,
 * each built twice: as a guest (output on the serial port, runtime.h
 * included first) and as a Linux program on the host CPU (stdio.h included
 * first), whose output the guest's must equal.
 *
 *   ORACLE_GUEST_MAIN(run), ORACLE_HOST_MAIN(run): ex_write and a main that
 *     returns run() (int run(void), from an oracle body).
 *   BENCH_GUEST_MAIN(name, run, iters), BENCH_HOST_MAIN(name, run, iters):
 *     a main that prints "NAME checksum=0x…" of run(iters) and returns 0.
 */
#ifndef FTVM_MAINS_H
#define FTVM_MAINS_H

#define ORACLE_GUEST_MAIN(run)                                                   \
    void ex_write(const char *s, unsigned long n) { serial_write(s, n); }        \
    int main(unsigned long ram_size)                                             \
    {                                                                            \
        (void)ram_size;                                                          \
        install_fault_reporter(); /* an unimplemented opcode reports */          \
        return run();                                                            \
    }

#define ORACLE_HOST_MAIN(run)                                                    \
    void ex_write(const char *s, unsigned long n) { fwrite(s, 1, n, stdout); }   \
    int main(void)                                                               \
    {                                                                            \
        int rc = run();                                                          \
        fflush(stdout);                                                          \
        return rc;                                                               \
    }

#define BENCH_GUEST_MAIN(name, run, iters)                                       \
    int main(unsigned long ram_size)                                             \
    {                                                                            \
        (void)ram_size;                                                          \
        install_fault_reporter();                                                \
        printf(name " checksum=0x%016lx\n", (unsigned long)run(iters));          \
        return 0;                                                                \
    }

#define BENCH_HOST_MAIN(name, run, iters)                                        \
    int main(void)                                                               \
    {                                                                            \
        printf(name " checksum=0x%016lx\n", (unsigned long)run(iters));          \
        return 0;                                                                \
    }

#endif
