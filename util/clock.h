/* The one clock of the control side: CLOCK_MONOTONIC in milliseconds. */
#pragma once
#include <stdint.h>

uint64_t clock_now_ms(void);
