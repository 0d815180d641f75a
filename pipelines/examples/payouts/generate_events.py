#!/usr/bin/python3
"""Simulated merchant payouts for the merchant-payouts example pipeline (payouts.yaml).

    /usr/bin/python3 pipelines/examples/payouts/generate_events.py --seed 7 \
        --merchants 300 --days 60 --out events.jsonl --labels labels.csv

Writes one JSON object per line, a Payout of Payout.avsc (method as its symbol,
requested_at in integer milliseconds, note null or a string), in event-time order
(ties keep the order they were generated in). Standard library only; the same
arguments always give the same bytes.

Genuine merchants pay out on their own rhythm (scheduled daily or weekly runs, or on
demand), in amounts around their own typical size, mostly by ACH, some by wire, some
habitually by instant payout, at their own business hours. A few change their bank
account once for good, a few alternate between two accounts, and now and then a payout
is much larger than usual.

A share of merchants (--takeover-rate) suffers an account takeover: the attacker adds a
new bank account (abroad half of the time) and pays the balance out to it, either in a
burst (an optional small test payout, then 3 to 8 large payouts, mostly instant, minutes
apart, at any hour) or slowly (2 to 4 somewhat larger payouts over one to three days,
looking more like the merchant). Every payout to the attacker's account is fraud
(label 1); everything else, including the merchant's own payouts during and after the
takeover, is genuine (label 0). --labels writes `payout_id,label` in the same order as
the events.
"""
import argparse
import datetime
import json
import math
import random
import sys

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS

# Merchant home countries: (country, currency, share of merchants, usual payout hour in UTC).
HOMES = [
    ("US", "USD", 0.34, 17.0),
    ("GB", "GBP", 0.12, 11.0),
    ("DE", "EUR", 0.10, 10.0),
    ("FR", "EUR", 0.07, 10.0),
    ("NL", "EUR", 0.05, 10.0),
    ("ES", "EUR", 0.05, 11.0),
    ("CA", "CAD", 0.08, 17.0),
    ("AU", "AUD", 0.06, 1.0),
    ("BR", "BRL", 0.05, 15.0),
    ("MX", "MXN", 0.04, 18.0),
    ("IN", "INR", 0.04, 6.0),
]
# Where a takeover's new account sits when it is abroad.
MULE_COUNTRIES = ["LT", "RO", "NG", "PH", "VN", "HK", "AE", "UA", "GB", "US"]
GENUINE_NOTES = ["weekly settlement", "daily sweep", "rent", "payroll", "supplier invoice",
                 "end of month", "tax reserve"]
FRAUD_NOTES = ["urgent", "refund", "transfer"]


def weighted(rng, items, weights):
    return rng.choices(items, weights=weights, k=1)[0]


class Generator:
    def __init__(self, seed, start_ms, days):
        self.rng = random.Random(seed)
        self.start_ms = start_ms
        self.end_ms = start_ms + days * DAY_MS
        self.days = days
        self.events = []  # (requested_at, sequence, event dict, label)
        self.ids = {}

    def new_id(self, prefix, bits=48):
        while True:
            value = f"{prefix}_{self.rng.getrandbits(bits):0{bits // 4}x}"
            if value not in self.ids:
                self.ids[value] = True
                return value

    def emit(self, merchant, at_ms, amount, account, country, method, note, label):
        if not (self.start_ms <= at_ms < self.end_ms):
            return
        event = {
            "payout_id": self.new_id("po", 64),
            "merchant_id": merchant["id"],
            "amount_minor": max(1, int(round(amount))),
            "currency": merchant["currency"],
            "bank_account_id": account,
            "country": country,
            "method": method,
            "requested_at": int(at_ms),
            "note": note,
        }
        self.events.append((event["requested_at"], len(self.events), event, label))

    # ------------------------------------------------------------------ merchants

    def merchant(self, index):
        rng = self.rng
        country, currency, _, peak = weighted(rng, HOMES, [h[2] for h in HOMES])
        style = weighted(rng, ["scheduled_daily", "scheduled_weekly", "on_demand", "occasional"],
                         [0.07, 0.28, 0.33, 0.32])
        instant_lover = rng.random() < 0.15
        median = math.exp(rng.gauss(math.log(60_000), 1.1))  # typical payout, minor units
        median = min(max(median, 1_500), 20_000_000)
        if instant_lover:
            mix = [0.25, 0.0, 0.75]
        elif median > 1_000_000:
            mix = [0.55, 0.40, 0.05]
        else:
            mix = [0.85, 0.05, 0.10]
        return {
            "id": f"mer_{index:05d}",
            "country": country,
            "currency": currency,
            "peak": (peak + rng.gauss(0, 1.5)) % 24,
            "style": style,
            "median": median,
            "spread": rng.uniform(0.2, 0.6),
            "mix": mix,
            "accounts": [self.new_id("ba", 40)],
            "note_rate": rng.choice([0.0, 0.0, 0.05, 0.3]),
        }

    def genuine_times(self, m):
        """Event times of the merchant's own payouts over the whole period."""
        rng = self.rng
        times = []
        first_day = rng.randrange(0, max(1, self.days // 6))  # some merchants join late
        t0 = self.start_ms + first_day * DAY_MS
        if m["style"].startswith("scheduled"):
            step = 1 if m["style"] == "scheduled_daily" else 7
            if step == 1 and rng.random() < 0.5:
                step = 2
            minute = rng.uniform(0, 60)
            day = first_day + rng.randrange(step)
            while day < self.days:
                if rng.random() > 0.04:  # a skipped run now and then
                    at = (self.start_ms + day * DAY_MS + int(math.floor(m["peak"])) * HOUR_MS
                          + int(minute * 60_000) + rng.randrange(0, 90_000))
                    times.append(at)
                day += step
        else:
            per_day = rng.uniform(0.1, 0.4) if m["style"] == "on_demand" else rng.uniform(0.02, 0.1)
            t = t0 + rng.expovariate(per_day) * DAY_MS
            while t < self.end_ms:
                day_start = int(t) - int(t) % DAY_MS
                hour = (m["peak"] + rng.gauss(0, 2.5)) % 24
                times.append(day_start + int(hour * HOUR_MS) + rng.randrange(0, 60_000))
                t += rng.expovariate(per_day) * DAY_MS
        return sorted(times)

    def genuine_amount(self, m):
        amount = m["median"] * math.exp(self.rng.gauss(0, m["spread"]))
        if self.rng.random() < 0.02:  # month-end, seasonal peak
            amount *= self.rng.uniform(2, 5)
        return amount

    def genuine_note(self, m):
        return self.rng.choice(GENUINE_NOTES) if self.rng.random() < m["note_rate"] else None

    def add_merchant(self, index, takeover_rate):
        rng = self.rng
        m = self.merchant(index)
        times = self.genuine_times(m)
        # Genuine account behaviour: one permanent change, or two accounts in turn.
        change_at = None
        if rng.random() < 0.06:
            m["accounts"].append(self.new_id("ba", 40))
            change_at = self.start_ms + rng.uniform(0.2, 0.9) * (self.end_ms - self.start_ms)
        alternate = change_at is None and rng.random() < 0.04
        if alternate:
            m["accounts"].append(self.new_id("ba", 40))
        new_country = m["country"] if rng.random() < 0.9 else rng.choice(MULE_COUNTRIES)
        for i, at in enumerate(times):
            if change_at is not None and at >= change_at:
                account, country = m["accounts"][1], new_country
            elif alternate:
                account, country = m["accounts"][i % 2], m["country"]
            else:
                account, country = m["accounts"][0], m["country"]
            method = weighted(rng, ["ACH", "WIRE", "INSTANT"], m["mix"])
            self.emit(m, at, self.genuine_amount(m), account, country, method,
                      self.genuine_note(m), 0)
        if rng.random() < takeover_rate:
            self.takeover(m)

    # ------------------------------------------------------------------ fraud

    def takeover(self, m):
        rng = self.rng
        account = self.new_id("ba", 40)
        country = rng.choice(MULE_COUNTRIES) if rng.random() < 0.5 else m["country"]
        t = self.start_ms + rng.uniform(0.1, 0.97) * (self.end_ms - self.start_ms)
        note = rng.choice(FRAUD_NOTES) if rng.random() < 0.05 else None
        if rng.random() < 0.6:  # burst
            t = t - t % DAY_MS + rng.uniform(0, 24) * HOUR_MS  # any hour
            if rng.random() < 0.3:  # small test payout first
                self.emit(m, t, rng.uniform(100, 5_000), account, country, "INSTANT", None, 1)
                t += rng.uniform(5, 90) * 60_000
            for _ in range(rng.randint(3, 8)):
                method = "INSTANT" if rng.random() < 0.85 else "WIRE"
                amount = m["median"] * rng.uniform(1.5, 6.0)
                self.emit(m, t, amount, account, country, method, note, 1)
                t += rng.uniform(2, 60) * 60_000
        else:  # slow, merchant-like
            for _ in range(rng.randint(2, 4)):
                hour = (m["peak"] + rng.gauss(0, 4)) % 24
                at = t - t % DAY_MS + hour * HOUR_MS
                method = weighted(rng, ["ACH", "INSTANT", "WIRE"], [0.45, 0.45, 0.10])
                amount = m["median"] * rng.uniform(1.0, 3.0)
                self.emit(m, at, amount, account, country, method, note, 1)
                t += rng.uniform(0.3, 1.2) * DAY_MS


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--merchants", type=int, default=300)
    ap.add_argument("--days", type=int, default=60)
    ap.add_argument("--start", default="2024-03-01", help="first simulated day (UTC), YYYY-MM-DD")
    ap.add_argument("--takeover-rate", type=float, default=0.05,
                    help="share of merchants whose account is taken over once")
    ap.add_argument("--out", default="-", help="JSON-lines file (default: stdout)")
    ap.add_argument("--labels", help="also write payout_id,label (1 fraud, 0 genuine) here")
    args = ap.parse_args()

    start = datetime.datetime.strptime(args.start, "%Y-%m-%d").replace(tzinfo=datetime.timezone.utc)
    gen = Generator(args.seed, int(start.timestamp()) * 1000, args.days)
    for i in range(args.merchants):
        gen.add_merchant(i, args.takeover_rate)
    gen.events.sort(key=lambda e: (e[0], e[1]))

    out = sys.stdout if args.out == "-" else open(args.out, "w", encoding="utf-8", newline="\n")
    try:
        for _, _, event, _ in gen.events:
            out.write(json.dumps(event, separators=(",", ":")) + "\n")
    finally:
        if out is not sys.stdout:
            out.close()
    if args.labels:
        with open(args.labels, "w", encoding="utf-8", newline="\n") as f:
            f.write("payout_id,label\n")
            for _, _, event, label in gen.events:
                f.write(f"{event['payout_id']},{label}\n")
    frauds = sum(e[3] for e in gen.events)
    print(f"{len(gen.events)} payouts of {args.merchants} merchants over {args.days} days, "
          f"{frauds} fraud ({frauds / max(len(gen.events), 1):.2%})", file=sys.stderr)


if __name__ == "__main__":
    main()
