#ifndef BILEVEL_CPU_FEATURES_H
#define BILEVEL_CPU_FEATURES_H

/// 1 when the CPU and the operating system support every instruction of
/// x86-64-v3 (AVX2, FMA, BMI1/2, F16C, MOVBE, LZCNT) with YMM state saved.
int bilevel_cpu_supports_x86_64_v3(void);

/// 1 when x86-64-v4 code (AVX-512 F, CD, BW, DQ, VL) can run: the CPU has
/// the extensions and the operating system saves the ZMM and mask state.
int bilevel_cpu_supports_x86_64_v4(void);

#endif
