// CPUID and XGETBV, read directly: the instruction set decides which
// kernels run, and the CPU saying it has AVX-512 is not enough — the
// operating system must also save the ZMM registers on context switches.
#include "BilevelCPUFeatures.h"

#if defined(__x86_64__)
#include <cpuid.h>

static unsigned long long xcr0(void) {
  unsigned int eax, edx;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return ((unsigned long long)edx << 32) | eax;
}

static int has(unsigned int reg, int bit) { return (reg >> bit) & 1; }

/// Leaf 1 ECX and leaf 7 EBX/ECX, or 0 when leaf 7 is missing.
static int leaves(unsigned int *ecx1, unsigned int *ebx7, unsigned int *ecx7) {
  unsigned int a, b, c, d;
  if (__get_cpuid_max(0, 0) < 7) return 0;
  __cpuid(1, a, b, c, d);
  *ecx1 = c;
  __cpuid_count(7, 0, a, b, c, d);
  *ebx7 = b;
  *ecx7 = c;
  return 1;
}

/// OSXSAVE set and the OS enables the SSE and AVX (YMM) state.
static int ymmEnabled(unsigned int ecx1) {
  return has(ecx1, 27) && (xcr0() & 0x6) == 0x6;
}

int bilevel_cpu_supports_x86_64_v3(void) {
  unsigned int ecx1, ebx7, ecx7;
  if (!leaves(&ecx1, &ebx7, &ecx7) || !ymmEnabled(ecx1)) return 0;
  unsigned int a, b, c, d;
  __cpuid(0x80000001, a, b, c, d);
  int lzcnt = has(c, 5);
  // FMA, MOVBE, F16C (leaf 1); AVX2, BMI1, BMI2 (leaf 7).
  return has(ecx1, 12) && has(ecx1, 22) && has(ecx1, 29) && has(ecx1, 28) &&
         has(ebx7, 5) && has(ebx7, 3) && has(ebx7, 8) && lzcnt;
}

int bilevel_cpu_supports_x86_64_v4(void) {
  unsigned int ecx1, ebx7, ecx7;
  if (!bilevel_cpu_supports_x86_64_v3() || !leaves(&ecx1, &ebx7, &ecx7)) return 0;
  // XCR0 bits 5–7: opmask, ZMM0–15 upper halves, ZMM16–31.
  if ((xcr0() & 0xe6) != 0xe6) return 0;
  // AVX-512 F (16), DQ (17), CD (28), BW (30), VL (31).
  return has(ebx7, 16) && has(ebx7, 17) && has(ebx7, 28) && has(ebx7, 30) && has(ebx7, 31);
}

#else
int bilevel_cpu_supports_x86_64_v3(void) { return 0; }
int bilevel_cpu_supports_x86_64_v4(void) { return 0; }
#endif
