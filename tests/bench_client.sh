#!/bin/sh
# bench_client.sh - the gateway under load from chorus-client, beside the
# bare epoll echo baseline (the kernel's floor for the same traffic).
#
# For each size (participants:seconds), the same load generator runs the same
# calls (rooms of 4, one talker per room, 20 ms frames) first through
# build/chorus-echo-baseline, then through build/chorus-gateway. Each
# server's CPU time (utime + stime from /proc/<pid>/stat) is read before and
# after the run and divided by participants x seconds: the cost of carrying
# one participant for one second (one frame in and one out every 20 ms).
# The table gives loss, latency, and that cost with its ratio to the floor.
#
#   CHORUS_BENCH_SIZES="200:20 1000:30 2000:60"   (the default)
#
# Everything runs on this machine, the generator included, so the numbers
# are only as quiet as the machine is.
# make bench runs this with sh; /dev/tcp (the readiness check) needs bash.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -u
build=${CHORUS_BUILD:-build}
client=${CHORUS_CLIENT:-$build/chorus-client}
echo_bin=${CHORUS_ECHO_BASELINE:-$build/chorus-echo-baseline}
gateway=${CHORUS_GATEWAY:-$build/chorus-gateway}
sizes=${CHORUS_BENCH_SIZES:-"200:20 1000:30 2000:60"}
hz=$(getconf CLK_TCK)
tmp=$(mktemp -d)
server_pid=""
trap '[ -n "$server_pid" ] && kill $server_pid 2>/dev/null; rm -rf "$tmp"' EXIT INT TERM

for b in "$client" "$echo_bin" "$gateway"; do
	[ -x "$b" ] || { echo "bench_client: $b not built"; exit 1; }
done

free_port() { # a port nobody listens on
	while :; do
		p=$((20000 + RANDOM % 20000))
		(exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null || { echo $p; return; }
	done
}

wait_port() {
	i=0
	while [ $i -lt 250 ]; do
		(exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0
		sleep 0.04
		i=$((i + 1))
	done
	return 1
}

cpu_ticks() {
	# Fields 14 and 15 of /proc/<pid>/stat, counted after the ")" that ends
	# the command name (which may contain spaces).
	sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'
}

field() { # field NAME FILE: a number from the flat JSON summary
	sed -n "s/.*\"$1\":\([-0-9.e]*\).*/\1/p" "$2" | head -1
}

# gateway_losses PORT -> what the gateway itself counted as lost or late,
# so a loss the generator sees can be told apart from one the gateway made
# knowingly (late audio, concealment, slow readers, skipped ticks).
gateway_losses() {
	python3 - "$1" <<'PY' 2>/dev/null
import sys, urllib.request
body = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1],
                              timeout=5).read().decode()
m = dict(l.split() for l in body.splitlines() if l.count(" ") == 1)
print(" ".join("%s %s" % (k, m.get("chorus_%s_total" % k, "?")) for k in
               ("late_frames", "concealed_frames", "capped_frames",
                "dropped_in", "dropped_out", "ticks_skipped")))
PY
}

# run SERVER-NAME PARTICIPANTS SECONDS -> one table row in $tmp/rows
run() {
	name=$1 n=$2 secs=$3
	port=$(free_port)
	rooms=$(((n + 3) / 4))
	if [ "$name" = echo ]; then
		"$echo_bin" --port "$port" >"$tmp/server.log" 2>&1 &
		expect=echo
	else
		"$gateway" --port "$port" --workers 2 --log-level warn \
			--max-connections $((n + 100)) --max-rooms $((rooms + 10)) \
			--max-per-source 0 --handshakes-per-source 0 \
			>"$tmp/server.log" 2>&1 &
		expect=mix
	fi
	server_pid=$!
	if ! wait_port "$port"; then
		echo "bench_client: $name did not start"; cat "$tmp/server.log"
		kill $server_pid; server_pid=""; return
	fi
	sleep 0.3
	t0=$(cpu_ticks $server_pid)
	"$client" --load --participants "$n" --rooms "$rooms" --talkers 1 \
		--duration "$secs" --expect $expect --connect-rate 4 \
		--json "$tmp/r.json" "ws://127.0.0.1:$port/" >"$tmp/client.out" 2>&1
	t1=$(cpu_ticks $server_pid)
	[ "$name" = gateway ] && sleep 0.5 && counted=$(gateway_losses "$port")
	kill $server_pid; wait $server_pid 2>/dev/null; server_pid=""
	cat "$tmp/client.out" | sed 's/^/    /' | grep -v '^    {'
	[ "$name" = gateway ] && echo "      gateway counted: ${counted:-no /metrics}"
	if [ ! -s "$tmp/r.json" ]; then
		echo "bench_client: no result for $name $n"; return
	fi
	# CPU per participant-second, in microseconds.
	us=$(awk -v d=$((t1 - t0)) -v hz="$hz" -v n="$n" -v s="$secs" \
		'BEGIN { printf "%.1f", d / hz * 1e6 / (n * s) }')
	echo "$name $n $secs $(field connected "$tmp/r.json") \
$(field loss_pct "$tmp/r.json") $(field p50 "$tmp/r.json") \
$(field p90 "$tmp/r.json") $(field p99 "$tmp/r.json") \
$(field max "$tmp/r.json") $(field jitter_p99_ms "$tmp/r.json") \
$(field send_lag_p99_ms "$tmp/r.json") $us \
$(awk -v c="$(field generator_cpu_s "$tmp/r.json")" -v n="$n" -v s="$secs" \
	'BEGIN { printf "%.1f", c * 1e6 / (n * s) }')" >>"$tmp/rows"
}

: >"$tmp/rows"
for s in $sizes; do
	n=${s%%:*} secs=${s##*:}
	echo "-- $n participants, $secs s, echo baseline"
	run echo "$n" "$secs"
	echo "-- $n participants, $secs s, gateway"
	run gateway "$n" "$secs"
done

echo
echo "server   partic.  secs  conn   loss %   lat p50/p90/p99/max ms      jit p99  gen lag p99  CPU us/part-s  x floor  (generator us/part-s)"
awk '
	{ key = $2 " " $3 }
	$1 == "echo" { floor[key] = $12 }
	{ rows[NR] = $0; k[NR] = key }
	END {
		for (i = 1; i <= NR; i++) {
			split(rows[i], f, " ")
			ratio = (floor[k[i]] > 0) ? sprintf("%.2f", f[12] / floor[k[i]]) : "-"
			printf "%-8s %7d %5d %5d %8.4f   %6.1f/%6.1f/%6.1f/%6.1f   %7.1f  %11.1f  %13.1f  %7s  (%.1f)\n",
				f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9], f[10], f[11], f[12], ratio, f[13]
		}
	}' "$tmp/rows"
echo "(CPU: the server process only, utime+stime over the whole run incl."
echo " connection ramp; 1 participant-second = 50 frames in + 50 out."
echo " Latency and loss are measured by the generator on the same machine:"
echo " when the machine is short of CPU, its send lag shows it.)"
