#!/usr/bin/python3
"""Writes a synthetic training CSV in the format of `streamscore export-training-data`.

For developing and smoke-testing train.py without the Java exporter. The rows are
drawn independently per fraud pattern (no real card histories), so the resulting
quality numbers say nothing about the real pipeline.

    /usr/bin/python3 models/training/make_synthetic_data.py \
        --out models/training/data/synthetic.csv --rows 400000 --seed 7
"""
import argparse
import os

import numpy as np

FEATURES = [
    "amount_log", "card_present", "channel_ecom", "channel_atm", "high_risk_mcc",
    "hour_sin", "hour_cos", "txn_count_1h", "txn_count_24h", "amount_sum_1h_log",
    "amount_sum_24h_log", "secs_since_prev_log", "country_changed", "foreign",
    "amount_to_avg_log", "small_ecom_count_1h", "distinct_countries_24h",
    "history_count_log",
]
PATTERNS = ["card_testing", "account_takeover", "merchant_compromise"]


def generate(rows, fraud_rate, rng):
    is_fraud = rng.random(rows) < fraud_rate
    pattern = np.where(is_fraud, rng.choice(PATTERNS, size=rows), "none")
    # Label noise: a few frauds look entirely legitimate and vice versa.
    look = pattern.copy()
    flip = rng.random(rows) < 0.15
    look[flip & is_fraud] = "none"

    n = rows
    hour = rng.normal(14, 4.5, n) % 24
    amount = np.exp(rng.normal(3.3, 1.1, n))
    channel = rng.choice(3, size=n, p=[0.55, 0.38, 0.07])  # pos, ecom, atm
    foreign = (rng.random(n) < 0.05).astype(float)
    high_risk = (rng.random(n) < 0.06).astype(float)
    cnt1h = rng.poisson(0.4, n)
    cnt24h = cnt1h + rng.poisson(2.5, n)
    secs_prev = np.exp(rng.normal(9.5, 1.8, n))
    country_changed = (rng.random(n) < 0.03).astype(float)
    small_ecom = rng.poisson(0.05, n)
    countries = 1 + rng.poisson(0.08, n)
    history = rng.poisson(120, n) * (rng.random(n) < 0.97)
    avg = amount * np.exp(rng.normal(0, 0.7, n))

    ct = look == "card_testing"
    k = ct.sum()
    amount[ct] = rng.uniform(0.5, 5, k)
    channel[ct] = 1
    cnt1h[ct] = rng.integers(3, 25, k)
    cnt24h[ct] = cnt1h[ct] + rng.poisson(3, k)
    small_ecom[ct] = np.maximum(cnt1h[ct] - rng.integers(0, 3, k), 0)
    secs_prev[ct] = np.exp(rng.normal(4, 1.5, k))

    ato = look == "account_takeover"
    k = ato.sum()
    amount[ato] = np.exp(rng.normal(5.5, 1.0, k))
    avg[ato] = np.exp(rng.normal(3.3, 0.8, k))
    country_changed[ato] = (rng.random(k) < 0.6).astype(float)
    foreign[ato] = (rng.random(k) < 0.5).astype(float)
    countries[ato] = 1 + rng.integers(0, 3, k)
    channel[ato] = rng.choice(3, size=k, p=[0.2, 0.6, 0.2])
    hour[ato] = rng.normal(3, 3, k) % 24

    mc = look == "merchant_compromise"
    k = mc.sum()
    high_risk[mc] = (rng.random(k) < 0.55).astype(float)
    amount[mc] = np.exp(rng.normal(4.5, 1.0, k))
    channel[mc] = rng.choice(3, size=k, p=[0.7, 0.1, 0.2])
    foreign[mc] = (rng.random(k) < 0.3).astype(float)

    card_present = (channel == 0).astype(float) * (rng.random(n) < 0.97)
    amount_sum1h = amount * (1 + cnt1h * rng.uniform(0.3, 1.5, n))
    amount_sum24h = amount_sum1h + amount * cnt24h * rng.uniform(0.2, 1.2, n)
    X = np.column_stack([
        np.log1p(amount), card_present, (channel == 1).astype(float),
        (channel == 2).astype(float), high_risk,
        np.sin(2 * np.pi * hour / 24), np.cos(2 * np.pi * hour / 24),
        cnt1h, cnt24h, np.log1p(amount_sum1h), np.log1p(amount_sum24h),
        np.log1p(secs_prev), country_changed, foreign,
        np.log(amount / avg), small_ecom, countries, np.log1p(history),
    ]).astype(np.float32)
    return pattern, is_fraud.astype(int), X


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--rows", type=int, default=400_000)
    ap.add_argument("--fraud-rate", type=float, default=0.005)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    pattern, label, X = generate(args.rows, args.fraud_rate, rng)
    start = 1_767_225_600_000  # 2026-01-01T00:00:00Z
    event_time = start + np.cumsum(rng.integers(1, 4000, args.rows))
    cards = rng.integers(0, 50_000, args.rows)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        f.write(",".join(["transaction_id", "card_id", "event_time", "fraud_pattern", "label"]
                         + FEATURES) + "\n")
        for i in range(args.rows):
            vals = ",".join(str(v) for v in X[i])
            f.write(f"tx-{i:08d},card-{cards[i]:06d},{event_time[i]},{pattern[i]},{label[i]},{vals}\n")
    print(f"wrote {args.rows} rows ({label.sum()} frauds) to {args.out}")


if __name__ == "__main__":
    main()
