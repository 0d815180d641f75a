package dev.streamscore.pipeline;

import dev.streamscore.models.ModelDescriptor;
import dev.streamscore.pipeline.events.EventFields;
import dev.streamscore.pipeline.expr.Expr;
import dev.streamscore.pipeline.expr.Expressions;
import dev.streamscore.pipeline.expr.ValueType;
import dev.streamscore.pipeline.expr.Variables;
import dev.streamscore.pipeline.expr.Vars;
import dev.streamscore.pipeline.features.Aggregate;
import dev.streamscore.pipeline.features.FeatureEngine;
import dev.streamscore.pipeline.features.KeyStateCodec;
import dev.streamscore.pipeline.features.StateLayout;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.apache.avro.Schema;

/**
 * A pipeline file, read and checked: the input topic and its event schema, the key, id and time
 * fields, the checks, the aggregates and features as CEL expressions type-checked against the
 * schema, the model, and the output topic and schema. {@link #load} reads one and reports every
 * problem with its line ({@link PipelineException}); {@link #newEngine} compiles the feature
 * function for one subtask.
 *
 * <pre>{@code
 * Pipeline p = Pipeline.load("pipelines/card-fraud.yaml", null, true);
 * Pipeline.Compiled c = p.newEngine(1024);
 * c.fields().load(event, c.vars());
 * c.engine().check();
 * float[] row = c.engine().computeAndUpdate(state, time);
 * }</pre>
 */
public final class Pipeline {

    /** How events are written on a topic. */
    public enum Format {
        /** Avro single-object encoding (C3 01, the schema's fingerprint, the binary body). */
        AVRO("avro"),
        /** Confluent's wire format with a schema registry: not yet available. */
        CONFLUENT_AVRO("confluent-avro"),
        /** One JSON object per record. */
        JSON("json");

        private final String key;

        Format(String key) {
            this.key = key;
        }

        public String key() {
            return key;
        }

        static Format of(String key) {
            for (Format f : values()) {
                if (f.key.equals(key)) {
                    return f;
                }
            }
            return null;
        }
    }

    /** A declared aggregate, as written: compiled per subtask by {@link #newEngine}. */
    public record AggregateSpec(
            String name,
            Aggregate.Kind kind,
            String value,
            String where,
            long windowMillis,
            Object defaultValue,
            ValueType type,
            ValueType valueType) {

        /** All of it in one line: the key state's fingerprint. */
        String layout() {
            return name + "|" + kind + "|" + value + "|" + where + "|" + windowMillis + "|" + type;
        }
    }

    /** A feature: its name and expression. */
    public record FeatureSpec(String name, String expression) {}

    // Set by PipelineReader.
    PipelineDefinition definition;
    String name;
    String inputTopic;
    Format inputFormat;
    Schema inputSchema;
    String registry;
    String keyField;
    String idField;
    String timeField;
    List<String> checks = new ArrayList<>();
    String deadLetterTopic;
    boolean deadLetterTopicGiven;
    List<AggregateSpec> aggregates = new ArrayList<>();
    List<FeatureSpec> features = new ArrayList<>();
    String model;
    String outputTopic;
    Format outputFormat;
    Schema outputSchema;
    boolean outputSchemaGenerated;
    ModelDescriptor modelDescriptor;

    Pipeline() {}

    /**
     * Reads and checks a pipeline file.
     *
     * @param location a path, or {@code classpath:pipelines/<name>.yaml}
     * @param model a model location that replaces the file's, or {@code null}
     * @param checkModel whether to read the model's descriptor and check its features
     * @throws PipelineException with every problem found, each with its line
     */
    public static Pipeline load(String location, String model, boolean checkModel)
            throws PipelineException {
        PipelineDefinition def = PipelineDefinition.read(location);
        if (model != null) {
            def = def.withModel(model);
        }
        return new PipelineReader(def, checkModel).read();
    }

    /** Builds a pipeline again from its definition (on a TaskManager): no file, no model read. */
    public static Pipeline of(PipelineDefinition definition) throws PipelineException {
        return new PipelineReader(definition, false).read();
    }

    /** Everything needed to build this pipeline again, without files. */
    public PipelineDefinition definition() {
        return definition;
    }

    public String name() {
        return name;
    }

    public String inputTopic() {
        return inputTopic;
    }

    public Format inputFormat() {
        return inputFormat;
    }

    /** The reader schema of the input events. */
    public Schema inputSchema() {
        return inputSchema;
    }

    /** The schema registry's address, or {@code null}. */
    public String registry() {
        return registry;
    }

    public String keyField() {
        return keyField;
    }

    public String idField() {
        return idField;
    }

    public String timeField() {
        return timeField;
    }

    public List<String> checks() {
        return List.copyOf(checks);
    }

    public String deadLetterTopic() {
        return deadLetterTopic;
    }

    /**
     * Whether the file names its dead-letter topic (else it is {@code <input topic>-dead-letter}).
     */
    public boolean deadLetterTopicGiven() {
        return deadLetterTopicGiven;
    }

    public List<AggregateSpec> aggregates() {
        return List.copyOf(aggregates);
    }

    public List<FeatureSpec> features() {
        return List.copyOf(features);
    }

    /** The features' names, in the model's input order. */
    public List<String> featureNames() {
        return features.stream().map(FeatureSpec::name).toList();
    }

    /** The model's location: {@code bundled:<id>} or an absolute folder. */
    public String model() {
        return model;
    }

    /** The model's descriptor, when the model was checked at load. */
    public ModelDescriptor modelDescriptor() {
        return modelDescriptor;
    }

    public String outputTopic() {
        return outputTopic;
    }

    public Format outputFormat() {
        return outputFormat;
    }

    /** The output records' schema: the file's, or one generated ({@link OutputFields}). */
    public Schema outputSchema() {
        return outputSchema;
    }

    public boolean outputSchemaGenerated() {
        return outputSchemaGenerated;
    }

    /**
     * The codec of this pipeline's per-key state; its fingerprint covers the aggregates and the
     * features, so a state written for another file reads as none.
     */
    public KeyStateCodec stateCodec() {
        List<String> lines =
                new ArrayList<>(aggregates.stream().map(AggregateSpec::layout).toList());
        features.forEach(f -> lines.add("feature|" + f.name() + "|" + f.expression()));
        return new KeyStateCodec(
                new StateLayout(
                        aggregates.stream().map(AggregateSpec::kind).toList(),
                        aggregates.stream().map(AggregateSpec::value).toList(),
                        aggregates.stream().map(AggregateSpec::where).toList()),
                lines);
    }

    /** The feature function of one subtask, with the variables it reads. */
    /**
     * @param fields reads an event's fields into {@code vars}: those the expressions refer to
     *     ({@code referenced}), until {@link EventFields#readOnly} says otherwise
     */
    public record Compiled(
            EventFields fields,
            Vars vars,
            FeatureEngine engine,
            Variables variables,
            Set<String> referenced) {}

    /**
     * Compiles the checks, aggregates and features for one subtask (or one thread).
     *
     * @param maxEventsPerKey most events a key's ring keeps
     */
    public Compiled newEngine(int maxEventsPerKey) {
        Variables eventVars = new Variables();
        new EventFields(inputSchema, eventVars);
        Variables all = new Variables();
        EventFields fields = new EventFields(inputSchema, all);
        List<Variables.Variable> aggregateVars = new ArrayList<>();
        for (AggregateSpec a : aggregates) {
            aggregateVars.add(all.add(a.name(), a.type(), false));
        }
        Expressions onEvent = new Expressions(eventVars);
        Expressions onAll = new Expressions(all);
        // The fields an event is read for: what the expressions use.
        Set<String> used = new HashSet<>();
        List<Aggregate> compiled = new ArrayList<>();
        for (AggregateSpec a : aggregates) {
            Expr value = a.value() == null ? null : onEvent.compile(a.value());
            Expr where = a.where() == null ? null : onEvent.compile(a.where());
            for (Expr e : new Expr[] {value, where}) {
                if (e != null) {
                    used.addAll(e.references());
                }
            }
            compiled.add(
                    new Aggregate(
                            a.name(),
                            a.kind(),
                            value,
                            where,
                            a.windowMillis(),
                            a.defaultValue(),
                            a.type()));
        }
        List<Expr> featureExprs = new ArrayList<>();
        for (FeatureSpec f : features) {
            Expr e = onAll.compile(f.expression());
            used.addAll(e.references());
            featureExprs.add(e);
        }
        List<Expr> checkExprs = new ArrayList<>();
        for (String c : checks) {
            Expr e = onEvent.compile(c);
            used.addAll(e.references());
            checkExprs.add(e);
        }
        fields.readOnly(used);
        Vars vars = new Vars(all);
        return new Compiled(
                fields,
                vars,
                new FeatureEngine(
                        compiled,
                        aggregateVars,
                        featureNames(),
                        featureExprs,
                        checkExprs,
                        vars,
                        maxEventsPerKey),
                all,
                Set.copyOf(used));
    }
}
