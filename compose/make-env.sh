#!/bin/sh
# Writes compose/.env with fresh random NATS passwords (one for runners, one for the other
# services), readable by its owner only. Keeps an existing .env: the running NATS and
# services already use its passwords.
set -eu
env_file="$(dirname "$0")/.env"
if [ -e "$env_file" ]; then
    echo "$env_file exists; remove it to make new passwords" >&2
    exit 0
fi
umask 077
{
    echo "BERTH_NATS_PASSWORD=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')"
    echo "BERTH_NATS_RUNNER_PASSWORD=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')"
} >"$env_file"
echo "wrote $env_file"
