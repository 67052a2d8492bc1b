/* Timing helpers shared by the cycle benchmarks: serialised TSC reads around
 * the measured code, and the comparison qsort needs for medians. */
#pragma once
#include <stdint.h>
#include <x86intrin.h>

static inline uint64_t tsc_start(void)
{
	_mm_lfence();
	return __rdtsc();
}

static inline uint64_t tsc_stop(void)
{
	unsigned aux;
	uint64_t t = __rdtscp(&aux);
	_mm_lfence();
	return t;
}

static inline int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}
