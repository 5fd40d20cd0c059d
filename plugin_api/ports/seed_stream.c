/* seed_stream.c -- C99 port of the assetvae seed stream "assetvae-splitmix-polar-v1".
 *
 * The latent noise of variant (seed, key): a pure function of (seed, key, dim, truncation),
 * bit-identical to assetvae.plugin_api.rng and to rng_vectors.json. Spec: docs/SEEDS.md.
 *
 * Build:  cc -std=c99 -O2 -ffp-contract=off seed_stream.c -lm
 * (no FMA contraction; on 32-bit x86 add -msse2 -mfpmath=sse so doubles are real doubles).
 * Also compiles as C++17 (hex float literals): c++ -std=c++17 -ffp-contract=off -x c++ ...
 * Self-test driver: add -DSEED_STREAM_MAIN; see the end of this file.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>

/* ---- core ----------------------------------------------------------------------------- */
static uint64_t ss_mix(uint64_t z) { /* SplitMix64 finalizer */
    z ^= z >> 30; z *= 0xbf58476d1ce4e5b9ULL;
    z ^= z >> 27; z *= 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
uint64_t ss_hash_int(uint64_t key) { return ss_mix(key ^ 0xbb67ae8584caa73bULL); }
uint64_t ss_hash_str(const unsigned char *utf8, size_t len) { /* FNV-1a 64, then tagged mix */
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; i++) { h ^= utf8[i]; h *= 0x100000001b3ULL; }
    return ss_mix(h ^ 0x3c6ef372fe94f82bULL);
}
uint64_t ss_state(uint64_t seed, uint64_t key_hash, uint64_t stream) {
    return ss_mix(ss_mix(seed ^ 0x6a09e667f3bcc908ULL) ^ key_hash ^ (stream * 0xa54ff53a5f1d36f1ULL));
}
double ss_uniform(uint64_t state, uint64_t index) { /* [0,1), multiple of 2^-53 */
    return (double)(ss_mix(state + (index + 1) * 0x9e3779b97f4a7c15ULL) >> 11) * 0x1p-53;
}
double ss_log(double x) { /* positive normal x; only + - * / in a fixed order */
    int e; double m = frexp(x, &e);
    if (m < 0x1.6a09e667f3bcdp-1) { m *= 2.0; e -= 1; }
    double f = m - 1.0, t = f / (2.0 + f), w = t * t, h = 0.5 * f * f, k = (double)e;
    double r = w * (0x1.5555555555593p-1 + w * (0x1.999999997fa04p-2 + w * (0x1.2492494229359p-2
             + w * (0x1.c71c51d8e78afp-3 + w * (0x1.7466496cb03dep-3 + w * (0x1.39a09d078c69fp-3
             + w * 0x1.2f112df3e5244p-3))))));
    return k * 0x1.62e42fee00000p-1 - ((h - (t * (h + r) + k * 0x1.a39ef35793c76p-33)) - f);
}
/* dim float32 normals of a stream state; tau > 0 truncates (|n| > tau skipped), else none. */
void ss_normals(uint64_t state, size_t dim, double tau, float *out) {
    size_t n = 0;
    for (uint64_t i = 0; n < dim; i += 2) {
        double u = 2.0 * ss_uniform(state, i) - 1.0, v = 2.0 * ss_uniform(state, i + 1) - 1.0;
        double s = u * u + v * v;
        if (s >= 1.0 || s == 0.0) continue; /* rejected pair: the counter moves on */
        double factor = sqrt((-2.0 * ss_log(s)) / s);
        float pair[2] = {(float)(u * factor), (float)(v * factor)};
        for (int j = 0; j < 2 && n < dim; j++)
            if (!(tau > 0.0) || fabs((double)pair[j]) <= tau) out[n++] = pair[j];
    }
}
/* Component index for stream-1 uniform u: first i with u*cum[n-1] < cum[i], where cum are
 * the left-to-right double sums of weights; clamped to the last positive weight. */
size_t ss_choice(double u, const double *weights, size_t n) {
    double total = 0.0, cum = 0.0; size_t last = 0;
    for (size_t i = 0; i < n; i++) { total += weights[i]; if (weights[i] > 0.0) last = i; }
    double target = u * total;
    for (size_t i = 0; i < last; i++) { cum += weights[i]; if (target < cum) return i; }
    return last;
}

/* ---- self-test driver ------------------------------------------------------------------ */
#ifdef SEED_STREAM_MAIN
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
/* Reads one command per line on stdin, writes one answer line per command (hex, lowercase).
 * KEY is "i:<decimal u64>" or "s:<hex of the UTF-8 bytes>" ("s:" is the empty string);
 * TAU is "-" (none) or a C99 float literal, e.g. a hex float such as 0x1p+1.
 *   hash KEY                          -> 16 hex digits
 *   state SEED KEY STREAM             -> 16 hex digits
 *   uniform SEED KEY STREAM INDEX     -> the double's 16-hex-digit bit pattern
 *   normals SEED KEY STREAM DIM TAU   -> DIM float32 bit patterns, 8 hex digits each
 *   choice SEED KEY INDEX N W1..WN    -> decimal index (stream 1)
 * With arguments instead of stdin: seed_stream SEED KEY DIM [TAU] prints normals (stream 0). */
static uint64_t parse_key(const char *tok) {
    if (tok[0] == 'i') return ss_hash_int(strtoull(tok + 2, NULL, 10));
    size_t len = strlen(tok + 2) / 2;
    unsigned char *buf = (unsigned char *)malloc(len + 1);
    for (size_t i = 0; i < len; i++) { unsigned b; sscanf(tok + 2 + 2 * i, "%2x", &b); buf[i] = (unsigned char)b; }
    uint64_t h = ss_hash_str(buf, len);
    free(buf);
    return h;
}
static void print_normals(uint64_t state, size_t dim, double tau) {
    float *out = (float *)malloc((dim ? dim : 1) * sizeof *out);
    ss_normals(state, dim, tau, out);
    for (size_t i = 0; i < dim; i++) {
        uint32_t bits; memcpy(&bits, &out[i], 4);
        printf(i ? " %08x" : "%08x", (unsigned)bits);
    }
    printf("\n");
    free(out);
}
static double parse_tau(const char *tok) { return strcmp(tok, "-") == 0 ? 0.0 : strtod(tok, NULL); }
static uint64_t u64(const char *tok) { return strtoull(tok, NULL, 10); }
int main(int argc, char **argv) {
    if (argc >= 4) {
        print_normals(ss_state(u64(argv[1]), parse_key(argv[2]), 0), (size_t)u64(argv[3]),
                      argc >= 5 ? parse_tau(argv[4]) : 0.0);
        return 0;
    }
    static char line[1 << 16];
    while (fgets(line, sizeof line, stdin)) {
        char *tok[64]; int nt = 0;
        for (char *p = strtok(line, " \t\r\n"); p && nt < 64; p = strtok(NULL, " \t\r\n")) tok[nt++] = p;
        if (nt == 0) continue;
        if (!strcmp(tok[0], "hash") && nt == 2) printf("%016llx\n", (unsigned long long)parse_key(tok[1]));
        else if (!strcmp(tok[0], "state") && nt == 4)
            printf("%016llx\n", (unsigned long long)ss_state(u64(tok[1]), parse_key(tok[2]), u64(tok[3])));
        else if (!strcmp(tok[0], "uniform") && nt == 5) {
            double u = ss_uniform(ss_state(u64(tok[1]), parse_key(tok[2]), u64(tok[3])), u64(tok[4]));
            uint64_t bits; memcpy(&bits, &u, 8);
            printf("%016llx\n", (unsigned long long)bits);
        } else if (!strcmp(tok[0], "normals") && nt == 6)
            print_normals(ss_state(u64(tok[1]), parse_key(tok[2]), u64(tok[3])), (size_t)u64(tok[4]), parse_tau(tok[5]));
        else if (!strcmp(tok[0], "choice") && nt >= 5 && nt == 5 + atoi(tok[4])) {
            size_t n = (size_t)atoi(tok[4]);
            double w[59];
            for (size_t i = 0; i < n; i++) w[i] = strtod(tok[5 + i], NULL);
            double u = ss_uniform(ss_state(u64(tok[1]), parse_key(tok[2]), 1), u64(tok[3]));
            printf("%zu\n", ss_choice(u, w, n));
        } else { printf("error\n"); }
        fflush(stdout);
    }
    return 0;
}
#endif
