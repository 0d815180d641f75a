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

    private static final int COUNT = Aggregate.Kind.COUNT.ordinal();
    private static final int SUM = Aggregate.Kind.SUM.ordinal();
    private static final int AVG = Aggregate.Kind.AVG.ordinal();
    private static final int MIN = Aggregate.Kind.MIN.ordinal();
    private static final int MAX = Aggregate.Kind.MAX.ordinal();
    private static final int DISTINCT = Aggregate.Kind.DISTINCT.ordinal();
    private static final int FIRST = Aggregate.Kind.FIRST.ordinal();

    private final Aggregate[] aggregates;
    private final Variables.Variable[] aggregateVars;
    private final String[] featureNames;
    private final Expr[] features;
    private final List<String> checkSources;
    private final Expr[] checks;
    private final Vars vars;
    private final long retentionMillis;
    private final long longestWindow;
    private final int maxEventsPerKey;
    private final StateLayout layout;

    // Per aggregate, read once: its kind's ordinal, window, column, default.
    private final int n;
    private final int[] kind;
    private final long[] window;
    private final int[] col;
    private final Object[] defaults;

    /** The windowed counts of every event (no column), and the other windowed aggregates. */
    private final int[] windowedCounts;

    private final int[] windowedScan;

    // Per column: the value and condition that fill it, and the current event's value.
    private final Expr[] colValue;
    private final Expr[] colWhere;
    private final String[] colSubject;
    private final double[] curNum;
    private final Object[] curObj;

    // Scratch, per aggregate.
    private final double[] count;
    private final double[] sum;
    private final double[] min;
    private final double[] max;
    private final Object[] first;
    private final Object[] last;
    private final boolean[] seenFirst;
    private final boolean[] seenLast;
    private final Object[][] distinctSeen;
    private final int[] distinctSize;
    private final Set<Object>[] distinctMore;

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
        this.layout = StateLayout.of(aggregates);
        n = this.aggregates.length;
        kind = new int[n];
        window = new long[n];
        col = new int[n];
        defaults = new Object[n];
        long longest = 0;
        List<Integer> windowedList = new java.util.ArrayList<>();
        for (int a = 0; a < n; a++) {
            Aggregate agg = this.aggregates[a];
            kind[a] = agg.kind().ordinal();
            window[a] = agg.windowMillis();
            col[a] = layout.columnOf(a);
            defaults[a] = agg.defaultValue();
            longest = Math.max(longest, agg.windowMillis());
            if (agg.windowed()) {
                windowedList.add(a);
            }
        }
        windowedList.sort((x, y) -> Long.compare(window[y], window[x]));
        // A windowed count of every event needs no pass: two binary searches give it.
        windowedCounts =
                windowedList.stream().filter(a -> col[a] < 0).mapToInt(Integer::intValue).toArray();
        windowedScan =
                windowedList.stream()
                        .filter(a -> col[a] >= 0)
                        .mapToInt(Integer::intValue)
                        .toArray();
        this.longestWindow = longest;
        this.retentionMillis = longest + Math.max(longest, 3_600_000L);
        int columns = layout.columns();
        colValue = new Expr[columns];
        colWhere = new Expr[columns];
        colSubject = new String[columns];
        curNum = new double[columns];
        curObj = new Object[columns];
        for (int a = 0; a < n; a++) {
            int c = col[a];
            if (c >= 0 && colSubject[c] == null) {
                colValue[c] = this.aggregates[a].value();
                colWhere[c] = this.aggregates[a].where();
                colSubject[c] = this.aggregates[a].name();
            }
        }
        count = new double[n];
        sum = new double[n];
        min = new double[n];
        max = new double[n];
        first = new Object[n];
        last = new Object[n];
        seenFirst = new boolean[n];
        seenLast = new boolean[n];
        distinctSeen = new Object[n][];
        distinctSize = new int[n];
        distinctMore = new Set[n];
        for (int a = 0; a < n; a++) {
            if (kind[a] == DISTINCT) {
                distinctSeen[a] = new Object[32];
            }
        }
    }

    /** Where the caller puts the current event's fields before {@link #check} and compute. */
    public Vars vars() {
        return vars;
    }

    /** Which values a key's ring keeps. */
    public StateLayout layout() {
        return layout;
    }

    /** A state for a key not seen before. */
    public KeyState newState() {
        KeyState s = new KeyState(n, layout.columns());
        for (int c = 0; c < layout.columns(); c++) {
            if (layout.numeric(c)) {
                s.num[c] = new double[0];
            } else {
                s.obj[c] = new Object[0];
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

    /**
     * Events scored with windows that miss events which had already left their key's ring: events
     * later than the ring keeps (more than the longest window behind the key's newest), or behind
     * events dropped over {@code maxEventsPerKey}.
     */
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

    /** Each column's value of the current event (from its fields alone), or its exclusion. */
    private void eventValues() throws FeatureException {
        for (int c = 0; c < curNum.length; c++) {
            try {
                // A condition with no value (a null) leaves the event out, as a false one does.
                boolean included =
                        colWhere[c] == null || Boolean.TRUE.equals(colWhere[c].eval(vars));
                Expr value = colValue[c];
                if (included
                        && layout.numeric(c)
                        && value != null
                        && value.fast()
                        && (value.type() == ValueType.INT || value.type() == ValueType.DOUBLE)) {
                    // A number on the fast path is never null: no boxing.
                    double d = value.evalDouble(vars);
                    if (!Double.isFinite(d)) {
                        throw notFinite(c, d);
                    }
                    curNum[c] = d;
                    continue;
                }
                Object o = !included ? null : value == null ? 1L : value.eval(vars);
                if (o instanceof Double d && !Double.isFinite(d)) {
                    throw notFinite(c, d);
                }
                if (layout.numeric(c)) {
                    curNum[c] = o == null ? Double.NaN : ((Number) o).doubleValue();
                } else {
                    curObj[c] = o == null ? KeyState.EXCLUDED : o;
                }
            } catch (EvalException e) {
                throw new FeatureException(
                        "aggregate " + colSubject[c],
                        "aggregate " + colSubject[c] + " has no value: " + e.getMessage(),
                        e);
            }
        }
    }

    private FeatureException notFinite(int c, double value) {
        return new FeatureException(
                "aggregate " + colSubject[c],
                "aggregate "
                        + colSubject[c]
                        + ": its value is "
                        + value
                        + ", not a finite number: "
                        + colValue[c].source());
    }

    /** Index of the last ring event with a time at most {@code time}, or -1. */
    private static int lastAtOrBefore(KeyState s, long time) {
        if (s.size == 0 || s.times[s.size - 1] <= time) {
            return s.size - 1; // in order, as most events are: one read, not a search
        }
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
        for (int a = 0; a < n; a++) {
            count[a] = 0;
            sum[a] = 0;
            min[a] = Double.POSITIVE_INFINITY;
            max[a] = Double.NEGATIVE_INFINITY;
            seenFirst[a] = false;
            seenLast[a] = false;
            distinctSize[a] = 0;
            if (distinctMore[a] != null) {
                distinctMore[a] = null;
            }
        }
        if (t < s.evictedUntil || t - longestWindow < s.evictedUntil) {
            lateBeyondHistory++;
        }
        for (int a : windowedCounts) {
            count[a] = p + 1 - firstAfter(s, t - window[a], p + 1);
        }
        // The other windowed aggregates: one pass back from the newest event at or before t,
        // each aggregate until its window ends (the longest first, so the pass ends with it).
        int[] scan = windowedScan;
        int active = scan.length;
        for (int i = p; i >= 0 && active > 0; i--) {
            long age = t - s.times[i];
            while (active > 0 && age >= window[scan[active - 1]]) {
                active--; // the shortest window still looking has ended
            }
            for (int w = 0; w < active; w++) {
                include(s, scan[w], i);
            }
        }
        for (int a = 0; a < n; a++) {
            if (window[a] > 0) {
                setWindowed(a);
            } else {
                setWholeHistory(s, a, t, p);
            }
        }
    }

    /** The first index below {@code end} whose time is above {@code after}. */
    private static int firstAfter(KeyState s, long after, int end) {
        int lo = 0;
        int hi = end;
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (s.times[mid] <= after) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return lo;
    }

    private void includeNumber(int a, double v) {
        if (v != v) {
            return; // NaN: not counted
        }
        count[a]++;
        sum[a] += v;
        if (v < min[a]) {
            min[a] = v;
        }
        if (v > max[a]) {
            max[a] = v;
        }
    }

    private void includeObject(int a, Object v) {
        if (v == KeyState.EXCLUDED) {
            return;
        }
        count[a]++;
        if (kind[a] == DISTINCT) {
            addDistinct(a, v);
        } else {
            if (!seenLast[a]) {
                seenLast[a] = true; // the first met going back is the latest
                last[a] = v;
            }
            seenFirst[a] = true; // the last met going back is the earliest
            first[a] = v;
        }
    }

    /** Event {@code i} of the ring into aggregate {@code a}, which keeps a column. */
    private void include(KeyState s, int a, int i) {
        int c = col[a];
        if (kind[a] <= MAX) {
            includeNumber(a, s.num[c][i]);
        } else {
            includeObject(a, s.obj[c][i]);
        }
    }

    private void addDistinct(int a, Object v) {
        if (distinctMore[a] != null) {
            distinctMore[a].add(v);
            return;
        }
        Object[] seen = distinctSeen[a];
        int size = distinctSize[a];
        for (int j = 0; j < size; j++) {
            Object x = seen[j];
            if (x == v || x.equals(v)) {
                return;
            }
        }
        if (size == seen.length) {
            Set<Object> more = new HashSet<>(Arrays.asList(seen));
            more.add(v);
            distinctMore[a] = more;
            return;
        }
        seen[size] = v;
        distinctSize[a] = size + 1;
    }

    private int distinctCount(int a) {
        return distinctMore[a] != null ? distinctMore[a].size() : distinctSize[a];
    }

    private boolean distinctContains(int a, Object v) {
        if (distinctMore[a] != null) {
            return distinctMore[a].contains(v);
        }
        for (int j = 0; j < distinctSize[a]; j++) {
            if (distinctSeen[a][j].equals(v)) {
                return true;
            }
        }
        return false;
    }

    private void setWindowed(int a) {
        Variables.Variable v = aggregateVars[a];
        int k = kind[a];
        if (k == COUNT) {
            vars.longs[v.index()] = (long) count[a];
        } else if (k == SUM) {
            vars.doubles[v.index()] = sum[a];
        } else if (k == AVG) {
            setDouble(a, count[a] > 0 ? sum[a] / count[a] : Double.NaN);
        } else if (k == MIN) {
            setDouble(a, count[a] > 0 ? min[a] : Double.NaN);
        } else if (k == MAX) {
            setDouble(a, count[a] > 0 ? max[a] : Double.NaN);
        } else if (k == DISTINCT) {
            vars.longs[v.index()] = distinctCount(a);
        } else if (k == FIRST) {
            v.set(vars, seenFirst[a] ? first[a] : defaults[a]);
        } else {
            v.set(vars, seenLast[a] ? last[a] : defaults[a]);
        }
    }

    /** A double aggregate's value, or its default when NaN (over no events). */
    private void setDouble(int a, double value) {
        vars.doubles[aggregateVars[a].index()] =
                Double.isNaN(value) ? ((Number) defaults[a]).doubleValue() : value;
    }

    private void setWholeHistory(KeyState s, int a, long t, int p) {
        Variables.Variable v = aggregateVars[a];
        int k = kind[a];
        int c = col[a];
        if (k == COUNT || k == SUM || k == AVG) {
            // Running values over every event, less the ring's events later than t.
            double laterCount = 0;
            double laterSum = 0;
            for (int i = p + 1; i < s.size; i++) {
                double x = c < 0 ? 1.0 : s.num[c][i];
                if (!Double.isNaN(x)) {
                    laterCount++;
                    laterSum += x;
                }
            }
            double total = s.runCount[a] - laterCount;
            if (k == COUNT) {
                vars.longs[v.index()] = (long) total;
            } else if (k == SUM) {
                vars.doubles[v.index()] = laterCount == 0 ? s.runSum[a] : s.runSum[a] - laterSum;
            } else if (total <= 0) {
                setDouble(a, Double.NaN);
            } else {
                setDouble(
                        a,
                        laterCount == 0
                                ? s.runMean[a]
                                : (s.runMean[a] * s.runCount[a] - laterSum) / total);
            }
            return;
        }
        if (k == MIN || k == MAX) {
            for (int i = p; i >= 0; i--) {
                include(s, a, i);
            }
            double ev = s.evNum[a];
            if (count[a] == 0 && Double.isNaN(ev)) {
                setDouble(a, Double.NaN);
                return;
            }
            double value = k == MIN ? min[a] : max[a];
            if (!Double.isNaN(ev)) {
                value = k == MIN ? Math.min(value, ev) : Math.max(value, ev);
            }
            vars.doubles[v.index()] = value;
            return;
        }
        if (k == DISTINCT) {
            for (int i = p; i >= 0; i--) {
                include(s, a, i);
            }
            long distinct = distinctCount(a);
            Set<Object> ev = s.evDistinct[a];
            if (ev != null) {
                for (Object x : ev) {
                    if (!distinctContains(a, x)) {
                        distinct++;
                    }
                }
            }
            vars.longs[v.index()] = distinct;
            return;
        }
        Object[] values = s.obj[c];
        boolean evicted = s.evTime[a] != Long.MIN_VALUE && s.evTime[a] <= t;
        if (k == FIRST) {
            // The earliest: the ring's first counted event at or before t, or what left the ring
            // if it is no later.
            for (int i = 0; i <= p; i++) {
                if (values[i] != KeyState.EXCLUDED) {
                    v.set(vars, evicted && s.evTime[a] <= s.times[i] ? s.evObj[a] : values[i]);
                    return;
                }
            }
            v.set(vars, evicted ? s.evObj[a] : defaults[a]);
            return;
        }
        // LAST: the latest counted event at or before t in the ring, else what left it.
        for (int i = p; i >= 0; i--) {
            if (values[i] != KeyState.EXCLUDED) {
                v.set(vars, values[i]);
                return;
            }
        }
        v.set(vars, evicted ? s.evObj[a] : defaults[a]);
    }

    private void update(KeyState s, long t, int p) {
        s.received++;
        s.newest = Math.max(s.newest, t);
        for (int a = 0; a < n; a++) {
            int k = kind[a];
            if (window[a] == 0 && (k == COUNT || k == SUM || k == AVG)) {
                double x = col[a] < 0 ? 1.0 : curNum[col[a]];
                if (!Double.isNaN(x)) {
                    s.runCount[a]++;
                    s.runSum[a] += x;
                    s.runMean[a] += (x - s.runMean[a]) / s.runCount[a];
                }
            }
        }
        int columns = layout.columns();
        // Insert after every event at or before t: the ring stays in (time, arrival) order.
        int at = p + 1;
        if (s.size == s.times.length) {
            int capacity = Math.max(4, s.size * 2);
            s.times = Arrays.copyOf(s.times, capacity);
            for (int c = 0; c < columns; c++) {
                if (layout.numeric(c)) {
                    s.num[c] = Arrays.copyOf(s.num[c], capacity);
                } else {
                    s.obj[c] = Arrays.copyOf(s.obj[c], capacity);
                }
            }
        }
        int tail = s.size - at;
        System.arraycopy(s.times, at, s.times, at + 1, tail);
        s.times[at] = t;
        for (int c = 0; c < columns; c++) {
            if (layout.numeric(c)) {
                System.arraycopy(s.num[c], at, s.num[c], at + 1, tail);
                s.num[c][at] = curNum[c];
            } else {
                System.arraycopy(s.obj[c], at, s.obj[c], at + 1, tail);
                s.obj[c][at] = curObj[c];
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
        for (int i = 0; i < k; i++) {
            long ti = s.times[i];
            s.evictedUntil = Math.max(s.evictedUntil, ti);
            for (int a = 0; a < n; a++) {
                int kd = kind[a];
                if (window[a] > 0 || kd == COUNT || kd == SUM || kd == AVG) {
                    continue;
                }
                int c = col[a];
                if (kd == MIN || kd == MAX) {
                    double v = s.num[c][i];
                    if (Double.isNaN(v)) {
                        continue;
                    }
                    double ev = s.evNum[a];
                    s.evNum[a] =
                            Double.isNaN(ev) ? v : kd == MIN ? Math.min(ev, v) : Math.max(ev, v);
                    continue;
                }
                Object v = s.obj[c][i];
                if (v == KeyState.EXCLUDED) {
                    continue;
                }
                if (kd == DISTINCT) {
                    Set<Object> set = s.evictedDistinct(a);
                    if (set.size() < KeyState.MAX_EVICTED_DISTINCT) {
                        set.add(v);
                    }
                } else if (kd == FIRST) {
                    if (s.evTime[a] == Long.MIN_VALUE || ti < s.evTime[a]) {
                        s.evTime[a] = ti;
                        s.evObj[a] = v;
                    }
                } else if (s.evTime[a] == Long.MIN_VALUE || ti >= s.evTime[a]) {
                    s.evTime[a] = ti; // LAST: the latest, the later evicted of equal times
                    s.evObj[a] = v;
                }
            }
        }
        int keep = s.size - k;
        System.arraycopy(s.times, k, s.times, 0, keep);
        for (int c = 0; c < layout.columns(); c++) {
            if (layout.numeric(c)) {
                System.arraycopy(s.num[c], k, s.num[c], 0, keep);
            } else {
                System.arraycopy(s.obj[c], k, s.obj[c], 0, keep);
                Arrays.fill(s.obj[c], keep, s.size, null);
            }
        }
        s.size = keep;
    }
}
