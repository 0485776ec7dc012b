"""The runner's noise, measured before a run: the spread of a fixed probe and the CPU time stolen by the host.

The probe is a fixed piece of CPU work (a loop of integer arithmetic in this interpreter), timed many times over
about a second. On a quiet machine its times agree to a percent or two; on a runner shared with other tenants they
spread. Steal is the share of CPU time the hypervisor gave to someone else while the probe ran, from the `steal`
column of /proc/stat (Linux; None elsewhere or where the kernel does not expose it).

A record (JSON, stored with the run and beside the gate's verdicts):
  {"probe": "int-loop-20000", "samples": n, "median_s": ..., "spread": robust cv (1.4826 MAD / median),
   "steal": share of CPU time stolen or null, "loadavg": 1-minute load, "cpus": os.cpu_count(), "noisy": bool}

Standard library only.
"""

import os
import statistics
import time

PROBE = "int-loop-20000"
NOISY_SPREAD = 0.05    # the probe's robust cv above this: noisy (bench_parallel's `noisy` label uses 5% too)
NOISY_STEAL = 0.05     # more than 5% of CPU time stolen: noisy


def _work():
    x = 0
    for i in range(20000):
        x = (x * 31 + i) & 0xFFFF
    return x


def _cpu_times(path="/proc/stat"):
    """(total, steal) jiffies of all CPUs, or None where /proc/stat has no steal column."""
    try:
        with open(path, encoding="ascii") as f:
            fields = f.readline().split()
    except OSError:
        return None
    if len(fields) < 9 or fields[0] != "cpu":
        return None
    values = [int(v) for v in fields[1:]]
    # user nice system idle iowait irq softirq steal [guest guest_nice]: guests are already in user and nice.
    return sum(values[:8]), values[7]


def classify(spread, steal):
    return spread > NOISY_SPREAD or (steal is not None and steal > NOISY_STEAL)


def probe(seconds=1.0, min_samples=10):
    """Time the probe for about `seconds` (at least min_samples times) and return the record."""
    before = _cpu_times()
    samples: list[float] = []
    start = time.perf_counter()
    while len(samples) < min_samples or time.perf_counter() - start < seconds:
        t0 = time.perf_counter()
        _work()
        samples.append(time.perf_counter() - t0)
    after = _cpu_times()
    median = statistics.median(samples)
    mad = statistics.median(abs(s - median) for s in samples)
    spread = 1.4826 * mad / median
    steal = None
    if before and after and after[0] > before[0]:
        steal = (after[1] - before[1]) / (after[0] - before[0])
    return {"probe": PROBE, "samples": len(samples), "median_s": median, "spread": spread, "steal": steal,
            "loadavg": os.getloadavg()[0], "cpus": os.cpu_count(), "noisy": classify(spread, steal)}


def check(record, where):
    """record if it is a noise record, else ValueError naming where."""
    if not isinstance(record, dict):
        raise ValueError(f"{where}: the noise record is not an object")
    for key in ("spread", "median_s"):
        if not isinstance(record.get(key), (int, float)) or record[key] < 0:
            raise ValueError(f"{where}: the noise record's {key} is not a number >= 0")
    steal = record.get("steal")
    if steal is not None and not (isinstance(steal, (int, float)) and 0 <= steal <= 1):
        raise ValueError(f"{where}: the noise record's steal is not null or a share in [0, 1]")
    if not isinstance(record.get("noisy"), bool):
        raise ValueError(f"{where}: the noise record's noisy is not true or false")
    return record


def describe(record):
    """One line: 'runner noise: probe spread 1.2%, steal 0.0%, load 0.5 on 2 CPUs (quiet)'."""
    if not record:
        return "runner noise: not measured"
    steal = "not exposed" if record.get("steal") is None else f"{record['steal']:.1%}"
    load = record.get("loadavg")
    load_text = f", load {load:.2f} on {record.get('cpus')} CPUs" if isinstance(load, (int, float)) else ""
    verdict = ("NOISY: figures from this runner move more than usual" if record.get("noisy") else "quiet")
    return f"runner noise: probe spread {record['spread']:.1%}, steal {steal}{load_text} ({verdict})"


def sentence(record, note=None):
    """describe() as a sentence: 'Runner noise: … (quiet; note).'"""
    text = describe(record)
    if note:
        text = text[:-1] + f"; {note})" if text.endswith(")") else f"{text} ({note})"
    return text[0].upper() + text[1:] + "."


def main(argv):
    import json
    import sys

    from . import cli
    p = cli.ArgumentParser(prog="parbench-noise-probe", description="Measure the runner's noise (a fixed probe's "
                           "spread and the CPU time stolen) and write the record as JSON.",
                           epilog="exit status: 0 measured (noisy or not), 2 usage error")
    p.add_argument("--seconds", type=float, default=1.0, help="how long to probe (default 1)")
    p.add_argument("--out", default=None, help="write the JSON here (default: stdout)")
    args = p.parse_args(argv)
    if not 0 < args.seconds <= 600:
        p.error("--seconds must be in (0, 600]")
    record = probe(args.seconds)
    cli.emit(json.dumps(record, indent=1, sort_keys=True) + "\n", args.out)
    print(f"parbench-noise-probe: {describe(record)}", file=sys.stderr)
    return cli.EXIT_OK


def entry_point():
    import sys

    from . import cli
    sys.exit(cli.run("parbench-noise-probe", main))
