package dev.streamscore.pipeline.expr;

import dev.cel.common.types.CelType;
import dev.cel.common.types.NullableType;
import dev.cel.common.types.SimpleType;

/**
 * The types a pipeline's variables and values may have: CEL's {@code bool}, {@code int}, {@code
 * double} and {@code string}, each possibly {@code null} (an Avro union with null).
 */
public enum ValueType {
    BOOL(SimpleType.BOOL),
    INT(SimpleType.INT),
    DOUBLE(SimpleType.DOUBLE),
    STRING(SimpleType.STRING);

    private final CelType cel;

    ValueType(CelType cel) {
        this.cel = cel;
    }

    /** The CEL type of a variable of this type; {@code nullable}: it may be null. */
    public CelType celType(boolean nullable) {
        return nullable ? NullableType.create(cel) : cel;
    }

    /** The type of a checked expression's CEL result type, or {@code null} if none of these. */
    public static ValueType of(CelType type) {
        CelType t = type instanceof NullableType n ? n.targetType() : type;
        for (ValueType v : values()) {
            if (v.cel.equals(t)) {
                return v;
            }
        }
        return null;
    }

    /** How a pipeline file names the type: CEL's name. */
    public String celName() {
        return cel.name();
    }
}
