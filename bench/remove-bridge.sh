#!/usr/bin/env bash
# Removes a bridge that a benchmark's berthd made, and its iptables chains: BERTH-<bridge>
# (NAT and forwarding), BERTH-DNAT-<bridge> (published ports) and BERTH-IN-<bridge> (the
# API guard). berth keeps them after it stops, as dockerd keeps docker0's.
bridge=$1
ip link del "$bridge" 2>/dev/null || true
for chain in "BERTH-$bridge" "BERTH-DNAT-$bridge" "BERTH-IN-$bridge"; do
    for table in filter nat; do
        iptables -t "$table" -S 2>/dev/null | grep -- "-j $chain\$" | sed 's/^-A/-D/' |
            while read -r rule; do eval iptables -t "$table" "$rule"; done
        iptables -t "$table" -F "$chain" 2>/dev/null || true
        iptables -t "$table" -X "$chain" 2>/dev/null || true
    done
done
# Its isolation rules, then the shared isolation chains once no bridge uses them.
iptables -D BERTH-ISOLATION-1 -i "$bridge" ! -o "$bridge" -j BERTH-ISOLATION-2 2>/dev/null || true
iptables -D BERTH-ISOLATION-2 -o "$bridge" -j DROP 2>/dev/null || true
iptables -X BERTH-ISOLATION-1 2>/dev/null || true
iptables -X BERTH-ISOLATION-2 2>/dev/null || true
