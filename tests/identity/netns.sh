# tests/identity/netns.sh — entra_netns "$@", called by tests/cli/e2e_entra*.sh
# before anything else: when user and network namespaces are allowed, the
# script re-runs itself in a private network namespace whose only interface
# is loopback, so nothing it starts (tdspipe, az, the servers) can reach
# 169.254.169.254 or a Microsoft host even by mistake. Elsewhere it runs
# as is (every identity endpoint is overridden to 127.0.0.1 anyway).
entra_netns() {
  if [ -z "${ENTRA_NETNS:-}" ] && command -v unshare >/dev/null 2>&1 &&
     unshare -rn sh -c 'ip link set lo up' 2>/dev/null; then
    ENTRA_NETNS=1 exec unshare -rn bash "$0" "$@"
  fi
  if [ "${ENTRA_NETNS:-}" = 1 ]; then
    ip link set lo up
    echo "(private network namespace: loopback only)"
  fi
}
