/* The maps of the steering program. */
#pragma once
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "bpf/xdp_steer_abi.h"

/* Receive queue index -> AF_XDP socket of that queue (the loader may shrink
 * max_entries to the interface's queue count before load). */
struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, XDP_STEER_MAX_QUEUES);
	__type(key, __u32);
	__type(value, __u32);
} xsks SEC(".maps");

/* enum xdp_steer_counter -> packets, per CPU; userspace sums the CPUs. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XDP_STEER_COUNTERS);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");
