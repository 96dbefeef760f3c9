#!/usr/bin/env bash
# Installs what pitwall needs to build and test on Debian 12, only what is
# missing.  Sourced by scripts/demo.sh and scripts/test.sh.
set -euo pipefail

pw_apt_install() {
	local missing=()
	for p in "$@"; do
		dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	local sudo=""
	[ "$(id -u)" -ne 0 ] && sudo="sudo"
	echo "installing: ${missing[*]}"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

PW_BUILD_DEPS=(build-essential cmake ninja-build pkg-config git ca-certificates
	libyaml-dev libjansson-dev libcurl4-openssl-dev libpq-dev libgit2-dev
	libarchive-dev libsqlite3-dev tzdata)
PW_TEST_DEPS=(clang clang-format libclang-rt-14-dev python3 python3-jsonschema procps psmisc gawk coreutils sqlite3 postgresql runc podman slurmctld slurmd slurmrestd slurm-client munge slurm-wlm-jwt-plugin)
