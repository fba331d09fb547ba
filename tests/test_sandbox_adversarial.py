"""Hostile programs against the namespace sandbox: each gets an honest verdict, the host is
untouched, and correct programs interleaved with them still pass.

Most hostile programs *assert that their attack worked*: a sandbox that holds gives them a
non-passing verdict. The test also checks the host side of every attack.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from evalkit.executor import Limits
from evalkit.sandbox import SandboxExecutor, namespaces_available

pytestmark = pytest.mark.skipif(not namespaces_available(), reason="needs bubblewrap")

SECRET = "sk-evalkit-test-secret-4242"
CORRECT = "def add(a, b):\n    return a + b\n\nfor i in range(50):\n    assert add(i, 1) == i + 1\n"
NOT_PASSED = {"failed", "error", "timeout", "memory", "killed"}

HOSTILE: dict[str, tuple[str, set[str]]] = {
    "os._exit(0) before the tests": ("import os\nos._exit(0)\nassert False\n", {"error"}),
    "sys.exit(0) before the tests": ("import sys\nsys.exit(0)\nassert False\n", {"error"}),
    "atexit rewrites the exit status": (
        "import atexit, os\natexit.register(lambda: os._exit(0))\nassert False, 'fails'\n",
        {"failed"},
    ),
    "prints a success marker": (
        'print(\'{"status": "passed"}\')\nprint("passed")\nassert False\n',
        {"failed"},
    ),
    "forges a verdict without the nonce": (
        "import os\nfor fd in range(3, 1024):\n    try:\n"
        '        os.write(fd, b\'{"status": "passed"}\\n\')\n    except OSError:\n        pass\n'
        "os._exit(0)\n",
        {"error"},
    ),
    "kill(-1)": ("import os, signal\nos.kill(-1, signal.SIGKILL)\nassert False\n", NOT_PASSED),
    "killpg(0)": ("import os, signal\nos.killpg(0, signal.SIGKILL)\nassert False\n", {"killed"}),
    "kill(getppid())": (
        "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nimport time\n"
        "time.sleep(0.5)\nassert False\n",
        NOT_PASSED,
    ),
    "fork bomb": ("import os\nwhile True:\n    os.fork()\n", NOT_PASSED),
    "thread bomb": (
        "import threading, time\nwhile True:\n"
        "    threading.Thread(target=time.sleep, args=(60,), daemon=True).start()\n",
        {"error", "timeout"},
    ),
    "memory bomb": ("x = bytearray(64 * 1024**3)\n", {"memory"}),
    "memory creep": ("xs = []\nwhile True:\n    xs.append(' ' * 10**7)\n", {"memory"}),
    "output flood": ("import sys\nwhile True:\n    sys.stdout.write('x' * 65536)\n", {"timeout"}),
    "infinite loop": ("while True:\n    pass\n", {"timeout"}),
    "sleeps past the wall clock": ("import time\ntime.sleep(60)\n", {"timeout"}),
    "raises its rlimits": (
        "import resource\ninf = resource.RLIM_INFINITY\n"
        "resource.setrlimit(resource.RLIMIT_AS, (inf, inf))\n"
        "resource.setrlimit(resource.RLIMIT_NPROC, (inf, inf))\n",
        {"error"},
    ),
    "writes outside its scratch directory": (
        "open({host_file!r}, 'w').write('pwned')\n",
        {"error"},
    ),
    "writes to the system": ("open('/usr/evalkit-pwned', 'w').write('x')\n", {"error"}),
    "writes a huge file": (
        "with open('big', 'wb') as f:\n    for _ in range(200):\n"
        "        f.write(b'0' * 1024 * 1024)\n",
        {"error"},
    ),
    "reads a host file": ("print(open({host_secret_file!r}).read())\n", {"error"}),
    "reads other processes' environ": (
        "import os\nfound = False\nfor pid in os.listdir('/proc'):\n"
        "    try:\n        found |= {secret!r} in open(f'/proc/{pid}/environ').read()\n"
        "    except OSError:\n        pass\nassert found, 'secret not found'\n",
        {"failed"},
    ),
    "reads the harness's environ by pid": (
        "print(open('/proc/{harness_pid}/environ').read())\n",
        {"error"},
    ),
    "sees the harness's secret in its own environment": (
        "import os\nassert {secret!r} in repr(dict(os.environ))\n",
        {"failed"},
    ),
    "connects to a host listener on 127.0.0.1": (
        "import socket\ns = socket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
        "s.sendall(b'pwned')\n",
        {"error"},
    ),
    "leaves a daemon behind": (
        "import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
        "        time.sleep(30)\n        os._exit(0)\n    os._exit(0)\n"
        "time.sleep(0.2)\nassert False\n",
        {"failed"},
    ),
}


@pytest.fixture
def listener() -> Iterator[tuple[int, list[bytes]]]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    received: list[bytes] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            with conn:
                received.append(conn.recv(100) or b"<connected>")

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1], received
    stop.set()
    thread.join()
    server.close()


def _fill(program: str, values: dict[str, object]) -> str:
    """Put the test's paths, ports and secrets into a program ({key} or {key!r})."""
    for key, value in values.items():
        program = program.replace(f"{{{key}!r}}", repr(value)).replace(f"{{{key}}}", str(value))
    return program


def _uids_processes(uids: set[int]) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        fields = dict(ln.split(":", 1) for ln in status.splitlines() if ":" in ln)
        if int(fields["Uid"].split()[1]) in uids and fields["State"].strip()[0] not in "ZX":
            pids.append(int(entry.name))
    return pids


def test_hostile_programs(
    tmp_path: Path, listener: tuple[int, list[bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    port, received = listener
    host_file = tmp_path / "pwned"
    host_secret_file = tmp_path / "secret.txt"
    host_secret_file.write_text(SECRET)
    values = {
        "host_file": str(host_file),
        "host_secret_file": str(host_secret_file),
        "secret": SECRET,
        "harness_pid": os.getpid(),
        "port": port,
    }
    sentinel = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    jobs: list[tuple[str, str, set[str]]] = []
    for name, (program, expected) in HOSTILE.items():
        jobs.append((name, _fill(program, values), expected))
        jobs.append((f"correct after {name}", CORRECT, {"passed"}))

    executor = SandboxExecutor(
        "namespaces", Limits(timeout_s=3.0, memory_bytes=512 * 1024**2, file_size_bytes=8 * 1024**2)
    )
    try:
        with ThreadPoolExecutor(executor.parallelism) as pool:
            results = list(pool.map(lambda job: executor.run(job[1]), jobs))
        uids = {w.uid for w in executor._all if w.uid is not None}
        survivors = _uids_processes(uids) if os.geteuid() == 0 else []
        deadline = time.monotonic() + 2  # SIGKILLed processes may take a moment to die
        while survivors and time.monotonic() < deadline:
            time.sleep(0.05)
            survivors = _uids_processes(uids)
        after = executor.run(CORRECT)
    finally:
        executor.close()
        alive = sentinel.poll() is None
        sentinel.kill()
        sentinel.wait()

    wrong = {
        name: (result.status, result.error_type, result.detail[:120])
        for (name, _, expected), result in zip(jobs, results, strict=True)
        if result.status not in expected
    }
    assert not wrong, wrong
    assert after.status == "passed"
    assert alive, "a sandboxed program killed a process outside the sandbox"
    assert not host_file.exists(), "a program wrote outside its scratch directory"
    assert not Path("/usr/evalkit-pwned").exists()
    assert received == [], "a program reached a listener on the host's loopback"
    assert survivors == [], [Path(f"/proc/{p}/status").read_text()[:300] for p in survivors]
    flood = results[[j[0] for j in jobs].index("output flood")]
    assert len(flood.stderr_tail) <= 2000


def test_wall_clock_kill_is_prompt_and_tree_wide() -> None:
    program = (
        "import os, time\nfor _ in range(5):\n    if os.fork() == 0:\n"
        "        while True:\n            pass\ntime.sleep(60)\n"
    )
    with SandboxExecutor("namespaces", Limits(timeout_s=1.0), workers=1) as executor:
        start = time.monotonic()
        result = executor.run(program)
        elapsed = time.monotonic() - start
        assert result.status == "timeout"
        assert elapsed < 5
        assert executor.run(CORRECT).status == "passed"


def test_harness_signal_does_not_reach_through(tmp_path: Path) -> None:
    """A program cannot see the harness: its own PID namespace lists only sandbox processes."""
    program = (
        "import os\npids = [p for p in os.listdir('/proc') if p.isdigit()]\n"
        f"assert str({os.getpid()}) not in pids or int(max(pids, key=int)) < 100\n"
        "assert len(pids) < 10, pids\n"
    )
    with SandboxExecutor("namespaces", workers=1) as executor:
        assert executor.run(program).status == "passed"
    assert signal.getsignal(signal.SIGINT) is not None


def test_a_program_cannot_leave_files_for_the_next_one() -> None:
    """Unwritable leftovers in the scratch directory are removed all the same."""
    litter = (
        "import os\nos.makedirs('a/b')\nopen('a/b/f', 'w').write('x' * 1000)\n"
        "os.chmod('a/b', 0)\nos.chmod('a', 0o500)\n"
    )
    clean = "import os\nassert os.listdir('.') == [], os.listdir('.')\n"
    with SandboxExecutor("namespaces", workers=1) as executor:
        for _ in range(3):
            assert executor.run(litter).status == "passed"
            assert executor.run(clean).status == "passed"
