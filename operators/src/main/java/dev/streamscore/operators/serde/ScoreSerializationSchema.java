package dev.streamscore.operators.serde;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.streamscore.operators.inference.Score;
import dev.streamscore.pipeline.OutputFields;
import dev.streamscore.pipeline.Pipeline;
import dev.streamscore.pipeline.PipelineDefinition;
import dev.streamscore.pipeline.events.AvroEvents;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.avro.generic.GenericEnumSymbol;
import org.apache.avro.generic.GenericFixed;
import org.apache.avro.generic.GenericRecord;
import org.apache.flink.api.common.serialization.SerializationSchema;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.java.typeutils.ResultTypeQueryable;
import org.apache.flink.metrics.Counter;

/**
 * Writes a pipeline's scores in its output format: the output record filled by name ({@link
 * OutputFields}: input fields copied from the event, the scoring's fields, defaults), then Avro
 * single-object encoded with the output schema ({@code avro}) or as one JSON object ({@code json}).
 * Any Avro library can read the first with the output schema; any JSON reader the second.
 */
public final class ScoreSerializationSchema
        implements SerializationSchema<Score>, ResultTypeQueryable<Score> {

    private static final long serialVersionUID = 1L;

    private static final ObjectMapper JSON = new ObjectMapper();

    private final PipelineDefinition definition;
    private transient Pipeline.Format format;
    private transient AvroEvents input;
    private transient AvroEvents output;
    private transient OutputFields.Filler filler;
    private transient Counter encodeTimeNanos;

    public ScoreSerializationSchema(PipelineDefinition definition) {
        this.definition = definition;
    }

    @Override
    public TypeInformation<Score> getProducedType() {
        return TypeInformation.of(Score.class);
    }

    @Override
    public void open(InitializationContext context) throws Exception {
        open();
        encodeTimeNanos =
                context.getMetricGroup().counter(SingleObjectSerializationSchema.ENCODE_TIME_NANOS);
    }

    private void open() throws Exception {
        Pipeline p = Pipeline.of(definition);
        format = p.outputFormat();
        input = new AvroEvents(p.inputSchema());
        output = new AvroEvents(p.outputSchema());
        filler = new OutputFields.Filler(p.outputSchema(), p.inputSchema());
    }

    /** The output record of {@code score}, before encoding. */
    public GenericRecord record(Score score) throws Exception {
        if (filler == null) {
            open();
        }
        GenericRecord event = input.fromBinary(score.body);
        return filler.fill(
                event,
                new OutputFields.Scoring(
                        score.score,
                        score.decision,
                        score.modelName,
                        score.modelVersion,
                        score.modelSha256,
                        score.cacheHit,
                        score.fallback,
                        score.scoredAt,
                        Arrays.asList(score.reasonFeatures),
                        score.reasonValues,
                        score.reasonContributions));
    }

    @Override
    public byte[] serialize(Score score) {
        long start = System.nanoTime();
        try {
            GenericRecord r = record(score);
            byte[] bytes =
                    format == Pipeline.Format.JSON
                            ? JSON.writeValueAsBytes(plain(r))
                            : output.encodeMessage(r);
            if (encodeTimeNanos != null) {
                encodeTimeNanos.inc(System.nanoTime() - start);
            }
            return bytes;
        } catch (Exception e) {
            throw new IllegalStateException("cannot write the score of " + score.id + ": " + e, e);
        }
    }

    /** An Avro value as plain JSON values: records as objects, enums as their symbols. */
    static Object plain(Object v) {
        if (v instanceof GenericRecord r) {
            Map<String, Object> m = new LinkedHashMap<>();
            for (org.apache.avro.Schema.Field f : r.getSchema().getFields()) {
                m.put(f.name(), plain(r.get(f.pos())));
            }
            return m;
        }
        if (v instanceof CharSequence || v instanceof GenericEnumSymbol) {
            return v.toString();
        }
        if (v instanceof List<?> list) {
            List<Object> out = new ArrayList<>(list.size());
            for (Object item : list) {
                out.add(plain(item));
            }
            return out;
        }
        if (v instanceof Map<?, ?> map) {
            Map<String, Object> out = new LinkedHashMap<>();
            map.forEach((k, value) -> out.put(k.toString(), plain(value)));
            return out;
        }
        if (v instanceof ByteBuffer b) {
            byte[] bytes = new byte[b.remaining()];
            b.duplicate().get(bytes);
            return Base64.getEncoder().encodeToString(bytes);
        }
        if (v instanceof GenericFixed f) {
            return Base64.getEncoder().encodeToString(f.bytes());
        }
        return v;
    }
}
