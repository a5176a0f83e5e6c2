/*
 * fpbench_body.c - a floating-point workload: the n-body simulation of the
 * Computer Language Benchmarks Game (binary64, SQRTSD and DIVSD in the inner
 * loop) and a binary32 matrix product, each iteration folded into a
 * checksum.  Freestanding: no libm (sqrt is __builtin_sqrt with
 * -fno-math-errno, i.e. SQRTSD).
 */
#include "fpbench_body.h"

#define PI 3.141592653589793
#define SOLAR_MASS (4 * PI * PI)
#define DAYS_PER_YEAR 365.24
#define NBODIES 5
#define MAT 24

struct body {
    double x, y, z, vx, vy, vz, mass;
};

static const struct body initial[NBODIES] = {
    {0, 0, 0, 0, 0, 0, SOLAR_MASS},
    {4.84143144246472090e+00, -1.16032004402742839e+00, -1.03622044471123109e-01,
     1.66007664274403694e-03 * DAYS_PER_YEAR, 7.69901118419740425e-03 * DAYS_PER_YEAR,
     -6.90460016972063023e-05 * DAYS_PER_YEAR, 9.54791938424326609e-04 * SOLAR_MASS},
    {8.34336671824457987e+00, 4.12479856412430479e+00, -4.03523417114321381e-01,
     -2.76742510726862411e-03 * DAYS_PER_YEAR, 4.99852801234917238e-03 * DAYS_PER_YEAR,
     2.30417297573763929e-05 * DAYS_PER_YEAR, 2.85885980666130812e-04 * SOLAR_MASS},
    {1.28943695621391310e+01, -1.51111514016986312e+01, -2.23307578892655734e-01,
     2.96460137564761618e-03 * DAYS_PER_YEAR, 2.37847173959480950e-03 * DAYS_PER_YEAR,
     -2.96589568540237556e-05 * DAYS_PER_YEAR, 4.36624404335156298e-05 * SOLAR_MASS},
    {1.53796971148509165e+01, -2.59193146099879641e+01, 1.79258772950371181e-01,
     2.68067772490389322e-03 * DAYS_PER_YEAR, 1.62824170038242295e-03 * DAYS_PER_YEAR,
     -9.51592254519715870e-05 * DAYS_PER_YEAR, 5.15138902046611451e-05 * SOLAR_MASS},
};

static void advance(struct body *b, double dt)
{
    for (int i = 0; i < NBODIES; i++)
        for (int j = i + 1; j < NBODIES; j++) {
            double dx = b[i].x - b[j].x, dy = b[i].y - b[j].y, dz = b[i].z - b[j].z;
            double d2 = dx * dx + dy * dy + dz * dz;
            double mag = dt / (d2 * __builtin_sqrt(d2));
            b[i].vx -= dx * b[j].mass * mag;
            b[i].vy -= dy * b[j].mass * mag;
            b[i].vz -= dz * b[j].mass * mag;
            b[j].vx += dx * b[i].mass * mag;
            b[j].vy += dy * b[i].mass * mag;
            b[j].vz += dz * b[i].mass * mag;
        }
    for (int i = 0; i < NBODIES; i++) {
        b[i].x += dt * b[i].vx;
        b[i].y += dt * b[i].vy;
        b[i].z += dt * b[i].vz;
    }
}

static double energy(const struct body *b)
{
    double e = 0;
    for (int i = 0; i < NBODIES; i++) {
        e += 0.5 * b[i].mass * (b[i].vx * b[i].vx + b[i].vy * b[i].vy + b[i].vz * b[i].vz);
        for (int j = i + 1; j < NBODIES; j++) {
            double dx = b[i].x - b[j].x, dy = b[i].y - b[j].y, dz = b[i].z - b[j].z;
            e -= b[i].mass * b[j].mass / __builtin_sqrt(dx * dx + dy * dy + dz * dz);
        }
    }
    return e;
}

static float ma[MAT][MAT], mb[MAT][MAT], mc[MAT][MAT];

static void matmul(void)
{
    for (int i = 0; i < MAT; i++)
        for (int j = 0; j < MAT; j++) {
            float s = 0;
            for (int k = 0; k < MAT; k++)
                s += ma[i][k] * mb[k][j];
            mc[i][j] = s;
        }
    /* feed the product back, scaled to stay finite */
    for (int i = 0; i < MAT; i++)
        for (int j = 0; j < MAT; j++)
            ma[i][j] = mc[i][j] * (1.0f / MAT) + (float)(i - j) * 0.001f;
}

static uint64_t bits64(double d)
{
    union { double d; uint64_t u; } v = {d};
    return v.u;
}

uint64_t fpbench_run(unsigned iterations)
{
    struct body b[NBODIES];
    double px = 0, py = 0, pz = 0;
    for (int i = 0; i < NBODIES; i++) {
        b[i] = initial[i];
        px += b[i].vx * b[i].mass;
        py += b[i].vy * b[i].mass;
        pz += b[i].vz * b[i].mass;
    }
    b[0].vx = -px / SOLAR_MASS;
    b[0].vy = -py / SOLAR_MASS;
    b[0].vz = -pz / SOLAR_MASS;
    for (int i = 0; i < MAT; i++)
        for (int j = 0; j < MAT; j++) {
            ma[i][j] = (float)((i * 7 + j * 3) % 11) * 0.1f - 0.5f;
            mb[i][j] = (float)((i * 5 + j * 13) % 17) * 0.05f - 0.4f;
        }
    uint64_t sum = 0;
    for (unsigned it = 0; it < iterations; it++) {
        for (int s = 0; s < 2500; s++)
            advance(b, 0.01);
        matmul();
        double t = 0;
        for (int i = 0; i < MAT; i++)
            t += (double)mc[i][i];
        sum = (sum ^ bits64(energy(b))) * 0x100000001b3ull;
        sum = (sum ^ bits64(t)) * 0x100000001b3ull;
        sum = (sum ^ (uint64_t)(int64_t)(t * 1e6)) * 0x100000001b3ull;
    }
    return sum;
}
