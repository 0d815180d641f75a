package dev.streamscore.pipeline.events;

import dev.streamscore.pipeline.expr.ValueType;
import dev.streamscore.pipeline.expr.Variables;
import dev.streamscore.pipeline.expr.Vars;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.avro.LogicalType;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericRecord;

/**
 * An event schema's top-level fields as expression variables: a string or enum field is a {@code
 * string} (an enum by its symbol), {@code int} and {@code long} fields (timestamp-millis included,
 * in milliseconds) are {@code int}s, {@code float} and {@code double} are {@code double}s, {@code
 * boolean} is {@code bool}; a union of {@code null} and one of these is that type or {@code null}.
 * Fields of other types (records, arrays, maps, bytes) are not variables. {@link #load} puts one
 * decoded event's values into a {@link Vars}.
 */
public final class EventFields {

    /** A field that is a variable: its position in the record and its variable. */
    private record Bound(
            int position, Variables.Variable variable, boolean isInt, boolean isFloat) {}

    private final Schema schema;
    private final List<Bound> bound = new ArrayList<>();
    private final Map<String, String> skipped = new LinkedHashMap<>();

    /**
     * Declares a variable in {@code variables} for each field of {@code schema} that can be one.
     */
    public EventFields(Schema schema, Variables variables) {
        this.schema = schema;
        for (Schema.Field f : schema.getFields()) {
            Schema s = f.schema();
            boolean nullable = false;
            if (s.getType() == Schema.Type.UNION) {
                List<Schema> branches = s.getTypes();
                if (branches.size() == 2 && branches.get(0).getType() == Schema.Type.NULL) {
                    s = branches.get(1);
                    nullable = true;
                } else if (branches.size() == 2 && branches.get(1).getType() == Schema.Type.NULL) {
                    s = branches.get(0);
                    nullable = true;
                } else {
                    skipped.put(f.name(), "a union other than [null, T]");
                    continue;
                }
            }
            ValueType type = typeOf(s);
            if (type == null) {
                skipped.put(f.name(), "of Avro type " + s.getType().getName());
                continue;
            }
            Variables.Variable v = variables.add(f.name(), type, nullable);
            bound.add(
                    new Bound(
                            f.pos(),
                            v,
                            s.getType() == Schema.Type.INT,
                            s.getType() == Schema.Type.FLOAT));
        }
    }

    /** The variable type of an Avro type, or {@code null} if it cannot be a variable. */
    public static ValueType typeOf(Schema s) {
        return switch (s.getType()) {
            case STRING, ENUM -> ValueType.STRING;
            case INT, LONG -> ValueType.INT;
            case FLOAT, DOUBLE -> ValueType.DOUBLE;
            case BOOLEAN -> ValueType.BOOL;
            default -> null;
        };
    }

    /**
     * Whether {@code s} is a long of milliseconds since the epoch (timestamp-millis, or a plain
     * long).
     */
    public static boolean isMillis(Schema s) {
        LogicalType lt = s.getLogicalType();
        return s.getType() == Schema.Type.LONG
                && (lt == null
                        || lt.getName().equals("timestamp-millis")
                        || lt.getName().equals("local-timestamp-millis"));
    }

    /** Fields that are not variables, with why. */
    public Map<String, String> skipped() {
        return skipped;
    }

    public Schema schema() {
        return schema;
    }

    /** Puts {@code event}'s field values into {@code vars}. */
    public void load(GenericRecord event, Vars vars) {
        for (Bound b : bound) {
            Object v = event.get(b.position);
            Variables.Variable var = b.variable;
            switch (var.slot()) {
                case LONG ->
                        vars.longs[var.index()] =
                                v instanceof Boolean bool
                                        ? (bool ? 1L : 0L)
                                        : ((Number) v).longValue();
                case DOUBLE -> vars.doubles[var.index()] = ((Number) v).doubleValue();
                case OBJECT -> vars.objects[var.index()] = boxed(v, b);
            }
        }
    }

    private static Object boxed(Object v, Bound b) {
        if (v == null) {
            return null;
        }
        if (v instanceof CharSequence || v instanceof org.apache.avro.generic.GenericEnumSymbol) {
            return v.toString();
        }
        if (b.isInt) {
            return ((Number) v).longValue();
        }
        if (b.isFloat) {
            return ((Number) v).doubleValue();
        }
        return v;
    }

    /** A field's value as a string (for the key and id fields): its text, or its number's. */
    public static String text(Object v) {
        return v == null ? null : v.toString();
    }
}
