#!/bin/sh
# Runs inside `dbus-run-session` (started with HOME set to a throwaway directory): starts a
# real Secret Service (gnome-keyring-daemon, its login keyring unlocked with a throwaway
# password), waits until it owns org.freedesktop.secrets on the bus (so nothing is started by
# bus activation instead), stores VALUE under service SERVICE / username USER with libsecret's
# secret-tool, runs the rest of the arguments (mcpcell ...), then stops the daemon.
# Usage: with_keyring.sh SERVICE USER VALUE COMMAND...
set -u
service=$1 user=$2 value=$3
shift 3
# In the foreground (so this script knows its pid), keeping none of the caller's fds open.
printf 'throwaway' | gnome-keyring-daemon --foreground --unlock --components=secrets >/dev/null 2>&1 &
daemon=$!
owned() {
  dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
    org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null | grep -q 'boolean true'
}
i=0
until owned; do
  i=$((i + 1))
  if [ "$i" -ge 100 ]; then
    echo "with_keyring.sh: gnome-keyring-daemon never took org.freedesktop.secrets" >&2
    kill "$daemon"
    exit 99
  fi
  sleep 0.1
done
printf '%s' "$value" | secret-tool store --label mcpcell-test service "$service" username "$user" || { kill "$daemon"; exit 98; }
"$@"
status=$?
kill "$daemon"
wait "$daemon" 2>/dev/null
exit $status
