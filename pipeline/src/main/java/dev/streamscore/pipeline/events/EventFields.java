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

    /**
     * How to read one field straight from the binary body: its Avro type (of the non-null branch),
     * the index of the null branch in its union (-1 if not a union), its variable (null: skip it),
     * its enum symbols.
     */
    private record Reader(
            Schema.Type type,
            int nullBranch,
            Variables.Variable variable,
            String[] symbols,
            BinaryBody.Strings strings) {

        Reader(Schema.Type type, int nullBranch, Variables.Variable variable, String[] symbols) {
            this(
                    type,
                    nullBranch,
                    variable,
                    symbols,
                    type == Schema.Type.STRING && variable != null
                            ? new BinaryBody.Strings()
                            : null);
        }
    }

    /** One reader per field in order, or null when a field's type is not read directly. */
    private Reader[] readers;

    /** {@link #readers} and {@link #bound} before {@link #readOnly}: every variable read. */
    private final Reader[] allReaders;

    private final List<Bound> allBound;

    private final BinaryBody body = new BinaryBody();

    private final Schema schema;
    private final List<Bound> bound = new ArrayList<>();
    private final Map<String, String> skipped = new LinkedHashMap<>();

    /**
     * Declares a variable in {@code variables} for each field of {@code schema} that can be one.
     */
    public EventFields(Schema schema, Variables variables) {
        this.schema = schema;
        Reader[] direct = new Reader[schema.getFields().size()];
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
        boolean all = true;
        for (Schema.Field f : schema.getFields()) {
            direct[f.pos()] = reader(f.schema(), bound(f.pos()));
            all &= direct[f.pos()] != null;
        }
        readers = all ? direct : null;
        allReaders = readers;
        allBound = List.copyOf(bound);
    }

    /**
     * Reads only the fields named {@code used} from now on: the others are skipped, their variables
     * left as they were. The expressions' {@link dev.streamscore.pipeline.expr.Expr#references}
     * name what they read; a record still has to be whole and well-formed to be read.
     */
    public EventFields readOnly(java.util.Set<String> used) {
        bound.clear();
        for (Bound b : allBound) {
            if (used.contains(b.variable.name())) {
                bound.add(b);
            }
        }
        if (allReaders != null) {
            Reader[] direct = allReaders.clone();
            for (int i = 0; i < direct.length; i++) {
                Reader r = direct[i];
                if (r.variable != null && !used.contains(r.variable.name())) {
                    direct[i] = new Reader(r.type, r.nullBranch, null, r.symbols);
                }
            }
            readers = direct;
        }
        return this;
    }

    private Variables.Variable bound(int position) {
        for (Bound b : bound) {
            if (b.position == position) {
                return b.variable;
            }
        }
        return null;
    }

    /** A direct reader of a field of this schema, or null if it has none. */
    private static Reader reader(Schema s, Variables.Variable variable) {
        int nullBranch = -1;
        if (s.getType() == Schema.Type.UNION) {
            List<Schema> branches = s.getTypes();
            if (branches.size() != 2) {
                return null;
            }
            nullBranch = branches.get(0).getType() == Schema.Type.NULL ? 0 : 1;
            if (branches.get(nullBranch).getType() != Schema.Type.NULL) {
                return null;
            }
            s = branches.get(1 - nullBranch);
        }
        return switch (s.getType()) {
            case STRING, INT, LONG, FLOAT, DOUBLE, BOOLEAN, BYTES, NULL ->
                    new Reader(s.getType(), nullBranch, variable, null);
            case ENUM ->
                    new Reader(
                            s.getType(),
                            nullBranch,
                            variable,
                            s.getEnumSymbols().toArray(new String[0]));
            default -> null;
        };
    }

    /** Whether {@link #readBinary} can read this schema's bodies. */
    public boolean readsBinary() {
        return readers != null;
    }

    /**
     * Reads an event's Avro binary body, written with this very schema, straight into {@code vars}:
     * no record is built, fields that are not variables are skipped. As strict as Avro's reader: a
     * body that ends early, a union or enum index out of range, a length beyond the reader limits
     * all throw.
     *
     * @throws java.io.IOException or an {@code AvroRuntimeException} for a body that is not one
     */
    public void readBinary(byte[] bytes, int offset, int length, Vars vars)
            throws java.io.IOException {
        BinaryBody in = body.of(bytes, offset, length);
        for (Reader r : readers) {
            Variables.Variable v = r.variable;
            if (r.nullBranch >= 0) {
                long branch = in.readInt();
                if (branch != 0 && branch != 1) {
                    throw new java.io.IOException("union branch " + branch + " of 2");
                }
                if (branch == r.nullBranch) {
                    if (v != null) {
                        vars.objects[v.index()] = null;
                    }
                    continue;
                }
            }
            switch (r.type) {
                case STRING -> {
                    if (v == null) {
                        in.skip(in.readLength());
                    } else {
                        vars.objects[v.index()] = r.strings.read(in);
                    }
                }
                case ENUM -> {
                    int symbol = in.readInt();
                    if (symbol < 0 || symbol >= r.symbols.length) {
                        throw new java.io.IOException(
                                "enum index " + symbol + " of " + r.symbols.length + " symbols");
                    }
                    if (v != null) {
                        vars.objects[v.index()] = r.symbols[symbol];
                    }
                }
                case INT -> put(vars, v, (long) in.readInt());
                case LONG -> put(vars, v, in.readLong());
                case FLOAT -> putDouble(vars, v, in.readFloat());
                case DOUBLE -> putDouble(vars, v, in.readDouble());
                case BOOLEAN -> {
                    boolean b = in.readBoolean();
                    if (v != null) {
                        if (v.slot() == Variables.Slot.OBJECT) {
                            vars.objects[v.index()] = b;
                        } else {
                            vars.longs[v.index()] = b ? 1L : 0L;
                        }
                    }
                }
                case BYTES -> in.skip(in.readBytesLength());
                default -> {} // null: no bytes
            }
        }
    }

    private static void put(Vars vars, Variables.Variable v, long value) {
        if (v == null) {
            return;
        }
        if (v.slot() == Variables.Slot.OBJECT) {
            vars.objects[v.index()] = value;
        } else {
            vars.longs[v.index()] = value;
        }
    }

    private static void putDouble(Vars vars, Variables.Variable v, double value) {
        if (v == null) {
            return;
        }
        if (v.slot() == Variables.Slot.OBJECT) {
            vars.objects[v.index()] = value;
        } else {
            vars.doubles[v.index()] = value;
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
