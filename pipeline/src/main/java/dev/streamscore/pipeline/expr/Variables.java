package dev.streamscore.pipeline.expr;

import java.io.Serializable;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The variables expressions may name, each with its type and its slot in a {@link Vars}. Built once
 * per pipeline; the expressions compiled against it read their variables by slot.
 */
public final class Variables implements Serializable {

    private static final long serialVersionUID = 1L;

    /** One variable: its type, whether it may be null, and where its value is kept. */
    public record Variable(String name, ValueType type, boolean nullable, Slot slot, int index)
            implements Serializable {

        /** The variable's current value in {@code vars}, boxed as CEL's runtime wants it. */
        public Object get(Vars vars) {
            return switch (slot) {
                case LONG -> type == ValueType.BOOL ? vars.longs[index] != 0 : vars.longs[index];
                case DOUBLE -> vars.doubles[index];
                case OBJECT -> vars.objects[index];
            };
        }

        /** Sets the variable's value in {@code vars} from a boxed value of its type. */
        public void set(Vars vars, Object value) {
            switch (slot) {
                case LONG ->
                        vars.longs[index] =
                                type == ValueType.BOOL
                                        ? ((Boolean) value ? 1L : 0L)
                                        : ((Number) value).longValue();
                case DOUBLE -> vars.doubles[index] = ((Number) value).doubleValue();
                case OBJECT -> vars.objects[index] = value;
            }
        }
    }

    /** Where a variable's value lives in {@link Vars}. */
    public enum Slot {
        LONG,
        DOUBLE,
        OBJECT
    }

    private final Map<String, Variable> byName = new LinkedHashMap<>();
    private int longs;
    private int doubles;
    private int objects;

    /** Adds a variable; a nullable one, or a string, is kept boxed. */
    public Variable add(String name, ValueType type, boolean nullable) {
        if (byName.containsKey(name)) {
            throw new IllegalArgumentException("variable '" + name + "' is declared twice");
        }
        Variable v;
        if (nullable || type == ValueType.STRING) {
            v = new Variable(name, type, nullable, Slot.OBJECT, objects++);
        } else if (type == ValueType.DOUBLE) {
            v = new Variable(name, type, false, Slot.DOUBLE, doubles++);
        } else {
            v = new Variable(name, type, false, Slot.LONG, longs++);
        }
        byName.put(name, v);
        return v;
    }

    public Variable get(String name) {
        return byName.get(name);
    }

    public Map<String, Variable> all() {
        return Collections.unmodifiableMap(byName);
    }

    int longSlots() {
        return longs;
    }

    int doubleSlots() {
        return doubles;
    }

    int objectSlots() {
        return objects;
    }
}
