"""Part 3 of scripts/bench: memory under hostile mail (review issue 10,
finding 5). Each shape is fed to secdesk and its peak RSS printed next to
the bound 4 x store.max_message_size + 32 MB; see BENCHMARKS.md, Method 3.
MB is 10^6 bytes, as store.max_message_size counts."""
import email.utils
import json
import os
import shutil
import subprocess
import time

MB = 1_000_000
# The memory section runs with the default limit, the one the systemd unit's
# MemoryMax= is sized for.
MEM_MAX_SIZE = "25MB"
MEM_MAX = 25 * MB


def memory_bound(max_bytes):
    """Peak RSS allowed for any input (review issue 10, finding 5)."""
    return 4 * max_bytes + 32 * MB


def hostile_head(name, to):
    return (f"From: Hostile <{name}@reporter.example>\r\nTo: {to}\r\n"
            f"Subject: {name}\r\nMessage-ID: <{name}-{time.time_ns()}@reporter.example>\r\n"
            f"Date: {email.utils.formatdate()}\r\n").encode()


def filled(head, unit, size, tail=b""):
    """head + unit repeated + tail, `size` bytes long (to within one unit)."""
    return head + unit * ((size - len(head) - len(tail)) // len(unit)) + tail


FIELD_100 = b"X-Junk-Field: " + b"a" * 84 + b"\r\n"  # 100 bytes
TINY_PART = b"--b\r\nContent-Type: text/plain\r\n\r\nx\r\n"

# Through `secdesk ingest`: (label, builder of the input given the inbox).
INGEST_CASES = [
    ("ingest: 100 MB header block, 100-byte fields",
     lambda to: filled(hostile_head("hdr100", to), FIELD_100, 100 * MB, b"\r\nbody\r\n")),
    ("ingest: 24 MB header block of X:a fields",
     lambda to: filled(hostile_head("tiny24", to), b"X:a\r\n", 24 * MB, b"\r\nbody\r\n")),
    ("ingest: 24 MB multipart body, tiny parts",
     lambda to: filled(hostile_head("parts24", to)
                       + b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n",
                       TINY_PART, 24 * MB, b"--b--\r\n")),
    ("ingest: 100 MB of one line",
     lambda to: filled(b"X-Long: ", b"a", 100 * MB)),
]


# ptrace(2) requests and options (linux/ptrace.h).
PTRACE_TRACEME, PTRACE_CONT, PTRACE_SETOPTIONS = 0, 7, 0x4200
PTRACE_O_TRACEEXIT, PTRACE_EVENT_EXIT = 0x40, 6


def run_peak(argv, **popen):
    """Runs argv to its end and returns (exit code, its own peak RSS in KiB).

    The peak is VmHWM read at the child's exit, while ptrace holds it
    there (PTRACE_O_TRACEEXIT) and its memory is still mapped. Not wait4's
    ru_maxrss: Linux keeps that across execve, so a child starts with the
    peak of the process that spawned it (this script, holding 100 MB
    inputs) and reports that instead of its own."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]

    def traceme():
        if libc.ptrace(PTRACE_TRACEME, 0, None, None) != 0:
            os._exit(127)

    p = subprocess.Popen(argv, preexec_fn=traceme, **popen)
    peak = None
    _, status = os.waitpid(p.pid, 0)  # stopped at its execve
    libc.ptrace(PTRACE_SETOPTIONS, p.pid, None, ctypes.c_void_p(PTRACE_O_TRACEEXIT))
    libc.ptrace(PTRACE_CONT, p.pid, None, None)
    while True:
        _, status = os.waitpid(p.pid, 0)
        if os.WIFEXITED(status) or os.WIFSIGNALED(status):
            break
        if status >> 16 == PTRACE_EVENT_EXIT:
            with open(f"/proc/{p.pid}/status") as f:
                peak = next(int(l.split()[1]) for l in f if l.startswith("VmHWM:"))
            sig = 0
        else:
            sig = os.WSTOPSIG(status)  # deliver what stopped it
        libc.ptrace(PTRACE_CONT, p.pid, None, ctypes.c_void_p(sig))
    p.returncode = os.waitstatus_to_exitcode(status)
    return p.returncode, peak


def ingest_peak(secdesk, cfg, path):
    """Runs `secdesk ingest -` on the file (as an MTA pipes a message);
    returns its peak RSS (KiB), its outcome and the seconds it took."""
    out_path, err_path = path + ".out", path + ".err"
    with open(path, "rb") as stdin, open(out_path, "wb") as out, open(err_path, "wb") as err:
        t0 = time.monotonic()
        code, peak = run_peak([secdesk, "--config", cfg, "ingest", "-", "--json"],
                              stdin=stdin, stdout=out, stderr=err)
        secs = time.monotonic() - t0
    if code != 0 or peak is None:
        raise RuntimeError(f"ingest {path}: exit {code}: {open(err_path).read()[-2000:]}")
    outcome = json.load(open(out_path)).get("outcome")
    return peak, outcome, secs


def video_report(name, to, wire_bytes):
    """A report with one base64 attachment, about `wire_bytes` long: the
    shape of the 25 MB message (mail-parser decodes and copies the part)."""
    import base64
    # base64 in 76-character lines, each ending in CRLF on the wire.
    payload = os.urandom(int((wire_bytes - 700) / (4 / 3 * 78 / 76)))
    b64 = base64.encodebytes(payload).decode().replace("\n", "\r\n")
    return (hostile_head(name, to).decode() + "MIME-Version: 1.0\r\n"
            "Content-Type: multipart/mixed; boundary=\"bb\"\r\n\r\n--bb\r\nContent-Type: text/plain\r\n\r\n"
            "Version 1. Steps in the video. Impact: RCE. Fix: see video.\r\n--bb\r\n"
            "Content-Type: video/mp4\r\nContent-Disposition: attachment; filename=\"poc.mp4\"\r\n"
            f"Content-Transfer-Encoding: base64\r\n\r\n{b64}\r\n--bb--\r\n").encode()


def flood_message(i, to):
    """A tiny auto-reply: many of them are a flood that answers nobody."""
    return (f"From: t{i}@flood.example\r\nTo: {to}\r\nSubject: flood {i}\r\n"
            f"Message-ID: <flood-{i}-{time.time_ns()}@flood.example>\r\n"
            "Auto-Submitted: auto-replied\r\n\r\nhi\r\n").encode()


# Through IMAP: (label, number of messages, builder of message i given the
# inbox). The
# 25 MB case interleaves 7 MB messages: under a 32 MB batch budget a 24.9 MB
# and a 7 MB message share one batch. The flood is many messages listed at
# once (the listing held every response's buffer).
IMAP_CASES = [
    ("IMAP: six 60 MB messages, 60 MB header blocks", 6,
     lambda i, to: filled(hostile_head(f"hdr60-{i}", to), FIELD_100, 60 * MB, b"\r\nbody\r\n")),
    ("IMAP: 24.9 MB and 7 MB messages, twice", 4,
     lambda i, to: video_report(f"big{i}", to, 24_900_000 if i % 2 == 0 else 7 * MB)),
    ("IMAP: 20,000 tiny messages at once", 20_000, flood_message),
]


def imap_peak(bench, count, build):
    """APPENDs `count` messages to the security inbox, starts the daemon on
    a fresh store, and returns its VmHWM (KiB) once all are recorded and
    every acknowledgement is sent, with the seconds that took."""
    bench.mailstack("start")
    m = bench.imap_login(bench.INBOX_USER, bench.INBOX_PASS)
    for i in range(count):
        m.append("INBOX", None, None, build(i, bench.INBOX_USER))
    m.logout()
    sdir = os.path.join(bench.WORK, "memory-imap")
    shutil.rmtree(sdir, ignore_errors=True)
    cfg = bench.config(sdir, max_size=MEM_MAX_SIZE)
    db = os.path.join(sdir, "cases.db")
    t0 = time.monotonic()
    d = bench.Daemon(cfg)
    try:
        done = lambda: bench.store_counts(db)[0] >= count and bench.store_counts(db)[1] == 0
        bench.wait_for(done, 900, 0.2)
        secs = time.monotonic() - t0
        peak = d.rss_kb("VmHWM")
    finally:
        d.stop()
    shutil.rmtree(sdir, ignore_errors=True)
    return peak, secs


def bench_hostile(bench):
    """Peak RSS of each hostile shape, next to the bound for the default
    25 MB limit. `bench` is the scripts/bench module: its binary, mail
    stack, configuration and daemon."""
    out = []
    hdir = os.path.join(bench.WORK, "hostile")
    shutil.rmtree(hdir, ignore_errors=True)
    os.makedirs(hdir)
    bound = memory_bound(MEM_MAX)
    for i, (label, build) in enumerate(INGEST_CASES):
        path = os.path.join(hdir, f"input-{i}.eml")
        raw = build(bench.INBOX_USER)
        with open(path, "wb") as f:
            f.write(raw)
        size = len(raw)
        del raw
        sdir = os.path.join(hdir, f"store-{i}")
        cfg = bench.config(sdir, max_size=MEM_MAX_SIZE)
        peak, outcome, secs = ingest_peak(bench.BIN, cfg, path)
        out.append({"case": label, "bytes": size, "peak_rss_kb": peak, "outcome": outcome,
                    "seconds": secs, "bound_bytes": bound})
        print(f"  {label}: peak {peak * 1024 / MB:.1f} MB (bound {bound / MB:.0f} MB), "
              f"{outcome}, {secs:.1f} s", flush=True)
        os.remove(path)
        shutil.rmtree(sdir, ignore_errors=True)
    for label, count, build in IMAP_CASES:
        peak, secs = imap_peak(bench, count, build)
        out.append({"case": label, "messages": count, "peak_rss_kb": peak, "seconds": secs,
                    "bound_bytes": bound})
        print(f"  {label}: peak {peak * 1024 / MB:.1f} MB (bound {bound / MB:.0f} MB), "
              f"{secs:.1f} s", flush=True)
    shutil.rmtree(hdir, ignore_errors=True)
    return out


def print_memory(big_size, big_peak, hostile):
    """The memory table: each peak next to its bound."""
    rows = [(f"one {big_size / MB:.1f} MB message (IMAP, max 26 MB)", big_peak * 1024,
             memory_bound(26 * MB))]
    rows += [(h["case"], h["peak_rss_kb"] * 1024, h["bound_bytes"]) for h in hostile]
    print()
    print(f"| {'peak RSS (VmHWM), MB = 10^6 bytes':<50} | {'peak':>9} | {'bound':>9} |")
    print(f"|{'-' * 52}|{'-' * 11}|{'-' * 11}|")
    for name, peak, bound in rows:
        mark = "" if peak <= bound else "  OVER"
        print(f"| {name:<50} | {peak / MB:>6.1f} MB | {bound / MB:>6.0f} MB |{mark}")
