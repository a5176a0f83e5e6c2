/* ssefp_host: the host-CPU oracle for the ssefp guest.  Same body, output on
 * stdout; must match the guest's serial output byte for byte.  An unmasked
 * SIMD floating-point exception arrives as SIGFPE; the handler resumes at
 * xm_resume (the kernel restores MXCSR, flags included, from the frame). */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <ucontext.h>
#include "ssefp_body.h"

void ex_write(const char *s, unsigned long n)
{
    fwrite(s, 1, n, stdout);
}

static void on_fpe(int sig, siginfo_t *si, void *ctx)
{
    (void)sig;
    (void)si;
    ucontext_t *uc = ctx;
    uc->uc_mcontext.gregs[REG_RIP] = (greg_t)xm_resume;
    xm_caught++;
}

int main(void)
{
    struct sigaction sa = {0};
    sa.sa_sigaction = on_fpe;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGFPE, &sa, 0);
    int rc = ssefp_run(1);
    fflush(stdout);
    return rc;
}
