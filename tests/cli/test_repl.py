#!/usr/bin/env python3
"""Drives the ds4 REPL through a pseudo-terminal, as a person would: a two-turn conversation,
/nothink, Ctrl+C during a long generation, /help and /quit. Uses a tiny synthetic model."""
import os, pty, select, signal, subprocess, sys, time

bin_dir, work = sys.argv[1], sys.argv[2]
os.makedirs(work, exist_ok=True)
model = os.path.join(work, "tiny-repl.gguf")
subprocess.run([os.path.join(bin_dir, "ds4-convert"), "--synthetic", "--preset", "tiny", "--recipe", "q8",
                "--seed", "2", "--out", model, "-q"], check=True)

pid, fd = pty.fork()
if pid == 0:
    os.execv(os.path.join(bin_dir, "ds4"), ["ds4", "-m", model, "--ctx", "4096", "-n", "200000", "--temp", "0"])

buf = b""
def read_until(token, timeout=60):
    global buf
    deadline = time.time() + timeout
    while token not in buf:
        left = deadline - time.time()
        if left <= 0:
            raise SystemExit(f"FAIL: timed out waiting for {token!r}; screen tail: {buf[-600:]!r}")
        r, _, _ = select.select([fd], [], [], left)
        if r:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                chunk = b""
            if not chunk:
                raise SystemExit(f"FAIL: ds4 exited while waiting for {token!r}; tail: {buf[-600:]!r}")
            buf += chunk
    idx = buf.index(token) + len(token)
    seen, buf = buf[:idx], buf[idx:]
    return seen

def send(text):
    os.write(fd, text.encode())

read_until(b"> ")
send("/help\n")
read_until(b"/nothink")
read_until(b"> ")

# Turn 1 with -n 200000: stop it with Ctrl+C once tokens stream.
send("hello there\n")
read_until(b"Thinking")
time.sleep(0.2)
send("\x03")
out = read_until(b"generation stopped (Ctrl+C)", timeout=30)
# The stats line ends a turn; random tiny-model text may itself contain "> ".
turn1 = read_until(b"reused)", timeout=30)
read_until(b"> ")

# Turn 2 in non-thinking mode extends the live session: its prompt reuses turn 1's tokens.
send("/nothink\n")
read_until(b"thinking off")
read_until(b"> ")
send("second turn\n")
time.sleep(0.5)
send("\x03")
turn2 = read_until(b"reused)", timeout=30)
read_until(b"> ")
import re
m = re.search(rb"prompt (\d+) tokens \((\d+) reused\)", turn2)
assert m, f"FAIL: no stats line in turn 2: {turn2[-400:]!r}"
assert int(m.group(2)) > 10, f"FAIL: turn 2 did not reuse the live session: {m.group(0)!r}"
assert b"Thinking" not in turn2, "FAIL: /nothink still showed thinking"

send("/quit\n")
deadline = time.time() + 20
while time.time() < deadline:
    done, status = os.waitpid(pid, os.WNOHANG)
    if done:
        break
    try:
        os.read(fd, 4096)
    except OSError:
        pass
    time.sleep(0.1)
else:
    os.kill(pid, signal.SIGKILL)
    raise SystemExit("FAIL: /quit did not exit")
assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, f"FAIL: exit status {status}"
print("ok: help, two turns with session reuse, /nothink, Ctrl+C, /quit")
