package dev.streamscore.pipeline.features;

import dev.streamscore.pipeline.expr.Expr;
import dev.streamscore.pipeline.expr.ValueType;

/**
 * One declared aggregate, compiled: what it computes over a key's earlier events ({@link Kind}), of
 * which value ({@code value}, {@code null} for a count), over which of them ({@code where}, {@code
 * null} for all) and which time ({@code windowMillis}, 0 for the key's whole remembered history).
 *
 * @param defaultValue what {@code avg}, {@code min}, {@code max}, {@code first} and {@code last}
 *     give over no events, of {@code type}
 * @param type the type a feature expression sees: {@code int} for count and distinct, {@code
 *     double} for sum, avg, min and max, the value's type for first and last
 */
public record Aggregate(
        String name,
        Kind kind,
        Expr value,
        Expr where,
        long windowMillis,
        Object defaultValue,
        ValueType type) {

    /** What an aggregate computes. */
    public enum Kind {
        COUNT,
        SUM,
        AVG,
        MIN,
        MAX,
        DISTINCT,
        FIRST,
        LAST;

        /** Its key in the pipeline file. */
        public String key() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }

        /** Whether each event's value is kept as a double (else as an object). */
        boolean numeric() {
            return ordinal() <= MAX.ordinal();
        }

        /** Whether it has a value over no events only by its {@code default}. */
        public boolean needsDefault() {
            return this == AVG || this == MIN || this == MAX || this == FIRST || this == LAST;
        }
    }

    boolean windowed() {
        return windowMillis > 0;
    }
}
