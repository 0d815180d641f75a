package dev.streamscore.pipeline.events;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeType;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;

/**
 * One JSON object per record, read into the pipeline's Avro reader schema: fields by the names the
 * schema gives them; a field the schema does not name is ignored; a missing field takes the
 * schema's default, and without one is an error; a value of the wrong type is an error (no
 * coercion: {@code "12"} is not a long, {@code 1.5} is not an int); an enum is its symbol; a
 * timestamp-millis field is a number of milliseconds; {@code null} only where the schema's union
 * allows it. Every error is a {@link DecodeException} that names the field; no input makes it throw
 * anything else.
 */
public final class JsonEvents {

    private static final ObjectMapper JSON =
            new ObjectMapper(
                            JsonFactory.builder()
                                    // {"id": 1, "id": 2} is not one event: which id would it be?
                                    .enable(
                                            com.fasterxml.jackson.core.StreamReadFeature
                                                    .STRICT_DUPLICATE_DETECTION)
                                    .streamReadConstraints(
                                            StreamReadConstraints.builder()
                                                    .maxNestingDepth(64)
                                                    .maxNumberLength(64)
                                                    .maxStringLength(1 << 20)
                                                    .build())
                                    .build())
                    // One object per record: {...} garbage is not an event.
                    .enable(
                            com.fasterxml.jackson.databind.DeserializationFeature
                                    .FAIL_ON_TRAILING_TOKENS);

    private final Schema schema;

    public JsonEvents(Schema schema) {
        if (schema.getType() != Schema.Type.RECORD) {
            throw new IllegalArgumentException("an event schema must be a record, found " + schema);
        }
        this.schema = schema;
    }

    /** The event in {@code bytes} (UTF-8 JSON). */
    public GenericRecord decode(byte[] bytes) throws DecodeException {
        if (bytes == null || bytes.length == 0) {
            throw new DecodeException("expected a JSON object, found an empty record");
        }
        JsonNode node;
        try {
            node = JSON.readTree(bytes);
        } catch (IOException | RuntimeException e) {
            throw new DecodeException("not JSON: " + firstLine(e.getMessage()), e);
        }
        if (node == null || !node.isObject()) {
            throw new DecodeException(
                    "expected a JSON object, found "
                            + (node == null ? "nothing" : node.getNodeType().name().toLowerCase()));
        }
        try {
            return (GenericRecord) convert(node, schema, "");
        } catch (RuntimeException e) {
            throw new DecodeException("cannot read the event: " + e, e);
        }
    }

    private static String firstLine(String message) {
        if (message == null) {
            return "";
        }
        int nl = message.indexOf('\n');
        return nl < 0 ? message : message.substring(0, nl);
    }

    private Object convert(JsonNode node, Schema s, String path) throws DecodeException {
        switch (s.getType()) {
            case RECORD:
                {
                    if (!node.isObject()) {
                        throw wrong(path, "an object", node);
                    }
                    GenericData.Record r = new GenericData.Record(s);
                    for (Schema.Field f : s.getFields()) {
                        JsonNode value = node.get(f.name());
                        String at = path.isEmpty() ? f.name() : path + "." + f.name();
                        if (value == null) {
                            if (!f.hasDefaultValue()) {
                                throw new DecodeException(
                                        at + ": missing, and the schema gives it no default");
                            }
                            r.put(f.pos(), GenericData.get().getDefaultValue(f));
                        } else {
                            r.put(f.pos(), convert(value, f.schema(), at));
                        }
                    }
                    return r;
                }
            case UNION:
                {
                    if (node.isNull()) {
                        for (Schema branch : s.getTypes()) {
                            if (branch.getType() == Schema.Type.NULL) {
                                return null;
                            }
                        }
                        throw wrong(path, "a value (the schema allows no null)", node);
                    }
                    DecodeException last = null;
                    for (Schema branch : s.getTypes()) {
                        if (branch.getType() == Schema.Type.NULL) {
                            continue;
                        }
                        try {
                            return convert(node, branch, path);
                        } catch (DecodeException e) {
                            last = e;
                        }
                    }
                    throw last != null ? last : wrong(path, "null", node);
                }
            case NULL:
                if (!node.isNull()) {
                    throw wrong(path, "null", node);
                }
                return null;
            case STRING:
                if (!node.isTextual()) {
                    throw wrong(path, "a string", node);
                }
                int bad = unpairedSurrogate(node.textValue());
                if (bad >= 0) {
                    // It has no UTF-8: Avro would write '?' in its place, another value.
                    throw new DecodeException(
                            (path.isEmpty() ? "the event" : path)
                                    + ": expected text, found an unpaired UTF-16 surrogate at"
                                    + " character "
                                    + bad);
                }
                return node.textValue();
            case ENUM:
                if (!node.isTextual() || !s.hasEnumSymbol(node.textValue())) {
                    throw wrong(path, "one of " + s.getEnumSymbols(), node);
                }
                return new GenericData.EnumSymbol(s, node.textValue());
            case BOOLEAN:
                if (!node.isBoolean()) {
                    throw wrong(path, "true or false", node);
                }
                return node.booleanValue();
            case INT:
                if (!node.isIntegralNumber() || !node.canConvertToInt()) {
                    throw wrong(path, "a whole number of 32 bits", node);
                }
                return node.intValue();
            case LONG:
                if (!node.isIntegralNumber() || !node.canConvertToLong()) {
                    throw wrong(
                            path,
                            s.getLogicalType() != null
                                    ? "a whole number of milliseconds since 1970 (64 bits)"
                                    : "a whole number of 64 bits",
                            node);
                }
                return node.longValue();
            case FLOAT:
                if (!node.isNumber()) {
                    throw wrong(path, "a number", node);
                }
                return node.floatValue();
            case DOUBLE:
                if (!node.isNumber()) {
                    throw wrong(path, "a number", node);
                }
                return node.doubleValue();
            case ARRAY:
                {
                    if (!node.isArray()) {
                        throw wrong(path, "an array", node);
                    }
                    List<Object> items = new ArrayList<>(node.size());
                    int i = 0;
                    for (JsonNode item : node) {
                        items.add(convert(item, s.getElementType(), path + "[" + i++ + "]"));
                    }
                    return new GenericData.Array<>(s, items);
                }
            case MAP:
                {
                    if (!node.isObject()) {
                        throw wrong(path, "an object", node);
                    }
                    Map<String, Object> map = new HashMap<>();
                    Iterator<Map.Entry<String, JsonNode>> it = node.fields();
                    while (it.hasNext()) {
                        Map.Entry<String, JsonNode> e = it.next();
                        map.put(
                                e.getKey(),
                                convert(e.getValue(), s.getValueType(), path + "." + e.getKey()));
                    }
                    return map;
                }
            default:
                throw new DecodeException(
                        path + ": Avro type " + s.getType().getName() + " is not read from JSON");
        }
    }

    /** The index of the first half of a surrogate pair without its other half, or -1. */
    static int unpairedSurrogate(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (Character.isHighSurrogate(c)) {
                if (i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
                    i++;
                    continue;
                }
                return i;
            }
            if (Character.isLowSurrogate(c)) {
                return i;
            }
        }
        return -1;
    }

    private static DecodeException wrong(String path, String expected, JsonNode found) {
        String shown = found.toString();
        if (shown.length() > 64) {
            shown = shown.substring(0, 64) + "...";
        }
        JsonNodeType t = found.getNodeType();
        return new DecodeException(
                (path.isEmpty() ? "the event" : path)
                        + ": expected "
                        + expected
                        + ", found "
                        + (found.isNull() ? "null" : t.name().toLowerCase() + " " + shown));
    }
}
