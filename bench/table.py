#!/usr/bin/env python3
"""Turns voucher-bench's JSON lines and the PostgreSQL run's JSON array into the comparison
table of bench/README.md, with each target of the performance issue marked met or not. A third,
optional file (bench/postgres/ledger.sh's JSON lines) adds the ledger on PostgreSQL
(voucherd --store postgres://…) beside them, with issue 17's speed targets."""
import json
import platform
import subprocess
import sys
from datetime import datetime, timezone


def json_lines(path):
    with open(path) as lines:
        return [json.loads(line) for line in lines if line.strip()]


def load(ledger_path, postgres_path):
    ledger = json_lines(ledger_path)
    with open(postgres_path) as file:
        postgres = json.load(file)
    return ledger, postgres


def find(runs, workload, distribution, concurrency):
    for run in runs:
        if run.get("workload", "redeem") == workload and run["distribution"] == distribution and run["concurrency"] == concurrency:
            return run
    return None


def verdict(met):
    return "met" if met else "**not met**"


def main(ledger_path, postgres_path, ledger_postgres_path=None):
    ledger, postgres = load(ledger_path, postgres_path)
    cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"], capture_output=True, text=True).stdout.strip()
    print(f"Measured {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC on {platform.node()}: {cpu}, "
          f"{subprocess.run(['nproc'], capture_output=True, text=True).stdout.strip()} cores, client and server on the same machine.\n")
    print("| run | ledger ok/s | ledger p50 ms | ledger p99 ms | PostgreSQL ok/s | PostgreSQL p99 ms | ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for run in ledger:
        workload, distribution, concurrency = run["workload"], run["distribution"], run["concurrency"]
        baseline = find(postgres, "redeem", distribution, concurrency) if workload == "redeem" else None
        pg_tps = f"{baseline['throughput_per_s']:.0f}" if baseline else "–"
        pg_p99 = f"{baseline['p99_ms']:.1f}" if baseline else "–"
        ratio = f"{run['throughput_per_s'] / baseline['throughput_per_s']:.2f}×" if baseline else "–"
        print(f"| {workload} {distribution} ×{concurrency} | {run['throughput_per_s']:.0f} | {run['p50_ms']:.2f} | "
              f"{run['p99_ms']:.2f} | {pg_tps} | {pg_p99} | {ratio} |")
    print()
    best_pg = max((run for run in postgres if run["distribution"] == "uniform"), key=lambda run: run["throughput_per_s"])
    hot_pg = find(postgres, "redeem", "hot", 64)
    noop = find(ledger, "noop", "uniform", 64)
    checks = []
    for clients in (1, 16, 64):
        ours, theirs = find(ledger, "redeem", "uniform", clients), find(postgres, "redeem", "uniform", clients)
        if ours and theirs:
            checks.append((f"redeem ×{clients} ≥ 2× PostgreSQL ×{clients}", ours["throughput_per_s"] >= 2 * theirs["throughput_per_s"],
                           f"{ours['throughput_per_s']:.0f} vs 2 × {theirs['throughput_per_s']:.0f}"))
    uniform = find(ledger, "redeem", "uniform", 64)
    hot = find(ledger, "redeem", "hot", 64)
    single = find(ledger, "redeem", "uniform", 1)
    pg_64 = find(postgres, "redeem", "uniform", 64)
    checks += [
        ("redeem ×64 ≥ 2× PostgreSQL's best at any count", uniform["throughput_per_s"] >= 2 * best_pg["throughput_per_s"],
         f"{uniform['throughput_per_s']:.0f} vs 2 × {best_pg['throughput_per_s']:.0f} (×{best_pg['concurrency']})"),
        ("one hot enterprise ×64 ≥ 10× PostgreSQL hot ×64", hot["throughput_per_s"] >= 10 * hot_pg["throughput_per_s"],
         f"{hot['throughput_per_s']:.0f} vs 10 × {hot_pg['throughput_per_s']:.0f}"),
        ("one client: p50 ≤ 0.3 ms per durable redemption", single["p50_ms"] <= 0.3, f"{single['p50_ms']:.3f} ms"),
        ("×64: p99 ≤ half PostgreSQL's p99 at 64", uniform["p99_ms"] <= 0.5 * pg_64["p99_ms"],
         f"{uniform['p99_ms']:.2f} ms vs {pg_64['p99_ms']:.1f} ms"),
        ("redeem ×64 ≥ 50% of the no-op gRPC ceiling", uniform["throughput_per_s"] >= 0.5 * noop["throughput_per_s"],
         f"{uniform['throughput_per_s']:.0f} vs 0.5 × {noop['throughput_per_s']:.0f}"),
    ]
    print("| target | result | measured |")
    print("|---|---|---|")
    for name, met, measured in checks:
        print(f"| {name} | {verdict(met)} | {measured} |")
    if ledger_postgres_path:
        print()
        on_postgres(ledger, postgres, json_lines(ledger_postgres_path))


def on_postgres(ledger, postgres, runs):
    """The ledger on PostgreSQL beside the ledger on sled and PostgreSQL's own redeem()."""
    print("| run (ledger on PostgreSQL) | ok/s | p50 ms | p99 ms | ledger on sled ok/s | PostgreSQL redeem() ok/s | ratio to redeem() |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for run in runs:
        workload, distribution, concurrency = run["workload"], run["distribution"], run["concurrency"]
        sled = find(ledger, workload, distribution, concurrency)
        baseline = find(postgres, "redeem", distribution, concurrency) if workload == "redeem" else None
        sled_tps = f"{sled['throughput_per_s']:.0f}" if sled else "–"
        pg_tps = f"{baseline['throughput_per_s']:.0f}" if baseline else "–"
        ratio = f"{run['throughput_per_s'] / baseline['throughput_per_s']:.2f}×" if baseline else "–"
        print(f"| {workload} {distribution} ×{concurrency} | {run['throughput_per_s']:.0f} | {run['p50_ms']:.2f} | "
              f"{run['p99_ms']:.2f} | {sled_tps} | {pg_tps} | {ratio} |")
    print()
    print("| target (issue 17) | result | measured |")
    print("|---|---|---|")
    for distribution, factor, name in (("uniform", 1, "redeem ×64 ≥ PostgreSQL's redeem() ×64"),
                                       ("hot", 5, "one hot enterprise ×64 ≥ 5× PostgreSQL's redeem() hot ×64")):
        ours, theirs = find(runs, "redeem", distribution, 64), find(postgres, "redeem", distribution, 64)
        if ours and theirs:
            met = ours["throughput_per_s"] >= factor * theirs["throughput_per_s"]
            print(f"| {name} | {verdict(met)} | {ours['throughput_per_s']:.0f} vs {factor} × {theirs['throughput_per_s']:.0f} "
                  f"({ours['throughput_per_s'] / theirs['throughput_per_s']:.2f}×) |")


if __name__ == "__main__":
    main(*sys.argv[1:4])
