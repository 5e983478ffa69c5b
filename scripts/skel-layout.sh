#!/bin/sh
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# scripts/skel-layout.sh SKEL1 NAME1 SKEL2 NAME2
# The loader opens the compat BPF object through the main object's
# skeleton (src/loader.c): the two must declare the same maps, programs and
# global variables, at the same offsets. Compares the skeletons' struct
# declarations, names aside.
set -eu
layout() {
	sed -n "/^struct $2 {/,/^#ifdef __cplusplus/p" "$1" | sed "s/$2/SKEL/g"
}
a=$(mktemp) b=$(mktemp)
trap 'rm -f "$a" "$b"' EXIT
layout "$1" "$2" > "$a"
layout "$3" "$4" > "$b"
if [ ! -s "$a" ] || ! diff -u "$a" "$b" >&2; then
	echo "skel-layout: $3 does not match $1: keep the maps, programs and globals of both builds of bpf/tcptrail.bpf.c the same" >&2
	exit 1
fi
