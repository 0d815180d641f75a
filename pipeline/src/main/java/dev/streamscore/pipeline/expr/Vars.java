package dev.streamscore.pipeline.expr;

/**
 * The values of an expression's variables, by slot: an {@code int} or {@code bool} variable (as 0
 * or 1) in {@link #longs}, a {@code double} in {@link #doubles}, a {@code string} or any nullable
 * variable (boxed, or {@code null}) in {@link #objects}. {@link Variables} gives each name its
 * slot; one instance is reused for every event of a subtask, so evaluating allocates nothing for
 * primitive values.
 */
public final class Vars {
    public final long[] longs;
    public final double[] doubles;
    public final Object[] objects;

    public Vars(Variables variables) {
        this.longs = new long[variables.longSlots()];
        this.doubles = new double[variables.doubleSlots()];
        this.objects = new Object[variables.objectSlots()];
    }
}
