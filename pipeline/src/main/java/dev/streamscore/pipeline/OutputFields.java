package dev.streamscore.pipeline;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import org.apache.avro.LogicalTypes;
import org.apache.avro.Schema;
import org.apache.avro.SchemaBuilder;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;

/**
 * The output record of a scored event, filled by name: a field named as an input field is copied
 * from the event; {@code score}, {@code decision}, {@code model_name}, {@code model_version},
 * {@code model_sha256}, {@code reasons}, {@code cache_hit}, {@code fallback} and {@code scored_at}
 * are the scoring's; any other field takes its default. Without an output schema in the file,
 * {@link #generated} makes one of the input's id, key and time fields and all of the scoring's.
 */
public final class OutputFields {

    /** The fields the scoring fills. */
    public static final List<String> SCORING =
            List.of(
                    "score",
                    "decision",
                    "model_name",
                    "model_version",
                    "model_sha256",
                    "reasons",
                    "cache_hit",
                    "fallback",
                    "scored_at");

    /** The decisions, from the model descriptor's thresholds. */
    public static final List<String> DECISIONS = List.of("APPROVE", "REVIEW", "DECLINE");

    private OutputFields() {}

    /** The schema of the scoring's reasons' items. */
    public static Schema reasonSchema(String namespace) {
        return SchemaBuilder.record("Reason")
                .namespace(namespace)
                .doc("One feature's push towards a flagged decision.")
                .fields()
                .requiredString("feature")
                .requiredDouble("value")
                .requiredDouble("contribution")
                .endRecord();
    }

    /** The output schema of a file that gives none. */
    public static Schema generated(
            String pipelineName, Schema input, String idField, String keyField, String timeField) {
        String namespace = "dev.streamscore.pipelines";
        StringBuilder record = new StringBuilder();
        for (String part : pipelineName.split("[^A-Za-z0-9]+")) {
            if (!part.isEmpty()) {
                record.append(part.substring(0, 1).toUpperCase(Locale.ROOT))
                        .append(part.substring(1));
            }
        }
        if (record.length() == 0 || !Character.isLetter(record.charAt(0))) {
            record.insert(0, "Pipeline");
        }
        record.append("Score");
        List<Schema.Field> fields = new ArrayList<>();
        for (String name : new java.util.LinkedHashSet<>(List.of(idField, keyField, timeField))) {
            Schema.Field f = input.getField(name);
            fields.add(new Schema.Field(f.name(), f.schema(), f.doc()));
        }
        fields.add(
                new Schema.Field("score", Schema.create(Schema.Type.DOUBLE), "The model's score."));
        fields.add(
                new Schema.Field(
                        "decision",
                        Schema.createEnum("Decision", null, namespace, DECISIONS),
                        "APPROVE, REVIEW or DECLINE, by the model's thresholds."));
        fields.add(new Schema.Field("model_name", Schema.create(Schema.Type.STRING), null));
        fields.add(new Schema.Field("model_version", Schema.create(Schema.Type.STRING), null));
        fields.add(new Schema.Field("model_sha256", Schema.create(Schema.Type.STRING), null));
        fields.add(
                new Schema.Field(
                        "cache_hit",
                        Schema.create(Schema.Type.BOOLEAN),
                        "True when the score came from the result cache."));
        fields.add(
                new Schema.Field(
                        "fallback",
                        Schema.create(Schema.Type.BOOLEAN),
                        "True when the model failed and the configured fallback score was used.",
                        false));
        Schema millis = LogicalTypes.timestampMillis().addToSchema(Schema.create(Schema.Type.LONG));
        fields.add(new Schema.Field("scored_at", millis, null));
        fields.add(
                new Schema.Field(
                        "reasons",
                        Schema.createArray(reasonSchema(namespace)),
                        "Up to N features that pushed a flagged score up, largest first.",
                        List.of()));
        return Schema.createRecord(
                record.toString(),
                "Scores of pipeline " + pipelineName + ", written by streamscore.",
                namespace,
                false,
                fields);
    }

    /** The output fields that nothing fills, each with why, for a given output schema. */
    public static List<String> unfilled(Schema output, Schema input) {
        List<String> problems = new ArrayList<>();
        for (Schema.Field f : output.getFields()) {
            String name = f.name();
            if (SCORING.contains(name)) {
                String wrong = scoringTypeProblem(name, f.schema());
                if (wrong != null) {
                    problems.add(name + ": " + wrong);
                }
                continue;
            }
            Schema.Field in = input.getField(name);
            if (in != null) {
                // Copied as it is, so the same schema (docs, defaults and logical types aside):
                // Avro writes a nested record by position, and another order or another field
                // would write the wrong values or fail.
                if (!org.apache.avro.SchemaNormalization.toParsingForm(f.schema())
                        .equals(org.apache.avro.SchemaNormalization.toParsingForm(in.schema()))) {
                    problems.add(
                            name
                                    + ": the input field of that name is "
                                    + in.schema()
                                    + "; an output field copied from it must have the same schema,"
                                    + " found "
                                    + f.schema());
                }
                continue;
            }
            if (!f.hasDefaultValue()) {
                problems.add(
                        name
                                + ": nothing fills it (no input field, not the scoring's, no"
                                + " default)");
            }
        }
        return problems;
    }

    private static String scoringTypeProblem(String name, Schema s) {
        Schema.Type t = s.getType();
        boolean ok =
                switch (name) {
                    case "score" -> t == Schema.Type.DOUBLE || t == Schema.Type.FLOAT;
                    case "decision" ->
                            t == Schema.Type.STRING
                                    || (t == Schema.Type.ENUM
                                            && s.getEnumSymbols().containsAll(DECISIONS));
                    case "model_name", "model_version", "model_sha256" -> t == Schema.Type.STRING;
                    case "cache_hit", "fallback" -> t == Schema.Type.BOOLEAN;
                    case "scored_at" -> t == Schema.Type.LONG;
                    case "reasons" -> t == Schema.Type.ARRAY && reasonItem(s.getElementType());
                    default -> true;
                };
        return ok
                ? null
                : "is "
                        + s
                        + "; the scoring's "
                        + name
                        + " is "
                        + switch (name) {
                            case "score" -> "a double";
                            case "decision" -> "a string or an enum of APPROVE, REVIEW, DECLINE";
                            case "cache_hit", "fallback" -> "a boolean";
                            case "scored_at" -> "a long of milliseconds (timestamp-millis)";
                            case "reasons" ->
                                    "an array of records {feature: string, value: double,"
                                            + " contribution: double}, any other field with a"
                                            + " default";
                            default -> "a string";
                        };
    }

    /**
     * A reasons item record the scoring can fill: {@code feature} a string, {@code value} and
     * {@code contribution} doubles or floats, any other field with a default.
     */
    private static boolean reasonItem(Schema item) {
        if (item.getType() != Schema.Type.RECORD) {
            return false;
        }
        for (Schema.Field f : item.getFields()) {
            Schema.Type t = f.schema().getType();
            boolean ok =
                    switch (f.name()) {
                        case "feature" -> t == Schema.Type.STRING;
                        case "value", "contribution" ->
                                t == Schema.Type.DOUBLE || t == Schema.Type.FLOAT;
                        default -> f.hasDefaultValue();
                    };
            if (!ok) {
                return false;
            }
        }
        return item.getField("feature") != null
                && item.getField("value") != null
                && item.getField("contribution") != null;
    }

    /** What the scoring says of one event. */
    public record Scoring(
            double score,
            String decision,
            String modelName,
            String modelVersion,
            String modelSha256,
            boolean cacheHit,
            boolean fallback,
            long scoredAt,
            List<String> reasonFeatures,
            double[] reasonValues,
            double[] reasonContributions) {}

    /** Fills output records of one schema; one per subtask. */
    public static final class Filler {
        private final Schema output;
        private final int[] inputPosition;
        private final int[] scoring;
        private final Set<String> decisionSymbols;

        public Filler(Schema output, Schema input) {
            this.output = output;
            List<Schema.Field> fields = output.getFields();
            inputPosition = new int[fields.size()];
            scoring = new int[fields.size()];
            for (Schema.Field f : fields) {
                scoring[f.pos()] = SCORING.indexOf(f.name());
                Schema.Field in = scoring[f.pos()] >= 0 ? null : input.getField(f.name());
                inputPosition[f.pos()] = in == null ? -1 : in.pos();
            }
            Schema.Field decision = output.getField("decision");
            decisionSymbols =
                    decision != null && decision.schema().getType() == Schema.Type.ENUM
                            ? Set.copyOf(decision.schema().getEnumSymbols())
                            : null;
        }

        public Schema schema() {
            return output;
        }

        public GenericRecord fill(GenericRecord event, Scoring s) {
            GenericData.Record r = new GenericData.Record(output);
            for (Schema.Field f : output.getFields()) {
                int i = f.pos();
                if (scoring[i] >= 0) {
                    r.put(i, scoringValue(f, s));
                } else if (inputPosition[i] >= 0) {
                    r.put(i, event.get(inputPosition[i]));
                } else {
                    r.put(i, GenericData.get().getDefaultValue(f));
                }
            }
            return r;
        }

        private static Object number(Schema.Field f, double value) {
            return f.schema().getType() == Schema.Type.FLOAT ? (Object) (float) value : value;
        }

        private Object scoringValue(Schema.Field f, Scoring s) {
            switch (f.name()) {
                case "score":
                    return f.schema().getType() == Schema.Type.FLOAT
                            ? (float) s.score()
                            : s.score();
                case "decision":
                    return decisionSymbols != null
                            ? new GenericData.EnumSymbol(f.schema(), s.decision())
                            : s.decision();
                case "model_name":
                    return s.modelName();
                case "model_version":
                    return s.modelVersion();
                case "model_sha256":
                    return s.modelSha256() == null ? "" : s.modelSha256();
                case "cache_hit":
                    return s.cacheHit();
                case "fallback":
                    return s.fallback();
                case "scored_at":
                    return s.scoredAt();
                default: // reasons
                    Schema item = f.schema().getElementType();
                    List<GenericRecord> reasons = new ArrayList<>(s.reasonFeatures().size());
                    for (int k = 0; k < s.reasonFeatures().size(); k++) {
                        GenericData.Record r = new GenericData.Record(item);
                        for (Schema.Field field : item.getFields()) {
                            switch (field.name()) {
                                case "feature" -> r.put(field.pos(), s.reasonFeatures().get(k));
                                case "value" ->
                                        r.put(field.pos(), number(field, s.reasonValues()[k]));
                                case "contribution" ->
                                        r.put(
                                                field.pos(),
                                                number(field, s.reasonContributions()[k]));
                                default ->
                                        r.put(
                                                field.pos(),
                                                GenericData.get().getDefaultValue(field));
                            }
                        }
                        reasons.add(r);
                    }
                    return new GenericData.Array<>(f.schema(), reasons);
            }
        }
    }
}
