#!/usr/bin/env bash
# Removes a bridge that a benchmark's berthd made, and its BERTH-<bridge> iptables chains
# (berth keeps them after it stops, as dockerd keeps docker0).
bridge=$1
ip link del "$bridge" 2>/dev/null || true
for table in filter nat; do
    iptables -t "$table" -S 2>/dev/null | grep -- "-j BERTH-$bridge\$" | sed 's/^-A/-D/' |
        while read -r rule; do eval iptables -t "$table" "$rule"; done
    iptables -t "$table" -F "BERTH-$bridge" 2>/dev/null || true
    iptables -t "$table" -X "BERTH-$bridge" 2>/dev/null || true
done
