package dev.streamscore.pipeline.features;

import dev.streamscore.pipeline.expr.EvalException;
import dev.streamscore.pipeline.expr.Expr;
import dev.streamscore.pipeline.expr.ValueType;
import dev.streamscore.pipeline.expr.Variables;
import dev.streamscore.pipeline.expr.Vars;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * A pipeline's feature function: one event (its fields loaded into {@link #vars()}) and its key's
 * {@link KeyState} in, the model's float32 row out, the state updated. The same code serves the
 * streaming job (state in Flink's keyed state) and the offline export ({@code pipeline features}),
 * so that training and serving cannot disagree. One instance per subtask or thread: it keeps
 * scratch space and is not thread-safe.
 *
 * <h2>Semantics</h2>
 *
 * An aggregate of event {@code e} at time {@code t} covers the key's other events already received
 * whose time is at most {@code t} and, with a window, greater than {@code t - window}; {@code
 * first}/{@code last} take the earliest/latest of those in (event time, then arrival) order. So a
 * late event is scored as of its own time, and an in-order stream gets what the offline export
 * computes over the same events sorted by time.
 *
 * <p>Exact up to two bounds, both counted: the ring of recent events keeps those within {@link
 * #retentionMillis()} (the longest window, plus as much again for late events, at least an hour) of
 * the key's newest event, at most {@code maxEventsPerKey} of them, oldest out first ({@link
 * #droppedOverLimit()}); whole-history aggregates keep running values of every event. An event
 * older than an event that already left the ring ({@link #lateBeyondHistory()}) is scored with
 * whole-history {@code count}, {@code sum} and {@code avg} that still count the forgotten later
 * events' share, and with {@code min}, {@code max} and {@code distinct} that include them.
 */
public final class FeatureEngine {

    private final Aggregate[] aggregates;
    private final Variables.Variable[] aggregateVars;
    private final String[] featureNames;
    private final Expr[] features;
    private final List<String> checkSources;
    private final Expr[] checks;
    private final Vars vars;
    private final long retentionMillis;
    private final int maxEventsPerKey;

    // Scratch, per aggregate.
    private final double[] curNum;
    private final Object[] curObj;
    private final double[] count;
    private final double[] sum;
    private final double[] min;
    private final double[] max;
    private final Object[] first;
    private final Object[] last;
    private final long[] firstTime;
    private final long[] lastTime;
    private final boolean[] seenFirst;
    private final boolean[] seenLast;
    private final Set<Object>[] distinct;

    private long droppedOverLimit;
    private long lateBeyondHistory;

    /**
     * @param aggregateVars each aggregate's variable in {@code vars}, in the order of {@code
     *     aggregates}
     */
    @SuppressWarnings("unchecked")
    public FeatureEngine(
            List<Aggregate> aggregates,
            List<Variables.Variable> aggregateVars,
            List<String> featureNames,
            List<Expr> features,
            List<Expr> checks,
            Vars vars,
            int maxEventsPerKey) {
        if (maxEventsPerKey < 1) {
            throw new IllegalArgumentException(
                    "max events per key must be positive, got " + maxEventsPerKey);
        }
        this.aggregates = aggregates.toArray(new Aggregate[0]);
        this.aggregateVars = aggregateVars.toArray(new Variables.Variable[0]);
        this.featureNames = featureNames.toArray(new String[0]);
        this.features = features.toArray(new Expr[0]);
        this.checks = checks.toArray(new Expr[0]);
        this.checkSources = checks.stream().map(Expr::source).toList();
        this.vars = vars;
        this.maxEventsPerKey = maxEventsPerKey;
        long longest = 0;
        for (Aggregate a : aggregates) {
            longest = Math.max(longest, a.windowMillis());
        }
        this.retentionMillis = longest + Math.max(longest, 3_600_000L);
        int n = this.aggregates.length;
        curNum = new double[n];
        curObj = new Object[n];
        count = new double[n];
        sum = new double[n];
        min = new double[n];
        max = new double[n];
        first = new Object[n];
        last = new Object[n];
        firstTime = new long[n];
        lastTime = new long[n];
        seenFirst = new boolean[n];
        seenLast = new boolean[n];
        distinct = new Set[n];
        for (int a = 0; a < n; a++) {
            if (this.aggregates[a].kind() == Aggregate.Kind.DISTINCT) {
                distinct[a] = new HashSet<>();
            }
        }
    }

    /** Where the caller puts the current event's fields before {@link #check} and compute. */
    public Vars vars() {
        return vars;
    }

    /** A state for a key not seen before. */
    public KeyState newState() {
        KeyState s = new KeyState(aggregates.length);
        for (int a = 0; a < aggregates.length; a++) {
            if (aggregates[a].kind().numeric()) {
                s.num[a] = new double[0];
            } else {
                s.obj[a] = new Object[0];
            }
        }
        return s;
    }

    /** The features' names, in row order. */
    public List<String> featureNames() {
        return List.of(featureNames);
    }

    /** How long after a key's newest event its events stay in the ring. */
    public long retentionMillis() {
        return retentionMillis;
    }

    /** Events that left a ring early because their key had more than {@code maxEventsPerKey}. */
    public long droppedOverLimit() {
        return droppedOverLimit;
    }

    /** Events scored later than an event of their key that had already left the ring. */
    public long lateBeyondHistory() {
        return lateBeyondHistory;
    }

    /** Runs the file's {@code checks} on the current event: the first that fails, as an error. */
    public void check() throws FeatureException {
        for (int c = 0; c < checks.length; c++) {
            boolean ok;
            try {
                ok = checks[c].evalBool(vars);
            } catch (EvalException e) {
                throw new FeatureException(
                        "check '" + checkSources.get(c) + "'",
                        "check '" + checkSources.get(c) + "' has no value: " + e.getMessage(),
                        e);
            }
            if (!ok) {
                throw new FeatureException(
                        "check '" + checkSources.get(c) + "'",
                        "check failed: " + checkSources.get(c));
            }
        }
    }

    /**
     * The features of the current event (in {@link #vars()}) at event time {@code time}, from
     * {@code state}; then the event joins {@code state}. An event whose features cannot be computed
     * leaves {@code state} as it was.
     *
     * @throws FeatureException naming the aggregate or feature that has no finite value
     */
    public float[] computeAndUpdate(KeyState state, long time) throws FeatureException {
        eventValues();
        int p = lastAtOrBefore(state, time);
        aggregate(state, time, p);
        float[] row = new float[features.length];
        for (int f = 0; f < features.length; f++) {
            double d;
            try {
                d = features[f].evalDouble(vars);
            } catch (EvalException e) {
                throw new FeatureException(
                        "feature " + featureNames[f],
                        "feature " + featureNames[f] + " has no value: " + e.getMessage(),
                        e);
            }
            float x = (float) d;
            if (!Float.isFinite(x)) {
                throw new FeatureException(
                        "feature " + featureNames[f],
                        "feature "
                                + featureNames[f]
                                + " is "
                                + d
                                + (Double.isFinite(d) ? " (beyond the float range)" : "")
                                + ", not a finite number: "
                                + features[f].source());
            }
            row[f] = x;
        }
        update(state, time, p);
        return row;
    }

    /** Each aggregate's value of the current event (from its fields alone), or its exclusion. */
    private void eventValues() throws FeatureException {
        for (int a = 0; a < aggregates.length; a++) {
            Aggregate agg = aggregates[a];
            try {
                boolean included = agg.where() == null || agg.where().evalBool(vars);
                if (agg.kind() == Aggregate.Kind.COUNT) {
                    curNum[a] = included ? 1.0 : Double.NaN;
                } else if (agg.kind().numeric()) {
                    double v = Double.NaN;
                    if (included) {
                        Object o = agg.value().eval(vars);
                        if (o != null) {
                            v = o instanceof Long l ? l : ((Number) o).doubleValue();
                            if (!Double.isFinite(v)) {
                                throw new FeatureException(
                                        "aggregate " + agg.name(),
                                        "aggregate "
                                                + agg.name()
                                                + ": its value is "
                                                + v
                                                + ", not a finite number: "
                                                + agg.value().source());
                            }
                        }
                    }
                    curNum[a] = v;
                } else {
                    Object o = included ? agg.value().eval(vars) : null;
                    curObj[a] = o == null ? KeyState.EXCLUDED : o;
                }
            } catch (EvalException e) {
                throw new FeatureException(
                        "aggregate " + agg.name(),
                        "aggregate " + agg.name() + " has no value: " + e.getMessage(),
                        e);
            }
        }
    }

    /** Index of the last ring event with a time at most {@code time}, or -1. */
    private static int lastAtOrBefore(KeyState s, long time) {
        int lo = 0;
        int hi = s.size; // first index with a time above
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (s.times[mid] <= time) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return lo - 1;
    }

    private void aggregate(KeyState s, long t, int p) {
        int n = aggregates.length;
        for (int a = 0; a < n; a++) {
            count[a] = 0;
            sum[a] = 0;
            min[a] = Double.POSITIVE_INFINITY;
            max[a] = Double.NEGATIVE_INFINITY;
            seenFirst[a] = false;
            seenLast[a] = false;
            if (distinct[a] != null) {
                distinct[a].clear();
            }
        }
        if (t < s.evictedUntil) {
            lateBeyondHistory++;
        }
        // One pass back from the newest event at or before t, while any aggregate still looks.
        for (int i = p; i >= 0; i--) {
            long ti = s.times[i];
            boolean any = false;
            for (int a = 0; a < n; a++) {
                Aggregate agg = aggregates[a];
                if (agg.windowed() ? ti > t - agg.windowMillis() : scansRing(agg.kind())) {
                    any = true;
                    include(s, a, i, ti);
                }
            }
            if (!any) {
                break;
            }
        }
        for (int a = 0; a < n; a++) {
            Aggregate agg = aggregates[a];
            Object value = agg.windowed() ? windowed(a, agg) : wholeHistory(s, a, agg, t, p);
            aggregateVars[a].set(vars, value);
        }
    }

    private static boolean scansRing(Aggregate.Kind kind) {
        return !(kind == Aggregate.Kind.COUNT
                || kind == Aggregate.Kind.SUM
                || kind == Aggregate.Kind.AVG);
    }

    private void include(KeyState s, int a, int i, long ti) {
        if (aggregates[a].kind().numeric()) {
            double v = s.num[a][i];
            if (Double.isNaN(v)) {
                return;
            }
            count[a]++;
            sum[a] += v;
            min[a] = Math.min(min[a], v);
            max[a] = Math.max(max[a], v);
        } else {
            Object v = s.obj[a][i];
            if (v == KeyState.EXCLUDED) {
                return;
            }
            count[a]++;
            if (distinct[a] != null) {
                distinct[a].add(v);
            }
            if (!seenLast[a]) {
                seenLast[a] = true; // the first met going back is the latest
                last[a] = v;
                lastTime[a] = ti;
            }
            seenFirst[a] = true; // the last met going back is the earliest
            first[a] = v;
            firstTime[a] = ti;
        }
    }

    private Object windowed(int a, Aggregate agg) {
        return switch (agg.kind()) {
            case COUNT -> (long) count[a];
            case SUM -> sum[a];
            case AVG -> count[a] > 0 ? sum[a] / count[a] : agg.defaultValue();
            case MIN -> count[a] > 0 ? min[a] : agg.defaultValue();
            case MAX -> count[a] > 0 ? max[a] : agg.defaultValue();
            case DISTINCT -> (long) distinct[a].size();
            case FIRST -> seenFirst[a] ? first[a] : agg.defaultValue();
            case LAST -> seenLast[a] ? last[a] : agg.defaultValue();
        };
    }

    private Object wholeHistory(KeyState s, int a, Aggregate agg, long t, int p) {
        switch (agg.kind()) {
            case COUNT:
            case SUM:
            case AVG:
                {
                    // Running values over every event, less the ring's events later than t.
                    double laterCount = 0;
                    double laterSum = 0;
                    double[] col = s.num[a];
                    for (int i = p + 1; i < s.size; i++) {
                        if (!Double.isNaN(col[i])) {
                            laterCount++;
                            laterSum += col[i];
                        }
                    }
                    double c = s.runCount[a] - laterCount;
                    if (agg.kind() == Aggregate.Kind.COUNT) {
                        return (long) c;
                    }
                    if (agg.kind() == Aggregate.Kind.SUM) {
                        return laterCount == 0 ? s.runSum[a] : s.runSum[a] - laterSum;
                    }
                    if (c <= 0) {
                        return agg.defaultValue();
                    }
                    return laterCount == 0
                            ? s.runMean[a]
                            : (s.runMean[a] * s.runCount[a] - laterSum) / c;
                }
            case MIN:
            case MAX:
                {
                    double ev = s.evNum[a];
                    boolean any = count[a] > 0 || !Double.isNaN(ev);
                    if (!any) {
                        return agg.defaultValue();
                    }
                    double v = agg.kind() == Aggregate.Kind.MIN ? min[a] : max[a];
                    if (!Double.isNaN(ev)) {
                        v = agg.kind() == Aggregate.Kind.MIN ? Math.min(v, ev) : Math.max(v, ev);
                    }
                    return v;
                }
            case DISTINCT:
                {
                    Set<Object> ev = s.evDistinct[a];
                    long n = distinct[a].size();
                    if (ev != null) {
                        for (Object v : ev) {
                            if (!distinct[a].contains(v)) {
                                n++;
                            }
                        }
                    }
                    return n;
                }
            case FIRST:
                {
                    boolean evicted = s.evTime[a] != Long.MIN_VALUE && s.evTime[a] <= t;
                    if (evicted && (!seenFirst[a] || s.evTime[a] <= firstTime[a])) {
                        return s.evObj[a];
                    }
                    return seenFirst[a] ? first[a] : agg.defaultValue();
                }
            default: // LAST
                {
                    if (seenLast[a]) {
                        return last[a];
                    }
                    boolean evicted = s.evTime[a] != Long.MIN_VALUE && s.evTime[a] <= t;
                    return evicted ? s.evObj[a] : agg.defaultValue();
                }
        }
    }

    private void update(KeyState s, long t, int p) {
        int n = aggregates.length;
        s.received++;
        s.newest = Math.max(s.newest, t);
        for (int a = 0; a < n; a++) {
            Aggregate agg = aggregates[a];
            if (!agg.windowed() && agg.kind().numeric() && !Double.isNaN(curNum[a])) {
                double x = curNum[a];
                s.runCount[a]++;
                s.runSum[a] += x;
                s.runMean[a] += (x - s.runMean[a]) / s.runCount[a];
            }
        }
        // Insert after every event at or before t: the ring stays in (time, arrival) order.
        int at = p + 1;
        if (s.size == s.times.length) {
            int capacity = Math.max(4, s.size * 2);
            s.times = Arrays.copyOf(s.times, capacity);
            for (int a = 0; a < n; a++) {
                if (aggregates[a].kind().numeric()) {
                    s.num[a] = Arrays.copyOf(s.num[a], capacity);
                } else {
                    s.obj[a] = Arrays.copyOf(s.obj[a], capacity);
                }
            }
        }
        int tail = s.size - at;
        System.arraycopy(s.times, at, s.times, at + 1, tail);
        s.times[at] = t;
        for (int a = 0; a < n; a++) {
            if (aggregates[a].kind().numeric()) {
                System.arraycopy(s.num[a], at, s.num[a], at + 1, tail);
                s.num[a][at] = curNum[a];
            } else {
                System.arraycopy(s.obj[a], at, s.obj[a], at + 1, tail);
                s.obj[a][at] = curObj[a];
            }
        }
        s.size++;
        evict(s);
    }

    /** Out of the ring: the events beyond the retention of the newest, then beyond the count. */
    private void evict(KeyState s) {
        long horizon = s.newest - retentionMillis;
        int k = 0;
        while (k < s.size && s.times[k] <= horizon) {
            k++;
        }
        if (s.size - k > maxEventsPerKey) {
            droppedOverLimit += s.size - k - maxEventsPerKey;
            k = s.size - maxEventsPerKey;
        }
        if (k == 0) {
            return;
        }
        int n = aggregates.length;
        for (int i = 0; i < k; i++) {
            long ti = s.times[i];
            s.evictedUntil = Math.max(s.evictedUntil, ti);
            for (int a = 0; a < n; a++) {
                Aggregate agg = aggregates[a];
                if (agg.windowed() || !scansRing(agg.kind())) {
                    continue;
                }
                if (agg.kind().numeric()) {
                    double v = s.num[a][i];
                    if (Double.isNaN(v)) {
                        continue;
                    }
                    double ev = s.evNum[a];
                    s.evNum[a] =
                            Double.isNaN(ev)
                                    ? v
                                    : agg.kind() == Aggregate.Kind.MIN
                                            ? Math.min(ev, v)
                                            : Math.max(ev, v);
                } else {
                    Object v = s.obj[a][i];
                    if (v == KeyState.EXCLUDED) {
                        continue;
                    }
                    switch (agg.kind()) {
                        case DISTINCT -> {
                            Set<Object> set = s.evictedDistinct(a);
                            if (set.size() < KeyState.MAX_EVICTED_DISTINCT) {
                                set.add(v);
                            }
                        }
                        case FIRST -> {
                            if (s.evTime[a] == Long.MIN_VALUE || ti < s.evTime[a]) {
                                s.evTime[a] = ti;
                                s.evObj[a] = v;
                            }
                        }
                        default -> { // LAST: the latest, the later evicted of equal times
                            if (s.evTime[a] == Long.MIN_VALUE || ti >= s.evTime[a]) {
                                s.evTime[a] = ti;
                                s.evObj[a] = v;
                            }
                        }
                    }
                }
            }
        }
        int keep = s.size - k;
        System.arraycopy(s.times, k, s.times, 0, keep);
        for (int a = 0; a < n; a++) {
            if (aggregates[a].kind().numeric()) {
                System.arraycopy(s.num[a], k, s.num[a], 0, keep);
            } else {
                System.arraycopy(s.obj[a], k, s.obj[a], 0, keep);
                Arrays.fill(s.obj[a], keep, s.size, null);
            }
        }
        s.size = keep;
    }

    /** The type an aggregate's value has for feature expressions. */
    static ValueType typeOf(Aggregate.Kind kind, ValueType valueType) {
        return switch (kind) {
            case COUNT, DISTINCT -> ValueType.INT;
            case SUM, AVG, MIN, MAX -> ValueType.DOUBLE;
            case FIRST, LAST -> valueType;
        };
    }
}
