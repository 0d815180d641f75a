package dev.streamscore.pipeline.expr;

/**
 * A compiled, type-checked expression of a pipeline, evaluated on a {@link Vars}. Not thread-safe
 * and not serializable: each subtask compiles its own (see {@link Expressions}).
 *
 * <p>Every evaluation method throws {@link EvalException} when the expression has no value for the
 * current variables (an int overflow, a division by zero, a null where a value is needed); never
 * another exception.
 */
public abstract class Expr {

    private final String source;
    private final ValueType type;
    private java.util.Set<String> references = java.util.Set.of();

    Expr(String source, ValueType type) {
        this.source = source;
        this.type = type;
    }

    /** The expression as written in the pipeline file. */
    public String source() {
        return source;
    }

    /** The names of the variables the expression refers to, as the type checker resolved them. */
    public java.util.Set<String> references() {
        return references;
    }

    Expr withReferences(java.util.Set<String> names) {
        this.references = java.util.Set.copyOf(names);
        return this;
    }

    /** The expression's checked type. */
    public ValueType type() {
        return type;
    }

    /** Whether this expression runs on the compiled fast path rather than CEL's interpreter. */
    public abstract boolean fast();

    /** The value, boxed: a Long, Double, String, Boolean, or {@code null}. */
    public abstract Object eval(Vars vars);

    /** The value of a {@code bool} expression. */
    public boolean evalBool(Vars vars) {
        Object v = eval(vars);
        if (v instanceof Boolean b) {
            return b;
        }
        throw new EvalException("expected a bool, found " + describe(v));
    }

    /** The value of an {@code int} expression. */
    public long evalLong(Vars vars) {
        Object v = eval(vars);
        if (v instanceof Long l) {
            return l;
        }
        throw new EvalException("expected an int, found " + describe(v));
    }

    /**
     * The value of a {@code double} or {@code int} expression as a double; a bool as 1.0 or 0.0.
     */
    public double evalDouble(Vars vars) {
        Object v = eval(vars);
        if (v instanceof Double d) {
            return d;
        }
        if (v instanceof Long l) {
            return l;
        }
        if (v instanceof Boolean b) {
            return b ? 1.0 : 0.0;
        }
        throw new EvalException("expected a number, found " + describe(v));
    }

    static String describe(Object v) {
        return v == null ? "null" : v.getClass().getSimpleName() + " " + v;
    }

    @Override
    public String toString() {
        return source;
    }
}
