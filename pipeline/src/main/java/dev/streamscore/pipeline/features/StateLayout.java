package dev.streamscore.pipeline.features;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Which per-event values a key's ring keeps: one column per distinct (value, condition) of the
 * aggregates, so that {@code count_1h} and {@code count_24h} share one, {@code sum_1h}, {@code
 * sum_24h} and {@code avg_amount} of the same value another, and a {@code count: true} without a
 * condition none at all (it counts the ring's events). A column keeps doubles for {@code count},
 * {@code sum}, {@code avg}, {@code min} and {@code max}, objects for {@code distinct}, {@code
 * first} and {@code last}.
 */
public final class StateLayout {

    private final int[] columnOf;
    private final boolean[] numeric;
    private final List<String> columnKeys;

    /**
     * @param aggregates each aggregate's kind, value source (null for a count) and condition source
     *     (null for none), in the pipeline's order
     */
    public StateLayout(List<Aggregate.Kind> kinds, List<String> values, List<String> wheres) {
        columnOf = new int[kinds.size()];
        Map<String, Integer> columns = new LinkedHashMap<>();
        List<Boolean> numericColumns = new ArrayList<>();
        for (int a = 0; a < kinds.size(); a++) {
            Aggregate.Kind kind = kinds.get(a);
            if (kind == Aggregate.Kind.COUNT && wheres.get(a) == null) {
                columnOf[a] = -1;
                continue;
            }
            String key =
                    (kind.numeric() ? "num|" : "obj|")
                            + (kind == Aggregate.Kind.COUNT ? "1" : values.get(a))
                            + "|"
                            + wheres.get(a);
            Integer c = columns.get(key);
            if (c == null) {
                c = columns.size();
                columns.put(key, c);
                numericColumns.add(kind.numeric());
            }
            columnOf[a] = c;
        }
        numeric = new boolean[columns.size()];
        for (int c = 0; c < numeric.length; c++) {
            numeric[c] = numericColumns.get(c);
        }
        columnKeys = List.copyOf(columns.keySet());
    }

    /** The layout of compiled aggregates. */
    static StateLayout of(List<Aggregate> aggregates) {
        List<Aggregate.Kind> kinds = new ArrayList<>();
        List<String> values = new ArrayList<>();
        List<String> wheres = new ArrayList<>();
        for (Aggregate a : aggregates) {
            kinds.add(a.kind());
            values.add(a.value() == null ? null : a.value().source());
            wheres.add(a.where() == null ? null : a.where().source());
        }
        return new StateLayout(kinds, values, wheres);
    }

    /** The column of aggregate {@code a}; -1 for a count of every event. */
    public int columnOf(int a) {
        return columnOf[a];
    }

    public int columns() {
        return numeric.length;
    }

    public int aggregates() {
        return columnOf.length;
    }

    /** Whether column {@code c} keeps doubles (else objects). */
    public boolean numeric(int c) {
        return numeric[c];
    }

    /** One line per column that says what it holds, for the state's fingerprint. */
    public List<String> describe() {
        return columnKeys;
    }
}
